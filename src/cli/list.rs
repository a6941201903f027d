//! `dlspec list`: the expanded catalog, one image per line (reference, base, output directory).

use std::io::Write as _;

use camino::Utf8Path;
use serde::Serialize;

use super::args::ListArgs;
use super::output::{count, errors_only, report};
use crate::diag::Format;
use crate::error::Error;
use crate::model::{Entry, EntryPool};

/// The fields of `list --format json` after the diagnostics.
#[derive(Serialize)]
struct Listed<'a> {
    /// Every image; none when there are errors.
    images: Vec<Listing<'a>>,
}

/// One image of `dlspec list --format json`.
#[derive(Serialize)]
struct Listing<'a> {
    reference: &'a str,
    name: &'a str,
    tag: &'a str,
    base: &'a str,
    gpu: bool,
    dir: &'a Utf8Path,
    spec: &'a str,
    pools: Vec<EntryPool<'a>>,
}

impl<'a> Listing<'a> {
    fn of(image: &'a Entry) -> Self {
        Self {
            reference: image.reference(),
            name: image.name(),
            tag: image.tag(),
            base: image.base_image(),
            gpu: image.gpu(),
            dir: image.dir(),
            spec: image.spec(),
            pools: image.pool_verdicts(),
        }
    }
}

pub(super) fn run(args: &ListArgs) -> Result<u8, Error> {
    let sources = crate::source::discover(&args.specs)?;
    let crate::pipeline::Analysis { checked, diags, .. } = crate::pipeline::analyze_catalog(&sources, None);
    let images = &checked.entries;
    // stdout is the list; errors go to stderr as text (or into the JSON document), warnings are
    // `dlspec check`'s business.
    let warnings = diags.warning_count();
    let mut reported = report(&sources, errors_only(diags), false, args.format, true);
    if args.format == Format::Json {
        reported.warnings = warnings;
        let failed = reported.failed();
        let listed = if failed { Vec::new() } else { images.iter().map(Listing::of).collect() };
        reported.document("list", Listed { images: listed }).print();
        return Ok(u8::from(failed));
    }
    if reported.failed() {
        return Ok(1);
    }
    if warnings > 0 {
        eprintln!("note: the specs have {}; `dlspec check` shows them", count(warnings, "warning"));
    }
    let mut out = std::io::stdout().lock();
    let width = |field: fn(&Entry) -> &str| images.iter().map(|i| field(i).len()).max();
    let reference = width(Entry::reference).unwrap_or(0);
    let base = width(Entry::base_image).unwrap_or(0);
    for image in images.iter() {
        let _ = writeln!(out, "{:<reference$}  {:<base$}  {}", image.reference(), image.base_image(), image.dir());
    }
    Ok(0)
}
