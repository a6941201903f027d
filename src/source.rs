//! Input: find the `*.kdl` files of a specs directory and hold their text for every later stage.

use std::sync::{Arc, OnceLock};

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::Error;
use crate::files::read_text_file;

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

/// A byte range in one source file: 12 bytes, as every value of the syntax tree carries one (a
/// spec is at most [`MAX_SPEC_BYTES`], so offsets fit in 32 bits). The default, empty at the start
/// of the first file, is the place of a settings node nobody wrote; no diagnostic points there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// The file.
    pub file: FileId,
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// The span of bytes `start..end` of `file`.
    #[must_use]
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        let offset = |at: usize| u32::try_from(at).unwrap_or(u32::MAX);
        Self { file, start: offset(start), end: offset(end) }
    }

    /// A span from a `miette` span of the file's parser.
    #[must_use]
    pub fn from_miette(file: FileId, span: miette::SourceSpan) -> Self {
        Self::new(file, span.offset(), span.offset() + span.len())
    }

    /// The `miette` form of this span.
    #[must_use]
    pub fn to_miette(self) -> miette::SourceSpan {
        (self.start(), self.len()).into()
    }

    /// First byte.
    #[must_use]
    pub fn start(self) -> usize {
        self.start as usize
    }

    /// One past the last byte.
    #[must_use]
    pub fn end(self) -> usize {
        self.end as usize
    }

    /// Length in bytes.
    #[must_use]
    pub fn len(self) -> usize {
        self.end().saturating_sub(self.start())
    }

    /// Whether it covers no byte.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.len() == 0
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
    /// Byte offsets where each line starts, built on first use: finding a line is a binary
    /// search, not a scan from the top (16,000 diagnostics in one file would be quadratic).
    line_starts: OnceLock<Arc<[usize]>>,
}

impl SourceFile {
    /// 1-based line and column (in characters) of a byte offset.
    #[must_use]
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let line = self.line_of(offset);
        let line_start = self.line_starts()[line];
        let column = self.text[line_start..offset].chars().count() + 1;
        (line + 1, column)
    }

    /// The byte offsets where lines start (after each `\n`), the first being 0.
    #[must_use]
    pub fn line_starts(&self) -> Arc<[usize]> {
        Arc::clone(
            self.line_starts
                .get_or_init(|| std::iter::once(0).chain(self.text.match_indices('\n').map(|(i, _)| i + 1)).collect()),
        )
    }

    /// The 0-based line of a byte offset.
    #[must_use]
    pub fn line_of(&self, offset: usize) -> usize {
        self.line_starts().partition_point(|start| *start <= offset) - 1
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
        self.files.push(SourceFile { path, relative, text: text.into(), line_starts: OnceLock::new() });
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
        text.get(span.start()..span.end()).unwrap_or("")
    }
}

/// The largest spec file read, in bytes: about 30,000 lines, far above any hand-written spec (a
/// catalog is many files). The KDL parser's document costs about 100 bytes for each byte of a
/// spec of short nodes, so this bounds the parse to about 100 MiB.
pub const MAX_SPEC_BYTES: u64 = 1024 * 1024;

/// The most spec text of one catalog, every file together: twice the 50,000 images of the
/// benchmark (3.7 MB), and a bound on what checking a catalog costs whatever its files hold (a
/// spec file of unused profiles takes about 20 bytes of memory per byte once decoded, and
/// parsing takes 100 bytes per byte of the files parsed at once).
pub const MAX_CATALOG_BYTES: u64 = 8 << 20;

/// A character that a generated file cannot carry safely in a comment or a string: control
/// characters (newline, carriage return, NEL, …), Unicode line and paragraph separators (line
/// breaks to YAML), the invisible direction overrides that make text read other than it parses,
/// and the two non-characters of the BMP, which YAML cannot print.
#[must_use]
pub fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Generated files name their spec (`# Generated by dlspec from specs/NAME`): a name that could end
/// that comment or hide text is refused.
fn check_relative_path(relative: &str) -> Result<(), Error> {
    match relative.chars().find(|c| unsafe_char(*c)) {
        None => Ok(()),
        Some(character) => Err(Error::SpecName { name: relative.to_owned(), character }),
    }
}

/// Reads every `*.kdl` file below `specs` (hidden entries skipped, symlinks not followed), sorted by
/// relative path so that the output never depends on directory order.
///
/// # Errors
/// When `specs` is not a readable directory, a file name has a character generated files cannot
/// carry, or a file is not a regular file of UTF-8 text within [`MAX_SPEC_BYTES`].
pub fn discover(specs: &Utf8Path) -> Result<SourceMap, Error> {
    if !specs.is_dir() {
        return Err(Error::NoSpecs { path: specs.to_owned() });
    }
    let mut found = Vec::new();
    let walker = walkdir::WalkDir::new(specs)
        .follow_links(false)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = entry.map_err(|e| Error::read(specs, e.into()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let path = Utf8PathBuf::try_from(entry.into_path())
            .map_err(|e| Error::NotUtf8Path { path: e.as_path().display().to_string() })?;
        if path.extension() != Some("kdl") {
            continue;
        }
        let relative =
            path.strip_prefix(specs).unwrap_or(&path).components().map(|c| c.as_str()).collect::<Vec<_>>().join("/");
        check_relative_path(&relative)?;
        found.push((relative, path));
    }
    found.sort();
    // Refused before a file is read when the listing says so; counted again as the files are read.
    let listed: u64 = found.iter().filter_map(|(_, path)| path.symlink_metadata().ok()).map(|m| m.len()).sum();
    if listed > MAX_CATALOG_BYTES {
        return Err(catalog_too_large(specs, listed));
    }
    let (mut map, mut total) = (SourceMap::default(), 0_u64);
    for (relative, path) in found {
        let text = read_text_file(&path, MAX_SPEC_BYTES)?;
        total += text.len() as u64;
        if total > MAX_CATALOG_BYTES {
            return Err(catalog_too_large(specs, total));
        }
        map.add(path, relative, text);
    }
    Ok(map)
}

fn catalog_too_large(specs: &Utf8Path, bytes: u64) -> Error {
    Error::CatalogTooLarge { specs: specs.to_owned(), bytes, limit: MAX_CATALOG_BYTES }
}
