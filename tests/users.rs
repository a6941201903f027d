//! An image with a `user`: everything runs as that user, never root (sshd with keys only on an
//! unprivileged port, supervisord, JupyterLab and TensorBoard; the Restricted pod-security level),
//! its home may be a volume that `init.py` fills, and an image without `user` keeps root.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::generate_image;

const USER: &str = r#"image "notebook" {
    pytorch "2.5.1"
    python "3.11"
    cuda "12.4.1" cudnn="none" flavor="runtime"
    tag "t"
    user "researcher" uid=1000 gid=1000
    kubernetes {
        namespace "ai-platform"
        volume "home" mount="/home/researcher" claim="home-researcher"
    }
}"#;

fn lines(text: &str) -> Vec<&str> {
    text.lines().map(str::trim).collect()
}

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l.trim() == line)
}

#[test]
fn sshd_runs_as_the_user_with_keys_only_on_an_unprivileged_port() {
    let files = generate_image(USER);
    let sshd = &files["init/ssh/sshd_config"];
    for line in [
        "Port 2222",
        "AllowUsers researcher",
        "PermitRootLogin no",
        "PasswordAuthentication no",
        "UsePAM no",
        "PubkeyAuthentication yes",
        "HostKey /run/dlspec/ssh/ssh_host_ed25519_key",
        "PidFile /run/dlspec/sshd.pid",
        "AuthorizedKeysFile .ssh/authorized_keys /run/dlspec/ssh/authorized_keys",
    ] {
        assert!(has_line(sshd, line), "sshd_config lacks `{line}`:\n{sshd}");
    }
    assert!(!sshd.contains("PermitRootLogin yes") && !sshd.contains("PasswordAuthentication yes"));
    let boot = &files["init/boot/boot.sh"];
    for absent in ["chpasswd", "ROOT_PASSWORD", "/etc/ssh", "/root/.ssh", "ssh-keygen -A"] {
        assert!(!boot.contains(absent), "boot.sh, run as the user, holds `{absent}`:\n{boot}");
    }
    assert!(boot.contains("keys_file=/sync/authorized_keys"));
    assert!(boot.contains(r#"install -m 0600 "$keys_file" "$keys_dir/authorized_keys""#));
    // The Service and docker-run.sh publish SSH at 2222.
    assert!(files["k8s/service.yaml"].contains("port: 2222\n      targetPort: 2222"));
    assert!(files["docker-run.sh"].contains("-p 2222:2222"));
    assert!(files["README.md"].contains("ssh -p 2222 researcher@HOST"));
}

#[test]
fn supervisord_and_the_services_run_as_the_user_in_its_home() {
    let files = generate_image(USER);
    let supervisor = &files["init/supervisor/supervisor.ini"];
    for line in [
        "user=researcher",
        "file=/run/dlspec/supervisor.sock",
        "pidfile=/run/dlspec/supervisord.pid",
        "serverurl=unix:///run/dlspec/supervisor.sock",
        "directory=/home/researcher",
    ] {
        assert!(has_line(supervisor, line), "supervisor.ini lacks `{line}`");
    }
    assert!(supervisor.contains(r#"HOME="/home/researcher""#) && !supervisor.contains("/root\""));
    assert!(!supervisor.contains("--allow-root"), "JupyterLab runs as the user, not root");
    assert!(supervisor.contains("--logdir /home/researcher/tensorboard-logs"));
    assert!(files["init/jupyter/jupyter_config.py"].contains(r#"c.ServerApp.root_dir = "/home/researcher""#));
    assert!(files["init/boot/init.py"].contains(r#"JUPYTER_SETTINGS = "/home/researcher/.jupyter/lab/user-settings""#));
    let shutdown = &files["init/bin/shutdown"];
    assert!(shutdown.contains("rm -rf /home/researcher/.local/share/Trash"));
    assert!(shutdown.contains("read -r pid </run/dlspec/supervisord.pid"));
    assert!(files["init/motd/motd.sh"].contains("printf '  登录目录：%s\\n' /home/researcher"));
}

#[test]
fn the_build_makes_the_user_and_the_image_ends_as_it() {
    let files = generate_image(USER);
    let dockerfile = &files["Dockerfile"];
    let platform = dockerfile.find("RUN bash /init/setup/platform.sh").expect("platform.sh runs");
    let user = dockerfile.find("\nUSER 1000:1000\n").expect("USER by number, for runAsNonRoot");
    let cmd = dockerfile.find("CMD [\"/init/boot/boot.sh\"]").unwrap();
    assert!(platform < user && user < cmd, "the build runs as root, the image as the user:\n{dockerfile}");
    assert_eq!(dockerfile.matches("\nUSER ").count(), 1);
    assert!(dockerfile.contains("ENV USER=\"researcher\" \\\n    HOME=\"/home/researcher\"\nWORKDIR /home/researcher"));
    for label in [r#"dev.dlspec.user="researcher""#, r#"dev.dlspec.user.uid="1000""#, r#"dev.dlspec.user.gid="1000""#] {
        assert!(dockerfile.contains(label), "no {label}");
    }
    let script = &files["init/setup/platform.sh"];
    assert!(script.contains(
        r#"useradd --uid "$user_uid" --gid "$user_gid" --home-dir "$user_home" --create-home --shell /bin/bash \"#
    ));
    assert!(script.contains("--no-log-init"), "no lastlog record the size of the uid");
    assert!(script.contains(r#"userdel --remove "$other""#), "the base's `ubuntu` (uid 1000) makes way");
    assert!(script.contains("chmod 0711 /root"), "the user reaches the Python prefix under /root");
    assert!(script.contains(r#"install -d -o "$user_uid" -g "$user_gid" -m 0700 /run/dlspec"#));
    assert!(script.contains(r#"install -d -o "$user_uid" -g "$user_gid" -m 0755 /var/log/supervisor"#));
    assert!(script.contains(r#"install -d -o "$user_uid" -g "$user_gid" -m 0700 /var/lib/dlspec/ssh-host-keys"#));
}

#[test]
fn the_pod_passes_the_restricted_pod_security_level() {
    let files = generate_image(USER);
    for path in ["k8s/deployment.yaml", "k8s/selftest-job.yaml"] {
        let manifest = &files[path];
        let all = lines(manifest);
        let at = all.iter().position(|l| *l == "runAsNonRoot: true").unwrap_or_else(|| panic!("{path}"));
        assert_eq!(
            all[at..at + 7],
            [
                "runAsNonRoot: true",
                "runAsUser: 1000",
                "runAsGroup: 1000",
                "allowPrivilegeEscalation: false",
                "capabilities:",
                r#"drop: ["ALL"]"#,
                all[at + 6]
            ],
            "{path}"
        );
        assert!(!all[at + 6].starts_with("add:"), "{path}: no capability added");
        assert!(manifest.contains("seccompProfile:\n          type: RuntimeDefault\n"), "{path}");
        assert!(manifest.contains("fsGroup: 1000\n        fsGroupChangePolicy: OnRootMismatch\n"), "{path}");
    }
    let deployment = &files["k8s/deployment.yaml"];
    assert!(deployment.contains("- name: \"home\"\n              mountPath: \"/home/researcher\""));
    // The user's keys and JupyterLab's token from Secrets, in one projected volume at /sync; no
    // root password.
    assert!(deployment.contains("- name: \"secret-files\"\n              mountPath: \"/sync\""));
    assert!(deployment.contains(r#"name: "notebook-t-authorized-keys""#));
    assert!(deployment.contains(r#"- key: "authorized_keys""#));
    assert!(deployment.contains(r#"name: "notebook-t-jupyter-token""#));
    assert!(!deployment.contains("root-passwd"));
    let readme = &files["README.md"];
    assert!(readme.contains(
        "kubectl -n ai-platform create secret generic notebook-t-authorized-keys \\\n    --from-file=authorized_keys="
    ));
    assert!(readme.contains("`/home/researcher` is the volume `home` (claim `home-researcher`)"));
}

#[test]
fn an_image_without_user_keeps_root() {
    let root = USER.replace("    user \"researcher\" uid=1000 gid=1000\n", "");
    let files = generate_image(&root);
    assert!(!files["Dockerfile"].contains("\nUSER "));
    assert!(has_line(&files["init/ssh/sshd_config"], "PermitRootLogin yes"));
    assert!(has_line(&files["init/ssh/sshd_config"], "Port 22"));
    assert!(has_line(&files["init/supervisor/supervisor.ini"], "user=root"));
    assert!(files["k8s/deployment.yaml"].contains("- SYS_CHROOT"));
    assert!(!files["k8s/deployment.yaml"].contains("runAsNonRoot"));
    assert!(!files["init/setup/platform.sh"].contains("useradd"));
}

#[test]
fn the_selftest_checks_that_every_service_runs_as_the_user() {
    let files = generate_image(USER);
    let selftest = &files["init/bin/selftest"];
    assert!(selftest.contains(r#"USER = json.loads("{\"gid\":1000,\"name\":\"researcher\",\"uid\":1000}")"#));
    assert!(selftest.contains("        check_user(args)\n"));
    assert!(
        !generate_image(&USER.replace("    user \"researcher\" uid=1000 gid=1000\n", ""))["init/bin/selftest"]
            .contains("check_user")
    );
}

/// Runs `init.py` of `files` with the user's home at `home` and `/etc/skel` at `skeleton`.
fn run_init(files: &BTreeMap<String, String>, home: &Path, skeleton: &Path) -> String {
    let script = files["init/boot/init.py"]
        .replace("\"/home/researcher", &format!("\"{}", home.display()))
        .replace("\"/etc/skel\"", &format!("\"{}\"", skeleton.display()));
    let output = Command::new("python3").arg("-c").arg(&script).output().expect("python3 runs");
    let log = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{log}");
    log
}

#[test]
fn an_empty_home_volume_gets_the_images_home_files_and_keeps_the_users() {
    let files = generate_image(USER);
    let dir = tempfile::tempdir().unwrap();
    let (home, skeleton) = (dir.path().join("home"), dir.path().join("skel"));
    std::fs::create_dir_all(skeleton.join(".config/app")).unwrap();
    std::fs::write(skeleton.join(".bashrc"), "# skel bashrc\n").unwrap();
    std::fs::write(skeleton.join(".profile"), "# skel profile\n").unwrap();
    std::fs::write(skeleton.join(".config/app/settings"), "x\n").unwrap();
    // The volume: empty but for a file of the user's.
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join(".profile"), "# the user's own\n").unwrap();
    let log = run_init(&files, &home, &skeleton);
    assert_eq!(std::fs::read_to_string(home.join(".bashrc")).unwrap(), "# skel bashrc\n");
    assert_eq!(std::fs::read_to_string(home.join(".config/app/settings")).unwrap(), "x\n");
    assert_eq!(std::fs::read_to_string(home.join(".profile")).unwrap(), "# the user's own\n", "never overwritten");
    assert!(
        home.join(".jupyter/lab/user-settings/@jupyterlab/terminal-extension/plugin.jupyterlab-settings").is_file()
    );
    assert!(home.join("tensorboard-logs").is_dir());
    assert!(log.contains("restored") && !log.contains("cannot"), "{log}");
    // A second start changes nothing.
    let again = run_init(&files, &home, &skeleton);
    assert!(!again.contains("restored") && !again.contains("wrote"), "{again}");
}

#[test]
fn ssh_sessions_without_a_login_shell_get_the_images_environment() {
    let files = generate_image(USER);
    let platform = &files["init/setup/platform.sh"];
    let start = platform.find("openssh=$(ssh -V").unwrap();
    let end = platform[start..].find("if [ \"$openssh_major\" -gt 8 ]").unwrap() + start;
    let part = &platform[start..end];
    assert!(part.contains("SetEnv"));
    let script = format!(
        "set -euo pipefail\nlog() {{ printf '%s\\n' \"$*\" >&2; }}\nnames=(PATH LANG ODD)\nvalues=(/root/miniconda3/bin:/usr/bin zh_CN.UTF-8 'a\"b')\n{part}\nprintf '%s\\n' \"$sshd_settings\" | tail -n 1\n"
    )
    .replace("/init/ssh/sshd_config", "/dev/null");
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for (openssh, expected) in
        [("9.6p1", r#"SetEnv "PATH=/root/miniconda3/bin:/usr/bin" "LANG=zh_CN.UTF-8""#), ("7.6p1", "")]
    {
        std::fs::write(bin.join("ssh"), format!("#!/bin/sh\necho 'OpenSSH_{openssh} Ubuntu' >&2\n")).unwrap();
        Command::new("chmod").arg("+x").arg(bin.join("ssh")).status().unwrap();
        let output = Command::new("bash")
            .args(["-c", &script])
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert_eq!(stdout.trim_end(), expected, "OpenSSH {openssh}: {stderr}");
        if expected.is_empty() {
            assert!(stderr.contains("has no SetEnv"), "{stderr}");
        } else {
            assert!(stderr.contains("ODD holds a quote or backslash"), "{stderr}");
        }
    }
}

#[test]
fn docker_run_mounts_the_users_keys() {
    let files = generate_image(USER);
    let run = &files["docker-run.sh"];
    assert!(run.contains("AUTHORIZED_KEYS_FILE"));
    assert!(run.contains(r#"args+=(-v "$keys_file":/sync/authorized_keys:ro)"#), "{run}");
    assert!(!run.contains("ROOT_PASSWORD"), "no password for an image run as its user");
}
