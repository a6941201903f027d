//! `dlspec explain CODE`: the section of `docs/diagnostics.md` that explains a code. The page is
//! the one source of the explanations, embedded so the binary carries them; [`Code::ALL`] is the
//! list of codes, and the page has one section per code, in that order (`tests/diagnostics_doc.rs`).

use super::Code;

const PAGE: &str = include_str!("../../docs/diagnostics.md");

/// The explanation of `code`: its section of the page, without the heading. A code the page does
/// not explain (the test suite keeps that from happening) gets its one-line summary.
#[must_use]
pub fn explain(code: Code) -> &'static str {
    let heading = format!("## {code}\n");
    let Some(start) = PAGE.find(&heading) else {
        return code.summary();
    };
    let body = &PAGE[start + heading.len()..];
    let end = body.find("\n## ").map_or(body.len(), |i| i + 1);
    body[..end].trim_matches('\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_one_section() {
        let section = explain(Code::Torchvision);
        assert!(section.starts_with("error: every torch release"));
        assert!(!section.contains("## "), "one section only");
    }

    #[test]
    fn the_last_section_is_whole() {
        let last = Code::ALL.last().unwrap();
        assert!(explain(*last).ends_with("```"));
    }
}
