//! `dlspec list --changed-since REV` against a real git history: a temporary repository,
//! compiled and committed, then one spec changed, compiled and committed again.

use std::process::Command;

use camino::{Utf8Path, Utf8PathBuf};

const SPECS: &str = r#"image "alpha" {
    pytorch "2.3.0"
    python "3.10"
    cpu
}

image "beta" {
    tensorflow "2.15.0"
    python "3.11"
    cpu
}
"#;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn dlspec(dir: &Utf8Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_dlspec"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("dlspec runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// git in `dir`, whatever the user's configuration says.
fn git(dir: &Utf8Path, args: &[&str]) {
    let output = Command::new("git")
        .args(["-c", "user.name=dlspec test", "-c", "user.email=test@dlspec.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

fn compile_and_commit(dir: &Utf8Path, message: &str) {
    let run = dlspec(dir, &["compile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    git(dir, &["add", "--all"]);
    git(dir, &["commit", "--quiet", "-m", message]);
}

/// A repository with two commits: both images, then `beta` with one more pip package.
fn history() -> (tempfile::TempDir, Utf8PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let dir = Utf8PathBuf::try_from(temp.path().to_path_buf()).unwrap();
    std::fs::create_dir(dir.join("specs")).unwrap();
    std::fs::write(dir.join("specs/images.kdl"), SPECS).unwrap();
    git(&dir, &["init", "--quiet"]);
    compile_and_commit(&dir, "two images");
    let changed = SPECS.replace("    python \"3.11\"\n", "    python \"3.11\"\n    pip \"pandas\"\n");
    std::fs::write(dir.join("specs/images.kdl"), changed).unwrap();
    compile_and_commit(&dir, "beta gets pandas");
    (temp, dir)
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[test]
fn the_image_whose_spec_changed_is_the_one_listed() {
    let (_temp, dir) = history();
    let run = dlspec(&dir, &["list", "--changed-since", "HEAD~1"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stdout);
    assert!(lines[0].starts_with("beta:2.15.0-"), "{}", run.stdout);
    assert!(run.stderr.contains("1 of 2 images differ from `HEAD~1`"), "{}", run.stderr);

    let listed = json(&dlspec(&dir, &["list", "--changed-since", "HEAD~1", "--format", "json"]));
    assert_eq!(listed["ok"], true);
    assert_eq!(listed["changed_since"]["rev"], "HEAD~1");
    assert_eq!(listed["changed_since"]["commit"].as_str().map(str::len), Some(40));
    let images = listed["images"].as_array().unwrap();
    assert_eq!(images.len(), 1, "{listed}");
    assert_eq!(images[0]["name"], "beta");
    let target = images[0]["target"].as_str().unwrap();
    assert_eq!(listed["targets"], serde_json::json!([target]));
    // The target is the image's in the bake file, and its self-test Job is a file of its own.
    let bake = std::fs::read_to_string(dir.join("out/docker-bake.hcl")).unwrap();
    assert!(bake.contains(&format!("target \"{target}\" {{")), "{target}");
    let jobs = images[0]["selftest_jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{listed}");
    let job = jobs[0].as_str().unwrap();
    assert!(job.starts_with("out/beta/") && job.ends_with("/k8s/selftest-job.yaml"), "{job}");
    assert!(dir.join(job).is_file(), "{job}");
}

#[test]
fn nothing_changed_since_the_last_commit_and_a_tree_is_no_commit() {
    let (_temp, dir) = history();
    let run = dlspec(&dir, &["list", "--changed-since", "HEAD"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{}", run.stderr);
    // The first commit against an empty tree: both images are new.
    let empty_tree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
    let run = dlspec(&dir, &["list", "--changed-since", empty_tree]);
    assert_eq!(run.code, 2, "a tree is not a commit: {}", run.stdout);
    let first = Command::new("git").args(["rev-list", "--max-parents=0", "HEAD"]).current_dir(&dir).output().unwrap();
    let first = String::from_utf8_lossy(&first.stdout).trim().to_owned();
    let listed = json(&dlspec(&dir, &["list", "--changed-since", &first, "--format", "json"]));
    assert_eq!(listed["targets"].as_array().map(Vec::len), Some(1), "{listed}");
}

#[test]
fn a_compiled_image_not_yet_committed_is_listed() {
    let (_temp, dir) = history();
    let more = format!("{SPECS}\nimage \"gamma\" {{\n    jax \"0.6.2\"\n    python \"3.12\"\n    cpu\n}}\n");
    std::fs::write(
        dir.join("specs/images.kdl"),
        more.replace("    python \"3.11\"\n", "    python \"3.11\"\n    pip \"pandas\"\n"),
    )
    .unwrap();
    assert_eq!(dlspec(&dir, &["compile"]).code, 0);
    let listed = json(&dlspec(&dir, &["list", "--changed-since", "HEAD", "--format", "json"]));
    let names: Vec<&str> = listed["images"].as_array().unwrap().iter().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(names, ["gamma"], "{listed}");
}

#[test]
fn a_value_that_is_no_commit_is_an_error_naming_it() {
    let (_temp, dir) = history();
    for rev in ["no-such-branch", "HEAD~9", "-x"] {
        let run = dlspec(&dir, &["list", &format!("--changed-since={rev}")]);
        assert_eq!(run.code, 2, "{rev}: {}", run.stdout);
        assert!(run.stderr.contains(&format!("`{rev}` is not a commit")), "{rev}: {}", run.stderr);
        let failed = json(&dlspec(&dir, &["list", &format!("--changed-since={rev}"), "--format", "json"]));
        assert_eq!(failed["ok"], false);
        assert!(failed["error"].as_str().unwrap().contains(&format!("`{rev}`")), "{failed}");
    }
    let elsewhere = tempfile::tempdir().unwrap();
    let elsewhere = Utf8PathBuf::try_from(elsewhere.path().to_path_buf()).unwrap();
    std::fs::create_dir(elsewhere.join("specs")).unwrap();
    std::fs::write(elsewhere.join("specs/images.kdl"), SPECS).unwrap();
    assert_eq!(dlspec(&elsewhere, &["compile"]).code, 0);
    let run = dlspec(&elsewhere, &["list", "--changed-since", "HEAD"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is not in a git repository"), "{}", run.stderr);
}
