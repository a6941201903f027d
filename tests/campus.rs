//! The v2 example of the language contract (a campus cluster) compiles unchanged, and each of its
//! settings lands where it belongs: build scripts, bake file, Dockerfile, Kubernetes objects,
//! JupyterLab's config. `catalog templates` is what `compile` and `compile --check` use.

mod common;

use std::process::Command;

use camino::Utf8PathBuf;
use common::generate;

/// The contract's "Example that must compile unchanged (v2)", verbatim.
const CONTRACT_V2: &str = r#"catalog {
    registry "harbor.example.edu:5000/ai"
    base-registry "harbor.example.edu:5000/proxy"
}

image "campus/pytorch" {
    pytorch "2.5.1"
    python "3.11"
    cuda "12.4.1" cudnn="9"
    pip "transformers" "datasets"
    env "HF_ENDPOINT" "https://hf-mirror.com"
    mirrors apt="https://mirrors.tuna.tsinghua.edu.cn/ubuntu" build-pip="https://pypi.tuna.tsinghua.edu.cn/simple" pip="https://pypi.tuna.tsinghua.edu.cn/simple"
    jupyter frame-ancestors="https://portal.example.edu"
    kubernetes {
        namespace "ai-platform"
        image-pull-secret "harbor-cred"
        node-selector "nvidia.com/gpu.product" "NVIDIA-A100-SXM4-80GB"
        toleration key="nvidia.com/gpu" operator="Exists" effect="NoSchedule"
        volume "datasets" mount="/root/datasets" claim="datasets" read-only=#true
    }
}
"#;

const DIR: &str = "campus/pytorch/2.5.1-python3.11-cuda12.4.1-cudnn9-devel-ubuntu22.04";
const REFERENCE: &str =
    "harbor.example.edu:5000/ai/campus/pytorch:2.5.1-python3.11-cuda12.4.1-cudnn9-devel-ubuntu22.04";

fn files() -> std::collections::BTreeMap<String, String> {
    let (files, codes) = generate(CONTRACT_V2);
    assert!(codes.is_empty(), "the v2 example raises {codes:?}");
    files
}

fn file(files: &std::collections::BTreeMap<String, String>, name: &str) -> String {
    files.get(&format!("{DIR}/{name}")).unwrap_or_else(|| panic!("no {DIR}/{name}")).clone()
}

#[test]
fn the_contract_example_is_the_corpus_example() {
    let corpus = std::fs::read_to_string(common::root().join("tests/corpus/campus.kdl")).unwrap();
    let image = &CONTRACT_V2[CONTRACT_V2.find("image \"campus/pytorch\"").unwrap()..];
    assert!(corpus.contains(image), "tests/corpus/campus.kdl holds the contract's image unchanged");
    for line in CONTRACT_V2.lines().take_while(|l| !l.starts_with('}')).skip(1) {
        assert!(corpus.contains(line), "tests/corpus/campus.kdl's catalog has `{line}`");
    }
}

#[test]
fn the_registry_names_every_reference_but_not_the_output_directory() {
    let files = files();
    assert!(file(&files, "build-scripts.sh").contains(&format!("docker build -t {REFERENCE} ")));
    assert!(file(&files, "docker-run.sh").contains(&format!(r#""$@" {REFERENCE}"#)));
    assert!(files["docker-bake.hcl"].contains(&format!(r#"tags       = ["{REFERENCE}"]"#)));
    assert!(file(&files, "k8s/deployment.yaml").contains(&format!(r#""{REFERENCE}""#)));
}

#[test]
fn the_base_comes_through_the_pull_through_cache_and_labels_keep_the_upstream_reference() {
    let dockerfile = file(&files(), "Dockerfile");
    assert!(
        dockerfile
            .contains("ARG BASE_IMAGE=harbor.example.edu:5000/proxy/nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04\n")
    );
    assert!(dockerfile.contains(r#"LABEL dev.dlspec.base="nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04""#));
    // A tag that nvidia/cuda never published is still refused behind the cache.
    let (_, codes) = generate(&CONTRACT_V2.replace("12.4.1", "12.4.9"));
    assert!(codes.contains(&"dlspec::compat::cuda-tag"), "{codes:?}");
    // `cpu` bases are Docker Hub official images: `library/` in the cache.
    let cpu = CONTRACT_V2.replace(r#"cuda "12.4.1" cudnn="9""#, "cpu");
    let (files, codes) = generate(&cpu);
    assert!(codes.is_empty(), "{codes:?}");
    let dockerfile = files.iter().find(|(p, _)| p.ends_with("/Dockerfile")).unwrap().1;
    assert!(dockerfile.contains("ARG BASE_IMAGE=harbor.example.edu:5000/proxy/library/ubuntu:22.04\n"));
}

#[test]
fn the_apt_mirror_replaces_the_archives_before_the_first_update() {
    let dockerfile = file(&files(), "Dockerfile");
    let rewrite = dockerfile.find("-name '*.sources'").expect("deb822 sources are rewritten too");
    let update = dockerfile.find("apt-get update").unwrap();
    assert!(rewrite < update);
    // Shell quoting writes each backslash outside the single quotes: `'…'\\'…'` is `…\…`.
    assert!(dockerfile.contains(
        r"https?://(archive|security)'\\'.ubuntu'\\'.com/ubuntu/?( |$)#https://mirrors.tuna.tsinghua.edu.cn/ubuntu/'\\'2#g"
    ));
}

#[test]
fn env_reaches_the_image_ssh_sessions_and_pods() {
    let files = files();
    assert!(file(&files, "Dockerfile").contains(r#"ENV HF_ENDPOINT="https://hf-mirror.com""#));
    let platform = file(&files, "init/setup/platform.sh");
    assert!(platform.contains("names+=(HF_ENDPOINT)\nvalues+=(https://hf-mirror.com)"));
    let deployment = file(&files, "k8s/deployment.yaml");
    assert!(deployment.contains("- name: \"HF_ENDPOINT\"\n              value: \"https://hf-mirror.com\""));
}

#[test]
fn kubernetes_objects_carry_namespace_secret_placement_and_volumes() {
    let files = files();
    let deployment = file(&files, "k8s/deployment.yaml");
    for object in [&deployment, &file(&files, "k8s/service.yaml")] {
        assert!(object.contains("\n  namespace: \"ai-platform\"\n"));
    }
    for expected in [
        "imagePullSecrets:\n        - name: \"harbor-cred\"\n",
        "nodeSelector:\n        \"nvidia.com/gpu.product\": \"NVIDIA-A100-SXM4-80GB\"\n",
        "tolerations:\n        - key: \"nvidia.com/gpu\"\n          operator: \"Exists\"\n          effect: \"NoSchedule\"\n",
        "- name: \"datasets\"\n              mountPath: \"/root/datasets\"\n              readOnly: true\n",
        "- name: \"datasets\"\n          persistentVolumeClaim:\n            claimName: \"datasets\"\n            readOnly: true\n",
    ] {
        assert!(deployment.contains(expected), "no\n{expected}in\n{deployment}");
    }
}

#[test]
fn jupyterlab_may_be_framed_by_the_portal_and_keeps_its_token() {
    let config = file(&files(), "init/jupyter/jupyter_config.py");
    assert!(config.contains(r#"FRAME_ANCESTORS = ["https://portal.example.edu"]"#));
    assert!(config.contains(r#""Content-Security-Policy": "frame-ancestors 'self' " + " ".join(FRAME_ANCESTORS)"#));
    assert!(config.contains("c.ServerApp.allow_origin_pat ="));
    assert!(config.contains("auth.token = token") && !config.contains(r#"auth.token = """#));
    assert!(!config.contains(r#"allow_origin = "*""#));
}

fn dlspec(dir: &camino::Utf8Path, args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_dlspec"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("dlspec runs");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn compile_and_check_use_the_catalogs_templates_and_the_flag_wins() {
    let temp = tempfile::tempdir().unwrap();
    let dir = Utf8PathBuf::try_from(temp.path().to_path_buf()).unwrap();
    std::fs::create_dir_all(dir.join("specs/templates/image")).unwrap();
    std::fs::create_dir_all(dir.join("other/image")).unwrap();
    let spec = "catalog {\n    templates \"templates\"\n}\n\nimage \"pytorch-cpu\" {\n    pytorch \"2.3.0\"\n    python \"3.10\"\n    cpu\n}\n";
    std::fs::write(dir.join("specs/image.kdl"), spec).unwrap();
    let builtin = std::fs::read_to_string(common::root().join("templates/image/README.md.j2")).unwrap();
    std::fs::write(dir.join("specs/templates/image/README.md.j2"), format!("Campus edition.\n{builtin}")).unwrap();
    std::fs::write(dir.join("other/image/README.md.j2"), format!("Other edition.\n{builtin}")).unwrap();
    let readme = dir.join("out/pytorch-cpu/2.3.0-python3.10-cpu-ubuntu22.04/README.md");

    let (code, stderr) = dlspec(&dir, &["compile"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(std::fs::read_to_string(&readme).unwrap().starts_with("Campus edition."));
    let (code, stderr) = dlspec(&dir, &["compile", "--check"]);
    assert_eq!(code, 0, "compile --check passes without a flag: {stderr}");

    let (code, _) = dlspec(&dir, &["compile", "--check", "--templates", "other"]);
    assert_eq!(code, 1, "--templates wins: the README would change");
    let (code, stderr) = dlspec(&dir, &["compile", "--templates", "other"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(std::fs::read_to_string(&readme).unwrap().starts_with("Other edition."));
}
