//! docs/diagnostics.md (what `dlspec explain` prints) stays true: it explains every code of
//! `Code::ALL` and no other, in that order, its table gives each code's summary, every code is
//! emitted somewhere in the compiler, and in each section the first `kdl` example reports the code
//! while the second, the fix, does not (and has no errors at all).

mod common;

use dlspec::diag::{Code, Severity, explain};

fn page() -> String {
    std::fs::read_to_string(common::root().join("docs/diagnostics.md")).unwrap()
}

#[test]
fn the_sections_are_the_codes_in_order() {
    let page = page();
    let headings: Vec<&str> =
        page.lines().filter_map(|line| line.strip_prefix("## ")).filter(|h| h.starts_with("dlspec::")).collect();
    let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    let missing: Vec<_> = codes.iter().filter(|c| !headings.contains(c)).collect();
    let extra: Vec<_> = headings.iter().filter(|h| !codes.contains(h)).collect();
    assert!(missing.is_empty(), "codes without a section in docs/diagnostics.md: {missing:?}");
    assert!(extra.is_empty(), "docs/diagnostics.md explains codes that `Code` does not have: {extra:?}");
    assert_eq!(headings, codes, "the sections of docs/diagnostics.md are not in the order of `Code::ALL`");
}

#[test]
fn the_table_lists_the_codes_in_order_with_their_summaries() {
    let page = page();
    // | [`dlspec::syntax`](#dlspecsyntax) | error | the file is not valid KDL |
    let rows: Vec<(String, String)> = page
        .lines()
        .filter_map(|line| line.strip_prefix("| [`"))
        .map(|row| {
            let code = &row[..row.find('`').unwrap()];
            let meaning = row.trim_end_matches(" |").rsplit(" | ").next().unwrap();
            (code.to_owned(), meaning.to_owned())
        })
        .collect();
    let expected: Vec<(String, String)> =
        Code::ALL.iter().map(|c| (c.as_str().to_owned(), c.summary().to_owned())).collect();
    assert_eq!(rows, expected, "the table of docs/diagnostics.md is not `Code::ALL` with `Code::summary`");
}

#[test]
fn every_code_is_emitted() {
    let mut sources = String::new();
    for file in common::files_under(&common::root().join("src")) {
        if file.extension() == Some("rs") && file.as_str() != "diag/code.rs" {
            sources.push_str(&std::fs::read_to_string(common::root().join("src").join(&file)).unwrap());
        }
    }
    let used = |code: &Code| {
        let name = format!("Code::{code:?}");
        sources
            .match_indices(&name)
            .any(|(at, _)| !sources[at + name.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
    };
    let dead: Vec<_> = Code::ALL.iter().filter(|c| !used(c)).collect();
    assert!(dead.is_empty(), "codes nothing in src/ reports (outside src/diag/code.rs): {dead:?}");
}

/// The bodies of the ```kdl blocks of a section, in order.
fn kdl_blocks(section: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        match (&mut current, line) {
            (None, "```kdl") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), line) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn each_example_reports_its_code_and_each_fix_compiles() {
    let mut failures = Vec::new();
    for &code in Code::ALL {
        let blocks = kdl_blocks(explain::explain(code));
        let [wrong, fixed] = blocks.as_slice() else {
            failures.push(format!("{code}: expected two kdl blocks (the problem, the fix), found {}", blocks.len()));
            continue;
        };
        let (_, diags) = dlspec::pipeline::analyze(&common::sources("example.kdl", wrong));
        // `dlspec lock` finds these by resolving (tests/lock.rs); to `check` the example is fine.
        let found_by_lock = code.as_str().starts_with("dlspec::lock::");
        if found_by_lock && diags.error_count() > 0 {
            failures.push(format!("{code}: the example has other errors: {:?}", codes_of(diags)));
        } else if !found_by_lock && !diags.clone().into_vec().iter().any(|d| d.code == code) {
            failures.push(format!("{code}: the example does not report it; it reports {:?}", codes_of(diags)));
        }
        let (images, diags) = dlspec::pipeline::analyze(&common::sources("fix.kdl", fixed));
        let diags = diags.into_vec();
        if images.is_empty() || diags.iter().any(|d| d.code == code || d.severity == Severity::Error) {
            failures.push(format!(
                "{code}: the fix still reports {:?}",
                diags.iter().map(|d| d.code.as_str()).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "docs/diagnostics.md:\n{}", failures.join("\n"));
}

fn codes_of(diags: dlspec::diag::Diagnostics) -> Vec<&'static str> {
    diags.into_vec().iter().map(|d| d.code.as_str()).collect()
}
