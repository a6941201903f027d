//! The pipeline driver: every stage in order, over a catalog. [`analyze_catalog`] runs the stages
//! up to `check` ([`crate::source`] → [`crate::syntax`] → [`crate::lang`] → [`crate::resolve`] →
//! [`crate::check`]); [`sync_out`] runs [`crate::plan`] and [`crate::render`] into
//! [`crate::emit`], an image at a time. The commands (`cli`, `init`) call these; no stage calls
//! back up into them.

use camino::Utf8Path;

use crate::check::{self, Checked};
use crate::diag::Diagnostics;
use crate::emit::{self, FileReport, Mode, Summary};
use crate::error::Error;
use crate::model::Image;
use crate::render::Templates;
use crate::source::SourceMap;
use crate::{framework, lang, parallel, plan, resolve, service, syntax};

/// What the stages up to `check` make of a set of specs.
pub struct Analysis<'s> {
    /// The catalog: its settings and an entry per image, each image derived again on demand.
    pub checked: Checked<'s>,
    /// Every problem found.
    pub diags: Diagnostics,
    /// Which locks were left aside (stale or unreadable), when locks were attached.
    pub lock_messages: Vec<String>,
}

/// The language with the registries' nodes: what every spec file is read as.
#[must_use]
pub fn language() -> lang::Language {
    lang::Language { frameworks: framework::language(), services: service::language() }
}

/// Runs every stage up to `check` over the given sources: every image, or the problems.
#[must_use]
pub fn analyze(sources: &SourceMap) -> (Vec<Image>, Diagnostics) {
    let analysis = analyze_catalog(sources, None);
    (analysis.checked.images(), analysis.diags)
}

/// Runs every stage up to `check`, file by file and image by image on every core, keeping of each
/// image only its [`Entry`](crate::model::Entry). With `locks` (the specs path), each image gets its
/// current lock attached.
#[must_use]
pub fn analyze_catalog<'s>(sources: &'s SourceMap, locks: Option<&Utf8Path>) -> Analysis<'s> {
    let spec_bytes: usize = sources.iter().map(|(_, file)| file.text.len()).sum();
    analyze_holding(sources, locks, spec_bytes <= resolve::HOLD_SPEC_BYTES)
}

/// As [`analyze_catalog`]; `hold` says whether the image declarations are held.
fn analyze_holding<'s>(sources: &'s SourceMap, locks: Option<&Utf8Path>, hold: bool) -> Analysis<'s> {
    let language = language();
    let files: Vec<_> = sources.iter().collect();
    // Of the images, small specs keep the declarations; large ones only their place and name,
    // and check decodes their file again.
    let parsed = parallel::chunks(&files, 16, |chunk| {
        let mut diags = Diagnostics::default();
        let (mut profiles, mut images, mut catalogs, mut held) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (id, file) in chunk {
            let (mut file_images, mut count) = (Vec::new(), 0_u32);
            if let Some(doc) = syntax::parse(*id, file, &mut diags) {
                let decoded = lang::decode(*id, &doc, &language, &mut diags);
                catalogs.extend(decoded.catalogs);
                for decl in decoded.decls {
                    match decl.kind {
                        lang::DeclKind::Profile => profiles.push(decl),
                        lang::DeclKind::Image => {
                            let at = resolve::DeclRef { file: *id, index: count };
                            count += 1;
                            if hold {
                                images.push((at, decl.name.clone()));
                                file_images.push(decl);
                            } else {
                                images.push((at, decl.name));
                            }
                        }
                    }
                }
            }
            held.push(file_images);
        }
        (profiles, images, catalogs, held, diags)
    });
    let mut diags = Diagnostics::default();
    let (mut profiles, mut images, mut catalogs, mut held) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (chunk_profiles, chunk_images, chunk_catalogs, chunk_held, chunk_diags) in parsed {
        profiles.extend(chunk_profiles);
        images.extend(chunk_images);
        catalogs.extend(chunk_catalogs);
        held.extend(chunk_held);
        diags.extend(chunk_diags);
    }
    let catalog_part = resolve::catalog(&catalogs, &mut diags);
    let declarations = resolve::Declarations::new(language, profiles, images, hold.then_some(held), &mut diags);
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
) -> Result<Summary, Error> {
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
                let image = checked
                    .image(index, decls)
                    .ok_or_else(|| Error::NotDerived { reference: entries[index].reference().to_owned() })?;
                let files = plan::render_image(&image, templates)?;
                Ok(files.into_iter().map(|(path, file)| (path, emit::Content::File(file))).collect())
            }
            // The catalog files grow with the catalog: rendered straight into their destination.
            plan::Step::Catalog(index) => {
                let (path, template, context, budget) = plan::catalog_output(index, &catalog);
                let render = move |out: &mut dyn std::io::Write| templates.render_to(template, &context, budget, out);
                Ok(vec![(path, emit::Content::Streamed { executable: false, render: Box::new(render) })])
            }
        },
        sink,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Held or decoded again, the declarations give the same images.
    #[test]
    fn held_and_decoded_again_declarations_give_the_same_images() {
        let specs = Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
        let sources = crate::source::discover(&specs).unwrap();
        let derive = |hold: bool| {
            let analysis = analyze_holding(&sources, Some(&specs), hold);
            assert!(!analysis.diags.has_errors());
            let images = analysis.checked.images();
            assert_eq!(images.len(), analysis.checked.entries.len(), "every image is derived again");
            format!("{images:?}")
        };
        assert_eq!(derive(true), derive(false));
    }
}
