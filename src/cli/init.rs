//! `dlspec init [DIR]`: start a catalog repository.

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use super::args::InitArgs;
use super::output::print_json;
use crate::diag::Format;
use crate::error::Error;

/// `init --format json`.
#[derive(Serialize)]
struct Initialized<'a> {
    command: &'static str,
    ok: bool,
    dir: &'a Utf8Path,
    created: &'a [Utf8PathBuf],
    /// The dlspec revision CI installs; `null`: unpinned.
    rev: Option<&'a str>,
}

pub(super) fn run(args: &InitArgs) -> Result<u8, Error> {
    let repo = match &args.hooks_repo {
        Some(repo) => repo.clone(),
        None if !env!("CARGO_PKG_REPOSITORY").is_empty() => env!("CARGO_PKG_REPOSITORY").to_owned(),
        None => {
            return Err(Error::Usage(
                "this dlspec was built without a `repository` in its Cargo.toml: pass --hooks-repo URL, \
                 the git URL of the dlspec your platform uses"
                    .to_owned(),
            ));
        }
    };
    let rev = args.rev.clone().or_else(|| crate::init::BUILT_FROM.map(str::to_owned));
    let source = crate::init::Source { repo, rev };
    let files = crate::init::render(&source)?;
    crate::init::write(&args.dir, &files)?;
    let created: Vec<Utf8PathBuf> = files.iter().map(|(path, _)| args.dir.join(path)).collect();
    match args.format {
        Format::Json => print_json(&Initialized {
            command: "init",
            ok: true,
            dir: &args.dir,
            created: &created,
            rev: source.rev.as_deref(),
        }),
        Format::Human => {
            for path in &created {
                eprintln!("created `{path}`");
            }
            if let Some(note) = pin_note(args.rev.is_some(), &source) {
                eprintln!("{note}");
            }
            eprintln!(
                "next, in `{}`: `dlspec compile`, `git init && git add . && git commit`, `pre-commit install`",
                args.dir
            );
        }
    }
    Ok(0)
}

/// What people should know of the dlspec CI installs, when it is not simply the one that ran.
fn pin_note(given: bool, source: &crate::init::Source) -> Option<String> {
    if given {
        return None;
    }
    match &source.rev {
        Some(commit) if crate::init::BUILT_DIRTY => Some(format!(
            "warning: this dlspec was built from uncommitted changes of {commit}; CI installs {commit} without \
             them: commit and push them, then pass --rev with the new commit"
        )),
        Some(_) => None,
        None => Some(format!(
            "warning: this dlspec does not know the commit it was built from (it was built from a package or \
             a source tarball): CI installs the newest dlspec of `{}`, unpinned; pass --rev COMMIT to pin it",
            source.repo
        )),
    }
}
