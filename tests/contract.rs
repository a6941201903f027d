//! Every example of the language contract compiles unchanged and yields the contract's paths.

mod common;

use camino::Utf8PathBuf;

/// The ```kdl blocks of a markdown file, each with the `→ out/…` paths that follow it.
fn examples(markdown: &str) -> Vec<(String, Vec<String>)> {
    let mut found: Vec<(String, Vec<String>)> = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "```kdl" {
            let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            found.push((block.join("\n"), Vec::new()));
        } else if let Some(path) = line.trim().strip_prefix("→ `out/")
            && let Some(last) = found.last_mut()
        {
            last.1.push(path.trim_end_matches('`').trim_end_matches('/').to_owned());
        }
    }
    found
}

#[test]
fn contract_examples_compile_unchanged() {
    let contract = common::root().join("../shared/design/spec-language.md");
    let Ok(text) = std::fs::read_to_string(&contract) else {
        assert!(!common::in_ci(), "{contract} is missing in CI");
        eprintln!("notice: {contract} not found; the contract examples are checked through specs/ only");
        return;
    };
    let blocks = examples(&text);
    assert!(blocks.len() >= 3, "the contract has its examples");
    for (kdl, paths) in blocks {
        let sources = common::sources("example.kdl", &kdl);
        let (images, diags) = dlspec::analyze(&sources);
        assert!(!diags.has_errors(), "contract example fails:\n{kdl}\n{diags:?}");
        let dirs: Vec<Utf8PathBuf> = images.iter().map(|i| i.dir.clone()).collect();
        for path in paths {
            assert!(dirs.contains(&Utf8PathBuf::from(&path)), "{path} not among {dirs:?}");
        }
    }
}

#[test]
fn repository_specs_hold_the_contract_examples() {
    let sources = common::repo_specs();
    let (images, diags) = dlspec::analyze(&sources);
    assert!(!diags.has_errors());
    let dirs: Vec<String> = images.iter().map(|i| i.dir.to_string()).collect();
    for expected in [
        "pytorch/2.3.0-python3.8-cuda12.1.0-cudnn8-devel-ubuntu22.04",
        "tensorflow/2.15.0-python3.10-cuda12.1.0-cudnn8-devel-ubuntu22.04",
        "pytorch-cpu/2.3.0-python3.10-cpu-ubuntu22.04",
        "pytorch-matrix/2.2.2-python3.11-cuda12.1.0-cudnn8-devel-ubuntu22.04",
    ] {
        assert!(dirs.iter().any(|d| d == expected), "{expected} not among {dirs:?}");
    }
}
