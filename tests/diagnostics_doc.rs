//! docs/diagnostics.md (what `dlspec explain` prints) stays true: it explains every code the
//! compiler can emit and no other, and in each section the first `kdl` example reports the code
//! while the second, the fix, does not (and has no errors at all).

mod common;

use std::collections::BTreeSet;

use dlspec::diag::{Severity, explain};

/// Every `"dlspec::…"` code literal in the compiler's sources.
fn codes_in_sources() -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    for file in common::files_under(&common::root().join("src")) {
        if file.extension() != Some("rs") {
            continue;
        }
        let text = std::fs::read_to_string(common::root().join("src").join(&file)).unwrap();
        for (at, _) in text.match_indices("\"dlspec::") {
            let rest = &text[at + 1..];
            let code = &rest[..rest.find('"').unwrap()];
            let name = &code["dlspec::".len()..];
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == ':' || c == '-') {
                codes.insert(code.to_owned());
            }
        }
    }
    codes
}

#[test]
fn every_emitted_code_is_explained_and_every_explained_code_exists() {
    let documented: BTreeSet<String> = explain::codes().map(str::to_owned).collect();
    let emitted = codes_in_sources();
    let undocumented: Vec<_> = emitted.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&emitted).collect();
    assert!(undocumented.is_empty(), "codes without a section in docs/diagnostics.md: {undocumented:?}");
    assert!(stale.is_empty(), "docs/diagnostics.md explains codes the compiler never emits: {stale:?}");
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
    for code in explain::codes() {
        let blocks = kdl_blocks(explain::explain(code).unwrap());
        let [wrong, fixed] = blocks.as_slice() else {
            failures.push(format!("{code}: expected two kdl blocks (the problem, the fix), found {}", blocks.len()));
            continue;
        };
        let (_, diags) = dlspec::analyze(&common::sources("example.kdl", wrong));
        // `dlspec lock` finds these by resolving (tests/lock.rs); to `check` the example is fine.
        let found_by_lock = code.starts_with("dlspec::lock::");
        if found_by_lock && diags.error_count() > 0 {
            failures.push(format!("{code}: the example has other errors: {:?}", codes_of(diags)));
        } else if !found_by_lock && !diags.clone().into_vec().iter().any(|d| d.code == code) {
            failures.push(format!("{code}: the example does not report it; it reports {:?}", codes_of(diags)));
        }
        let (images, diags) = dlspec::analyze(&common::sources("fix.kdl", fixed));
        let diags = diags.into_vec();
        if images.is_empty() || diags.iter().any(|d| d.code == code || d.severity == Severity::Error) {
            failures
                .push(format!("{code}: the fix still reports {:?}", diags.iter().map(|d| d.code).collect::<Vec<_>>()));
        }
    }
    assert!(failures.is_empty(), "docs/diagnostics.md:\n{}", failures.join("\n"));
}

fn codes_of(diags: dlspec::diag::Diagnostics) -> Vec<&'static str> {
    diags.into_vec().iter().map(|d| d.code).collect()
}
