//! The lists of frameworks and services that the docs spell out are the registries' own: adding a
//! framework or a service without naming it where the README and the diagnostics list them fails.

mod common;

fn read(path: &str) -> String {
    std::fs::read_to_string(common::root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The paragraph of `text` that contains `marker`.
fn paragraph<'t>(text: &'t str, marker: &str) -> &'t str {
    text.split("\n\n").find(|p| p.contains(marker)).unwrap_or_else(|| panic!("no paragraph with `{marker}`"))
}

#[test]
fn the_readme_names_every_framework_and_service() {
    let readme = read("README.md");
    let intro = paragraph(&readme, "dlspec is a compiler for deep-learning container images");
    for framework in dlspec::framework::FRAMEWORKS {
        assert!(intro.contains(framework.title()), "the README's introduction does not name {}", framework.title());
    }
    for service in dlspec::service::SERVICES {
        assert!(readme.contains(service.title()), "the README does not name {}", service.title());
    }
}

#[test]
fn the_release_diagnostic_names_every_framework() {
    let diagnostics = read("docs/diagnostics.md");
    let section = diagnostics.split("\n## ").find(|s| s.starts_with("dlspec::compat::release")).expect("the section");
    let summary = paragraph(section, "error:");
    for framework in dlspec::framework::FRAMEWORKS {
        assert!(
            summary.contains(&format!("`{}`", framework.keyword())),
            "dlspec::compat::release omits {}",
            framework.keyword()
        );
    }
}

#[test]
fn the_reference_has_a_section_for_every_framework_and_service() {
    let reference = read("docs/spec-reference.md");
    let keywords = dlspec::framework::FRAMEWORKS
        .iter()
        .map(|f| f.keyword())
        .chain(dlspec::service::SERVICES.iter().map(|s| s.keyword()));
    for keyword in keywords {
        assert!(
            reference.contains(&format!("<!-- schema:{keyword} -->")),
            "docs/spec-reference.md has no table of `{keyword}`"
        );
    }
}
