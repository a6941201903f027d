//! `dlspec explain CODE`: the section of `docs/diagnostics.md` that explains a code. The page is
//! the one source of the explanations, embedded so the binary carries them.

const PAGE: &str = include_str!("../../docs/diagnostics.md");
const PREFIX: &str = "dlspec::";

/// Every code the page explains, in page order.
pub fn codes() -> impl Iterator<Item = &'static str> {
    PAGE.lines().filter_map(|line| line.strip_prefix("## ")).filter(|title| title.starts_with(PREFIX))
}

/// The explanation of `code` (with or without the `dlspec::` prefix): its section of the page,
/// without the heading. `Err` carries the nearest known code, when one is close.
pub fn explain(code: &str) -> Result<&'static str, Option<&'static str>> {
    let wanted = code.trim();
    let wanted = if wanted.starts_with(PREFIX) { wanted.to_owned() } else { format!("{PREFIX}{wanted}") };
    let heading = format!("## {wanted}\n");
    let Some(start) = PAGE.find(&heading) else {
        return Err(super::suggest(&wanted, codes()));
    };
    let body = &PAGE[start + heading.len()..];
    let end = body.find("\n## ").map_or(body.len(), |i| i + 1);
    Ok(body[..end].trim_matches('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sections_with_or_without_prefix() {
        let full = explain("dlspec::compat::torchvision").unwrap();
        assert_eq!(explain("compat::torchvision").unwrap(), full);
        assert!(full.starts_with("error: every torch release"));
        assert!(!full.contains("## "), "one section only");
    }

    #[test]
    fn unknown_codes_suggest_the_nearest() {
        assert_eq!(explain("compat::torchvison"), Err(Some("dlspec::compat::torchvision")));
        assert_eq!(explain("nothing-like-it-at-all"), Err(None));
    }

    #[test]
    fn the_last_section_is_whole() {
        let last = codes().last().unwrap();
        assert!(explain(last).unwrap().ends_with("```"));
    }
}
