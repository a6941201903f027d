//! The project stands alone: no tracked file and no output of `dlspec` names a path of the machine
//! it was written on (a checkout elsewhere, a home directory, the research folder beside the
//! repository). Facts cite their public sources instead.
//!
//! `/root/…` is not searched for as such: it is the home of the container's user, and the images
//! use it on purpose (`/root/miniconda3`, `/root/.cache`); only the host-side tool folders below it
//! are. `/home/NAME` is not either: it is the home of an image's non-root `user` (v3 of the
//! language). A pattern counts only where a path starts: a `work` folder below the image's `/root`
//! is fine.

mod common;

use std::process::Command;

/// What a machine path starts with. Spelled in parts so that this file does not match itself.
fn machine_paths() -> Vec<String> {
    let mut patterns: Vec<String> = ["work", "Users"].iter().map(|dir| format!("/{dir}/")).collect();
    patterns.extend([".cargo", ".rustup"].iter().map(|dir| format!("/root/{dir}")));
    patterns.push(format!("../{}", "shared"));
    patterns.push(format!("{}:\\Users", 'C'));
    patterns
}

/// `what: line N: …` for every line of `text` that names a machine path.
fn findings(what: &str, text: &str) -> Vec<String> {
    let patterns = machine_paths();
    text.lines()
        .enumerate()
        .filter(|(_, line)| patterns.iter().any(|p| names_at_path_start(line, p)))
        .map(|(n, line)| format!("{what}: line {}: {}", n + 1, line.trim()))
        .collect()
}

/// Whether `line` holds `pattern` where a path starts, not inside a longer path of an image.
fn names_at_path_start(line: &str, pattern: &str) -> bool {
    line.match_indices(pattern).any(|(at, _)| {
        !line[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
    })
}

fn git_ls_files() -> Option<Vec<String>> {
    let output = Command::new("git").args(["ls-files", "-z"]).current_dir(common::root()).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let list = String::from_utf8(output.stdout).expect("tracked paths are UTF-8");
    Some(list.split('\0').filter(|p| !p.is_empty()).map(str::to_owned).collect())
}

#[test]
fn no_tracked_file_names_a_machine_path() {
    let Some(files) = git_ls_files() else {
        common::skipped(&[
            "machine-path search of tracked files: `git ls-files` failed; run the tests in a git clone".to_owned()
        ]);
        return;
    };
    assert!(files.iter().any(|f| f == "Cargo.toml"), "git ls-files lists the repository");
    let mut found = Vec::new();
    for file in &files {
        let Ok(bytes) = std::fs::read(common::root().join(file)) else {
            continue; // Deleted in the work tree, not yet in the index.
        };
        found.extend(findings(file, &String::from_utf8_lossy(&bytes)));
    }
    assert!(
        found.is_empty(),
        "tracked files name paths of a machine; cite the public source (URL, repository@commit, date) \
         or a path relative to the repository instead:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_output_of_dlspec_names_a_machine_path() {
    let mut runs: Vec<Vec<&str>> = vec![vec!["--help"], vec!["--version"], vec!["compat"], vec!["explain"]];
    runs.push(vec!["compat", "timezones"]);
    let codes = String::from_utf8(
        Command::new(env!("CARGO_BIN_EXE_dlspec")).arg("explain").output().expect("dlspec runs").stdout,
    )
    .unwrap();
    let codes: Vec<&str> =
        codes.lines().filter(|l| l.starts_with("dlspec::")).filter_map(|l| l.split_whitespace().next()).collect();
    assert!(codes.len() > 10, "`dlspec explain` lists the codes");
    runs.extend(codes.iter().map(|code| vec!["explain", code]));
    let mut found = Vec::new();
    for args in &runs {
        let output = Command::new(env!("CARGO_BIN_EXE_dlspec")).args(args).output().expect("dlspec runs");
        assert!(output.status.success(), "dlspec {args:?} fails");
        let what = format!("dlspec {}", args.join(" "));
        found.extend(findings(&what, &String::from_utf8_lossy(&output.stdout)));
        found.extend(findings(&what, &String::from_utf8_lossy(&output.stderr)));
    }
    assert!(found.is_empty(), "dlspec prints paths of a machine:\n{}", found.join("\n"));
}
