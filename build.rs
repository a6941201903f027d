//! Records the git commit dlspec is built from, when it is built from a git checkout of its own
//! repository: `dlspec init` pins it in the CI workflow it writes (a commit that exists, where a
//! release tag may not), and `dlspec --version` shows it. A build from a crates.io package or a
//! source tarball has no git: then nothing is recorded, and `init` says so.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn main() {
    // What the build depends on: its sources (for whether they differ from the commit) and git's
    // record of the commit. Nothing else reruns this script.
    for path in ["build.rs", "Cargo.toml", "Cargo.lock", "src", "templates", ".pre-commit-hooks.yaml"] {
        println!("cargo::rerun-if-changed={path}");
    }
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Only dlspec's own repository: a source tarball unpacked inside another repository is not it.
    let own = git(&["rev-parse", "--show-toplevel"])
        .and_then(|top| Path::new(&top).canonicalize().ok())
        .is_some_and(|top| manifest_dir.canonicalize().is_ok_and(|dir| dir == top));
    if !own {
        return;
    }
    for name in ["HEAD", "index", "packed-refs"] {
        if let Some(path) = git(&["rev-parse", "--git-path", name]) {
            println!("cargo::rerun-if-changed={path}");
        }
    }
    if let Some(branch) = git(&["symbolic-ref", "--quiet", "HEAD"])
        && let Some(path) = git(&["rev-parse", "--git-path", &branch])
    {
        println!("cargo::rerun-if-changed={path}");
    }
    let Some(commit) = git(&["rev-parse", "--verify", "HEAD^{commit}"]) else { return };
    if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return;
    }
    println!("cargo::rustc-env=DLSPEC_COMMIT={commit}");
    // Tracked files that differ from the commit: the build is not the commit's.
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_none_or(|status| !status.is_empty());
    if dirty {
        println!("cargo::rustc-env=DLSPEC_COMMIT_DIRTY=1");
    }
}
