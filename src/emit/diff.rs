//! The short diff `--check` shows of a file that differs.

use camino::Utf8Path;

/// A unified diff of a stale file, cut to `max_lines`.
#[must_use]
pub fn unified(path: &Utf8Path, old: &[u8], new: &[u8], max_lines: usize) -> String {
    let old = String::from_utf8_lossy(old);
    let new = String::from_utf8_lossy(new);
    let text = similar::TextDiff::from_lines(old.as_ref(), new.as_ref())
        .unified_diff()
        .context_radius(2)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string();
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= max_lines {
        return text;
    }
    let mut cut = lines[..max_lines].join("\n");
    cut.push_str(&format!("\n… {} more lines\n", lines.len() - max_lines));
    cut
}
