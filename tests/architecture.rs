//! The layering of `src/`: each top-level module uses only the modules before it in [`ORDER`], so
//! there is no import cycle and no stage calls back up into a later one. The order is the one
//! docs/architecture.md shows; a new module takes its place in both.
//!
//! A use is any `crate::<module>` (or `$crate::<module>`, or a name in `crate::{…}`) in a module's
//! code; comments and doc links are not uses, and neither is a file's `#[cfg(test)] mod tests`
//! (a unit test may drive its module through the whole pipeline).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The top-level modules of `src/`, lowest first: a module may use those before it, never one
/// after it.
const ORDER: &[&str] = &[
    // Shared by everything: errors, the file system, threads.
    "error",
    "files",
    "parallel",
    // Input and its problems.
    "source",
    "diag",
    // Facts and validators.
    "compat",
    "values",
    // The stages up to the resolved image, and the registries between them.
    "syntax",
    "lang",
    "model",
    "framework",
    "service",
    "resolve",
    "registry",
    "git",
    "lock",
    "check",
    // Output.
    "render",
    "plan",
    "emit",
    // The driver and the commands.
    "pipeline",
    "init",
    "cli",
];

/// The code of a source file: comments dropped, and its trailing test module.
fn code(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(")
            && trimmed.contains("test")
            && lines.peek().is_some_and(|next| next.trim_start().starts_with("mod tests"))
        {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        // A trailing comment; `//` inside a string (a URL) is rare in `use` lines and harmless.
        code.push_str(line.split(" // ").next().unwrap_or(line));
        code.push('\n');
    }
    code
}

/// The modules a piece of code names after `crate::`.
fn uses(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the first name of each item at the top level.
            let mut depth = 0;
            let mut item_start = true;
            let mut name = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => name.push(c),
                    _ if item_start && !name.is_empty() => {
                        found.insert(std::mem::take(&mut name));
                        item_start = false;
                    }
                    _ => {}
                }
            }
            if !name.is_empty() {
                found.insert(name);
            }
            continue;
        }
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

/// Each top-level module's uses of the others, with a file that makes each.
fn graph() -> BTreeMap<String, BTreeMap<String, String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut files = vec![src.clone()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let relative = path.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str().to_str().unwrap();
        let module = first.strip_suffix(".rs").unwrap_or(first);
        if matches!(module, "lib" | "main") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let entry = graph.entry(module.to_owned()).or_default();
        for used in uses(&code(&text)) {
            if used != module {
                entry.entry(used).or_insert_with(|| relative.display().to_string());
            }
        }
    }
    graph
}

#[test]
fn every_module_has_its_place_in_the_order() {
    let graph = graph();
    let placed: BTreeSet<&str> = ORDER.iter().copied().collect();
    let modules: BTreeSet<&str> = graph.keys().map(String::as_str).collect();
    let unplaced: Vec<&&str> = modules.difference(&placed).collect();
    assert!(unplaced.is_empty(), "modules without a place in ORDER (and docs/architecture.md): {unplaced:?}");
    let gone: Vec<&&str> = placed.difference(&modules).collect();
    assert!(gone.is_empty(), "ORDER names modules that do not exist: {gone:?}");
}

#[test]
fn every_module_uses_only_the_modules_before_it() {
    let rank = |module: &str| ORDER.iter().position(|m| *m == module);
    let mut upward = Vec::new();
    for (module, used) in graph() {
        let Some(own) = rank(&module) else { continue };
        for (target, file) in used {
            match rank(&target) {
                Some(theirs) if theirs < own => {}
                Some(_) => upward.push(format!("{module} uses {target} (src/{file}), which comes after it")),
                // `crate::Something` that is not a module: an item of the crate root.
                None => upward.push(format!("{module} uses `crate::{target}` (src/{file}): no such module")),
            }
        }
    }
    assert!(upward.is_empty(), "the layering of src/ (tests/architecture.rs ORDER):\n{}", upward.join("\n"));
}

#[test]
fn the_architecture_doc_shows_the_order() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md")).unwrap();
    let shown = ORDER.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(" → ");
    assert!(doc.contains(&shown), "docs/architecture.md should show the order of the modules as\n{shown}");
}

#[test]
fn uses_are_read_from_paths_groups_and_macros() {
    let code = code(
        "use crate::model::Image;\nuse crate::{diag::Code, lang::{A, B}, values};\n\
         // crate::cli in a comment\nfn f() { $crate::source::x(); }\n#[cfg(test)]\nmod tests { use crate::cli; }\n",
    );
    let found: Vec<String> = uses(&code).into_iter().collect();
    assert_eq!(found, ["diag", "lang", "model", "source", "values"]);
}
