//! What `dlspec compile` may write and remove in `out/`, and how it behaves when the tree holds
//! something unexpected: files it did not write, an unusable manifest, FIFOs, a second compile,
//! the remains of a killed one. Every run has a deadline, so a blocking read fails the test
//! instead of hanging it.

#![cfg(unix)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

const SPEC: &str = r#"image "pytorch-cpu" {
    pytorch "2.3.0"
    python "3.10"
    cpu
}
"#;
const IMAGE: &str = "pytorch-cpu/2.3.0-python3.10-cpu-ubuntu22.04";
const OTHER_IMAGE: &str = "pytorch-cpu/2.3.0-python3.11-cpu-ubuntu22.04";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs dlspec in `dir`; fails the test if it has not finished within a minute.
fn dlspec(dir: &Utf8Path, args: &[&str]) -> Run {
    let child = spawn(dir, args);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut child = child;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
            return Run { code: status.code().unwrap_or(-1), stdout: read("stdout.txt"), stderr: read("stderr.txt") };
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("dlspec {args:?} did not finish within a minute: it blocks");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(dir: &Utf8Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_dlspec"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("stdout.txt")).unwrap())
        .stderr(std::fs::File::create(dir.join("stderr.txt")).unwrap())
        .spawn()
        .expect("dlspec runs")
}

fn catalog(spec: &str) -> (tempfile::TempDir, Utf8PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let dir = Utf8PathBuf::try_from(temp.path().to_path_buf()).unwrap();
    std::fs::create_dir(dir.join("specs")).unwrap();
    std::fs::write(dir.join("specs/image.kdl"), spec).unwrap();
    (temp, dir)
}

fn compiled(spec: &str) -> (tempfile::TempDir, Utf8PathBuf) {
    let (temp, dir) = catalog(spec);
    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    (temp, dir)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn mkfifo(path: &Utf8Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// Every file under `out/` whose name starts with `.dlspec-`, but the manifest.
fn temp_files(out: &Utf8Path) -> Vec<Utf8PathBuf> {
    common::files_under(out)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n.starts_with(".dlspec-")) && p != ".dlspec-manifest")
        .collect()
}

#[test]
fn an_empty_out_or_specs_directory_is_a_usage_error() {
    let (_t, dir) = catalog(SPEC);
    std::fs::write(dir.join("README.md"), "the user's own\n").unwrap();
    let run = dlspec(&dir, &["compile", "--out", ""]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("empty path"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(dir.join("README.md")).unwrap(), "the user's own\n");
    assert!(!dir.join("docker-bake.hcl").exists() && !dir.join(".dlspec-manifest").exists());
    for args in [&["compile", ""][..], &["check", ""], &["list", ""], &["compile", "--templates", ""]] {
        let run = dlspec(&dir, args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    }
}

#[test]
fn a_file_in_the_way_of_a_new_output_needs_force() {
    let (_t, dir) = compiled(SPEC);
    std::fs::write(dir.join("specs/image.kdl"), SPEC.replace("\"3.10\"", "\"3.11\"")).unwrap();
    let mine = dir.join("out").join(OTHER_IMAGE).join("README.md");
    std::fs::create_dir_all(mine.parent().unwrap()).unwrap();
    std::fs::write(&mine, "my notes\n").unwrap();

    let check = dlspec(&dir, &["compile", "--check"]);
    assert_eq!(check.code, 1);
    assert!(check.stdout.contains(&format!("foreign   out/{OTHER_IMAGE}/README.md")), "{}", check.stdout);

    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("1 file where dlspec writes, not written by dlspec"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("\n  out/{OTHER_IMAGE}/README.md\n")), "{}", run.stderr);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "my notes\n");
    // Refused before anything was written: the old image is still there, the new one is not.
    assert!(dir.join("out").join(IMAGE).join("Dockerfile").is_file());
    assert!(!dir.join("out").join(OTHER_IMAGE).join("Dockerfile").exists());

    let run = dlspec(&dir, &["compile", "--force"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("was not written by dlspec; overwritten"), "{}", run.stderr);
    assert_ne!(std::fs::read_to_string(&mine).unwrap(), "my notes\n");
    assert_eq!(dlspec(&dir, &["compile", "--check"]).code, 0);
}

#[test]
fn an_empty_corrupted_or_unreadable_manifest_owns_nothing() {
    let (_t, dir) = compiled(SPEC);
    let readme = dir.join("out").join(IMAGE).join("README.md");
    std::fs::write(&readme, "edited by hand\n").unwrap();
    let manifest = dir.join("out/.dlspec-manifest");
    let valid = std::fs::read_to_string(&manifest).unwrap();
    let corrupted = valid.replacen("  ", " ", 1);
    let escaping = format!("{valid}{}  ../specs/image.kdl\n", sha256_hex(SPEC.as_bytes()));
    for text in ["", "not a manifest\n", &corrupted, &escaping, &valid[..valid.len() - 1]] {
        std::fs::write(&manifest, text).unwrap();
        let run = dlspec(&dir, &["compile"]);
        assert_eq!(run.code, 2, "{text:?}: {}", run.stderr);
        assert!(run.stderr.contains("--force"), "{}", run.stderr);
        assert_eq!(std::fs::read_to_string(&readme).unwrap(), "edited by hand\n", "{text:?}");
        assert_eq!(std::fs::read_to_string(dir.join("specs/image.kdl")).unwrap(), SPEC);
    }
    std::fs::remove_file(&manifest).unwrap();
    std::fs::create_dir(&manifest).unwrap();
    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&readme).unwrap(), "edited by hand\n");
}

#[test]
fn orphans_go_only_when_regular_inside_out_and_unchanged() {
    let (temp, dir) = compiled(SPEC);
    let old = dir.join("out").join(IMAGE);
    // A FIFO, a symlink to a copy outside `out/` and an edited file, where orphans were.
    std::fs::remove_file(old.join("Dockerfile")).unwrap();
    mkfifo(&old.join("Dockerfile"));
    let outside = Utf8PathBuf::try_from(temp.path().join("outside.sh")).unwrap();
    std::fs::rename(old.join("docker-run.sh"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, old.join("docker-run.sh")).unwrap();
    std::fs::write(old.join("README.md"), "edited\n").unwrap();
    std::fs::write(dir.join("specs/image.kdl"), SPEC.replace("\"3.10\"", "\"3.11\"")).unwrap();

    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for kept in ["Dockerfile", "docker-run.sh", "README.md"] {
        assert!(std::fs::symlink_metadata(old.join(kept)).is_ok(), "{kept} removed");
        assert!(run.stderr.contains(&format!("{IMAGE}/{kept}` is no longer generated")), "{}", run.stderr);
    }
    assert!(outside.is_file());
    assert!(!old.join("build-scripts.sh").exists(), "an unchanged orphan is removed");
}

#[test]
fn fifos_and_devices_never_block_compile_or_check() {
    let (_t, dir) = compiled(SPEC);
    let dockerfile = dir.join("out").join(IMAGE).join("Dockerfile");
    std::fs::remove_file(&dockerfile).unwrap();
    mkfifo(&dockerfile);
    let check = dlspec(&dir, &["compile", "--check"]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(check.stdout.contains(&format!("special   out/{IMAGE}/Dockerfile")), "{}", check.stdout);
    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    std::fs::remove_file(&dockerfile).unwrap();

    let manifest = dir.join("out/.dlspec-manifest");
    std::fs::remove_file(&manifest).unwrap();
    mkfifo(&manifest);
    assert_eq!(dlspec(&dir, &["compile", "--check"]).code, 1);
    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);

    // Read to the end, /dev/zero would fill the memory.
    std::fs::remove_file(&manifest).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &manifest).unwrap();
    assert_eq!(dlspec(&dir, &["compile", "--check"]).code, 1);
    assert_eq!(dlspec(&dir, &["compile"]).code, 2);
    let run = dlspec(&dir, &["compile", "--force"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(std::fs::symlink_metadata(&manifest).unwrap().is_file());
    assert_eq!(dlspec(&dir, &["compile", "--check"]).code, 0);
}

#[test]
fn a_second_compile_refuses_while_one_holds_the_lock() {
    let (_t, dir) = compiled(SPEC);
    let out = std::fs::File::open(dir.join("out")).unwrap();
    out.lock().unwrap();
    for args in [&["compile"][..], &["compile", "--check"]] {
        let run = dlspec(&dir, args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("another dlspec compile is writing"), "{}", run.stderr);
    }
    out.unlock().unwrap();
    assert_eq!(dlspec(&dir, &["compile", "--check"]).code, 0);
}

#[test]
fn the_remains_of_an_interrupted_compile_are_flagged_and_repaired() {
    let (_t, dir) = compiled(SPEC);
    // What a compile killed while writing the 3.11 image leaves: a temporary file, the journal of
    // what it was writing, a half-written file.
    std::fs::write(dir.join("specs/image.kdl"), SPEC.replace("\"3.10\"", "\"3.11\"")).unwrap();
    let work = dir.join("out/.dlspec-tmp");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(work.join("3"), "half a Docker").unwrap();
    let half = dir.join("out").join(OTHER_IMAGE).join("Dockerfile");
    std::fs::create_dir_all(half.parent().unwrap()).unwrap();
    std::fs::write(&half, "FROM half").unwrap();
    let journal = format!("{}  {OTHER_IMAGE}/Dockerfile\n{}  {OTHER_IMAGE}/RE", "0".repeat(64), "1".repeat(64));
    std::fs::write(work.join("journal"), journal).unwrap();

    let check = dlspec(&dir, &["compile", "--check"]);
    assert_eq!(check.code, 1);
    assert!(check.stdout.contains("leftover  out/.dlspec-tmp/3"), "{}", check.stdout);
    assert!(check.stdout.contains(&format!("stale     out/{OTHER_IMAGE}/Dockerfile")), "{}", check.stdout);

    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("edited by hand"), "{}", run.stderr);
    assert!(!work.exists());
    assert!(std::fs::read_to_string(&half).unwrap().starts_with("# Generated by dlspec"), "repaired");
    assert_eq!(dlspec(&dir, &["compile", "--check"]).code, 0);
}

#[test]
fn a_killed_compile_leaves_nothing_in_a_build_context_and_the_next_one_repairs_the_tree() {
    let units: String = (0..40)
        .map(|n| format!("image \"bench/img{n:02}\" {{\n    pytorch \"2.3.0\"\n    python \"3.10\"\n    cpu\n}}\n"))
        .collect();
    let (_t, dir) = catalog(&units);
    for delay in [5, 30, 80, 150, 300] {
        let mut child = spawn(&dir, &["compile"]);
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap();
        child.wait().unwrap();
        let out = dir.join("out");
        if out.exists() {
            // Whatever it left is either outside the images (the working folder) or flagged.
            for temp in temp_files(&out) {
                assert!(temp.starts_with(".dlspec-tmp"), "a temporary file in an image: {temp}");
            }
        }
        let run = dlspec(&dir, &["compile"]);
        assert_eq!(run.code, 0, "after a kill at {delay} ms: {}", run.stderr);
        assert!(temp_files(&out).is_empty(), "{:?}", temp_files(&out));
        assert_eq!(dlspec(&dir, &["compile", "--check"]).code, 0, "after a kill at {delay} ms");
        std::fs::remove_dir_all(&out).unwrap();
    }
}

#[test]
fn temporary_files_of_older_versions_in_an_image_are_flagged_and_removed() {
    let (_t, dir) = compiled(SPEC);
    // Older versions wrote `.dlspec-` and six random characters beside the file they replaced; a
    // kill left it in the build context, where `COPY init/` ships it.
    let left = dir.join("out").join(IMAGE).join("init/boot/.dlspec-Ab3xZ9");
    std::fs::write(&left, "half a boot script").unwrap();
    let lookalike = dir.join("out").join(IMAGE).join("init/boot/.dlspec-notes");
    std::fs::write(&lookalike, "not a temporary name: kept").unwrap();

    let check = dlspec(&dir, &["compile", "--check"]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(check.stdout.contains(&format!("leftover  out/{IMAGE}/init/boot/.dlspec-Ab3xZ9")), "{}", check.stdout);
    assert!(!check.stdout.contains(".dlspec-notes"), "{}", check.stdout);
    assert!(check.stderr.contains("1 left by an interrupted compile"), "{}", check.stderr);

    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!left.exists(), "removed");
    assert!(lookalike.exists(), "a name dlspec never used is the user's");
    assert_eq!(dlspec(&dir, &["compile", "--check"]).code, 0);
}
