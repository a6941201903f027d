//! Helpers shared by the integration tests.

#![allow(dead_code)]

use camino::{Utf8Path, Utf8PathBuf};
use dlspec::source::{SourceMap, discover};

/// The repository root.
pub fn root() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether the tests run in CI, where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Says what a test skipped (each line: what, why, and the one-line fix) where `cargo test` shows
/// it: on the process's real stderr (libtest captures only the `print!` family, not writes to
/// `std::io::stderr()`), so the lines appear even for a passing test. In CI (`CI=true`) nothing
/// may be skipped: it panics with the same lines.
pub fn skipped(lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    let text: String = lines.iter().map(|line| format!("SKIPPED {line}\n")).collect();
    assert!(!in_ci(), "CI=true, and nothing may be skipped:\n{text}");
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// A source map of one in-memory spec file.
pub fn sources(name: &str, text: &str) -> SourceMap {
    let mut map = SourceMap::default();
    map.add(Utf8PathBuf::from(name), name.to_owned(), text);
    map
}

/// The repository's own specs.
pub fn repo_specs() -> SourceMap {
    discover(&root().join("specs")).expect("specs/ is readable")
}

/// Every file under `dir`, relative, sorted.
pub fn files_under(dir: &Utf8Path) -> Vec<Utf8PathBuf> {
    let mut files: Vec<Utf8PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| Utf8PathBuf::try_from(e.into_path()).unwrap().strip_prefix(dir).unwrap().to_owned())
        .collect();
    files.sort();
    files
}

/// The files one spec text generates, by path relative to `out/`, and the diagnostic codes
/// (errors and warnings) it raised. No files when there are errors.
pub fn generate(spec: &str) -> (std::collections::BTreeMap<String, String>, Vec<&'static str>) {
    let sources = sources("spec.kdl", spec);
    let (images, diags) = dlspec::pipeline::analyze(&sources);
    // Notes are advice (a leaner base, say): a spec that raises one is as clean as one that does not.
    let codes = diags
        .sorted(&sources)
        .iter()
        .filter(|d| d.severity != dlspec::diag::Severity::Note)
        .map(|d| d.code.as_str())
        .collect();
    if diags.has_errors() {
        return (std::collections::BTreeMap::new(), codes);
    }
    let templates = dlspec::render::Templates::load(None).expect("the embedded templates load");
    let plan = dlspec::plan::plan(&images, &templates).expect("the templates render");
    let files = plan
        .files
        .into_iter()
        .map(|(path, file)| (path.to_string(), String::from_utf8(file.bytes).expect("generated text is UTF-8")))
        .collect();
    (files, codes)
}

/// The files of the one image a spec text generates, by path relative to the image's directory.
pub fn generate_image(spec: &str) -> std::collections::BTreeMap<String, String> {
    let (files, codes) = generate(spec);
    assert!(!files.is_empty(), "the spec does not compile: {codes:?}\n{spec}");
    let mut dirs = files.keys().filter_map(|p| p.strip_suffix("/Dockerfile"));
    let dir = dirs.next().expect("an image").to_owned();
    assert!(dirs.next().is_none(), "the spec makes more than one image");
    files.iter().filter_map(|(p, text)| Some((p.strip_prefix(&format!("{dir}/"))?.to_owned(), text.clone()))).collect()
}

/// A KDL string literal of any text: quotes and backslashes escaped, everything but printable
/// ASCII as `\u{…}`.
pub fn kdl_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii_graphic() || c == ' ' => out.push(c),
            c => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        }
    }
    out.push('"');
    out
}
