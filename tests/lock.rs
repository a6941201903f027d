//! `dlspec lock` end to end. A fake `uv` (a shell script that records its arguments and writes a
//! recorded resolution) stands in for the resolver, so these run offline; the test at the end runs
//! the real uv against a local wheel index built in the test.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

use camino::{Utf8Path, Utf8PathBuf};

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

/// A fake uv: appends its arguments to `uv-args.log`, then writes `lock.txt` in its working
/// directory: JupyterLab 4.6.6 (for another major.minor than the pack) unless a coherence
/// constraint is given, then 4.5.11; with `numpy>=2` among the extras it fails as uv does.
fn fake_uv(dir: &Utf8Path) -> Utf8PathBuf {
    let mismatched = resolution("4.6.6");
    let coherent = resolution("4.5.11");
    let script = format!(
        r#"#!/bin/bash
echo "$*" >>'{log}'
if grep -qs 'numpy>=2' extras.in; then
  echo 'error: No solution found when resolving dependencies:' >&2
  echo '  Because you require numpy<2 and numpy>=2, we can conclude that your requirements are unsatisfiable.' >&2
  exit 1
fi
if [ -f coherence.txt ]; then
  cat >lock.txt <<'LOCK'
{coherent}LOCK
else
  cat >lock.txt <<'LOCK'
{mismatched}LOCK
fi
"#,
        log = dir.join("uv-args.log")
    );
    let path = dir.join("fake-uv");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

struct Run {
    code: i32,
    stderr: String,
}

fn dlspec(dir: &Utf8Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_dlspec"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("dlspec runs");
    Run { code: output.status.code().unwrap_or(-1), stderr: String::from_utf8_lossy(&output.stderr).into_owned() }
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
    assert!(calls[1].contains("--constraint coherence.txt"));
    let lock = std::fs::read_to_string(dir.join(LOCK)).unwrap();
    assert!(lock.starts_with("# dlspec lock of tf:2.15.0-python3.10-cpu-ubuntu22.04"));
    assert!(lock.contains("jupyterlab==4.5.11") && !lock.contains("jupyterlab==4.6.6"));

    // Current: nothing to resolve, offline.
    let again = dlspec(&dir, &["lock", "--uv", "/nonexistent/uv"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("0 locks written, 1 unchanged"), "{}", again.stderr);
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
            "pip install --no-cache-dir --no-deps --require-hashes -r /etc/dlspec/pip/{layer}.lock.txt"
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
    assert!(!dir.join(OUT).join("pip").exists());
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
    assert_eq!(dlspec(&dir, &["lock", "--check"]).code, 1);
    let compile = dlspec(&dir, &["compile"]);
    assert!(compile.stderr.contains("is not used"), "{}", compile.stderr);
}
