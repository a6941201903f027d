//! The short diff `--check` shows of a file that differs, in the direction that tells what
//! happened: for a stale file, from the file to what dlspec writes now (what `compile` will
//! change); for a file edited by hand, from what dlspec writes to the file (the edit itself: a
//! line added by hand is a `+` line).

use camino::Utf8Path;

use super::Change;

/// Lines of a diff `--check` shows; the rest is counted.
const MAX_LINES: usize = 40;

/// The diff `--check` shows of the file at `path` (relative to `out/`) in `state`, whose content
/// is `on_disk` where dlspec writes `planned`.
#[must_use]
pub fn check_diff(path: &Utf8Path, state: Change, on_disk: &[u8], planned: &[u8]) -> String {
    match state {
        Change::Edited => unified(
            (&format!("a/{path} (as dlspec writes it)"), planned),
            (&format!("b/{path} (as edited by hand)"), on_disk),
            MAX_LINES,
        ),
        _ => unified((&format!("a/{path}"), on_disk), (&format!("b/{path}"), planned), MAX_LINES),
    }
}

/// A unified diff from `old` to `new` (each a header and a text), cut to `max_lines`.
fn unified(old: (&str, &[u8]), new: (&str, &[u8]), max_lines: usize) -> String {
    let (old_text, new_text) = (String::from_utf8_lossy(old.1), String::from_utf8_lossy(new.1));
    let text = similar::TextDiff::from_lines(old_text.as_ref(), new_text.as_ref())
        .unified_diff()
        .context_radius(2)
        .header(old.0, new.0)
        .to_string();
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= max_lines {
        return text;
    }
    let mut cut = lines[..max_lines].join("\n");
    cut.push_str(&format!("\n… {} more lines\n", lines.len() - max_lines));
    cut
}
