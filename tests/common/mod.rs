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
