//! Resolved images: the output of `check` and the whole context of every template.
//!
//! Nothing here is optional by accident: every default has been applied and every value has been
//! validated for the contexts it reaches (shell, YAML, Python, Dockerfile, HCL).

use camino::Utf8PathBuf;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// One fully resolved image, the context of the per-image templates (`image`).
#[derive(Debug, Clone, Serialize)]
pub struct Image {
    /// Repository part of the reference: `pytorch`, `myteam/pytorch`.
    pub name: String,
    /// Tag part of the reference: `2.3.0-python3.8-cuda12.1.0-cudnn8-devel-ubuntu22.04`.
    pub tag: String,
    /// `name:tag`.
    pub reference: String,
    /// Output directory relative to `out/`: `name/tag`.
    pub dir: Utf8PathBuf,
    /// The spec file it came from, relative to the specs directory (`pytorch.kdl`).
    pub spec: String,
    /// A DNS-1123 label (at most 63 characters) naming the image's Kubernetes objects and bake target.
    pub slug: String,
    /// The base image and what it provides.
    pub base: Base,
    /// Python and the installer that brings it.
    pub python: Python,
    /// The deep-learning framework, if any.
    pub framework: Option<Framework>,
    /// Debian packages: the platform's set followed by the spec's extras, without duplicates.
    pub apt: Vec<String>,
    /// pip requirements of the platform layer (JupyterLab, TensorBoard, their helpers).
    pub platform_pip: Vec<String>,
    /// The spec's extra pip requirements, installed after the framework.
    pub extra_pip: Vec<String>,
    /// IANA time zone name.
    pub timezone: String,
    /// Locale, split for `localedef`.
    pub locale: Locale,
    /// The SSH service, when enabled.
    pub ssh: Option<Ssh>,
    /// JupyterLab, when enabled.
    pub jupyter: Option<Jupyter>,
    /// TensorBoard, when enabled.
    pub tensorboard: Option<TensorBoard>,
    /// Package mirrors for the image's users and for the build.
    pub mirrors: Mirrors,
    /// Ports the image exposes, in service order (ssh, jupyter, tensorboard).
    pub ports: Vec<ServicePort>,
    /// How `docker-run.sh` starts the image.
    pub docker_run: DockerRun,
    /// The Kubernetes Deployment and Service.
    pub kubernetes: Kubernetes,
    /// The image's `dlspec lock`, when it has a current one: each pip layer installs from it.
    pub lock: Option<ImageLock>,
    /// Where the spec asked for the Python set, for diagnostics found after `check` (`dlspec lock`).
    #[serde(skip)]
    pub origin: Origin,
}

/// The spec lines an image's Python set comes from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The `python` node.
    pub python: Option<crate::source::Span>,
    /// The framework node.
    pub framework: Option<crate::source::Span>,
    /// Each extra pip requirement.
    pub extra_pip: Vec<crate::source::Span>,
}

/// What `compile` takes from an image's lock (see [`crate::lock`]).
#[derive(Debug, Clone, Serialize)]
pub struct ImageLock {
    /// The lock file, relative to the specs directory's parent: `specs/.dlspec-lock/pytorch/….txt`.
    pub file: String,
    /// The pip layers, in install order; each package is in exactly one.
    pub layers: Vec<crate::lock::LockedLayer>,
    /// The base image by digest, keeping the tag for people: `ubuntu:22.04@sha256:…`.
    pub base_digest: Option<String>,
}

impl Image {
    /// The labels of the image's Kubernetes objects: what the image is and its versions, each
    /// value cut to what Kubernetes accepts (63 characters of `A-Z a-z 0-9 - _ .`).
    #[must_use]
    pub fn kubernetes_labels(&self) -> Vec<Label> {
        let mut labels = vec![
            Label::new("app.kubernetes.io/name", &self.name),
            Label::new("app.kubernetes.io/instance", &self.slug),
            Label::new("app.kubernetes.io/version", &self.tag),
            Label::new("app.kubernetes.io/managed-by", "dlspec"),
        ];
        if let Some(framework) = &self.framework {
            labels.push(Label::new("dlspec.dev/framework", framework.name()));
            labels.push(Label::new("dlspec.dev/framework-version", framework.version()));
        }
        labels.push(Label::new("dlspec.dev/python", &self.python.version));
        if let Some(cuda) = &self.base.cuda {
            labels.push(Label::new("dlspec.dev/cuda", cuda));
        }
        if let Some(cudnn) = &self.base.cudnn {
            labels.push(Label::new("dlspec.dev/cudnn", cudnn));
        }
        labels
    }
}

/// A Kubernetes label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    /// `app.kubernetes.io/version`.
    pub key: &'static str,
    /// A valid label value.
    pub value: String,
}

impl Label {
    fn new(key: &'static str, text: &str) -> Self {
        Self { key, value: label_value(text) }
    }
}

/// `text` as a label value: other characters become `-`, and the value begins and ends with a
/// letter or digit. A value longer than 63 characters is cut and ends in 8 hex digits of a hash
/// of `text`, so that different long values stay different.
fn label_value(text: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let cleaned: String = text.chars().map(|c| if allowed(c) { c } else { '-' }).collect();
    let trimmed = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.len() <= 63 {
        return trimmed.to_owned();
    }
    let hash: String = Sha256::digest(text.as_bytes()).iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hash}", trimmed[..54].trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
}

/// The image the Dockerfile starts `FROM`.
#[derive(Debug, Clone, Serialize)]
pub struct Base {
    /// Full image reference: `nvidia/cuda:12.1.0-cudnn8-devel-ubuntu22.04`, `ubuntu:22.04`.
    pub image: String,
    /// `cuda`, `cpu` or `custom`.
    pub kind: BaseKind,
    /// Whether the image is meant for NVIDIA GPUs (`--gpus all`, `nvidia.com/gpu`).
    pub gpu: bool,
    /// CUDA version of a `cuda` base: `12.1.0`.
    pub cuda: Option<String>,
    /// cuDNN major version of a `cuda` base: `8`.
    pub cudnn: Option<String>,
    /// nvidia/cuda flavor: `devel`, `runtime`, `base`.
    pub flavor: Option<String>,
    /// Operating system release: `ubuntu22.04`.
    pub os: Option<String>,
}

/// What kind of base an image builds on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BaseKind {
    /// `nvidia/cuda:…`.
    Cuda,
    /// `ubuntu:…`.
    Cpu,
    /// Any image named by `base`.
    Custom,
}

/// Python, brought by a Miniconda installer into `/root/miniconda3`.
#[derive(Debug, Clone, Serialize)]
pub struct Python {
    /// `major.minor`: `3.8`.
    pub version: String,
    /// Installer file name: `Miniconda3-py38_23.5.2-0-Linux-x86_64.sh`.
    pub installer: String,
    /// Download URL of the installer.
    pub installer_url: String,
    /// sha256 of the installer, when the tables know it.
    pub installer_sha256: Option<String>,
    /// Accept Anaconda's Terms of Service for the default channels at build time.
    pub accept_tos: bool,
    /// Where Miniconda is installed.
    pub prefix: String,
    /// Pin `numpy<2` (Python ≤ 3.12, as the seed guides do for TensorBoard).
    pub numpy_below_2: bool,
}

/// The framework of an image.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Framework {
    /// torch, torchvision, torchaudio from a wheel index.
    Pytorch(Pytorch),
    /// TensorFlow from PyPI.
    Tensorflow(Tensorflow),
}

/// PyTorch with its companions.
#[derive(Debug, Clone, Serialize)]
pub struct Pytorch {
    /// `2.3.0`.
    pub version: String,
    /// `0.18.0`.
    pub torchvision: String,
    /// `2.3.0`, or none when the spec leaves torchaudio out.
    pub torchaudio: Option<String>,
    /// Wheel variant: `cu121`, `cpu`; none when `index` is a mirror URL.
    pub variant: Option<String>,
    /// The index pip installs from: `https://download.pytorch.org/whl/cu121`.
    pub index_url: String,
    /// The pip requirements: `torch==2.3.0`, `torchvision==0.18.0`, `torchaudio==2.3.0`.
    pub requirements: Vec<String>,
}

/// TensorFlow.
#[derive(Debug, Clone, Serialize)]
pub struct Tensorflow {
    /// `2.15.0`.
    pub version: String,
    /// The pip package: `tensorflow`, `tensorflow-gpu`, `tensorflow[and-cuda]`.
    pub package: String,
    /// The pip requirement: `tensorflow==2.15.0`.
    pub requirement: String,
    /// CUDA major.minor TensorFlow was tested with: `12.2`.
    pub tested_cuda: String,
    /// cuDNN major.minor TensorFlow was tested with: `8.9`.
    pub tested_cudnn: String,
}

impl Framework {
    /// `pytorch` or `tensorflow`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pytorch(_) => "pytorch",
            Self::Tensorflow(_) => "tensorflow",
        }
    }

    /// The framework's version.
    #[must_use]
    pub fn version(&self) -> &str {
        match self {
            Self::Pytorch(p) => &p.version,
            Self::Tensorflow(t) => &t.version,
        }
    }
}

/// A locale such as `zh_CN.UTF-8`.
#[derive(Debug, Clone, Serialize)]
pub struct Locale {
    /// `zh_CN.UTF-8`.
    pub name: String,
    /// The `localedef -i` input: `zh_CN`.
    pub input: String,
    /// The `localedef -f` charmap: `UTF-8`.
    pub charmap: String,
}

/// The SSH service.
#[derive(Debug, Clone, Serialize)]
pub struct Ssh {
    /// Port sshd listens on in the container.
    pub port: u16,
    /// File read at boot for the root password.
    pub password_file: String,
    /// Show the login banner.
    pub motd: bool,
    /// A literal root password from the spec (warned about); passed by docker-run.sh and a Secret.
    pub password: Option<String>,
}

/// JupyterLab.
#[derive(Debug, Clone, Serialize)]
pub struct Jupyter {
    /// Port in the container.
    pub port: u16,
    /// `/jupyter/`, always with leading and trailing slash.
    pub base_url: String,
    /// `/root`.
    pub root_dir: String,
    /// UI language as JupyterLab names it: `zh_CN`; none for English.
    pub locale: Option<String>,
    /// The language pack pip package: `jupyterlab-language-pack-zh-CN`.
    pub language_pack: Option<String>,
    /// File read at start for the access token.
    pub token_file: String,
    /// The seed guides' open, embeddable setup: no token, any origin, any frame ancestor.
    pub open: bool,
    /// Terminal theme written to the user settings: `dark`.
    pub terminal_theme: String,
}

/// TensorBoard.
#[derive(Debug, Clone, Serialize)]
pub struct TensorBoard {
    /// Port in the container.
    pub port: u16,
    /// `/monitor`, leading slash, no trailing slash.
    pub path_prefix: String,
    /// `/root/tensorboard-logs`.
    pub logdir: String,
    /// Address TensorBoard binds: `0.0.0.0`.
    pub bind: String,
}

/// Mirrors written into the image for its users, and used during the build.
#[derive(Debug, Clone, Serialize)]
pub struct Mirrors {
    /// pip index URL for the image's users (`/etc/pip.conf`).
    pub pip: Option<String>,
    /// Host of `pip`, for `trusted-host` when the mirror is plain http.
    pub pip_trusted_host: Option<String>,
    /// conda channel mirror base for the image's users (`.condarc`).
    pub conda: Option<String>,
    /// pip index URL used while building.
    pub build_pip: Option<String>,
}

/// One service port.
#[derive(Debug, Clone, Serialize)]
pub struct ServicePort {
    /// `ssh`, `jupyterlab`, `tensorboard`.
    pub name: String,
    /// Port in the container.
    pub port: u16,
}

/// How `docker-run.sh` starts the container.
#[derive(Debug, Clone, Serialize)]
pub struct DockerRun {
    /// `--name`.
    pub container_name: String,
    /// `--restart`.
    pub restart: String,
    /// `--gpus all --ipc=host`.
    pub gpu: bool,
    /// Published ports, in service order.
    pub ports: Vec<PublishedPort>,
}

/// A `-p HOST:CONTAINER` mapping.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedPort {
    /// Service name.
    pub name: String,
    /// Port on the host.
    pub host: u16,
    /// Port in the container.
    pub container: u16,
}

/// The Kubernetes objects of an image.
#[derive(Debug, Clone, Serialize)]
pub struct Kubernetes {
    /// Deployment replicas.
    pub replicas: u32,
    /// Resource requests.
    pub requests: Resources,
    /// Resource limits.
    pub limits: Resources,
    /// `nvidia.com/gpu` limit; zero on CPU images.
    pub gpus: u32,
    /// `NodePort` or `ClusterIP`.
    pub service_type: String,
    /// Service ports, with their NodePorts where the spec fixes them.
    pub ports: Vec<KubernetesPort>,
    /// Name of the Secret that holds the root password (key `root-passwd`).
    pub password_secret: String,
    /// Size limit of the memory-backed `/dev/shm`.
    pub shm_size: String,
}

/// CPU and memory quantities.
#[derive(Debug, Clone, Serialize)]
pub struct Resources {
    /// `2`, `100m`.
    pub cpu: String,
    /// `4Gi`, `512Mi`.
    pub memory: String,
}

/// A Service port.
#[derive(Debug, Clone, Serialize)]
pub struct KubernetesPort {
    /// Service name.
    pub name: String,
    /// Port in the container.
    pub port: u16,
    /// NodePort, when fixed by the spec.
    pub node_port: Option<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values() {
        assert_eq!(label_value("2.3.0-python3.8-cuda12.1.0"), "2.3.0-python3.8-cuda12.1.0");
        assert_eq!(label_value("myteam/pytorch"), "myteam-pytorch");
        assert_eq!(label_value("_tag-"), "tag");
        let long = "pytorch-2.3.0_python3.12_cuda12.1.1_cudnn8_runtime_ubuntu22.04_built-for-the-long-label-test";
        let cut = label_value(long);
        assert_eq!(cut.len(), 63);
        assert!(cut.starts_with("pytorch-2.3.0_python3.12_cuda12.1.1_cudnn8_runtime_ubu-"), "{cut}");
        assert_ne!(cut, label_value(&long.replace("test", "tests")));
    }
}
