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
    let mut unclosed_reported = false;
    for d in v2.diagnostics {
        let span = clamp(Span::from_miette(file, d.span), source.text.len());
        if reported.contains(&span.start) {
            continue;
        }
        reported.push(span.start);
        let message = d.message.unwrap_or_else(|| "invalid KDL".to_owned());
        // KDL reports a missing `}` at the outermost block it leaves open, and once per way it
        // noticed; the indentation usually tells which block lacks it.
        if message.to_lowercase().contains("closing '}'") {
            if !unclosed_reported {
                unclosed_reported = true;
                diags.push(unclosed(file, &source.text, span));
            }
            continue;
        }
        let text = &source.text[span.start..span.end];
        if let Some(keyword) = ["true", "false", "null"].into_iter().find(|k| text.trim() == *k) {
            diags.push(
                Diag::error(
                    SYNTAX,
                    span,
                    format!("bare `{keyword}` is not a KDL 2 value"),
                    format!("write #{keyword}"),
                )
                .with_help(format!(
                    "write `#{keyword}`: KDL 2 keywords have a `#` (bare `{keyword}` is KDL 1, which a file may \
                         only use throughout, not mixed with KDL 2)"
                )),
            );
            continue;
        }
        let label = d.label.unwrap_or_else(|| "here".to_owned());
        let help = d.help.unwrap_or_else(|| {
            "see https://kdl.dev for the syntax; strings are quoted (\"2.3.0\") and booleans are #true / #false"
                .to_owned()
        });
        diags.push(Diag::error(SYNTAX, span, lowercase_first(&message), label).with_help(help));
    }
    None
}

/// The error of a block without its `}`: at the `{` whose block a later `}` closes at a smaller
/// indentation (that `}` belongs to an outer block), else at the innermost `{` left open at the
/// end of the file, else where KDL noticed it (`fallback`).
fn unclosed(file: FileId, text: &str, fallback: Span) -> Diag {
    let help = "add the `}` that closes this block, indented like the line that opens it";
    let span_at = |offset: usize| Span { file, start: offset, end: offset + 1 };
    match open_braces(text) {
        Unclosed::Misplaced { open, close } => {
            Diag::error(SYNTAX, span_at(open), "no closing `}` for this block", "not closed")
                .with_label(span_at(close), "this `}` is indented like an outer block, so it closes that one")
                .with_help(help)
        }
        Unclosed::AtEnd(open) => {
            Diag::error(SYNTAX, span_at(open), "no closing `}` for this block", "not closed").with_help(help)
        }
        Unclosed::Unknown => Diag::error(SYNTAX, fallback, "a block has no closing `}`", "not closed").with_help(help),
    }
}

enum Unclosed {
    /// A `{` at `open`, closed by the `}` at `close` that is indented less than the `{`'s line.
    Misplaced {
        open: usize,
        close: usize,
    },
    /// The innermost `{` still open at the end of the text.
    AtEnd(usize),
    Unknown,
}

/// Matches the braces of `text`, skipping strings and comments (roughly: enough for specs that
/// KDL already found an unclosed block in).
fn open_braces(text: &str) -> Unclosed {
    let bytes = text.as_bytes();
    let mut open: Vec<(usize, usize)> = Vec::new();
    let (mut i, mut line_start) = (0, 0);
    let indent = |start: usize| bytes[start..].iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => line_start = i + 1,
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i + 1 < bytes.len() && bytes[i + 1] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..].find("*/").map_or(bytes.len(), |end| i + 2 + end + 1);
            }
            b'{' => open.push((i, indent(line_start))),
            b'}' => {
                let Some((brace, opened_at)) = open.pop() else { return Unclosed::Unknown };
                let first_on_line = indent(line_start) == i - line_start;
                if first_on_line && indent(line_start) < opened_at {
                    return Unclosed::Misplaced { open: brace, close: i };
                }
            }
            _ => {}
        }
        i += 1;
    }
    open.last().map_or(Unclosed::Unknown, |&(brace, _)| Unclosed::AtEnd(brace))
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
