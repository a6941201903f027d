//! With every mirror named, nothing the build runs reaches another host: a catalog of every
//! framework on CUDA and CPU bases, compiled by the binary in a temporary directory, names no
//! host but its mirrors and registry in any generated file (READMEs and comments aside), and
//! leaves pip, apt and the base pull no default to fall back on.
//!
//! What the scan counts as a comment: a line whose first non-blank characters are `#` in every
//! generated language (Dockerfile, shell, Python, YAML, HCL, sshd_config, INI), `;` in INI too and
//! `//` in HCL too. Comments after code are scanned. A host is a `scheme://host` URL, or a bare
//! dotted name whose last label is a public top-level domain (`.com`, `.org`, `.cn`, …), except
//! the prefixes of Kubernetes label and resource names (`app.kubernetes.io/name`,
//! `nvidia.com/gpu`, `dlspec.dev/python`: a name, then `/`). A host inside a regular expression,
//! its dots escaped (the Dockerfile's rewrite of apt sources), is what is rewritten, not fetched.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use camino::{Utf8Path, Utf8PathBuf};

const REGISTRY: &str = "harbor.campus.example.edu:5000";

/// Every mirror property, on the campus's own hosts.
const MIRRORS: &[(&str, &str)] = &[
    ("apt", "https://mirrors.campus.example.edu/ubuntu"),
    ("cuda-apt", "https://mirrors.campus.example.edu/nvidia-cuda"),
    ("build-pip", "https://pypi.campus.example.edu/simple"),
    ("pip", "https://pypi.campus.example.edu/simple"),
    ("conda", "https://conda.campus.example.edu/anaconda"),
    ("miniconda", "https://conda.campus.example.edu/anaconda/miniconda"),
    ("pytorch", "https://wheels.campus.example.edu/pytorch/whl/{variant}"),
    ("paddle", "https://wheels.campus.example.edu/paddle/{build}"),
];

/// PyTorch on CUDA (a variant PyPI serves, with a package built against it, and one it does not)
/// and CPU, PaddlePaddle from its per-build index, from PyPI and from the PyPI
/// mirror of its guide, TensorFlow, JAX; Python up to 3.12 (3.13's Miniconda asks
/// `repo.anaconda.com` for its terms of service, which no mirror serves).
const IMAGES: &str = r#"
image "campus/pytorch" {
    use "offline"
    pytorch "2.7.0"
    python "3.11"
    cuda "12.8.1" cudnn="none"
}

image "campus/pytorch-pypi" {
    use "offline"
    pytorch "2.5.1"
    python "3.11"
    cuda "12.4.1"
    pip "flash-attn==2.7.4.post1" no-build-isolation=#true
}

image "campus/pytorch-cpu" {
    use "offline"
    pytorch "2.5.1"
    python "3.11"
    cpu
}

image "campus/paddle3" {
    use "offline"
    paddle "3.0.0"
    python "3.11"
    cuda "12.6.3" cudnn="none"
}

image "campus/paddle-post" {
    use "offline"
    paddle "2.6.2"
    python "3.10"
    cuda "12.1.1" cudnn="8"
}

image "campus/paddle-pypi" {
    use "offline"
    paddle "2.6.2"
    python "3.10"
    cuda "11.8.0" cudnn="8"
}

image "campus/paddle-cpu" {
    use "offline"
    paddle "2.6.1"
    python "3.10"
    cpu
}

image "campus/tensorflow" {
    use "offline"
    tensorflow "2.15.1"
    python "3.10"
    cuda "12.2.2"
}

image "campus/jax" {
    use "offline"
    jax "0.6.2"
    python "3.12"
    cuda "12.6.3" cudnn="none" flavor="runtime"
}

image "campus/jax-cpu" {
    use "offline"
    jax "0.6.2"
    python "3.11"
    cpu
}
"#;

/// The catalog: with every mirror named, or with none.
fn spec(mirrored: bool) -> String {
    let mirrors: Vec<String> = MIRRORS.iter().map(|(name, url)| format!("{name}=\"{url}\"")).collect();
    let profile = if mirrored { format!("mirrors {}", mirrors.join(" ")) } else { "apt \"git\"".to_owned() };
    format!(
        "catalog {{\n    registry \"{REGISTRY}/ai\"\n    base-registry \"{REGISTRY}/proxy\"\n}}\n\nprofile \"offline\" {{\n    {profile}\n    pip \"requests\"\n}}\n{IMAGES}"
    )
}

/// Compiles `spec` with the binary in a temporary directory: its generated files, by path.
fn compile(spec: &str) -> Vec<(Utf8PathBuf, String)> {
    let temp = tempfile::tempdir().unwrap();
    let dir = Utf8PathBuf::try_from(temp.path().to_path_buf()).unwrap();
    std::fs::create_dir(dir.join("specs")).unwrap();
    std::fs::write(dir.join("specs/campus.kdl"), spec).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_dlspec"))
        .args(["compile", "--deny-warnings"])
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("dlspec runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let out = dir.join("out");
    common::files_under(&out)
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(out.join(&path)).unwrap();
            (path, text)
        })
        .collect()
}

/// The host of a URL.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    authority.split(':').next().unwrap_or_default()
}

/// The hosts a generated file may name: the mirrors', the registry's, and the container's own.
fn allowed() -> BTreeSet<String> {
    let mut hosts: BTreeSet<String> = MIRRORS.iter().map(|(_, url)| host_of(url).to_owned()).collect();
    hosts.insert(host_of(REGISTRY).to_owned());
    hosts.extend(["127.0.0.1", "localhost", "0.0.0.0"].map(str::to_owned));
    hosts
}

/// Whether `line` of `path` is a comment.
fn is_comment(path: &Utf8Path, line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with('#')
        || (path.extension() == Some("ini") && line.starts_with(';'))
        || (path.extension() == Some("hcl") && line.starts_with("//"))
}

const TOP_LEVEL_DOMAINS: &[&str] = &["com", "org", "net", "edu", "gov", "io", "cn", "dev", "ai", "app", "cloud"];

/// The hosts `line` names: those of its URLs, and its bare dotted names under a top-level domain
/// that are no Kubernetes name prefix.
fn hosts_in(line: &str) -> Vec<String> {
    let mut hosts = Vec::new();
    for (at, _) in line.match_indices("://") {
        let scheme = line[..at].rsplit(|c: char| !(c.is_ascii_alphanumeric() || "+.-".contains(c))).next();
        if scheme.is_some_and(|s| s.starts_with(|c: char| c.is_ascii_alphabetic()) && s != "unix") {
            let authority: String =
                line[at + 3..].chars().take_while(|c| c.is_ascii_alphanumeric() || ".-:@[]_".contains(*c)).collect();
            hosts.push(host_of(&authority).to_owned());
        }
    }
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
    let mut rest = line;
    while let Some(start) = rest.find(is_name_char) {
        let run_len = rest[start..].find(|c: char| !is_name_char(c)).unwrap_or(rest.len() - start);
        let run = rest[start..start + run_len].trim_matches(['.', '-']);
        let next = rest[start + run_len..].chars().next();
        let labels: Vec<&str> = run.split('.').collect();
        let under_domain = labels.len() >= 2
            && labels.iter().all(|l| !l.is_empty())
            && labels.last().is_some_and(|tld| TOP_LEVEL_DOMAINS.contains(tld));
        let name_prefix = next == Some('/')
            && (["kubernetes.io", "k8s.io", "nvidia.com", "dlspec.dev"].contains(&run)
                || run.ends_with(".kubernetes.io")
                || run.ends_with(".k8s.io"));
        if under_domain && !name_prefix {
            hosts.push(run.to_owned());
        }
        rest = &rest[start + run_len..];
    }
    hosts
}

/// Every host a generated file other than a README names outside comments, not in `allowed`:
/// `file:line: host`.
fn foreign_hosts(files: &[(Utf8PathBuf, String)], allowed: &BTreeSet<String>) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in files {
        if path.file_name() == Some("README.md") {
            continue;
        }
        for (number, line) in text.lines().enumerate() {
            if is_comment(path, line) {
                continue;
            }
            for host in hosts_in(line) {
                if !allowed.contains(&host) {
                    found.push(format!("{path}:{}: {host}", number + 1));
                }
            }
        }
    }
    found
}

/// The Dockerfile's instructions, continuation lines joined, comments left out.
fn instructions(dockerfile: &str) -> Vec<String> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines().filter(|l| !l.trim_start().starts_with('#')) {
        match line.strip_suffix('\\') {
            Some(start) => current.push_str(start),
            None => {
                current.push_str(line);
                if !current.trim().is_empty() {
                    instructions.push(std::mem::take(&mut current));
                }
                current.clear();
            }
        }
    }
    instructions
}

#[test]
fn the_scan_finds_the_upstream_hosts_of_a_catalog_without_mirrors() {
    let files = compile(&spec(false));
    let found = foreign_hosts(&files, &allowed()).join("\n");
    for upstream in ["download.pytorch.org", "repo.anaconda.com", "www.paddlepaddle.org.cn", "mirror.baidu.com"] {
        assert!(found.contains(upstream), "{upstream} is not found in:\n{found}");
    }
}

#[test]
fn with_every_mirror_named_no_generated_file_names_another_host() {
    let files = compile(&spec(true));
    assert!(files.iter().filter(|(path, _)| path.file_name() == Some("Dockerfile")).count() >= 9);
    let found = foreign_hosts(&files, &allowed());
    assert!(found.is_empty(), "hosts that are not the mirrors':\n{}", found.join("\n"));
}

#[test]
fn with_every_mirror_named_pip_apt_and_the_base_pull_have_no_default_to_fall_back_on() {
    let files = compile(&spec(true));
    let mirror = |name: &str| MIRRORS.iter().find(|(n, _)| *n == name).unwrap().1;
    for (path, text) in files.iter().filter(|(path, _)| path.file_name() == Some("Dockerfile")) {
        let gpu = text.contains("/nvidia/cuda:");
        for instruction in instructions(text) {
            if let Some(base) = instruction.strip_prefix("ARG BASE_IMAGE=") {
                assert!(base.starts_with(&format!("{REGISTRY}/proxy/")), "{path}: the base `{base}`");
            }
            if instruction.contains("pip install") {
                assert!(
                    instruction.contains("PIP_INDEX_URL=") || instruction.contains("--index-url "),
                    "{path}: a pip install on PyPI by default: {instruction}"
                );
            }
            if instruction.contains("apt-get update") {
                assert!(instruction.contains(&format!("#{}/", mirror("apt"))), "{path}: {instruction}");
                assert_eq!(instruction.contains(&format!("#{}#", mirror("cuda-apt"))), gpu, "{path}: {instruction}");
            }
        }
    }
    for (path, text) in files.iter().filter(|(path, _)| path.extension() == Some("yaml")) {
        for line in text.lines().filter_map(|l| l.trim_start().strip_prefix("image: ")) {
            assert!(line.trim_matches('"').starts_with(&format!("{REGISTRY}/ai/")), "{path}: image {line}");
        }
    }
}

#[test]
fn each_image_installs_its_framework_from_its_own_variant_of_the_mirror() {
    let files = compile(&spec(true));
    let dockerfile = |name: &str| {
        files
            .iter()
            .find(|(path, _)| path.as_str().starts_with(&format!("campus/{name}/")) && path.ends_with("Dockerfile"))
            .map(|(_, text)| text.clone())
            .unwrap_or_else(|| panic!("no Dockerfile for {name}"))
    };
    let index = |name: &str| format!("--index-url https://wheels.campus.example.edu/{name} ");
    assert!(dockerfile("pytorch").contains(&index("pytorch/whl/cu128")));
    assert!(dockerfile("pytorch-cpu").contains(&index("pytorch/whl/cpu")));
    assert!(dockerfile("paddle3").contains(&index("paddle/cu126")));
    assert!(dockerfile("paddle-post").contains(&index("paddle/cu120")));
    // On PyPI, or on the PyPI mirror of PaddlePaddle's guide: the build's PyPI mirror. PyPI's
    // torch 2.5.1 is the cu124 build: from the PyPI mirror, not from `mirrors pytorch=`.
    for name in ["paddle-pypi", "paddle-cpu", "pytorch-pypi"] {
        let text = dockerfile(name);
        assert!(!text.contains("--index-url") && !text.contains("--find-links"), "{name}");
        assert!(text.contains("PIP_INDEX_URL=https://pypi.campus.example.edu/simple && pip install"), "{name}");
    }
}

#[test]
fn the_scan_reads_urls_and_names_but_not_comments_patterns_or_kubernetes_names() {
    assert_eq!(hosts_in("curl -fsSL -o /tmp/x https://repo.anaconda.com/miniconda/x.sh"), ["repo.anaconda.com"; 2]);
    assert_eq!(hosts_in("--trusted-host mirrors.example.edu"), ["mirrors.example.edu"]);
    assert_eq!(hosts_in("pip install --index-url http://10.0.0.5:3141/root/pypi/simple"), ["10.0.0.5"]);
    assert!(hosts_in(r"sed -E 's#https?://developer'\\'.download'\\'.nvidia'\\'.com/x#y#'").is_empty());
    assert!(hosts_in("    app.kubernetes.io/name: x\n    nvidia.com/gpu: 1\n    dlspec.dev/python: '3.11'").is_empty());
    assert!(hosts_in("serverurl=unix:///var/run/supervisor.sock").is_empty());
    assert!(hosts_in("python -c 'import torch; print(torch.version.cuda)' init/boot/boot.sh").is_empty());
    assert!(is_comment(Utf8Path::new("Dockerfile"), "  # https://www.anaconda.com/legal"));
    assert!(is_comment(Utf8Path::new("init/supervisor/supervisor.ini"), "; comment"));
    assert!(!is_comment(Utf8Path::new("Dockerfile"), "RUN curl https://x.example.com # trailing"));
}
