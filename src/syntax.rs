//! Parse: spec text → KDL documents (KDL 2, with KDL 1 accepted as a fallback).

use kdl::KdlDocument;

use crate::diag::{Diag, Diagnostics};
use crate::source::{FileId, SourceFile, Span};

/// Code of KDL syntax errors.
pub const SYNTAX: &str = "dlspec::syntax";

/// Parses one file. KDL 2 first; a file that only KDL 1 can read is accepted too. When both fail,
/// the KDL 2 errors are reported, each at its position.
pub fn parse(file: FileId, source: &SourceFile, diags: &mut Diagnostics) -> Option<KdlDocument> {
    let v2 = match KdlDocument::parse_v2(&source.text) {
        Ok(doc) => return Some(doc),
        Err(err) => err,
    };
    if let Ok(doc) = KdlDocument::parse_v1(&source.text) {
        return Some(doc);
    }
    let mut reported = Vec::new();
    for d in v2.diagnostics {
        let span = Span::from_miette(file, d.span);
        if reported.contains(&span.start) {
            continue;
        }
        reported.push(span.start);
        let message = d.message.unwrap_or_else(|| "invalid KDL".to_owned());
        let label = d.label.unwrap_or_else(|| "here".to_owned());
        let help = d.help.unwrap_or_else(|| {
            "see https://kdl.dev for the syntax; strings are quoted (\"2.3.0\") and booleans are #true / #false"
                .to_owned()
        });
        diags.push(
            Diag::error(SYNTAX, clamp(span, source.text.len()), lowercase_first(&message), label).with_help(help),
        );
    }
    None
}

fn clamp(span: Span, len: usize) -> Span {
    let start = span.start.min(len);
    Span { start, end: span.end.clamp(start, len), ..span }
}

fn lowercase_first(s: &str) -> String {
    let trimmed = s.trim_end_matches('.');
    let mut chars = trimmed.chars();
    match chars.next() {
        Some(first) if !trimmed.starts_with("KDL") => first.to_lowercase().chain(chars).collect(),
        _ => trimmed.to_owned(),
    }
}
