//! The generated images are secure by default, and the seed guides' behaviour stays reachable by
//! explicit, warned-about settings. Also what the Kubernetes manifests, the scripts and the README
//! of an image must hold.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{generate, generate_image};

const GPU: &str = r#"image "pytorch" {
    pytorch "2.3.0"
    python "3.10"
    cuda "12.1.1"
}"#;

const CPU: &str = r#"image "pytorch-cpu" {
    pytorch "2.3.0"
    python "3.11"
    cpu
}"#;

/// The lines of YAML `text` from the first line that equals `start` (trimmed) through the next
/// `count` lines, trimmed, each `key:` that the templates wrap joined with its value again.
fn block(text: &str, start: &str, count: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim) {
        match lines.last_mut() {
            Some(last) if last.ends_with(':') && line.starts_with('"') => *last = format!("{last} {line}"),
            _ => lines.push(line.to_owned()),
        }
    }
    let at = lines.iter().position(|l| l == start).unwrap_or_else(|| panic!("no `{start}` in\n{text}"));
    lines[at..(at + 1 + count).min(lines.len())].to_vec()
}

// ----- passwords -----

#[test]
fn no_password_is_written_without_one_in_the_spec() {
    let files = generate_image(GPU);
    assert!(!files.contains_key("k8s/secret.yaml"));
    for (path, text) in &files {
        assert!(!text.contains("chpasswd") || path == "init/boot/boot.sh", "{path} sets a password");
        assert!(!text.contains("-e ROOT_PASSWORD="), "{path} passes a password");
    }
    // Nothing of the build (the Dockerfile's RUN lines, platform.sh) touches root's password.
    assert!(!files["Dockerfile"].lines().any(|l| l.contains("passwd") && !l.contains("password-file")));
    assert!(!files["init/setup/platform.sh"].contains("passwd"));
}

#[test]
fn boot_takes_the_password_from_the_file_then_the_environment_else_logs_how() {
    let boot = &generate_image(GPU)["init/boot/boot.sh"];
    let file = boot.find("password_file=/sync/root-passwd").expect("reads /sync/root-passwd");
    let read = boot.find("read -r password <\"$password_file\"").expect("reads the file's first line");
    let env = boot.find("${ROOT_PASSWORD:-}").expect("falls back to ROOT_PASSWORD");
    let set = boot.find("| chpasswd").expect("sets the password with chpasswd");
    assert!(file < read && read < env && env < set, "file first, then the environment:\n{boot}");
    assert!(boot.contains("unset ROOT_PASSWORD"), "the services must not inherit the password");
    assert!(boot.contains("password login stays off"), "says what happens without a password");
    assert!(boot.contains("to set one, start the container with ROOT_PASSWORD"), "says how to set one");
    assert!(boot.contains("authorized_keys always work"));
}

#[test]
fn a_literal_password_works_but_warns_and_stays_out_of_the_image() {
    let spec = r#"image "pytorch" {
    python "3.10"
    cpu
    ssh password="Xy7-literal-secret"
}"#;
    let (_, codes) = generate(spec);
    assert_eq!(codes, ["dlspec::security::password"]);
    let files = generate_image(spec);
    let holders: Vec<&str> =
        files.iter().filter(|(_, t)| t.contains("Xy7-literal-secret")).map(|(p, _)| p.as_str()).collect();
    assert_eq!(holders, ["docker-run.sh", "k8s/secret.yaml"], "only the run-time files hold it");
}

#[test]
fn a_password_file_elsewhere_is_read_and_mounted_there() {
    let files = generate_image(
        r#"image "a" {
    python "3.10"
    cpu
    ssh password-file="/run/secrets/root-passwd"
}"#,
    );
    assert!(files["init/boot/boot.sh"].contains("password_file=/run/secrets/root-passwd"));
    // Kubernetes mounts the Secret as the file's directory, the key as the file's name.
    let deployment = &files["k8s/deployment.yaml"];
    assert_eq!(block(deployment, "- name: root-password", 1)[1], r#"mountPath: "/run/secrets""#);
    assert_eq!(block(deployment, "- key: root-passwd", 1)[1], r#"path: "root-passwd""#);
    assert!(files["docker-run.sh"].contains(":/run/secrets/root-passwd:ro"));
}

// ----- sshd -----

#[test]
fn sshd_is_hardened_once_at_build_time() {
    let files = generate_image(GPU);
    let sshd = &files["init/ssh/sshd_config"];
    for line in ["PermitEmptyPasswords no", "MaxAuthTries 4", "PubkeyAuthentication yes", "X11Forwarding no"] {
        assert!(sshd.lines().any(|l| l == line), "sshd_config lacks `{line}`");
    }
    assert!(
        files["init/setup/platform.sh"]
            .contains("put 0644 /etc/ssh/sshd_config.d/00-dlspec.conf </init/ssh/sshd_config")
    );
    assert!(!files["init/boot/boot.sh"].contains("sshd_config"), "boot.sh must not reconfigure sshd");
    // Host keys are made per container, never shipped in a layer.
    assert!(files["init/setup/platform.sh"].contains("rm -f /etc/ssh/ssh_host_*"));
    assert!(files["init/boot/boot.sh"].contains("ssh-keygen -A"));
}

/// Runs the SSH part of the generated platform.sh twice against `root` (its `/etc/ssh` and
/// `/init/ssh` under `root`), with an `ssh -V` that reports `openssh`; the log of both runs.
fn run_platform_ssh(files: &BTreeMap<String, String>, root: &Path, openssh: &str) -> String {
    let platform = &files["init/setup/platform.sh"];
    let part = |from: &str, to: &str| {
        let start = platform.find(from).unwrap_or_else(|| panic!("no `{from}` in platform.sh"));
        let end = platform[start..].find(to).unwrap_or_else(|| panic!("no `{to}` in platform.sh"));
        platform[start..start + end].to_owned()
    };
    let root_text = root.to_str().unwrap();
    let script = format!(
        "set -euo pipefail\n{}\n{}",
        part("log() {", "# link TARGET NAME"),
        part("# --- SSH ---", "# No host keys in the image")
    )
    .replace("/etc/ssh/", &format!("{root_text}/etc/ssh/"))
    .replace("/init/ssh/", &format!("{root_text}/init/ssh/"));
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("ssh"), format!("#!/bin/sh\necho 'OpenSSH_{openssh} Ubuntu, OpenSSL 1.1.1' >&2\n"))
        .unwrap();
    Command::new("chmod").arg("+x").arg(bin.join("ssh")).status().unwrap();
    let mut log = String::new();
    for _ in 0..2 {
        let output = Command::new(which("bash"))
            .args(["-c", &script])
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .output()
            .unwrap();
        log += &(String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "{log}");
    }
    log
}

#[test]
fn sshd_settings_come_first_with_or_without_include() {
    let files = generate_image(GPU);
    let settings = &files["init/ssh/sshd_config"];
    let stock = "# stock sshd_config\nPermitRootLogin prohibit-password\nUsePAM yes\n";
    for (openssh, include) in [("7.6p1", false), ("8.2p1", true), ("9.6p1", true)] {
        let root = tempfile::tempdir().unwrap();
        let etc = root.path().join("etc/ssh");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::create_dir_all(root.path().join("init/ssh")).unwrap();
        std::fs::write(etc.join("sshd_config"), stock).unwrap();
        std::fs::write(root.path().join("init/ssh/sshd_config"), settings).unwrap();
        let log = run_platform_ssh(&files, root.path(), openssh);
        let config = std::fs::read_to_string(etc.join("sshd_config")).unwrap();
        let drop_in = etc.join("sshd_config.d/00-dlspec.conf");
        // Written by the first run only: the second changes nothing.
        assert_eq!(log.matches("wrote").count(), if include { 2 } else { 1 }, "{openssh}: {log}");
        if include {
            assert_eq!(std::fs::read_to_string(&drop_in).unwrap(), *settings, "{openssh}");
            let first = config.lines().find(|l| !l.starts_with('#') && !l.is_empty()).unwrap();
            assert!(first.starts_with("Include ") && first.ends_with("/etc/ssh/sshd_config.d/*.conf"), "{config}");
            assert!(config.ends_with(stock), "{config}");
        } else {
            // OpenSSH 7.6 knows no Include: the settings open sshd_config, whose first value wins.
            assert!(!drop_in.exists() && !config.lines().any(|l| l.starts_with("Include")), "{openssh}: {config}");
            let expected = format!("# >>> dlspec: /init/ssh/sshd_config\n{settings}# <<< dlspec\n{stock}");
            assert_eq!(config, expected.replace("/init/ssh/", &format!("{}/init/ssh/", root.path().display())));
            assert!(log.contains("OpenSSH 7.6 has no Include"), "{log}");
        }
    }
}

// ----- nothing fetched at boot -----

#[test]
fn boot_fetches_no_code() {
    let files = generate_image(GPU);
    for path in ["init/boot/boot.sh", "init/boot/init.py"] {
        for fetcher in ["curl", "wget", "http://", "https://", "urllib", "pip install"] {
            assert!(!files[path].contains(fetcher), "{path} contains `{fetcher}`");
        }
    }
}

// ----- JupyterLab and TensorBoard -----

#[test]
fn jupyter_needs_a_token_by_default() {
    let files = generate_image(GPU);
    let config = &files["init/jupyter/jupyter_config.py"];
    assert!(config.contains(r#"TOKEN_FILE = "/sync/jupyter-token""#));
    assert!(config.contains("auth.token = token"));
    for open in [r#"auth.token = """#, "allow_origin", "frame-ancestors"] {
        assert!(!config.contains(open), "the default config contains `{open}`");
    }
    assert!(files["docker-run.sh"].contains("args+=(-e JUPYTER_TOKEN)"));
}

#[test]
fn open_jupyter_only_when_the_spec_says_so_and_it_warns() {
    let spec = r#"image "lab" {
    python "3.10"
    cpu
    jupyter open=#true
}"#;
    assert_eq!(generate(spec).1, ["dlspec::security::open-jupyter"]);
    let config = &generate_image(spec)["init/jupyter/jupyter_config.py"];
    assert!(config.contains(r#"auth.token = """#));
    assert!(config.contains(r#"c.ServerApp.allow_origin = "*""#));
    assert!(config.contains("frame-ancestors * 'self'"));
}

#[test]
fn tensorboard_binds_where_the_spec_says() {
    let supervisor = |spec: &str| generate_image(spec).remove("init/supervisor/supervisor.ini").unwrap();
    assert!(supervisor(CPU).contains("--host 0.0.0.0 --port 6006"));
    let local = supervisor(
        r#"image "a" {
    python "3.10"
    cpu
    tensorboard bind="127.0.0.1" port=6007
}"#,
    );
    assert!(local.contains("--host 127.0.0.1 --port 6007"));
}

// ----- Miniconda -----

#[test]
fn miniconda_is_verified_when_the_tables_know_its_hash() {
    // Python 3.11's default installer has a hash in the tables; this 3.10 installer has none.
    let known = &generate_image(CPU)["Dockerfile"];
    assert!(known.contains(
        "echo '807774bae6cd87132094458217ebf713df436f64779faf9bb4c3d4b6615c1e3a  /tmp/miniconda.sh' | sha256sum -c -"
    ));
    let unknown = &generate_image(
        r#"image "a" {
    python "3.10" miniconda="Miniconda3-py310_24.5.0-0-Linux-x86_64.sh"
    cpu
}"#,
    )["Dockerfile"];
    assert!(!unknown.contains("sha256sum"));
    assert!(unknown.contains("The compatibility tables know no sha256 for this installer: it is not verified."));
    let given = &generate_image(
        r#"image "a" {
    python "3.10" sha256="aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    cpu
}"#,
    )["Dockerfile"];
    assert!(given.contains(
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa  /tmp/miniconda.sh' | sha256sum -c -"
    ));
}

#[test]
fn a_build_never_stops_at_anacondas_terms() {
    let refused = r#"image "a" {
    python "3.13"
    cpu
}"#;
    let (files, codes) = generate(refused);
    assert!(files.is_empty());
    assert_eq!(codes, ["dlspec::compat::miniconda-tos"]);
    let accepted = &generate_image(&refused.replace(r#""3.13""#, r#""3.13" accept-tos=#true"#))["Dockerfile"];
    let install = accepted.find("bash /tmp/miniconda.sh").unwrap();
    let accept = accepted.find("conda tos accept --override-channels").expect("accepts the terms");
    assert!(install < accept, "the terms are accepted right after installing");
    assert!(accepted.contains("https://www.anaconda.com/legal/terms/terms-of-service"), "the licensing note");
    // Installers that need no acceptance get no `conda tos`.
    assert!(!generate_image(CPU)["Dockerfile"].contains("conda tos"));
}

// ----- Miniforge -----

/// What would bring Anaconda's repository or its terms into an image: its hosts, its channels,
/// `defaults` in a channel list, and the terms-of-service step.
const ANACONDA: [&str; 7] =
    ["anaconda.com", "anaconda.org", "/pkgs/main", "/pkgs/r", "/pkgs/free", "- defaults", "conda tos"];

#[test]
fn a_miniforge_image_names_no_anaconda_channel_and_accepts_no_terms() {
    let own = r#"image "a" {
    pytorch "2.5.1"
    python "3.12" distribution="miniforge"
    cuda "12.4.1"
}"#;
    let between = own.replace(r#""3.12""#, r#""3.11""#);
    let mirrored = format!(
        "{}\n    mirrors conda=\"https://mirrors.example.edu/anaconda/\" miniconda=\"https://mirrors.example.edu/github-release/conda-forge/miniforge\"\n}}",
        between.trim_end_matches('}').trim_end()
    );
    for spec in [own, &between, &mirrored] {
        for (path, text) in generate_image(spec) {
            for anaconda in ANACONDA {
                assert!(!text.contains(anaconda), "{path} names `{anaconda}`:\n{spec}");
            }
        }
    }
    let dockerfile = &generate_image(own)["Dockerfile"];
    assert!(dockerfile.contains(
        "curl -fsSL -o /tmp/miniconda.sh https://github.com/conda-forge/miniforge/releases/download/25.11.0-1/Miniforge3-25.11.0-1-Linux-x86_64.sh"
    ));
    assert!(dockerfile.contains(
        "echo 'be1bad9d4e67a8753eb76fb4940e9a08036786675c7adf060627e55791bf110d  /tmp/miniconda.sh' | sha256sum -c -"
    ));
    assert!(!dockerfile.contains("conda install"), "the installer's own Python is the image's");
    // Python 3.11: the next newer installer's Python 3.12, replaced from conda-forge before the clean-up.
    let dockerfile = &generate_image(&between)["Dockerfile"];
    let install = dockerfile.find("bash /tmp/miniconda.sh").unwrap();
    let python = dockerfile
        .find("&& conda install --yes --name base --override-channels --channel conda-forge python=3.11 \\\n")
        .expect("installs Python 3.11 in base");
    let clean = dockerfile.find("conda clean -afy").unwrap();
    assert!(install < python && python < clean);
    // The mirrors: the installer at `<mirror>/<release>/<file>`, conda-forge's channel for the build
    // and the users.
    let files = generate_image(&mirrored);
    assert!(files["Dockerfile"].contains(
        "https://mirrors.example.edu/github-release/conda-forge/miniforge/25.11.0-1/Miniforge3-25.11.0-1-Linux-x86_64.sh"
    ));
    assert!(
        files["Dockerfile"].contains("--channel https://mirrors.example.edu/anaconda/cloud/conda-forge python=3.11")
    );
    let condarc = block(&files["init/setup/platform.sh"], "printf '  - %s\\n' \\", 2);
    assert_eq!(condarc[1], r#"'"https://mirrors.example.edu/anaconda/cloud/conda-forge"'"#);
    assert_eq!(condarc[2], r#"printf '%s\n' "show_channel_urls: true""#, "conda-forge is the only channel");
}

#[test]
fn miniforge_ignores_accept_tos_with_a_warning() {
    let (files, codes) = generate(
        r#"image "a" {
    python "3.12" distribution="miniforge" accept-tos=#true
    cpu
}"#,
    );
    assert_eq!(codes, ["dlspec::compat::miniforge-tos"]);
    assert!(!files.values().any(|text| text.contains("conda tos")));
}

// ----- Kubernetes -----

#[test]
fn gpu_limit_on_gpu_images_only() {
    let gpu = &generate_image(GPU)["k8s/deployment.yaml"];
    assert!(block(gpu, "limits:", 3).iter().any(|l| l == r#"nvidia.com/gpu: "1""#));
    assert!(!generate_image(CPU)["k8s/deployment.yaml"].contains("nvidia.com/gpu"));
    let custom = generate_image(
        r#"image "a" {
    python "3.10"
    base "nvcr.io/nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04" gpu=#true
    kubernetes gpus=2
}"#,
    );
    assert!(custom["k8s/deployment.yaml"].contains(r#"nvidia.com/gpu: "2""#));
}

#[test]
fn deployment_has_shm_probes_secret_and_the_spec_resources() {
    let deployment = &generate_image(
        r#"image "a" {
    tensorflow "2.15.0"
    python "3.10"
    cuda "12.2.2"
    kubernetes replicas=2 shm-size="8Gi" {
        requests cpu="1" memory="2Gi"
        limits cpu="8" memory="32Gi"
    }
}"#,
    )["k8s/deployment.yaml"];
    assert!(deployment.contains("replicas: 2"));
    assert_eq!(block(deployment, "requests:", 2)[1..], [r#"cpu: "1""#, r#"memory: "2Gi""#]);
    assert_eq!(block(deployment, "limits:", 3)[1..], [r#"cpu: "8""#, r#"memory: "32Gi""#, r#"nvidia.com/gpu: "1""#]);
    assert_eq!(block(deployment, "- name: dshm", 1)[1], "mountPath: /dev/shm");
    assert_eq!(block(deployment, "emptyDir:", 2)[1..], ["medium: Memory", r#"sizeLimit: "8Gi""#]);
    assert_eq!(block(deployment, "readinessProbe:", 2)[2], r#"command: ["/init/boot/healthcheck.sh"]"#);
    let mount = block(deployment, "- name: root-password", 2);
    assert_eq!(mount[1..], [r#"mountPath: "/sync""#, "readOnly: true"]);
    let secret = block(deployment, "secret:", 2);
    // `<slug>-root-passwd`, cut to 63 characters with a hash when longer.
    let name = secret[1].strip_prefix("secretName: ").unwrap().trim_matches('"');
    assert!(name.starts_with("a-2-15-0-python3-10-cuda12-2-2") && name.len() <= 63, "{name}");
    assert_eq!(secret[2], "optional: true");
}

#[test]
fn defaults_of_the_deployment() {
    let deployment = &generate_image(CPU)["k8s/deployment.yaml"];
    assert!(deployment.contains("replicas: 1"));
    assert_eq!(block(deployment, "requests:", 2)[1..], [r#"cpu: "100m""#, r#"memory: "512Mi""#]);
    assert_eq!(block(deployment, "limits:", 2)[1..], [r#"cpu: "2""#, r#"memory: "4Gi""#]);
    assert_eq!(block(deployment, "emptyDir:", 2)[2], r#"sizeLimit: "2Gi""#);
}

#[test]
fn labels_name_the_image_and_its_versions() {
    // A base with cuDNN (written: torch brings its own) gets its label too.
    let files = generate_image(&GPU.replace(r#"cuda "12.1.1""#, r#"cuda "12.1.1" cudnn="8""#));
    let labels = block(&files["k8s/deployment.yaml"], "labels:", 9);
    assert_eq!(
        labels[1..],
        [
            r#"app.kubernetes.io/name: "pytorch""#,
            r#"app.kubernetes.io/instance: "pytorch-2-3-0-python3-10-cuda12-1-1-cudnn8-devel-ubuntu22-04""#,
            r#"app.kubernetes.io/version: "2.3.0-python3.10-cuda12.1.1-cudnn8-devel-ubuntu22.04""#,
            r#"app.kubernetes.io/managed-by: "dlspec""#,
            r#"dlspec.dev/framework: "pytorch""#,
            r#"dlspec.dev/framework-version: "2.3.0""#,
            r#"dlspec.dev/python: "3.10""#,
            r#"dlspec.dev/cuda: "12.1.1""#,
            r#"dlspec.dev/cudnn: "8""#,
        ]
    );
    assert_eq!(block(&files["k8s/service.yaml"], "labels:", 9)[1..], labels[1..]);
}

#[test]
fn service_has_the_node_ports_and_is_left_out_without_ports() {
    let service = &generate_image(
        r#"image "a" {
    python "3.10"
    cpu
    tensorboard #false
    kubernetes {
        node-port ssh=30004 jupyter=30002
    }
}"#,
    )["k8s/service.yaml"];
    assert_eq!(block(service, r#"- name: "ssh""#, 4)[4], "nodePort: 30004");
    assert_eq!(block(service, r#"- name: "jupyterlab""#, 4)[4], "nodePort: 30002");
    assert!(!service.contains("tensorboard"));
    let batch = generate_image(
        r#"image "batch" {
    python "3.10"
    cpu
    ssh #false
    jupyter #false
    tensorboard #false
}"#,
    );
    assert!(!batch.contains_key("k8s/service.yaml"));
    assert!(!batch["k8s/deployment.yaml"].contains("ports:"));
}

// ----- docker-run.sh and build-scripts.sh -----

/// Runs a generated script from another directory, with `docker` replaced by a stub that prints
/// its arguments one per line (or with no `docker` at all).
fn run_script(
    files: &BTreeMap<String, String>,
    script: &str,
    args: &[&str],
    env: &[(&str, &str)],
    with_docker: bool,
) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&image).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(image.join(script), &files[script]).unwrap();
    if with_docker {
        std::fs::write(bin.join("docker"), "#!/bin/sh\necho \"cwd=$(pwd)\"\nprintf '%s\\n' \"$@\"\n").unwrap();
        Command::new("chmod").arg("+x").arg(bin.join("docker")).status().unwrap();
    }
    // Only what the scripts need besides docker: bash builtins and dirname.
    std::os::unix::fs::symlink(which("dirname"), bin.join("dirname")).unwrap();
    let output = Command::new(which("bash"))
        .arg(image.join(script))
        .args(args)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", &bin)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text.replace(image.to_str().unwrap(), "IMAGE_DIR"))
}

fn which(tool: &str) -> std::path::PathBuf {
    ["/usr/bin", "/bin"].iter().map(|d| Path::new(d).join(tool)).find(|p| p.exists()).expect("a standard tool")
}

#[test]
fn docker_run_passes_gpus_only_on_gpu_images() {
    let (status, gpu) = run_script(&generate_image(GPU), "docker-run.sh", &[], &[], true);
    assert_eq!(status, 0, "{gpu}");
    assert!(gpu.contains("cwd=IMAGE_DIR\n"), "runs from its own directory:\n{gpu}");
    // NGC's run flags: https://docs.nvidia.com/deeplearning/frameworks/user-guide/index.html
    assert!(gpu.contains("\n--gpus\nall\n--ipc=host\n--ulimit\nmemlock=-1\n--ulimit\nstack=67108864\n"), "{gpu}");
    assert!(gpu.contains("\n-p\n2222:22\n-p\n8888:8888\n-p\n6006:6006\n"), "{gpu}");
    assert!(gpu.ends_with("pytorch:2.3.0-python3.10-cuda12.1.1-base-ubuntu22.04\n"), "{gpu}");
    let (_, cpu) = run_script(&generate_image(CPU), "docker-run.sh", &[], &[], true);
    assert!(!cpu.contains("--gpus") && !cpu.contains("--ipc") && !cpu.contains("--ulimit"), "{cpu}");
}

#[test]
fn docker_run_selftest_is_a_throwaway_container_with_a_gpu_required_on_gpu_images() {
    let (status, gpu) = run_script(&generate_image(GPU), "docker-run.sh", &["--selftest", "-e", "X=1"], &[], true);
    assert_eq!(status, 0, "{gpu}");
    assert_eq!(
        gpu,
        "cwd=IMAGE_DIR\nrun\n--rm\n--gpus\nall\n--ipc=host\n--ulimit\nmemlock=-1\n--ulimit\nstack=67108864\n-e\nX=1\n\
         pytorch:2.3.0-python3.10-cuda12.1.1-base-ubuntu22.04\n/init/bin/selftest\n--boot\n--require-gpu\n"
    );
    let (_, cpu) = run_script(&generate_image(CPU), "docker-run.sh", &["--selftest"], &[], true);
    assert!(
        cpu.ends_with("\nrun\n--rm\npytorch-cpu:2.3.0-python3.11-cpu-ubuntu22.04\n/init/bin/selftest\n--boot\n"),
        "{cpu}"
    );
}

#[test]
fn the_selftest_job_runs_once_on_one_gpu_and_gets_no_traffic() {
    let files = generate_image(GPU);
    let job = &files["k8s/selftest-job.yaml"];
    assert!(job.contains("kind: Job\n"), "{job}");
    assert_eq!(block(job, "backoffLimit: 0", 1), ["backoffLimit: 0", "ttlSecondsAfterFinished: 86400"]);
    assert!(job.contains("      restartPolicy: Never\n"), "{job}");
    assert_eq!(
        block(job, "command:", 3),
        ["command:", r#"- "/init/bin/selftest""#, r#"- "--boot""#, r#"- "--require-gpu""#]
    );
    assert!(job.contains("              nvidia.com/gpu: \"1\"\n"), "{job}");
    // The Service selects the Deployment's instance label; the Job's pod has another.
    let deployment_instance = block(&files["k8s/deployment.yaml"], "matchLabels:", 1)[1].clone();
    let pod_instance = block(job, "labels:", 2)[2].clone();
    assert!(pod_instance.starts_with("app.kubernetes.io/instance: \"pytorch-"), "{pod_instance}");
    assert_ne!(pod_instance, deployment_instance);
    let cpu = &generate_image(CPU)["k8s/selftest-job.yaml"];
    assert!(!cpu.contains("nvidia.com/gpu") && !cpu.contains("--require-gpu"), "{cpu}");
}

#[test]
fn the_selftest_expects_the_labels_values() {
    let files = generate_image(GPU);
    let selftest = &files["init/bin/selftest"];
    assert!(selftest.starts_with("#!/root/miniconda3/bin/python\n"), "{selftest}");
    let expected = selftest.lines().find(|l| l.starts_with("EXPECTED = json.loads(")).unwrap();
    for value in [
        r#"\"import_name\":\"torch\""#,
        r#"\"version\":\"2.3.0\""#,
        r#"\"cuda\":\"12.1\""#,
        r#"\"cuda\":\"12.1.1\""#,
        r#"\"cudnn\":\"8\""#,
        r#"\"nccl\":true"#,
    ] {
        assert!(expected.contains(value), "{value} in {expected}");
    }
    let dockerfile = &files["Dockerfile"];
    for label in [
        r#"dev.dlspec.framework="pytorch""#,
        r#"dev.dlspec.framework.version="2.3.0""#,
        r#"dev.dlspec.framework.cuda="12.1""#,
        r#"dev.dlspec.cuda="12.1.1""#,
        r#"dev.dlspec.cudnn="8""#,
    ] {
        assert!(dockerfile.contains(label), "{label}");
    }
}

#[test]
fn docker_run_passes_secrets_by_name_never_by_value() {
    let files = generate_image(GPU);
    let (_, without) = run_script(&files, "docker-run.sh", &[], &[], true);
    assert!(!without.contains("ROOT_PASSWORD"), "{without}");
    let (_, with) =
        run_script(&files, "docker-run.sh", &[], &[("ROOT_PASSWORD", "s3cret"), ("JUPYTER_TOKEN", "t0ken")], true);
    assert!(with.contains("\n-e\nROOT_PASSWORD\n") && with.contains("\n-e\nJUPYTER_TOKEN\n"), "{with}");
    assert!(!with.contains("s3cret") && !with.contains("t0ken"), "{with}");
}

#[test]
fn scripts_say_when_docker_is_missing() {
    let files = generate_image(GPU);
    for script in ["docker-run.sh", "build-scripts.sh"] {
        assert!(files[script].contains("set -euo pipefail"), "{script}");
        assert!(files[script].contains(r#"cd "$(dirname "${BASH_SOURCE[0]}")""#), "{script}");
        let (status, text) = run_script(&files, script, &[], &[], false);
        assert_eq!(status, 127, "{script}: {text}");
        assert_eq!(text, format!("{script}: docker is not installed or not on PATH\n"));
    }
    let (status, build) = run_script(&files, "build-scripts.sh", &[], &[], true);
    assert_eq!(status, 0, "{build}");
    assert_eq!(
        build,
        "cwd=IMAGE_DIR\nbuild\n-t\npytorch:2.3.0-python3.10-cuda12.1.1-base-ubuntu22.04\n-f\nDockerfile\n.\n"
    );
}

// ----- users' later pip installs -----

/// The lines of `pip/constraints.txt` that are not comments, when the image has the file.
fn constraints(files: &std::collections::BTreeMap<String, String>) -> Option<Vec<&str>> {
    files.get("pip/constraints.txt").map(|text| text.lines().filter(|l| !l.starts_with('#')).collect())
}

#[test]
fn later_pip_installs_keep_the_framework_through_pip_constraint() {
    let files = generate_image(GPU);
    assert_eq!(constraints(&files).unwrap(), ["numpy<2", "torch==2.3.0", "torchvision==0.18.0", "torchaudio==2.3.0"]);
    let dockerfile = &files["Dockerfile"];
    let env = dockerfile.find("\nENV PIP_CONSTRAINT=/etc/dlspec/pip-constraints.txt\n").expect("PIP_CONSTRAINT");
    assert!(dockerfile.rfind("pip install").unwrap() < env && env < dockerfile.find("COPY init/").unwrap());
    assert!(dockerfile.contains("`PIP_CONSTRAINT= pip install …` leaves the constraints for one command"));
    // SSH sessions start without Docker's ENV: platform.sh carries it to them.
    let platform = &files["init/setup/platform.sh"];
    assert!(platform.contains("if [ -n \"${PIP_CONSTRAINT:-}\" ]; then\n    names+=(PIP_CONSTRAINT)"), "{platform}");
    // pip refuses extras in a constraint: the requirement `jax[cuda12]` is constrained as `jax`.
    let jax = generate_image(
        "image \"j\" {\n    jax \"0.6.2\"\n    python \"3.13\" accept-tos=#true\n    cuda \"12.6.3\"\n}",
    );
    assert_eq!(constraints(&jax).unwrap(), ["jax==0.6.2"]);
    // Nothing to keep: no file, no variable.
    let bare = generate_image("image \"b\" {\n    python \"3.13\" accept-tos=#true\n    cpu\n}");
    assert_eq!(constraints(&bare), None);
    assert!(!bare["Dockerfile"].contains("PIP_CONSTRAINT"));
}

// ----- README -----

#[test]
fn readme_has_versions_ports_paths_and_how_to_run_and_check() {
    let files = generate_image(
        r#"image "tensorflow" {
    tensorflow "2.15.0"
    python "3.10"
    cuda "12.2.2" cudnn="8"
    jupyter port=8080 base-url="/lab" root-dir="/workspace"
    tensorboard logdir="/data/logs" path-prefix="/tb"
    docker-run ssh=2200
}"#,
    );
    let readme = &files["README.md"];
    for needle in [
        // versions
        "TensorFlow 2.15.0",
        "| Python | 3.10",
        "| CUDA | 12.2.2",
        "| cuDNN | 8 |",
        "`nvidia/cuda:12.2.2-cudnn8-devel-ubuntu22.04`",
        // ports and paths
        "| SSH | 22 (host 2200 with `docker-run.sh`) | login directory `/root` |",
        "| JupyterLab | 8080 | URL path `/lab/`, working directory `/workspace` |",
        "| TensorBoard | 6006 | URL path `/tb/`, log directory `/data/logs` |",
        "`http://HOST:8080/lab/`",
        "`http://HOST:6006/tb/`",
        // run
        "./docker-run.sh",
        "kubectl apply -f k8s/deployment.yaml -f k8s/service.yaml\n",
        "kubectl create secret generic",
        "kubectl port-forward deploy/",
        // check
        "ssh -p 2200 root@HOST",
        "locale ",
        "date +%Z",
        "python --version",
        "import tensorflow as tf",
        "nvcc --version",
        "nvidia-smi",
        "supervisorctl status",
        "curl -fsS http://localhost:8080/lab/api",
        "http://localhost:6006/tb/",
        // self-test
        "## Self-test",
        "./docker-run.sh --selftest",
        "kubectl apply -f k8s/selftest-job.yaml",
        "/init/bin/selftest",
    ] {
        assert!(readme.contains(needle), "README.md lacks `{needle}`:\n{readme}");
    }
}

// ----- Kubernetes defaults that protect users' work -----

#[test]
fn liveness_asks_supervisord_only_and_readiness_checks_the_services() {
    let deployment = &generate_image(GPU)["k8s/deployment.yaml"];
    let liveness = block(deployment, "livenessProbe:", 5);
    assert_eq!(
        liveness[1..],
        ["exec:", "command:", "- /bin/sh", "- -c", "- supervisorctl pid | grep -qx '[0-9][0-9]*'"]
    );
    assert!(!liveness.iter().any(|l| l.contains("healthcheck")), "a slow service must not restart the pod");
    assert_eq!(block(deployment, "readinessProbe:", 2)[2], r#"command: ["/init/boot/healthcheck.sh"]"#);
}

#[test]
fn an_update_replaces_the_pod_instead_of_needing_a_second_gpu() {
    let deployment = &generate_image(GPU)["k8s/deployment.yaml"];
    assert_eq!(block(deployment, "strategy:", 1)[1], "type: Recreate");
}

#[test]
fn the_password_secret_is_a_directory_mount_and_optional() {
    let deployment = &generate_image(GPU)["k8s/deployment.yaml"];
    assert!(!deployment.contains("subPath"), "a subPath mount never sees a Secret created later");
    let volume = &deployment[deployment.rfind("- name: root-password").unwrap()..];
    let volume: Vec<&str> = volume.lines().map(str::trim).take(8).collect();
    assert_eq!(volume[1], "secret:");
    assert!(volume[4] == "optional: true" && volume[6] == "- key: root-passwd", "{volume:?}");
}

#[test]
fn pods_get_no_service_account_token_nor_service_links() {
    let deployment = &generate_image(GPU)["k8s/deployment.yaml"];
    assert!(deployment.contains("\n      automountServiceAccountToken: false\n"));
    assert!(deployment.contains("\n      enableServiceLinks: false\n"));
}

#[test]
fn seccomp_and_only_the_capabilities_a_root_shell_with_sshd_needs() {
    let deployment = &generate_image(GPU)["k8s/deployment.yaml"];
    assert_eq!(block(deployment, "seccompProfile:", 1)[1], "type: RuntimeDefault");
    let context = block(deployment, "allowPrivilegeEscalation: false", 18);
    let add_at = context.iter().position(|l| l == "add:").expect("capabilities are added");
    assert_eq!(context[add_at - 1], r#"drop: ["ALL"]"#);
    let added: Vec<&str> = context[add_at + 1..]
        .iter()
        .map_while(|l| l.strip_prefix("- "))
        .filter(|c| c.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    for needed in ["SETUID", "SETGID", "SYS_CHROOT", "AUDIT_WRITE", "CHOWN", "NET_BIND_SERVICE", "KILL"] {
        assert!(added.contains(&needed), "sshd needs {needed}: {added:?}");
    }
    for dropped in ["NET_RAW", "MKNOD", "SETFCAP", "SETPCAP", "SYS_ADMIN"] {
        assert!(!added.contains(&dropped), "{dropped} is not needed: {added:?}");
    }
}

#[test]
fn ssh_host_keys_survive_restarts() {
    let files = generate_image(GPU);
    let boot = &files["init/boot/boot.sh"];
    let dir = boot.find("host_keys=/var/lib/dlspec/ssh-host-keys").expect("a host-key directory");
    let take = boot.find(r#"install -m 0600 "$key""#).expect("kept keys are installed");
    let make = boot.find("ssh-keygen -A").expect("missing keys are made");
    let keep = boot.find(r#"cp -p /etc/ssh/ssh_host_* "$host_keys/""#).expect("new keys are kept");
    assert!(dir < take && take < make && make < keep, "take the kept keys, make the missing ones, keep them");
    // Kubernetes: an optional Secret at that directory, by default `<slug>-ssh-host-keys`.
    let deployment = &files["k8s/deployment.yaml"];
    assert_eq!(block(deployment, "- name: ssh-host-keys", 1)[1], r#"mountPath: "/var/lib/dlspec/ssh-host-keys""#);
    let volume = &deployment[deployment.rfind("- name: ssh-host-keys").unwrap()..];
    let volume: Vec<&str> = volume.lines().map(str::trim).take(5).collect();
    assert_eq!(volume[1], "secret:");
    // `<slug>-ssh-host-keys`, cut to 63 characters with a hash when longer, like the password's.
    assert!(volume[3].starts_with("\"pytorch-2-3-0-python3-10-cuda12-1-1"), "{volume:?}");
    assert!(
        !deployment.contains(&format!(
            "secretName:\n              {}\n            optional: true\n            items",
            volume[3]
        ))
    );
    assert!(volume.contains(&"optional: true"), "{volume:?}");
}

#[test]
fn a_volume_at_the_host_key_directory_keeps_the_keys_instead_of_the_secret() {
    let files = generate_image(
        r#"image "a" {
    python "3.10"
    cpu
    ssh host-keys="/root/workspace/.ssh-host-keys"
    kubernetes {
        volume "keys" mount="/root/workspace/.ssh-host-keys" claim="ssh-keys"
    }
}"#,
    );
    assert!(files["init/boot/boot.sh"].contains("host_keys=/root/workspace/.ssh-host-keys"));
    let deployment = &files["k8s/deployment.yaml"];
    assert!(!deployment.contains("- name: ssh-host-keys"), "no Secret when a volume keeps the keys");
    assert_eq!(block(deployment, r#"- name: "keys""#, 1)[1], r#"mountPath: "/root/workspace/.ssh-host-keys""#);
    let named = generate_image(
        r#"image "a" {
    python "3.10"
    cpu
    kubernetes host-keys-secret="lab-ssh-host-keys"
}"#,
    );
    assert!(named["k8s/deployment.yaml"].contains(r#"secretName: "lab-ssh-host-keys""#));
}

// ----- shell ergonomics -----

#[test]
fn conda_activate_works_in_ssh_sessions_and_jupyter_terminals() {
    let platform = &generate_image(CPU)["init/setup/platform.sh"];
    // Login shells (SSH, JupyterLab's `bash -l` terminals) read profile.d; other interactive
    // shells read bash.bashrc.
    assert!(platform.contains("put 0644 /etc/profile.d/dlspec-conda.sh"));
    assert!(platform.contains(r#"(quote "$PREFIX/etc/profile.d/conda.sh")"#));
    assert!(platform.contains("[ -r /etc/profile.d/dlspec-conda.sh ]; then . /etc/profile.d/dlspec-conda.sh; fi'"));
    let jupyter = &generate_image(CPU)["init/jupyter/jupyter_config.py"];
    assert!(jupyter.contains(r#""shell_command": ["/bin/bash", "-l"]"#));
}

#[test]
fn build_only_settings_are_build_args_not_the_images_environment() {
    let dockerfile = &generate_image(CPU)["Dockerfile"];
    let env: String = dockerfile.split("\nENV ").skip(1).map(|e| e.split("\n\n").next().unwrap()).collect();
    for build_only in ["DEBIAN_FRONTEND", "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK"] {
        assert!(!env.contains(build_only), "{build_only} is in ENV:\n{env}");
        assert!(
            dockerfile.contains(&format!("ARG {build_only}=")) || dockerfile.contains(&format!("    {build_only}="))
        );
    }
    let args = dockerfile.split("\nARG DEBIAN_FRONTEND").nth(1).expect("an ARG block");
    assert!(args.split("\n\n").next().unwrap().contains("PIP_NO_CACHE_DIR=1"));
}

// ----- values from Secrets, plain-http indexes -----

const FROM_SECRETS: &str = r#"image "hf" {
    pytorch "2.3.0"
    python "3.10"
    cpu
    env "HF_ENDPOINT" "https://hf-mirror.com"
    env "HF_TOKEN" secret="hf-token"
    env "WANDB_API_KEY" secret="ml-keys" key="wandb"
}"#;

#[test]
fn values_from_secrets_reach_the_container_never_the_image() {
    let files = generate_image(FROM_SECRETS);
    // Nothing of them in a layer: not in ENV, not in what platform.sh writes to /etc/environment.
    for file in ["Dockerfile", "init/setup/platform.sh"] {
        assert!(!files[file].contains("HF_TOKEN") && !files[file].contains("WANDB_API_KEY"), "{file}");
    }
    assert!(files["Dockerfile"].contains(r#"ENV HF_ENDPOINT="https://hf-mirror.com""#));
    let deployment = &files["k8s/deployment.yaml"];
    assert_eq!(
        block(deployment, r#"- name: "WANDB_API_KEY""#, 5),
        [
            r#"- name: "WANDB_API_KEY""#,
            "valueFrom:",
            "secretKeyRef:",
            r#"name: "ml-keys""#,
            r#"key: "wandb""#,
            "optional: true"
        ]
    );
    assert!(deployment.contains(r#"key: "HF_TOKEN""#), "the key defaults to the variable's name");
    let (_, without) = run_script(&files, "docker-run.sh", &[], &[], true);
    assert!(!without.contains("HF_TOKEN"), "{without}");
    let (_, with) = run_script(&files, "docker-run.sh", &[], &[("HF_TOKEN", "hf_s3cret")], true);
    assert!(with.contains("\n-e\nHF_TOKEN\n") && !with.contains("hf_s3cret"), "{with}");
    assert!(!with.contains("WANDB_API_KEY"), "only what is set passes: {with}");
    assert!(
        files["README.md"]
            .contains("kubectl create secret generic ml-keys \\\n    --from-literal=wandb=\"$WANDB_API_KEY\"")
    );
}

/// boot.sh hands the values to SSH sessions in a file only root reads, which any login shell can
/// source back to the same values, whatever they hold.
#[test]
fn ssh_sessions_get_values_from_secrets_from_a_root_only_file() {
    let files = generate_image(FROM_SECRETS);
    assert!(
        files["init/setup/platform.sh"]
            .contains("'if [ -r /run/dlspec/secret-env.sh ]; then . /run/dlspec/secret-env.sh; fi'")
    );
    let boot = &files["init/boot/boot.sh"];
    let start = boot.find("secret_env=/run/dlspec/secret-env.sh").expect("boot.sh writes the values");
    let end =
        boot[start..].find("chmod 0600 \"$secret_env\"\n").unwrap() + start + "chmod 0600 \"$secret_env\"\n".len();
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run-dlspec");
    let script = boot[start..end].replace("/run/dlspec", run_dir.to_str().unwrap());
    let token = "it's \"q\" $HOME `id` \\ 東京\nline two";
    let status = Command::new(which("bash"))
        .args(["-euo", "pipefail", "-c", &script])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HF_TOKEN", token)
        .status()
        .unwrap();
    assert!(status.success());
    let file = run_dir.join("secret-env.sh");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&run_dir).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let read_back = Command::new(which("sh"))
        .args(["-c", &format!(". '{}'; printf '%s|%s' \"$HF_TOKEN\" \"${{WANDB_API_KEY-unset}}\"", file.display())])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(read_back.stdout).unwrap(), format!("{token}|unset"));
}

#[test]
fn plain_http_indexes_are_trusted_by_their_host_only() {
    let http = generate_image(
        r#"image "mirrored" {
    pytorch "2.3.0" index="http://mirrors.example.edu:8080/pytorch/whl/cpu"
    python "3.10"
    cpu
    mirrors build-pip="http://10.0.0.5:3141/root/pypi/simple"
}"#,
    );
    let dockerfile = &http["Dockerfile"];
    assert!(dockerfile.contains(
        "--index-url http://mirrors.example.edu:8080/pytorch/whl/cpu \\\n        --trusted-host mirrors.example.edu \\"
    ));
    let extras = dockerfile
        .matches("export PIP_INDEX_URL=http://10.0.0.5:3141/root/pypi/simple PIP_TRUSTED_HOST=10.0.0.5 && pip install");
    assert_eq!(extras.count(), 1, "the platform layer's pip trusts the build's index:\n{dockerfile}");
    let https = generate_image(
        r#"image "mirrored" {
    pytorch "2.3.0" index="https://mirrors.example.edu/pytorch/whl/cpu"
    python "3.10"
    cpu
    mirrors build-pip="https://mirrors.example.edu/pypi/simple"
}"#,
    );
    assert!(!https["Dockerfile"].contains("trusted-host") && !https["Dockerfile"].contains("PIP_TRUSTED_HOST"));
}
