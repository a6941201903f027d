//! The UI corpus: every `tests/ui/*.kdl` is a spec with problems; its rendered diagnostics are a
//! snapshot (`tests/snapshots/ui/`). A case passes when the rendering is unchanged.

mod common;

use dlspec::diag::Renderer;
use dlspec::source::SourceMap;

fn render(name: &str, text: &str) -> String {
    let mut sources = SourceMap::default();
    sources.add(format!("tests/ui/{name}").into(), name.to_owned(), text);
    let (_, diags) = dlspec::pipeline::analyze(&sources);
    let renderer = Renderer::new(&sources, false);
    let sorted = diags.sorted(&sources);
    assert!(!sorted.is_empty(), "{name}: a UI case must produce a diagnostic");
    let mut out = String::new();
    for diag in &sorted {
        assert!(diag.help.is_some(), "{name}: `{}` has no help line", diag.code);
        out.push_str(&renderer.human(diag));
        out.push('\n');
    }
    out.push_str("---- json ----\n");
    for diag in &sorted {
        out.push_str(&renderer.json(diag));
        out.push('\n');
    }
    out
}

#[test]
fn ui_cases() {
    insta::glob!("ui/*.kdl", |path| {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let mut settings = insta::Settings::clone_current();
        settings.set_prepend_module_to_snapshot(false);
        settings.set_snapshot_path("snapshots/ui");
        settings.set_input_file(path);
        settings.bind(|| insta::assert_snapshot!(name.trim_end_matches(".kdl"), render(&name, &text)));
    });
}
