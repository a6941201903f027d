//! `dlspec list`: the expanded catalog, one image per line (reference, base, output directory);
//! with `--changed-since REV`, only the images whose generated directory differs from that
//! commit's, so that CI builds those and no other.

use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use super::args::ListArgs;
use super::output::{count, errors_only, report};
use crate::diag::Format;
use crate::error::Error;
use crate::model::{Entry, EntryPool};
use crate::plan::{Step, step_paths};

/// The fields of `list --format json` after the diagnostics.
#[derive(Serialize)]
struct Listed<'a> {
    /// With `--changed-since`: the revision given and the commit it names.
    #[serde(skip_serializing_if = "Option::is_none")]
    changed_since: Option<Since<'a>>,
    /// The images listed; none when there are errors.
    images: Vec<Listing<'a>>,
    /// Their targets in `docker-bake.hcl`: what `docker buildx bake` builds.
    targets: Vec<&'a str>,
}

/// The commit `--changed-since` compared with.
#[derive(Serialize)]
struct Since<'a> {
    rev: &'a str,
    commit: String,
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
    /// Its target in `docker-bake.hcl`.
    target: &'a str,
    /// Its self-test Jobs: `k8s/selftest-job.yaml`, or one per node pool it runs on.
    selftest_jobs: Vec<Utf8PathBuf>,
}

impl<'a> Listing<'a> {
    fn of(entries: &'a [Entry], index: usize, out: &Utf8Path) -> Self {
        let image = &entries[index];
        let selftest_jobs = step_paths(Step::Image(index), entries)
            .into_iter()
            .filter(|path| path.file_name() == Some("selftest-job.yaml"))
            .map(|path| out.join(path))
            .collect();
        Self {
            reference: image.reference(),
            name: image.name(),
            tag: image.tag(),
            base: image.base_image(),
            gpu: image.gpu(),
            dir: image.dir(),
            spec: image.spec(),
            pools: image.pool_verdicts(),
            target: image.slug(),
            selftest_jobs,
        }
    }
}

pub(super) fn run(args: &ListArgs) -> Result<u8, Error> {
    let sources = crate::source::discover(&args.specs)?;
    let crate::pipeline::Analysis { checked, diags, .. } = crate::pipeline::analyze_catalog(&sources, None);
    let entries = &checked.entries;
    // stdout is the list; errors go to stderr as text (or into the JSON document), warnings are
    // `dlspec check`'s business.
    let warnings = diags.warning_count();
    let mut reported = report(&sources, errors_only(diags), false, args.format, true);
    let failed = reported.failed();
    // Which images, and since which commit: asked of git only when the specs are sound.
    let (since, chosen) = match &args.changed_since {
        Some(rev) if !failed => {
            let changed = crate::git::changed_since(&args.out, rev)?;
            let chosen = images_changed(entries, &changed.paths);
            (Some(Since { rev, commit: changed.commit }), chosen)
        }
        _ if failed => (None, Vec::new()),
        _ => (None, (0..entries.len()).collect()),
    };
    if args.format == Format::Json {
        reported.warnings = warnings;
        let images: Vec<Listing> = chosen.iter().map(|&i| Listing::of(entries, i, &args.out)).collect();
        let targets = images.iter().map(|image| image.target).collect();
        reported.document("list", Listed { changed_since: since, images, targets }).print();
        return Ok(u8::from(failed));
    }
    if failed {
        return Ok(1);
    }
    if warnings > 0 {
        eprintln!("note: the specs have {}; `dlspec check` shows them", count(warnings, "warning"));
    }
    if let Some(since) = &since {
        let short = since.commit.get(..12).unwrap_or(&since.commit);
        eprintln!(
            "{} of {} differ from `{}` ({short}) in `{}`",
            chosen.len(),
            count(entries.len(), "image"),
            since.rev,
            args.out
        );
    }
    let mut out = std::io::stdout().lock();
    let width = |field: fn(&Entry) -> &str| chosen.iter().map(|&i| field(&entries[i]).len()).max();
    let reference = width(Entry::reference).unwrap_or(0);
    let base = width(Entry::base_image).unwrap_or(0);
    for image in chosen.iter().map(|&i| &entries[i]) {
        let _ = writeln!(out, "{:<reference$}  {:<base$}  {}", image.reference(), image.base_image(), image.dir());
    }
    Ok(0)
}

/// The images (indexes into `entries`, in catalog order) that have a file among `changed`
/// (paths relative to `out/`).
fn images_changed(entries: &[Entry], changed: &BTreeSet<Utf8PathBuf>) -> Vec<usize> {
    let by_dir: HashMap<&Utf8Path, usize> = entries.iter().enumerate().map(|(i, e)| (e.dir(), i)).collect();
    let mut chosen: Vec<usize> =
        changed.iter().filter_map(|path| path.ancestors().skip(1).find_map(|dir| by_dir.get(dir).copied())).collect();
    chosen.sort_unstable();
    chosen.dedup();
    chosen
}
