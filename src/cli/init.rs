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
    let source = crate::init::Source { repo, rev: args.rev.clone() };
    let files = crate::init::render(&source)?;
    crate::init::write(&args.dir, &files)?;
    let created: Vec<Utf8PathBuf> = files.iter().map(|(path, _)| args.dir.join(path)).collect();
    match args.format {
        Format::Json => print_json(&Initialized { command: "init", ok: true, dir: &args.dir, created: &created }),
        Format::Human => {
            for path in &created {
                eprintln!("created `{path}`");
            }
            eprintln!(
                "next, in `{}`: `dlspec compile`, `git init && git add . && git commit`, `pre-commit install`",
                args.dir
            );
        }
    }
    Ok(0)
}
