//! Parse: spec text → KDL documents (KDL 2, with KDL 1 accepted as a fallback).

use kdl::KdlDocument;

use crate::diag::{Code, Diag, Diagnostics};
use crate::source::{FileId, SourceFile, Span};

/// The deepest nesting of child blocks, and of `/* */` comments, a spec may have. The KDL parser
/// recurses once per level, with frames of tens of KiB in a debug build (56 levels overflow a test
/// thread's 2 MiB): 32 is far deeper than any spec (3 levels) and far shallower than the stack.
pub const MAX_NESTING: usize = 32;

/// Parses one file. KDL 2 first; a file that only KDL 1 can read is accepted too. When both fail,
/// the KDL 2 errors are reported, each at its position.
pub fn parse(file: FileId, source: &SourceFile, diags: &mut Diagnostics) -> Option<KdlDocument> {
    if let Some(too_deep) = too_deep(&source.text) {
        let (what, help, width) = match too_deep.kind {
            Nesting::Block => {
                ("child blocks `{ }`", "flatten the spec: profiles (`use`) share settings without nesting", 1)
            }
            Nesting::Comment => ("`/* */` comments", "close each `/*` with `*/` before opening another", 2),
        };
        diags.push(
            Diag::error(
                Code::Syntax,
                Span::new(file, too_deep.at, too_deep.at + width),
                format!("{what} are nested more than {MAX_NESTING} levels deep"),
                "too deep",
            )
            .with_help(help),
        );
        return None;
    }
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
        let text = &source.text[span.start()..span.end()];
        if let Some(keyword) = ["true", "false", "null"].into_iter().find(|k| text.trim() == *k) {
            diags.push(
                Diag::error(
                    Code::Syntax,
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
        diags.push(Diag::error(Code::Syntax, span, lowercase_first(&message), label).with_help(help));
    }
    None
}

/// The error of a block without its `}`: at the `{` whose block a later `}` closes at a smaller
/// indentation (that `}` belongs to an outer block), else at the innermost `{` left open at the
/// end of the file, else where KDL noticed it (`fallback`).
fn unclosed(file: FileId, text: &str, fallback: Span) -> Diag {
    let help = "add the `}` that closes this block, indented like the line that opens it";
    let span_at = |offset: usize| Span::new(file, offset, offset + 1);
    match open_braces(text) {
        Unclosed::Misplaced { open, close } => {
            Diag::error(Code::Syntax, span_at(open), "no closing `}` for this block", "not closed")
                .with_label(span_at(close), "this `}` is indented like an outer block, so it closes that one")
                .with_help(help)
        }
        Unclosed::AtEnd(open) => {
            Diag::error(Code::Syntax, span_at(open), "no closing `}` for this block", "not closed").with_help(help)
        }
        Unclosed::Unknown => {
            Diag::error(Code::Syntax, fallback, "a block has no closing `}`", "not closed").with_help(help)
        }
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
    let start = span.start().min(len);
    Span::new(span.file, start, span.end().clamp(start, len))
}

fn lowercase_first(s: &str) -> String {
    let trimmed = s.trim_end_matches('.');
    let mut chars = trimmed.chars();
    match chars.next() {
        Some(first) if !trimmed.starts_with("KDL") => first.to_lowercase().chain(chars).collect(),
        _ => trimmed.to_owned(),
    }
}

/// What nests too deeply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nesting {
    Block,
    Comment,
}

/// Where the nesting first goes past [`MAX_NESTING`].
#[derive(Debug, PartialEq, Eq)]
struct TooDeep {
    kind: Nesting,
    at: usize,
}

/// Scans for nesting deeper than [`MAX_NESTING`] without recursing: `{` outside strings and
/// comments, and `/*` inside comments (KDL comments nest). Strings are skipped as KDL reads them:
/// `"…"` with `\` escapes, raw `#"…"#` with any number of `#`, both also as `"""` blocks. The scan
/// only needs to see the same nesting as the parser where the text is valid; elsewhere the parser
/// reports the error.
fn too_deep(text: &str) -> Option<TooDeep> {
    let bytes = text.as_bytes();
    let mut blocks = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                blocks += 1;
                if blocks > MAX_NESTING {
                    return Some(TooDeep { kind: Nesting::Block, at: i });
                }
                i += 1;
            }
            b'}' => {
                blocks = blocks.saturating_sub(1);
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = bytes[i..].iter().position(|b| *b == b'\n').map_or(bytes.len(), |p| i + p);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => match skip_comment(bytes, i) {
                Ok(after) => i = after,
                Err(too_deep) => return Some(too_deep),
            },
            b'"' => i = skip_string(bytes, i, 0),
            b'#' => {
                let hashes = bytes[i..].iter().take_while(|b| **b == b'#').count();
                i = if bytes.get(i + hashes) == Some(&b'"') {
                    skip_string(bytes, i + hashes, hashes)
                } else {
                    i + hashes
                };
            }
            _ => i += 1,
        }
    }
    None
}

/// From the `/*` at `start`, the offset after its `*/` (or the end of the text), or where the
/// comments nest too deeply.
fn skip_comment(bytes: &[u8], start: usize) -> Result<usize, TooDeep> {
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'/', Some(b'*')) => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(TooDeep { kind: Nesting::Comment, at: i });
                }
                i += 2;
            }
            (b'*', Some(b'/')) => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Ok(i);
                }
            }
            _ => i += 1,
        }
    }
    Ok(i)
}

/// From the opening `"` at `start` of a string with `hashes` `#` before it (raw when more than
/// none), the offset after its closing quote and hashes (or the end of the text).
fn skip_string(bytes: &[u8], start: usize, hashes: usize) -> usize {
    let quotes = if bytes[start..].starts_with(b"\"\"\"") { 3 } else { 1 };
    let mut i = start + quotes;
    while i < bytes.len() {
        if hashes == 0 && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i..].starts_with(&b"\"\"\""[..quotes])
            && bytes[i + quotes..].iter().take(hashes).filter(|b| **b == b'#').count() == hashes
        {
            return i + quotes + hashes;
        }
        i += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested_blocks(depth: usize) -> String {
        format!("image \"x\" {}{}", "a {".repeat(depth), "}".repeat(depth))
    }

    #[test]
    fn nesting_within_the_limit_passes_the_scan() {
        assert_eq!(too_deep(&nested_blocks(MAX_NESTING - 1)), None);
        assert_eq!(too_deep(&format!("{}{}", "/*".repeat(MAX_NESTING), "*/".repeat(MAX_NESTING))), None);
    }

    #[test]
    fn nesting_past_the_limit_is_found_without_recursion() {
        let deep = too_deep(&nested_blocks(100_000)).unwrap();
        assert_eq!(deep.kind, Nesting::Block);
        assert_eq!(deep.at, "image \"x\" ".len() + 3 * MAX_NESTING + 2);
        assert_eq!(too_deep(&"/*".repeat(100_000)).unwrap().kind, Nesting::Comment);
    }

    #[test]
    fn braces_in_strings_and_comments_do_not_count() {
        let braces = "{".repeat(MAX_NESTING * 2);
        for text in [
            format!("a \"{braces}\""),
            format!("a \"\\\"{braces}\""),
            format!("a #\"{braces}\"#"),
            format!("a ##\"\"#{braces}\"##"),
            format!("a \"\"\"\n{braces}\n\"\"\""),
            format!("// {braces}\na"),
            format!("/* {braces} */ a"),
        ] {
            assert_eq!(too_deep(&text), None, "{text}");
        }
    }
}
