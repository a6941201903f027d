//! Every example of the language contract (`docs/spec-language.md`) compiles unchanged and yields
//! the contract's paths.

mod common;

use camino::Utf8PathBuf;

/// The headings that start the contract's second and third parts.
const V2_HEADING: &str = "## v2 additions";
const V3_HEADING: &str = "## v3 additions";

/// The ```kdl blocks of a markdown text, each with the `→ out/…` paths that follow it.
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

/// The contract's v1, v2 and v3 parts.
fn contract() -> (String, String, String) {
    let path = common::root().join("docs/spec-language.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (v1, rest) = text.split_once(V2_HEADING).unwrap_or_else(|| panic!("{path} has no `{V2_HEADING}`"));
    let (v2, v3) = rest.split_once(V3_HEADING).unwrap_or_else(|| panic!("{path} has no `{V3_HEADING}`"));
    (v1.to_owned(), v2.to_owned(), v3.to_owned())
}

/// The error codes of one example, sorted and without repeats.
fn codes(kdl: &str) -> Vec<&'static str> {
    let sources = common::sources("example.kdl", kdl);
    let (_, diags) = dlspec::pipeline::analyze(&sources);
    let mut codes: Vec<&'static str> = diags
        .sorted(&sources)
        .iter()
        .filter(|d| d.severity == dlspec::diag::Severity::Error)
        .map(|d| d.code.as_str())
        .collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}

#[test]
fn contract_v1_examples_compile_unchanged() {
    let (v1, _, _) = contract();
    let blocks = examples(&v1);
    assert_eq!(blocks.len(), 3, "the v1 part of docs/spec-language.md has its three examples");
    for (kdl, paths) in blocks {
        let sources = common::sources("example.kdl", &kdl);
        let (images, diags) = dlspec::pipeline::analyze(&sources);
        assert!(!diags.has_errors(), "contract example fails:\n{kdl}\n{diags:?}");
        let dirs: Vec<Utf8PathBuf> = images.iter().map(|i| i.dir.clone()).collect();
        for path in paths {
            assert!(dirs.contains(&Utf8PathBuf::from(&path)), "{path} not among {dirs:?}");
        }
    }
}

/// An example that shows children of `image` alone (`env …`, `kubernetes { … }`), set in a
/// minimal image (with the `python` and `cuda` it does not write itself) so that it compiles as a
/// spec; whole specs stay as they are.
fn as_spec(kdl: &str) -> String {
    let lines: Vec<&str> = kdl.lines().map(str::trim_start).collect();
    if lines.iter().any(|l| l.starts_with("image ") || l.starts_with("catalog ")) {
        return kdl.to_owned();
    }
    let mut spec = "image \"fragment\" {\n".to_owned();
    for (node, line) in [("python ", "    python \"3.11\"\n"), ("cuda ", "    cuda \"12.4.1\" cudnn=\"9\"\n")] {
        if !lines.iter().any(|l| l.starts_with(node)) {
            spec.push_str(line);
        }
    }
    format!("{spec}{kdl}\n}}")
}

/// The v2 examples compile unchanged, with no error.
#[test]
fn contract_v2_examples_compile_unchanged() {
    let (_, v2, _) = contract();
    let expected: [&[&str]; 5] = [
        // `catalog { registry … }`.
        &[],
        // `env "HF_ENDPOINT" …`, in an image.
        &[],
        // `kubernetes { namespace … volume … }`, in an image.
        &[],
        // `jax` and `paddle` images.
        &[],
        // The whole v2 example.
        &[],
    ];
    let blocks = examples(&v2);
    assert_eq!(blocks.len(), expected.len(), "the v2 part of docs/spec-language.md has {} examples", expected.len());
    let actual: Vec<Vec<&str>> = blocks.iter().map(|(kdl, _)| codes(&as_spec(kdl))).collect();
    let expected: Vec<Vec<&str>> = expected.iter().map(|codes| codes.to_vec()).collect();
    assert_eq!(actual, expected, "the v2 examples' errors changed (an example that compiles expects [])");
}

/// The v3 examples, each pinned to the errors it gives until the issues that build its part land.
#[test]
fn contract_v3_examples_give_their_pinned_errors() {
    let (_, _, v3) = contract();
    let expected: [&[&str]; 7] = [
        // `catalog { node-pool … }`.
        &[],
        // `kubernetes { node-pool … }`, in an image.
        &[],
        // `pip … no-build-isolation=#true`, in an image.
        &[],
        // `user …`, in an image.
        &[],
        // `mirrors pytorch= cuda-apt=`, in an image.
        &[],
        // `python … distribution=`, in an image.
        &[],
        // The whole v3 example.
        &[],
    ];
    let blocks = examples(&v3);
    assert_eq!(blocks.len(), expected.len(), "the v3 part of docs/spec-language.md has {} examples", expected.len());
    // The fragments name the node pools of the first example: they are checked in its catalog.
    let catalog = &blocks[0].0;
    let actual: Vec<Vec<&str>> = blocks
        .iter()
        .map(|(kdl, _)| {
            let spec = as_spec(kdl);
            codes(&if spec == *kdl { spec } else { format!("{catalog}\n{spec}") })
        })
        .collect();
    let expected: Vec<Vec<&str>> = expected.iter().map(|codes| codes.to_vec()).collect();
    assert_eq!(actual, expected, "the v3 examples' errors changed (an example that compiles expects [])");
}

#[test]
fn repository_specs_hold_the_contract_examples() {
    let sources = common::repo_specs();
    let (images, diags) = dlspec::pipeline::analyze(&sources);
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
