//! `dlspec lock`: each image's lock kept when it is current, else resolved by uv (with the base
//! image's digest, when asked), written below the specs, `--jobs` images at a time; and
//! `dlspec lock --check`: every lock read against its spec, offline, and every file of the lock
//! folder accounted for.

use camino::Utf8Path;

use super::{LOCK_DIR, LockFile, Request, State, Uv, digest_of, lock_path, state, well_formed};
use crate::diag::{Code, Diag};
use crate::error::Error;
use crate::model::Image;

/// What `dlspec lock` is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// How uv runs.
    pub uv: Uv,
    /// `--upgrade` (with packages or without): a current lock is resolved again.
    pub upgrade: bool,
    /// `--digests`: record each base image's digest, asking its registry.
    pub digests: bool,
    /// Images resolved at the same time.
    pub jobs: usize,
}

/// What `dlspec lock` did for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The lock was current and nothing asked to change it.
    Kept,
    /// The lock was written.
    Written,
    /// uv found no set: its explanation, for a diagnostic on the spec lines.
    Unresolvable(String),
    /// uv, the registry or the file system failed.
    Failed(String),
}

/// Locks each of `images`, `options.jobs` at a time, writing their locks below `specs`; the
/// outcomes come in the order of `images`.
#[must_use]
pub fn lock(specs: &Utf8Path, images: &[&Image], options: &Options) -> Vec<Outcome> {
    crate::parallel::map(images, options.jobs, |image| lock_one(specs, image, options))
}

fn lock_one(specs: &Utf8Path, image: &Image, options: &Options) -> Outcome {
    let request = Request::of(image);
    let state = state(specs, image);
    let previous = match &state {
        State::Current(l) | State::Stale(l) | State::OldHeader(l) => Some(l.clone()),
        State::Missing | State::Broken(_) => None,
    };
    // A lock of an older header whose input is current gets the new header, offline.
    let current = previous.as_ref().is_some_and(|l| l.input_hash == request.input_hash())
        && !matches!(state, State::Stale(_))
        && !options.upgrade;
    let body = match (&previous, current) {
        (Some(previous), true) => previous.body.clone(),
        _ => match options.uv.resolve(&request, previous.as_ref().map(|l| l.body.as_str())) {
            Ok(body) => body,
            Err(super::Failure::Unresolvable(reason)) => return Outcome::Unresolvable(reason),
            Err(super::Failure::Tool(reason)) => return Outcome::Failed(reason),
        },
    };
    if let Err(e) = well_formed(&body) {
        return Outcome::Failed(format!("uv's output is not a lock dlspec can use ({e}); nothing written"));
    }
    let kept_digest =
        previous.as_ref().and_then(|l| l.base_digest.clone()).filter(|d| digest_of(d, &image.base.image).is_some());
    let base_digest = if options.digests {
        match crate::registry::digest(&image.base.image) {
            Ok(digest) => Some(format!("{}@{digest}", image.base.image)),
            Err(e) => return Outcome::Failed(format!("{}: {e}", image.base.image)),
        }
    } else {
        kept_digest
    };
    let file = LockFile { input_hash: request.input_hash(), base_digest, body };
    if matches!(state, State::Current(_)) && previous.as_ref() == Some(&file) {
        return Outcome::Kept;
    }
    let relative = Utf8Path::new(LOCK_DIR).join(format!("{}.txt", image.dir));
    let text = file.render(&image.reference);
    match crate::files::write_file_below(specs, &relative, text.as_bytes(), crate::files::Existing::Replace) {
        Ok(()) => Outcome::Written,
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// `dlspec::lock::unresolvable` on the lines that asked for the set: the framework and the extras.
#[must_use]
pub fn unresolvable(image: &Image, reason: &str) -> Option<Diag> {
    let origin = &image.origin;
    let primary = origin.framework.or_else(|| origin.extra_pip.first().copied()).or(origin.python)?;
    let why: Vec<&str> = reason.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut diag = Diag::error(
        Code::Unresolvable,
        primary,
        format!("no set of Python packages satisfies `{}` for Python {}", image.reference, image.python.version),
        "asked for here",
    );
    for span in origin.extra_pip.iter().filter(|s| Some(**s) != Some(primary)) {
        diag = diag.with_label(*span, "and here");
    }
    Some(diag.with_help(format!(
        "change or drop the pins uv names, or pick a framework version for this Python; uv says: {}",
        why.join(" ")
    )))
}

/// What `dlspec lock --check` found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Images whose lock matches their spec.
    pub locked: usize,
    /// Images with no lock, each with why it has none.
    pub unlocked: Vec<Unlocked>,
    /// Every lock that does not, and every file of the lock folder that locks no image, each as
    /// a sentence that says what to do.
    pub problems: Vec<String>,
}

/// An image with no lock, and why.
#[derive(Debug, serde::Serialize)]
pub struct Unlocked {
    /// `name:tag`.
    pub reference: String,
    /// Whether every package comes from PyPI (or the `build-pip` mirror): wherever PyPI is
    /// reachable, `dlspec lock` locks it.
    pub from_pypi: bool,
    /// Why it has no lock, and what to do.
    pub reason: String,
}

impl Unlocked {
    fn of(image: &Image) -> Self {
        let request = Request::of(image);
        let other = request.framework_index.as_deref().or(request.framework_find_links.as_deref());
        let reason = match other.and_then(|url| url.split("://").nth(1)).and_then(|rest| rest.split('/').next()) {
            Some(host) => format!(
                "its framework installs from `{host}`, beside PyPI: `dlspec lock --image {}` locks it where that host is reachable",
                image.name
            ),
            None => format!("every package comes from PyPI: run `dlspec lock --image {}`", image.name),
        };
        Self { reference: image.reference.clone(), from_pypi: other.is_none(), reason }
    }
}

/// Reads the lock of each of `images` against its spec, offline, and every file of the lock
/// folder.
///
/// # Errors
/// When the lock folder cannot be read.
pub fn check(specs: &Utf8Path, images: &[Image]) -> Result<CheckReport, Error> {
    let mut report = CheckReport::default();
    let mut expected = std::collections::BTreeSet::new();
    for image in images {
        let path = lock_path(specs, image);
        match state(specs, image) {
            State::Current(_) => report.locked += 1,
            State::Stale(_) => report.problems.push(format!(
                "`{path}` is stale: the Python requirements of `{}` changed since it was locked; run `dlspec lock --image {}`",
                image.reference, image.name
            )),
            State::OldHeader(_) => report.problems.push(format!(
                "`{path}` has the header of an older dlspec, without the sha256 of its content; run `dlspec lock --image {}` \
                 (offline: a current lock is not resolved again)",
                image.name
            )),
            State::Broken(e) => report.problems.push(e),
            State::Missing => report.unlocked.push(Unlocked::of(image)),
        }
        expected.insert(path);
    }
    let dir = specs.join(LOCK_DIR);
    match std::fs::symlink_metadata(&dir) {
        Ok(meta) if meta.is_dir() => {
            for entry in walkdir::WalkDir::new(&dir).follow_links(false).sort_by_file_name() {
                let entry = entry.map_err(|e| Error::read(&dir, e.into()))?;
                let Some(path) = Utf8Path::from_path(entry.path()) else { continue };
                let kind = entry.file_type();
                if kind.is_dir() || (kind.is_file() && expected.contains(path)) {
                    continue;
                }
                let is_temp = entry.file_name().to_str().is_some_and(|n| n.starts_with(crate::files::TEMP_PREFIX));
                report.problems.push(if !kind.is_file() {
                    format!("`{path}` is not a regular file (a symlink, FIFO or device): dlspec reads no such file; remove it")
                } else if is_temp {
                    format!("`{path}` is the temporary file of a `dlspec lock` that did not finish: remove it")
                } else {
                    format!("`{path}` locks no image of `{specs}`: remove it")
                });
            }
        }
        Ok(meta) if meta.file_type().is_symlink() => {
            report.problems.push(crate::files::symlink_below(&dir, specs).to_string());
        }
        Ok(_) => report.problems.push(format!("`{dir}` is not a folder: remove it")),
        Err(_) => {}
    }
    Ok(report)
}
