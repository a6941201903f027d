//! dlspec compiles KDL specs of deep-learning container images into build directories.
//!
//! The pipeline, one module per stage, data flowing one way:
//! [`source`] (find and read specs) → [`syntax`] (parse KDL) → [`decode`] (spanned
//! [`ast`]) → [`resolve`] (profiles, matrix) → [`check`] (defaults, compatibility, all errors at
//! once, giving [`model::Image`]s) → [`plan`] (every output file in memory, via [`render`]) →
//! [`emit`] (write, or diff for `--check`). Problems of every stage are [`diag::Diag`]s.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ast;
pub mod check;
pub mod cli;
pub mod compat;
pub mod decode;
pub mod diag;
pub mod emit;
pub mod model;
pub mod plan;
pub mod render;
pub mod resolve;
pub mod source;
pub mod syntax;

use diag::Diagnostics;
use model::Image;
use source::SourceMap;

/// Runs every stage up to `check` over the given sources: the images, or the problems.
#[must_use]
pub fn analyze(sources: &SourceMap) -> (Vec<Image>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut decls = Vec::new();
    for (id, file) in sources.iter() {
        if let Some(doc) = syntax::parse(id, file, &mut diags) {
            decls.extend(decode::decode(id, &doc, &mut diags));
        }
    }
    let instances = resolve::resolve(&decls, &mut diags);
    let images = check::check(&instances, sources, &mut diags);
    (images, diags)
}
