//! dlspec compiles KDL specs of deep-learning container images into build directories.
//!
//! The pipeline, one module per stage, data flowing one way:
//! [`source`] (find and read specs) → [`syntax`] (parse KDL) → [`decode`] (spanned
//! [`ast`]) → [`resolve`] (profiles, matrix) → [`check`] (defaults, compatibility, all errors at
//! once, giving [`model::Image`]s) → [`plan`] (the output files, one image at a time, via
//! [`render`]) → [`emit`] (write, or diff for `--check`), driven batch by batch by [`sync_out`].
//! Problems of every stage are [`diag::Diag`]s. Each framework is a module of [`framework`]: its
//! node, its table, its rules and its install, which every stage takes from there.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ast;
pub mod check;
pub mod cli;
pub mod compat;
pub mod decode;
pub mod diag;
pub mod emit;
pub mod framework;
pub mod init;
pub mod lock;
pub mod model;
pub mod plan;
pub mod registry;
pub mod render;
pub mod resolve;
pub mod schema;
pub mod source;
pub mod syntax;

use std::sync::Arc;

use camino::Utf8Path;
use diag::Diagnostics;
use emit::{FileReport, Mode, Summary};
use model::{Catalog, Image};
use render::Templates;
use source::{InputError, SourceMap};

/// What the stages up to `check` make of a set of specs.
#[derive(Debug)]
pub struct Analysis {
    /// The images, sorted by output directory.
    pub images: Vec<Image>,
    /// The settings of the whole catalog (`catalog`), defaults applied.
    pub catalog: Catalog,
    /// Every problem found.
    pub diags: Diagnostics,
}

/// Runs every stage up to `check` over the given sources: the images, or the problems.
#[must_use]
pub fn analyze(sources: &SourceMap) -> (Vec<Image>, Diagnostics) {
    let analysis = analyze_catalog(sources);
    (analysis.images, analysis.diags)
}

/// Runs every stage up to `check`, keeping the catalog settings too.
#[must_use]
pub fn analyze_catalog(sources: &SourceMap) -> Analysis {
    let mut diags = Diagnostics::default();
    let mut decls = Vec::new();
    let mut catalogs = Vec::new();
    for (id, file) in sources.iter() {
        if let Some(doc) = syntax::parse(id, file, &mut diags) {
            let decoded = decode::decode(id, &doc, &mut diags);
            decls.extend(decoded.decls);
            catalogs.extend(decoded.catalogs);
        }
    }
    let catalog_part = resolve::catalog(&catalogs, &mut diags);
    let instances = resolve::resolve(&decls, &mut diags);
    let (images, catalog) = check::check(catalog_part, &instances, sources, &mut diags);
    Analysis { images, catalog, diags }
}

/// Renders the images and the catalog step by step into `out` (or, in [`Mode::Check`], compares
/// them with it), holding one batch of rendered files at a time; `sink` gets every difference.
///
/// # Errors
/// As [`emit::sync`].
pub fn sync_out(
    images: Vec<Image>,
    templates: &Templates,
    out: &Utf8Path,
    mode: Mode,
    sink: &mut dyn FnMut(FileReport),
) -> Result<Summary, InputError> {
    let images: Arc<[Image]> = images.into();
    let catalog = plan::Catalog::new(&images);
    let steps = plan::steps(&images);
    emit::sync(
        out,
        mode,
        &steps,
        |step| plan::step_paths(*step, &images),
        |step| plan::render_step(*step, &images, &catalog, templates),
        sink,
    )
}

/// Runs `work` over contiguous chunks of `items`, one chunk per available core (the first on the
/// calling thread), and returns the results in the order of the chunks. Fewer than `min_chunk`
/// items per chunk are not worth a thread: then it is one call on the calling thread.
pub(crate) fn in_parallel<T: Sync, R: Send>(items: &[T], min_chunk: usize, work: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let threads = cores.min(items.len() / min_chunk.max(1)).max(1);
    if threads == 1 {
        return vec![work(items)];
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let mut chunks = items.chunks(chunk);
        let first = chunks.next().unwrap_or_default();
        let work = &work;
        let rest: Vec<_> = chunks.map(|c| scope.spawn(move || work(c))).collect();
        let mut results = vec![work(first)];
        results.extend(rest.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))));
        results
    })
}
