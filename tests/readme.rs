//! What README.md says that the code can check: the usage lines name what the command line
//! knows.

use std::path::Path;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// The README's usage line of a command: `dlspec NAME …` in the "Command line" block.
fn usage_line(readme: &str, command: &str) -> String {
    let prefix = format!("dlspec {command} ");
    let lines: Vec<&str> = readme.lines().filter(|l| l.starts_with(&prefix)).collect();
    assert_eq!(lines.len(), 1, "README.md should have one usage line starting `{prefix}`: {lines:?}");
    lines[0].to_owned()
}

#[test]
fn the_compat_usage_line_lists_exactly_the_known_tables() {
    let line = usage_line(&readme(), "compat");
    let listed = line.split_once('[').and_then(|(_, rest)| rest.split_once(']')).map(|(tables, _)| tables).unwrap();
    let listed: Vec<&str> = listed.split('|').collect();
    assert_eq!(listed, dlspec::cli::compat::table_names(), "README.md: {line}");
}
