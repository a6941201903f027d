//! The committed `out/` is exactly what `dlspec compile` makes of the committed `specs/` (and their locks).

mod common;

use dlspec::{emit, plan, render::Templates};

#[test]
fn committed_out_is_up_to_date() {
    let sources = common::repo_specs();
    let (mut images, diags) = dlspec::analyze(&sources);
    dlspec::lock::attach(&common::root().join("specs"), &mut images);
    assert!(!diags.has_errors(), "the repository's specs have errors: {diags:?}");
    let plan = plan::plan(&images, &Templates::load(None).unwrap()).unwrap();
    let out = common::root().join("out");
    let diff = emit::diff(&plan, &out).unwrap();
    let stale: Vec<String> = diff.changes.iter().map(|(p, c)| format!("{} {p}", c.word())).collect();
    assert!(
        diff.is_clean(&plan),
        "out/ is not up to date:\n{}\nNOTE: run `cargo run --release -- compile` and commit out/",
        stale.join("\n")
    );
}
