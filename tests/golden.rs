//! The committed `out/` is exactly what `dlspec compile` makes of the committed `specs/` (and their locks).

mod common;

use dlspec::emit::Mode;
use dlspec::render::Templates;

#[test]
fn committed_out_is_up_to_date() {
    let sources = common::repo_specs();
    let specs = common::root().join("specs");
    let dlspec::pipeline::Analysis { checked, diags, .. } = dlspec::pipeline::analyze_catalog(&sources, Some(&specs));
    assert!(!diags.has_errors(), "the repository's specs have errors: {diags:?}");
    let out = common::root().join("out");
    let mut stale = Vec::new();
    let summary = dlspec::pipeline::sync_out(&checked, &Templates::load(None).unwrap(), &out, Mode::Check, &mut |r| {
        stale.push(format!("{} {}", r.state.word(), r.path));
    })
    .unwrap();
    assert!(
        summary.is_clean(),
        "out/ is not up to date:\n{}\nNOTE: run `cargo run --release -- compile` and commit out/",
        stale.join("\n")
    );
}
