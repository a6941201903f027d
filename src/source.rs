//! Input: find the `*.kdl` files of a specs directory and hold their text for every later stage.

use std::sync::Arc;

use camino::{Utf8Path, Utf8PathBuf};

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// The file.
    pub file: FileId,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from a `miette` span of the file's parser.
    #[must_use]
    pub fn from_miette(file: FileId, span: miette::SourceSpan) -> Self {
        Self { file, start: span.offset(), end: span.offset() + span.len() }
    }

    /// The `miette` form of this span.
    #[must_use]
    pub fn to_miette(self) -> miette::SourceSpan {
        (self.start, self.end - self.start).into()
    }
}

/// One spec file.
#[derive(Debug)]
pub struct SourceFile {
    /// Path as the user named it (the specs directory joined with the relative path).
    pub path: Utf8PathBuf,
    /// Path relative to the specs directory, `/`-separated: what generated files mention.
    pub relative: String,
    /// The file's text.
    pub text: Arc<str>,
}

impl SourceFile {
    /// 1-based line and column (in characters) of a byte offset.
    #[must_use]
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Every spec file of a run, in sorted path order.
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// Adds a file and returns its id.
    pub fn add(&mut self, path: Utf8PathBuf, relative: String, text: impl Into<Arc<str>>) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).expect("fewer than 2^32 spec files"));
        self.files.push(SourceFile { path, relative, text: text.into() });
        id
    }

    /// The file of an id.
    #[must_use]
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// All files with their ids.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(u32::try_from(i).expect("checked in add")), f))
    }

    /// The text a span covers.
    #[must_use]
    pub fn snippet(&self, span: Span) -> &str {
        let text = &self.get(span.file).text;
        text.get(span.start..span.end).unwrap_or("")
    }
}

/// An input problem that is not about a spec's content: exit code 2.
#[derive(Debug)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// Reads every `*.kdl` file below `specs` (hidden entries skipped, symlinks not followed), sorted by
/// relative path so that the output never depends on directory order.
///
/// # Errors
/// When `specs` is not a readable directory, or a file is not UTF-8 or cannot be read.
pub fn discover(specs: &Utf8Path) -> Result<SourceMap, InputError> {
    if !specs.is_dir() {
        return Err(InputError(format!("specs directory `{specs}` does not exist or is not a directory")));
    }
    let mut found = Vec::new();
    let walker = walkdir::WalkDir::new(specs)
        .follow_links(false)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = entry.map_err(|e| InputError(format!("cannot read `{specs}`: {e}")))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let path = Utf8PathBuf::try_from(entry.into_path())
            .map_err(|e| InputError(format!("path `{}` is not UTF-8", e.as_path().display())))?;
        if path.extension() != Some("kdl") {
            continue;
        }
        let relative =
            path.strip_prefix(specs).unwrap_or(&path).components().map(|c| c.as_str()).collect::<Vec<_>>().join("/");
        found.push((relative, path));
    }
    found.sort();
    let mut map = SourceMap::default();
    for (relative, path) in found {
        let bytes = std::fs::read(&path).map_err(|e| InputError(format!("cannot read `{path}`: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|_| InputError(format!("`{path}` is not UTF-8 text")))?;
        map.add(path, relative, text);
    }
    Ok(map)
}
