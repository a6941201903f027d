//! `dlspec lock` and `dlspec lock --check`: the library's `lock` does the work; this reports it.

use serde::Serialize;

use super::args::LockArgs;
use super::output::{errors_only, print_json, report};
use crate::diag::{Diagnostics, Format};
use crate::error::Error;
use crate::lock::{self, Outcome};
use crate::model::Image;

/// The fields of `lock --format json` after the diagnostics.
#[derive(Serialize)]
struct Locked<'a> {
    images: Vec<LockedImage<'a>>,
}

/// One image of `lock --format json`.
#[derive(Serialize)]
struct LockedImage<'a> {
    reference: &'a str,
    /// `written`, `unchanged`, `unresolvable` or `failed`.
    state: &'static str,
    /// uv's or the registry's message.
    reason: Option<String>,
}

/// `lock --check --format json`.
#[derive(Serialize)]
struct LockCheck<'a> {
    command: &'static str,
    ok: bool,
    locked: usize,
    unlocked: usize,
    /// How many of the unlocked images come from PyPI alone (`dlspec lock` locks them).
    unlocked_from_pypi: usize,
    problems: &'a [String],
    /// Every unlocked image, with why.
    unlocked_images: &'a [lock::Unlocked],
}

pub(super) fn run(args: &LockArgs) -> Result<u8, Error> {
    let sources = crate::source::discover(&args.specs)?;
    let (images, diags) = crate::pipeline::analyze(&sources);
    let command = if args.check { "lock --check" } else { "lock" };
    // `lock --check` runs beside `dlspec check` (pre-commit): one count line, not the diagnostics again.
    let reported = report(&sources, errors_only(diags), false, args.format, !args.check);
    if reported.failed() {
        if args.format == Format::Json {
            reported.document(command, super::output::NoFields {}).print();
        }
        return Ok(1);
    }
    if args.check {
        return check(args, &images);
    }
    let selected: Vec<&Image> = images
        .iter()
        .filter(|i| args.images.is_empty() || args.images.iter().any(|n| *n == i.name || *n == i.reference))
        .collect();
    if selected.is_empty() {
        return Err(Error::Usage(format!("no image of `{}` is named {}", args.specs, args.images.join(", "))));
    }
    let options = lock::Options {
        uv: lock::Uv {
            program: args.uv.clone(),
            upgrade_all: args.upgrade.as_ref().is_some_and(Vec::is_empty),
            upgrade: args.upgrade.clone().unwrap_or_default(),
            find_links: args.find_links.clone(),
        },
        upgrade: args.upgrade.is_some(),
        digests: args.digests,
        jobs: args.jobs,
    };
    let started = std::time::Instant::now();
    let outcomes = lock::lock(&args.specs, &selected, &options);
    let json = args.format == Format::Json;
    let mut diags = Diagnostics::default();
    let (mut written, mut kept, mut failed) = (0, 0, 0);
    let mut listed = Vec::new();
    for (image, outcome) in selected.iter().zip(outcomes) {
        let (state, reason) = match outcome {
            Outcome::Kept => {
                kept += 1;
                ("unchanged", None)
            }
            Outcome::Written => {
                written += 1;
                ("written", None)
            }
            Outcome::Unresolvable(reason) => {
                match lock::unresolvable(image, &reason) {
                    Some(diag) => diags.push(diag),
                    None if json => failed += 1,
                    None => {
                        eprintln!("error: {}: no set of Python packages satisfies the spec: {reason}", image.reference);
                        failed += 1;
                    }
                }
                ("unresolvable", Some(reason))
            }
            Outcome::Failed(reason) => {
                if !json {
                    eprintln!("error: {}: {reason}", image.reference);
                }
                failed += 1;
                ("failed", Some(reason))
            }
        };
        listed.push(LockedImage { reference: &image.reference, state, reason });
    }
    let unresolved = diags.error_count();
    let code = if failed > 0 { 2 } else { u8::from(unresolved > 0) };
    let reported = report(&sources, diags, false, args.format, true);
    if json {
        let mut document = reported.document(command, Locked { images: listed });
        document.ok = code == 0;
        document.print();
        return Ok(code);
    }
    eprintln!(
        "{} images: {written} locks written, {kept} unchanged, {} failed in {:.1}s",
        selected.len(),
        failed + unresolved,
        started.elapsed().as_secs_f64()
    );
    Ok(code)
}

/// `dlspec lock --check`: the exit code, 1 when a lock is stale, broken or orphaned.
fn check(args: &LockArgs, images: &[Image]) -> Result<u8, Error> {
    let found = lock::check(&args.specs, images)?;
    let unlocked = found.unlocked.len();
    let from_pypi = found.unlocked.iter().filter(|u| u.from_pypi).count();
    if args.format == Format::Json {
        print_json(&LockCheck {
            command: "lock --check",
            ok: found.problems.is_empty(),
            locked: found.locked,
            unlocked,
            unlocked_from_pypi: from_pypi,
            problems: &found.problems,
            unlocked_images: &found.unlocked,
        });
        return Ok(u8::from(!found.problems.is_empty()));
    }
    for problem in &found.problems {
        eprintln!("error: {problem}");
    }
    if found.problems.is_empty() {
        let pypi = if from_pypi == 0 {
            String::new()
        } else {
            format!(", {from_pypi} of them from PyPI alone: `dlspec lock` locks them")
        };
        eprintln!("{} locks match their specs ({unlocked} images unlocked{pypi})", found.locked);
        return Ok(0);
    }
    Ok(1)
}
