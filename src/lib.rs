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

use camino::Utf8Path;
pub use check::Checked;
use diag::Diagnostics;
use emit::{FileReport, Mode, Summary};
use model::Image;
use render::Templates;
use source::{InputError, SourceMap};

/// What the stages up to `check` make of a set of specs.
pub struct Analysis<'s> {
    /// The catalog: its settings and an entry per image, each image derived again on demand.
    pub checked: Checked<'s>,
    /// Every problem found.
    pub diags: Diagnostics,
    /// Which locks were left aside (stale or unreadable), when locks were attached.
    pub lock_messages: Vec<String>,
}

/// Runs every stage up to `check` over the given sources: every image, or the problems.
#[must_use]
pub fn analyze(sources: &SourceMap) -> (Vec<Image>, Diagnostics) {
    let analysis = analyze_catalog(sources, None);
    (analysis.checked.images(), analysis.diags)
}

/// Runs every stage up to `check`, file by file and image by image on every core, keeping of each
/// image only its [`Entry`](model::Entry). With `locks` (the specs path), each image gets its
/// current lock attached.
#[must_use]
pub fn analyze_catalog<'s>(sources: &'s SourceMap, locks: Option<&Utf8Path>) -> Analysis<'s> {
    let files: Vec<_> = sources.iter().collect();
    // Of the images only their place and name are kept: check decodes their file again.
    let parsed = in_parallel(&files, 16, |chunk| {
        let mut diags = Diagnostics::default();
        let (mut profiles, mut images, mut catalogs) = (Vec::new(), Vec::new(), Vec::new());
        for (id, file) in chunk {
            if let Some(doc) = syntax::parse(*id, file, &mut diags) {
                let decoded = decode::decode(*id, &doc, &mut diags);
                catalogs.extend(decoded.catalogs);
                for (index, decl) in decoded.decls.into_iter().enumerate() {
                    match decl.kind {
                        ast::DeclKind::Profile => profiles.push(decl),
                        ast::DeclKind::Image => {
                            let index = u32::try_from(index).expect("a spec of 1 MiB has fewer declarations");
                            images.push((resolve::DeclRef { file: *id, index }, decl.name));
                        }
                    }
                }
            }
        }
        (profiles, images, catalogs, diags)
    });
    let mut diags = Diagnostics::default();
    let (mut profiles, mut images, mut catalogs) = (Vec::new(), Vec::new(), Vec::new());
    for (chunk_profiles, chunk_images, chunk_catalogs, chunk_diags) in parsed {
        profiles.extend(chunk_profiles);
        images.extend(chunk_images);
        catalogs.extend(chunk_catalogs);
        diags.extend(chunk_diags);
    }
    let catalog_part = resolve::catalog(&catalogs, &mut diags);
    let declarations = resolve::Declarations::new(profiles, images, &mut diags);
    let (checked, lock_messages) = check::check(catalog_part, declarations, sources, locks, &mut diags);
    Analysis { checked, diags, lock_messages }
}

/// Renders the images and the catalog step by step into `out` (or, in [`Mode::Check`], compares
/// them with it), deriving each image again from the specs when its files are rendered and
/// holding one batch of rendered files at a time; `sink` gets every difference.
///
/// # Errors
/// As [`emit::sync`].
pub fn sync_out(
    checked: &Checked<'_>,
    templates: &Templates,
    out: &Utf8Path,
    mode: Mode,
    sink: &mut dyn FnMut(FileReport),
) -> Result<Summary, InputError> {
    let entries = &checked.entries;
    let catalog = plan::Catalog::new(entries);
    let steps = plan::steps(entries);
    emit::sync(
        out,
        mode,
        &steps,
        |step| plan::step_paths(*step, entries),
        |step, decls: &mut resolve::FileDecls| match *step {
            plan::Step::Image(index) => {
                let image = checked.image(index, decls).ok_or_else(|| {
                    InputError(format!("`{}` could not be derived again", entries[index].reference()))
                })?;
                let files = plan::render_image(&image, templates)?;
                Ok(files.into_iter().map(|(path, file)| (path, emit::Content::File(file))).collect())
            }
            // The catalog files grow with the catalog: rendered straight into their destination.
            plan::Step::Catalog(index) => {
                let (path, template, context) = plan::catalog_output(index, &catalog);
                let render = move |out: &mut dyn std::io::Write| templates.render_to(template, &context, out);
                Ok(vec![(path, emit::Content::Streamed { executable: false, render: Box::new(render) })])
            }
        },
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
