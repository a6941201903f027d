//! What git says of a folder the catalog commits (`out/`): which of its files differ from a
//! commit's. `dlspec list --changed-since REV` maps them to the images to build.

use std::collections::BTreeSet;
use std::process::Command;

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::Error;

/// The files of a folder that differ from a commit's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// The commit, in full.
    pub commit: String,
    /// Every file that differs, relative to the folder: changed, added or removed since the
    /// commit, committed or not, and new files git does not ignore.
    pub paths: BTreeSet<Utf8PathBuf>,
}

/// The files of `dir` that differ from its state at `rev`.
///
/// # Errors
/// When `dir` is not in a git repository, `rev` names no commit of it, or git fails.
pub fn changed_since(dir: &Utf8Path, rev: &str) -> Result<Changed, Error> {
    // A value git would read as an option is no commit; `^{commit}` refuses trees and blobs.
    if rev.is_empty() || rev.starts_with('-') || rev.chars().any(char::is_control) {
        return Err(Error::NotACommit { rev: rev.to_owned(), dir: dir.to_owned() });
    }
    std::fs::metadata(dir).map_err(|e| Error::read(dir, e))?;
    if git(dir, &["rev-parse", "--is-inside-work-tree"]).is_err() {
        return Err(Error::NotInGit { dir: dir.to_owned() });
    }
    let commit = git(dir, &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")])
        .map_err(|_| Error::NotACommit { rev: rev.to_owned(), dir: dir.to_owned() })?;
    let commit = String::from_utf8_lossy(&commit).trim().to_owned();
    let mut paths = BTreeSet::new();
    let differ = git(dir, &["diff", "--name-only", "--no-renames", "--relative", "-z", &commit, "--", "."])?;
    let untracked = git(dir, &["ls-files", "-z", "--others", "--exclude-standard", "--", "."])?;
    for path in differ.split(|b| *b == 0).chain(untracked.split(|b| *b == 0)) {
        // A name that is not UTF-8 is no file dlspec writes.
        if let Ok(path) = std::str::from_utf8(path)
            && !path.is_empty()
        {
            paths.insert(Utf8PathBuf::from(path));
        }
    }
    Ok(Changed { commit, paths })
}

/// Runs `git ARGS` in `dir`: its output, or why it failed.
fn git(dir: &Utf8Path, args: &[&str]) -> Result<Vec<u8>, Error> {
    let command = || format!("git {}", args.join(" "));
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| Error::Git { command: command(), detail: format!("cannot run git: {e}") })?;
    if !output.status.success() {
        let detail = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(Error::Git { command: command(), detail });
    }
    Ok(output.stdout)
}
