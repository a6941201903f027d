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

/// Every file under `out` with its content and mode: what a tree is, to compare two.
fn tree(out: &Utf8Path) -> std::collections::BTreeMap<Utf8PathBuf, (Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt as _;
    common::files_under(out)
        .into_iter()
        .map(|path| {
            let full = out.join(&path);
            let mode = std::fs::metadata(&full).unwrap().permissions().mode() & 0o777;
            (path, (std::fs::read(&full).unwrap(), mode))
        })
        .collect()
}

/// Specs of `count` CPU images named `bench/imgNN` from `first` on; `extra` goes into each.
fn images(first: usize, count: usize, extra: &str) -> String {
    (first..first + count)
        .map(|n| {
            format!("image \"bench/img{n:02}\" {{\n    pytorch \"2.3.0\"\n    python \"3.10\"\n    cpu\n{extra}}}\n")
        })
        .collect()
}

/// What a fresh compile of `spec` writes, compiled in a folder of its own.
fn fresh_tree(spec: &str) -> std::collections::BTreeMap<Utf8PathBuf, (Vec<u8>, u32)> {
    let (_t, dir) = compiled(spec);
    tree(&dir.join("out"))
}

#[test]
fn a_template_that_fails_on_a_later_image_leaves_out_as_it_was() {
    let (_t, dir) = compiled(&images(0, 12, ""));
    let before = tree(&dir.join("out"));
    // Every image changes, one goes (an orphan), and the last image's Dockerfile fails to render.
    std::fs::write(dir.join("specs/image.kdl"), images(1, 11, "    apt \"htop\"\n")).unwrap();
    let builtin = std::fs::read_to_string(common::root().join("templates/image/Dockerfile.j2")).unwrap();
    let failing = format!("{builtin}{{% if image.name == \"bench/img11\" %}}{{{{ no_such_value }}}}{{% endif %}}\n");
    std::fs::create_dir_all(dir.join("templates/image")).unwrap();
    std::fs::write(dir.join("templates/image/Dockerfile.j2"), failing).unwrap();
    let run = dlspec(&dir, &["compile", "--templates", "templates"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("template `image/Dockerfile.j2"), "{}", run.stderr);
    assert!(tree(&dir.join("out")) == before, "out/ changed: a failing render left it half-updated");
    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(tree(&dir.join("out")) == fresh_tree(&images(1, 11, "    apt \"htop\"\n")));
}

/// The `<sha256>  <path>` records of a manifest, by path.
fn records(manifest: &Utf8Path) -> std::collections::BTreeMap<String, String> {
    std::fs::read_to_string(manifest)
        .unwrap()
        .lines()
        .map(|line| {
            let (hash, path) = line.split_once("  ").unwrap();
            (path.to_owned(), hash.to_owned())
        })
        .collect()
}

#[test]
fn a_compile_killed_while_renaming_is_repaired_whether_its_images_stay_or_go() {
    let (v1, v2) = (images(0, 4, ""), images(0, 6, "    apt \"htop\"\n"));
    let (_t, dir) = compiled(&v1);
    let (_s, scratch) = compiled(&v2);
    let out = dir.join("out");
    let (old, new) = (records(&out.join(".dlspec-manifest")), records(&scratch.join("out/.dlspec-manifest")));
    // The state a compile of v2 killed half-way through its renames leaves: the journal of every
    // changed file, the first half renamed into place, the rest still staged.
    let changed: Vec<&String> = new.keys().filter(|path| old.get(*path) != new.get(*path)).collect();
    std::fs::create_dir_all(out.join(".dlspec-tmp/staged")).unwrap();
    let journal: String = changed.iter().map(|path| format!("{}  {path}\n", new[*path])).collect();
    std::fs::write(out.join(".dlspec-tmp/journal"), journal).unwrap();
    for (n, path) in changed.iter().enumerate() {
        let target = if n < changed.len() / 2 { out.join(path) } else { out.join(format!(".dlspec-tmp/staged/{n}")) };
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(scratch.join("out").join(path), target).unwrap();
    }
    // The images of v2 go again: what the killed compile renamed in is removed, nothing is "edited".
    let check = dlspec(&dir, &["compile", "--check"]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(check.stdout.contains("leftover  out/.dlspec-tmp/staged"), "{}", check.stdout);
    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("by hand") && !run.stderr.contains("warning"), "{}", run.stderr);
    assert!(tree(&out) == fresh_tree(&v1), "the tree is not the one v1 makes");
    assert_eq!(dlspec(&dir, &["compile", "--check"]).code, 0);
    // And when they come back, no --force is needed.
    std::fs::write(dir.join("specs/image.kdl"), &v2).unwrap();
    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(tree(&out) == tree(&scratch.join("out")));
}

#[test]
fn an_empty_file_an_older_version_created_and_was_killed_before_writing_is_repaired() {
    let (v1, v2) = (images(0, 2, ""), images(0, 3, ""));
    let (_t, dir) = compiled(&v1);
    let (_s, scratch) = compiled(&v2);
    let out = dir.join("out");
    let new = records(&scratch.join("out/.dlspec-manifest"));
    // Older versions journaled a new file, created it in place, then wrote it: killed in between,
    // an empty file that only the journal owns.
    let path = "bench/img02/2.3.0-python3.10-cpu-ubuntu22.04/Dockerfile";
    std::fs::create_dir_all(out.join(".dlspec-tmp")).unwrap();
    std::fs::write(out.join(".dlspec-tmp/journal"), format!("{}  {path}\n", new[path])).unwrap();
    std::fs::create_dir_all(out.join(path).parent().unwrap()).unwrap();
    std::fs::write(out.join(path), "").unwrap();
    // The image is no longer planned: the empty file goes, with no warning of a hand edit.
    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("by hand"), "{}", run.stderr);
    assert!(!out.join("bench/img02").exists(), "the empty file is left");
    assert_eq!(dlspec(&dir, &["compile", "--check"]).code, 0);
    // It comes back: no file in the way, no --force.
    std::fs::write(dir.join("specs/image.kdl"), &v2).unwrap();
    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(tree(&out) == tree(&scratch.join("out")));
}

/// A small random generator (xorshift), so that a failing run can be told by its seed.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}

/// SIGINT, SIGTERM or SIGKILL at a random moment of a compile that adds, changes and removes
/// images, one to three times in a row (each killed compile starting from what the last left);
/// then a compile of either version of the specs must succeed without --force and leave exactly
/// the tree a fresh compile makes: nothing stray, nothing half-written.
#[test]
fn compiles_killed_by_any_signal_at_any_moment_are_repaired_by_the_next_one() {
    let versions = [images(0, 40, ""), images(8, 40, "    apt \"htop\"\n")];
    let expected = [fresh_tree(&versions[0]), fresh_tree(&versions[1])];
    let (_t, dir) = catalog(&versions[0]);
    let started = Instant::now();
    assert_eq!(dlspec(&dir, &["compile"]).code, 0);
    let duration = u64::try_from(started.elapsed().as_millis()).unwrap().max(50);
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let mut random = Random(seed);
    let out = dir.join("out");
    for round in 0..6 {
        let mut what = format!("seed {seed}, round {round}:");
        for _ in 0..=random.below(3) {
            let version = usize::try_from(random.below(2)).unwrap();
            let signal = ["INT", "TERM", "KILL"][usize::try_from(random.below(3)).unwrap()];
            std::fs::write(dir.join("specs/image.kdl"), &versions[version]).unwrap();
            let delay = random.below(duration * 5 / 4);
            let mut child = spawn(&dir, &["compile"]);
            std::thread::sleep(Duration::from_millis(delay));
            let pid = child.id().to_string();
            let _ = Command::new("kill").args(["-s", signal, &pid]).stderr(Stdio::null()).status();
            let status = child.wait().unwrap();
            what.push_str(&format!(" v{version} SIG{signal} after {delay} of {duration} ms ({status});"));
            for temp in temp_files(&out) {
                assert!(temp.starts_with(".dlspec-tmp"), "{what} a temporary file in an image: {temp}");
            }
            let check = dlspec(&dir, &["compile", "--check"]);
            assert!(check.code <= 1, "{what} --check: {}", check.stderr);
        }
        let version = usize::try_from(random.below(2)).unwrap();
        std::fs::write(dir.join("specs/image.kdl"), &versions[version]).unwrap();
        let run = dlspec(&dir, &["compile"]);
        assert_eq!(run.code, 0, "{what} then v{version}: {}", run.stderr);
        assert!(!run.stderr.contains("warning"), "{what} then v{version}: {}", run.stderr);
        assert_eq!(dlspec(&dir, &["compile", "--check"]).code, 0, "{what} then v{version}");
        assert!(tree(&out) == expected[version], "{what} then v{version}: not the tree a fresh compile makes");
    }
}
