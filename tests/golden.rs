//! The committed `out/` is exactly what `dlspec compile` makes of the committed `specs/`.

mod common;

use dlspec::{emit, plan, render::Templates};

#[test]
fn committed_out_is_up_to_date() {
    let sources = common::repo_specs();
    let (images, diags) = dlspec::analyze(&sources);
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
