//! `dlspec check`: parse and check the specs, write nothing (the pre-commit entry point).

use serde::Serialize;

use super::args::CheckArgs;
use super::output::{count, report};
use crate::diag::Format;
use crate::error::Error;

/// The fields of `check --format json` after the diagnostics.
#[derive(Serialize)]
struct Checked {
    specs: usize,
    /// The number of images, `null` when there are errors.
    images: Option<usize>,
}

pub(super) fn run(args: &CheckArgs) -> Result<u8, Error> {
    let sources = crate::source::discover(&args.common.specs)?;
    let crate::pipeline::Analysis { checked, diags, .. } = crate::pipeline::analyze_catalog(&sources, None);
    let images = checked.entries.len();
    let reported = report(&sources, diags, args.common.deny_warnings, args.common.format, true);
    let failed = reported.failed();
    let specs = sources.iter().count();
    match args.common.format {
        Format::Json => reported.document("check", Checked { specs, images: (!failed).then_some(images) }).print(),
        Format::Human if !failed => {
            eprintln!("{} checked: {}, no errors", count(specs, "spec"), count(images, "image"));
        }
        Format::Human => {}
    }
    Ok(u8::from(failed))
}
