//! The `dlspec` binary end to end, in temporary directories.

mod common;

use std::process::Command;

use camino::{Utf8Path, Utf8PathBuf};

const SPEC: &str = r#"image "pytorch-cpu" {
    pytorch "2.3.0"
    python "3.10"
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

fn catalog(spec: &str) -> (tempfile::TempDir, Utf8PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let dir = Utf8PathBuf::try_from(temp.path().to_path_buf()).unwrap();
    std::fs::create_dir(dir.join("specs")).unwrap();
    std::fs::write(dir.join("specs/image.kdl"), spec).unwrap();
    (temp, dir)
}

fn snapshot(dir: &Utf8Path) -> Vec<(Utf8PathBuf, Vec<u8>, std::time::SystemTime)> {
    let out = dir.join("out");
    common::files_under(&out)
        .into_iter()
        .map(|p| {
            let full = out.join(&p);
            let meta = std::fs::metadata(&full).unwrap();
            (p, std::fs::read(&full).unwrap(), meta.modified().unwrap())
        })
        .collect()
}

#[test]
fn bare_compile_writes_the_contract_layout() {
    let (_t, dir) = catalog(SPEC);
    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("1 image: "), "{}", run.stderr);
    let image = dir.join("out/pytorch-cpu/2.3.0-python3.10-cpu-ubuntu22.04");
    for file in [
        "Dockerfile",
        "build-scripts.sh",
        "docker-run.sh",
        "init/boot/boot.sh",
        "init/boot/init.py",
        "init/supervisor/supervisor.ini",
        "init/jupyter/jupyter_config.py",
        "k8s/deployment.yaml",
        "k8s/service.yaml",
        "README.md",
    ] {
        assert!(image.join(file).is_file(), "{file} missing");
    }
    assert!(dir.join("out/README.md").is_file() && dir.join("out/docker-bake.hcl").is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| std::fs::metadata(image.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("docker-run.sh"), 0o755);
        assert_eq!(mode("init/boot/boot.sh"), 0o755);
        assert_eq!(mode("Dockerfile"), 0o644);
    }
}

#[test]
fn check_writes_nothing_and_exits_zero() {
    let (_t, dir) = catalog(SPEC);
    let run = dlspec(&dir, &["check"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!dir.join("out").exists());
}

#[test]
fn spec_errors_exit_one_and_leave_out_untouched() {
    let (_t, dir) = catalog(SPEC);
    assert_eq!(dlspec(&dir, &["compile"]).code, 0);
    let before = snapshot(&dir);
    std::fs::write(dir.join("specs/image.kdl"), SPEC.replace("2.3.0", "2.3.7")).unwrap();
    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("dlspec::compat::release"), "{}", run.stderr);
    assert!(run.stderr.contains("image.kdl:2:13"), "{}", run.stderr);
    assert!(run.stderr.contains("1 error emitted; nothing written"), "{}", run.stderr);
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn usage_and_io_errors_exit_two() {
    let (_t, dir) = catalog(SPEC);
    assert_eq!(dlspec(&dir, &["compile", "no-such-dir"]).code, 2);
    assert_eq!(dlspec(&dir, &["frobnicate"]).code, 2);
    assert_eq!(dlspec(&dir, &["--version"]).code, 0);
    assert!(dlspec(&dir, &["--version"]).stdout.contains("compatibility tables checked"));
}

#[test]
fn compat_os_shows_the_openssh_of_each_release() {
    let (_t, dir) = catalog(SPEC);
    let run = dlspec(&dir, &["compat", "os"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("os: release  image  glibc  openssh  end of standard support"), "{}", run.stdout);
    // sshd_config's Include needs OpenSSH 8.2: platform.sh writes sshd_config itself on 18.04.
    for (release, openssh) in [("ubuntu18.04", "7.6p1"), ("ubuntu20.04", "8.2p1"), ("ubuntu22.04", "8.9p1")] {
        let row = run.stdout.lines().find(|l| l.trim_start().starts_with(release)).unwrap_or_default();
        assert_eq!(row.split_whitespace().nth(3), Some(openssh), "{}", run.stdout);
    }
}

#[test]
fn unchanged_files_keep_their_mtime() {
    let (_t, dir) = catalog(SPEC);
    assert_eq!(dlspec(&dir, &["compile"]).code, 0);
    let before = snapshot(&dir);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let run = dlspec(&dir, &["compile"]);
    assert!(run.stderr.contains("0 files written"), "{}", run.stderr);
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn check_reports_stale_missing_edited_and_orphaned_files() {
    let (_t, dir) = catalog(SPEC);
    assert_eq!(dlspec(&dir, &["compile"]).code, 0);
    assert_eq!(dlspec(&dir, &["compile", "--check"]).code, 0);
    let image = dir.join("out/pytorch-cpu/2.3.0-python3.10-cpu-ubuntu22.04");
    std::fs::write(image.join("README.md"), "edited by hand\n").unwrap();
    std::fs::remove_file(image.join("Dockerfile")).unwrap();
    std::fs::write(dir.join("specs/image.kdl"), SPEC.replace("\"3.10\"", "\"3.11\"")).unwrap();
    let before = snapshot(&dir);
    let run = dlspec(&dir, &["compile", "--check"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("orphaned  out/pytorch-cpu/2.3.0-python3.10-cpu-ubuntu22.04/docker-run.sh"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("missing   out/pytorch-cpu/2.3.0-python3.11-cpu-ubuntu22.04/Dockerfile"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("stale     out/README.md"), "{}", run.stdout);
    assert!(run.stderr.contains("hint: run `dlspec compile`"), "{}", run.stderr);
    assert_eq!(snapshot(&dir), before, "--check writes nothing");
}

#[test]
fn compile_removes_orphans_but_keeps_user_files() {
    let (_t, dir) = catalog(SPEC);
    assert_eq!(dlspec(&dir, &["compile"]).code, 0);
    std::fs::write(dir.join("out/NOTES.md"), "mine\n").unwrap();
    std::fs::write(dir.join("out/pytorch-cpu/notes.txt"), "mine too\n").unwrap();
    std::fs::write(dir.join("specs/image.kdl"), SPEC.replace("\"3.10\"", "\"3.11\"")).unwrap();
    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!dir.join("out/pytorch-cpu/2.3.0-python3.10-cpu-ubuntu22.04").exists(), "old image dir removed");
    assert!(dir.join("out/pytorch-cpu/2.3.0-python3.11-cpu-ubuntu22.04/Dockerfile").is_file());
    assert_eq!(std::fs::read_to_string(dir.join("out/NOTES.md")).unwrap(), "mine\n");
    assert!(dir.join("out/pytorch-cpu/notes.txt").is_file());
}

#[test]
fn hand_edits_are_overwritten_with_a_warning() {
    let (_t, dir) = catalog(SPEC);
    assert_eq!(dlspec(&dir, &["compile"]).code, 0);
    let readme = dir.join("out/pytorch-cpu/2.3.0-python3.10-cpu-ubuntu22.04/README.md");
    let original = std::fs::read_to_string(&readme).unwrap();
    std::fs::write(&readme, "edited\n").unwrap();
    let check = dlspec(&dir, &["compile", "--check"]);
    assert!(check.stdout.contains("edited    out/pytorch-cpu"), "{}", check.stdout);
    let run = dlspec(&dir, &["compile"]);
    assert!(run.stderr.contains("was edited by hand"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&readme).unwrap(), original);
}

#[test]
fn foreign_output_directory_needs_force() {
    let (_t, dir) = catalog(SPEC);
    std::fs::create_dir(dir.join("out")).unwrap();
    std::fs::write(dir.join("out/something.txt"), "x").unwrap();
    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(dlspec(&dir, &["compile", "--force"]).code, 0);
    assert!(dir.join("out/something.txt").is_file());
}

#[cfg(unix)]
#[test]
fn symlinks_inside_out_are_not_followed() {
    let (_t, dir) = catalog(SPEC);
    assert_eq!(dlspec(&dir, &["compile"]).code, 0);
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::remove_dir_all(dir.join("out/pytorch-cpu")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.join("out/pytorch-cpu")).unwrap();
    let run = dlspec(&dir, &["compile"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("symlink"), "{}", run.stderr);
    assert!(common::files_under(&elsewhere).is_empty());
}

#[test]
fn output_does_not_depend_on_the_directory_or_walk_order() {
    let (_t1, a) = catalog(SPEC);
    let (_t2, b) = catalog(SPEC);
    std::fs::write(a.join("specs/z.kdl"), "image \"zz\" {\n    python \"3.11\"\n    cpu\n}\n").unwrap();
    std::fs::create_dir(b.join("specs/sub")).unwrap();
    std::fs::write(b.join("specs/z.kdl"), "image \"zz\" {\n    python \"3.11\"\n    cpu\n}\n").unwrap();
    assert_eq!(dlspec(&a, &["compile"]).code, 0);
    assert_eq!(dlspec(&b, &["compile"]).code, 0);
    let strip = |s: Vec<(Utf8PathBuf, Vec<u8>, std::time::SystemTime)>| {
        s.into_iter().map(|(p, b, _)| (p, b)).collect::<Vec<_>>()
    };
    assert_eq!(strip(snapshot(&a)), strip(snapshot(&b)));
    for (path, bytes, _) in snapshot(&a) {
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains(a.as_str()), "{path} holds an absolute path");
        assert!(!text.contains('\r'), "{path} has CR");
    }
}

/// The one JSON document a `--format json` run prints on stdout.
fn json_of(run: &Run, args: &[&str]) -> serde_json::Value {
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "dlspec {args:?}: one JSON document on one line, got:\n{}", run.stdout);
    let value: serde_json::Value =
        serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("dlspec {args:?}: not JSON ({e}):\n{}", run.stdout));
    let command = if args.contains(&"--check") { format!("{} --check", args[0]) } else { args[0].to_owned() };
    assert_eq!(value["command"], command, "dlspec {args:?}");
    assert_eq!(value["ok"], run.code == 0, "dlspec {args:?}: `ok` agrees with the exit code {}", run.code);
    value
}

#[test]
fn format_json_is_one_json_document_on_stdout_for_every_command() {
    let (_t, dir) = catalog(SPEC);
    let run = |args: &[&str]| {
        let run = dlspec(&dir, args);
        let value = json_of(&run, args);
        (run.code, value)
    };

    let (code, list) = run(&["list", "--format", "json"]);
    assert_eq!((code, list["images"][0]["dir"].as_str()), (0, Some("pytorch-cpu/2.3.0-python3.10-cpu-ubuntu22.04")));
    let (code, check) = run(&["check", "--format", "json"]);
    assert_eq!(
        (code, &check["specs"], &check["images"], &check["diagnostics"]),
        (0, &1.into(), &1.into(), &serde_json::json!([]))
    );

    let (code, missing) = run(&["compile", "--check", "--format", "json"]);
    assert_eq!(code, 1);
    let files = missing["check"]["files"].as_array().unwrap();
    assert!(files.iter().all(|f| f["state"] == "missing" && f["diff"].is_null()), "{files:?}");
    assert_eq!(files.len(), missing["check"]["planned"].as_u64().unwrap() as usize);

    let (code, compiled) = run(&["compile", "--format", "json"]);
    assert_eq!(
        (code, &compiled["written"]["written"], &compiled["written"]["removed"]),
        (0, &files.len().into(), &0.into())
    );
    let (code, clean) = run(&["compile", "--check", "--format", "json"]);
    assert_eq!(
        (code, &clean["check"]["up_to_date"], &clean["check"]["files"]),
        (0, &true.into(), &serde_json::json!([]))
    );

    let dockerfile = dir.join("out/pytorch-cpu/2.3.0-python3.10-cpu-ubuntu22.04/Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    std::fs::write(&dockerfile, text.replace("CMD ", "# edited\nCMD ")).unwrap();
    let (code, edited) = run(&["compile", "--check", "--format", "json"]);
    assert_eq!(code, 1);
    let file = &edited["check"]["files"][0];
    assert_eq!(
        (&file["path"], &file["state"]),
        (&"out/pytorch-cpu/2.3.0-python3.10-cpu-ubuntu22.04/Dockerfile".into(), &"edited".into())
    );
    // The hand edit, as it was made: its added line is a `+` line.
    assert!(file["diff"].as_str().unwrap().contains("\n+# edited\n"), "{file}");

    let (code, locks) = run(&["lock", "--check", "--format", "json"]);
    assert_eq!((code, &locks["ok"], &locks["locked"], &locks["unlocked"]), (0, &true.into(), &0.into(), &1.into()));
    let (code, unlockable) = run(&["lock", "--uv", "/nonexistent/uv", "--format", "json"]);
    assert_eq!((code, &unlockable["images"][0]["state"]), (2, &"failed".into()), "{unlockable}");

    std::fs::write(dir.join("specs/image.kdl"), SPEC.replace("\"2.3.0\"", "\"9.9.9\"")).unwrap();
    for args in [
        &["check", "--format", "json"][..],
        &["list", "--format", "json"],
        &["compile", "--format", "json"],
        &["lock", "--check", "--format", "json"],
    ] {
        let (code, failed) = run(args);
        assert_eq!((code, &failed["errors"]), (1, &1.into()), "{args:?}");
        assert_eq!(failed["diagnostics"][0]["code"], "dlspec::compat::release", "{args:?}");
    }

    let (code, compat) = run(&["compat", "pytorch", "--format", "json"]);
    assert_eq!((code, compat["tables"].as_array().map(Vec::len)), (0, Some(1)));
    assert!(
        compat["tables"][0]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["torch"] == "2.3.0" && r["torchvision"] == "0.18.0")
    );
    let (code, codes) = run(&["explain", "--format", "json"]);
    assert!(code == 0 && codes["codes"].as_array().unwrap().contains(&"dlspec::syntax".into()));
    let (code, one) = run(&["explain", "compat::torchvision", "--format", "json"]);
    assert_eq!((code, &one["code"]), (0, &"dlspec::compat::torchvision".into()));
    let (code, unknown) = run(&["explain", "no-such-code", "--format", "json"]);
    assert!(code == 2 && unknown["error"].as_str().unwrap().contains("unknown code"), "{unknown}");

    let (code, init) = run(&["init", "new", "--hooks-repo", "https://example.com/dlspec.git", "--format", "json"]);
    assert_eq!((code, init["created"].as_array().map(Vec::len)), (0, Some(4)));
    let (code, refused) = run(&["init", "new", "--hooks-repo", "https://example.com/dlspec.git", "--format", "json"]);
    assert!(code == 2 && refused["error"].as_str().unwrap().contains("overwrites nothing"), "{refused}");
}

#[test]
fn completions_are_generated_for_every_shell() {
    let dir = Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = dlspec(&dir, &["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        assert!(run.stdout.contains("compile") && run.stdout.contains("deny-warnings"), "{shell}");
    }
}

#[test]
fn no_diagnostics_counts_them_instead() {
    let (_t, dir) = catalog(&SPEC.replace("\"2.3.0\"", "\"9.9.9\""));
    let run = dlspec(&dir, &["compile", "--check", "--no-diagnostics"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, "the specs have 1 error; `dlspec check` prints the diagnostics\n");
    let run = dlspec(&dir, &["check"]);
    assert!(run.stderr.contains("was never released") && run.stderr.contains("1 error emitted"), "{}", run.stderr);
}

#[test]
fn init_refuses_credentials_and_its_gitignore_keeps_the_locks() {
    let temp = tempfile::tempdir().unwrap();
    let dir = Utf8PathBuf::try_from(temp.path().to_path_buf()).unwrap();
    let run = dlspec(&dir, &["init", "catalog", "--hooks-repo", "https://ci:s3cret@example.com/platform/dlspec.git"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("holds credentials") && !run.stderr.contains("s3cret"), "{}", run.stderr);
    assert!(!dir.join("catalog").exists(), "nothing written");

    let run = dlspec(&dir, &["init", "catalog", "--hooks-repo", "https://example.com/platform/dlspec.git"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let catalog = dir.join("catalog");
    let committed = [
        "specs/.dlspec-lock/team/img/1.0-cpu.txt",
        "specs/example.kdl",
        "out/.dlspec-manifest",
        "out/README.md",
        "out/team/img/1.0-cpu/init/boot/boot.sh",
    ];
    let temporary = [
        "out/.dlspec-tmp/journal",
        "out/.dlspec-tmp/0123456789abcdef0123456789abcdef",
        "out/team/img/1.0-cpu/init/boot/.dlspec-Ab3xZ9",
        "specs/.dlspec-lock/team/img/.dlspec-tmp.4242.0",
    ];
    for path in committed.iter().chain(&temporary) {
        let full = catalog.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        if !full.exists() {
            std::fs::write(&full, "x\n").unwrap();
        }
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .args(["-c", "core.excludesFile=/dev/null"])
            .args(args)
            .current_dir(&catalog)
            .output()
            .map(|o| (o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned()))
    };
    let Ok((true, _)) = git(&["init", "--quiet"]) else {
        common::skipped(&["init's .gitignore: git is not installed (apt-get install git)".to_owned()]);
        return;
    };
    let (added, _) = git(&["add", "--all"]).unwrap();
    assert!(added);
    let (_, listed) = git(&["ls-files"]).unwrap();
    let listed: Vec<&str> = listed.lines().collect();
    for path in committed {
        assert!(listed.contains(&path), "`git add` leaves out {path}: {listed:?}");
    }
    for path in temporary {
        assert!(!listed.contains(&path), "`git add` takes the temporary file {path}");
    }
}
