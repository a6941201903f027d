//! Resolved images: the output of `check` and the whole context of every template.
//!
//! Nothing here is optional by accident: every default has been applied and every value has been
//! validated for the contexts it reaches (shell, YAML, Python, Dockerfile, HCL).

use camino::Utf8PathBuf;
use serde::Serialize;

mod deploy;
mod entry;
mod gpu;
mod service;

pub use self::deploy::*;
pub use self::entry::*;
pub use self::gpu::*;
pub use self::service::*;

/// One fully resolved image, the context of the per-image templates (`image`).
#[derive(Debug, Clone, Serialize)]
pub struct Image {
    /// Repository part of the reference: `pytorch`, `myteam/pytorch`.
    pub name: String,
    /// Tag part of the reference: `2.3.0-python3.8-cuda12.1.0-cudnn8-devel-ubuntu22.04`.
    pub tag: String,
    /// `name:tag`, prefixed by the catalog's `registry/` when it has one: what is built, pushed
    /// and pulled.
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
    /// The spec's pip requirements that build against the installed framework (`pip …
    /// no-build-isolation=#true`): installed last, in their own layer, with `--no-build-isolation`.
    pub pip_no_build_isolation: Vec<String>,
    /// What later pip installs may not move, without a lock: `numpy<2` (Python ≤ 3.12) and the
    /// framework's packages at their versions (see [`Self::constraints`]).
    pub pip_constraints: Vec<String>,
    /// IANA time zone name.
    pub timezone: String,
    /// Locale, split for `localedef`.
    pub locale: Locale,
    /// The non-root user the services and logins run as (`user`); `None`: root, as in the seed
    /// guides.
    pub user: Option<User>,
    /// The home of whoever the services run as: `/root`, or the user's `/home/NAME`.
    pub home: String,
    /// The services it runs, in service order ([`crate::service::SERVICES`]).
    pub services: Vec<Service>,
    /// The keywords of the services switched off, for their templates' fragments that say what
    /// the image does without them.
    pub services_off: Vec<&'static str>,
    /// Package mirrors for the image's users and for the build.
    pub mirrors: Mirrors,
    /// Ports the image exposes, in service order.
    pub ports: Vec<ServicePort>,
    /// How `docker-run.sh` starts the image.
    pub docker_run: DockerRun,
    /// The Kubernetes Deployment and Service.
    pub kubernetes: Kubernetes,
    /// What `init/bin/selftest` expects of the running image.
    pub selftest: SelfTest,
    /// `env NAME VALUE` of the spec, for every process of the image (names are never the platform's).
    pub env: Vec<EnvVar>,
    /// `env NAME secret=` of the spec: values that only the running container gets, from a
    /// Kubernetes Secret or docker-run.sh's caller; never part of the image.
    pub secret_env: Vec<SecretEnvVar>,
    /// The image's `dlspec lock`, when it has a current one: each pip layer installs from it.
    pub lock: Option<ImageLock>,
    /// What a GPU node must have to run it: its driver and GPU; `None` on CPU images.
    pub gpu_needs: Option<GpuNeeds>,
    /// The catalog's node pools it runs on, each with its Deployment and self-test Job
    /// (`k8s/<pool>/`); empty when the catalog declares none (the Deployment is `k8s/`'s).
    pub pools: Vec<PoolRun>,
    /// Whether it runs on each of the catalog's node pools, and why not.
    pub pool_verdicts: Vec<PoolVerdict>,
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
    pub layers: Vec<LockedLayer>,
    /// The base image by digest, keeping the tag for people: `ubuntu:22.04@sha256:…`.
    pub base_digest: Option<String>,
}

/// One pip layer of a locked image.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LockedLayer {
    /// `platform`, `framework`, `extras`.
    pub name: String,
    /// File name in the image's `pip/` directory: `platform.lock.txt`.
    pub file: String,
    /// The file's text: its packages, pinned, with their hashes.
    #[serde(skip)]
    pub text: String,
    /// Its packages as `name==version`, in the order of the text.
    #[serde(skip)]
    pub pins: Vec<String>,
}

/// An environment variable of the spec.
#[derive(Debug, Clone, Serialize)]
pub struct EnvVar {
    /// `[A-Za-z_][A-Za-z0-9_]*`.
    pub name: String,
    /// Any text without control characters.
    pub value: String,
}

/// An environment variable of the spec whose value comes at run time from a Kubernetes Secret
/// (or, with docker-run.sh, from the caller's environment).
#[derive(Debug, Clone, Serialize)]
pub struct SecretEnvVar {
    /// `[A-Za-z_][A-Za-z0-9_]*`.
    pub name: String,
    /// The Secret's name, a DNS-1123 subdomain.
    pub secret: String,
    /// Its key: letters, digits, `-`, `_` and `.`.
    pub key: String,
}

/// Settings of the whole catalog (`catalog`), defaults applied.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Catalog {
    /// Push prefix of every image reference: `harbor.example.edu:5000/ai`.
    pub registry: Option<String>,
    /// Where `cuda` and `cpu` bases are pulled from: `harbor.example.edu:5000/proxy`.
    pub base_registry: Option<String>,
    /// Templates directory relative to the specs directory, as written.
    pub templates: Option<String>,
}

/// The `docker buildx bake` group of every image of one name: the name with `/`, `.` and `_` as `-`.
#[must_use]
pub fn bake_group(name: &str) -> String {
    name.replace(['/', '.', '_'], "-")
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
            labels.push(Label::new("dlspec.dev/framework", framework.kind));
            labels.push(Label::new("dlspec.dev/framework-version", &framework.version));
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

/// Which of the optional per-image files an image has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shape {
    /// Some service listens: `k8s/service.yaml`.
    pub ports: bool,
    /// It pins what later pip installs may not move: `pip/constraints.txt`.
    pub constraints: bool,
    /// It runs on node pools: a Deployment and a self-test Job in `k8s/<pool>/` for each,
    /// none in `k8s/`.
    pub pools: bool,
    /// The services' files it has: bit `i` for file `i` of [`crate::service::files`].
    pub service_files: u64,
}

impl Image {
    /// The labels of its objects on a node pool: [`Self::kubernetes_labels`] and the pool's name.
    #[must_use]
    pub fn pool_labels(&self, pool: &str) -> Vec<Label> {
        let mut labels = self.kubernetes_labels();
        labels.push(Label::new("dlspec.dev/node-pool", pool));
        labels
    }

    /// The lines of the image's pip constraints file (`pip/constraints.txt`, installed as
    /// `/etc/dlspec/pip-constraints.txt` and named by `PIP_CONSTRAINT`): every pin of its lock
    /// when it has one, else [`Self::pip_constraints`].
    #[must_use]
    pub fn constraints(&self) -> Vec<String> {
        match &self.lock {
            Some(lock) => lock.layers.iter().flat_map(|layer| layer.pins.iter().cloned()).collect(),
            None => self.pip_constraints.clone(),
        }
    }

    /// Which optional files the image has.
    #[must_use]
    pub fn shape(&self) -> Shape {
        Shape {
            ports: !self.ports.is_empty(),
            constraints: self.lock.is_some() || !self.pip_constraints.is_empty(),
            pools: !self.pools.is_empty(),
            service_files: self.services.iter().flat_map(|s| &s.files).fold(0, |bits, file| bits | 1 << file.index),
        }
    }
}

/// The image the Dockerfile starts `FROM`.
#[derive(Debug, Clone, Serialize)]
pub struct Base {
    /// The reference the build pulls: `nvidia/cuda:12.1.0-cudnn8-devel-ubuntu22.04`, `ubuntu:22.04`,
    /// or the same through the catalog's `base-registry`.
    pub image: String,
    /// The reference as its publisher names it (the checked one, kept in labels).
    pub upstream: String,
    /// `cuda`, `cpu` or `custom`.
    pub kind: BaseKind,
    /// Whether the image is meant for NVIDIA GPUs (`--gpus all`, `nvidia.com/gpu`).
    pub gpu: bool,
    /// CUDA version of a `cuda` base: `12.1.0`.
    pub cuda: Option<String>,
    /// cuDNN major version of a `cuda` base: `8`.
    pub cudnn: Option<String>,
    /// Full cuDNN version inside the base tag as NVIDIA builds it today: `8.9.0.131`; none when
    /// the base has no cuDNN or the tables do not know the tag.
    pub cudnn_version: Option<String>,
    /// NCCL version inside the base tag: `2.17.1`; none when it has none or the tables do not know.
    pub nccl_version: Option<String>,
    /// nvidia/cuda flavor: `devel`, `runtime`, `base`.
    pub flavor: Option<String>,
    /// Whether it has CUDA's compiler, `nvcc` (the `devel` flavor).
    pub nvcc: bool,
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

/// Python, brought by a Miniconda or Miniforge installer into `/root/miniconda3`.
#[derive(Debug, Clone, Serialize)]
pub struct Python {
    /// `major.minor`: `3.8`.
    pub version: String,
    /// The distribution, for people: `Miniconda`, `Miniforge`.
    pub distribution: &'static str,
    /// Installer file name: `Miniconda3-py38_23.5.2-0-Linux-x86_64.sh`.
    pub installer: String,
    /// Download URL of the installer.
    pub installer_url: String,
    /// sha256 of the installer, when the tables know it.
    pub installer_sha256: Option<String>,
    /// Accept Anaconda's Terms of Service for the default channels at build time.
    pub accept_tos: bool,
    /// The build installs the image's Python over the installer's own (a Miniforge installer
    /// brings one Python); `None` when the installer's Python is the image's.
    pub reinstall: Option<Reinstall>,
    /// The channels of `.condarc` for the image's users (`mirrors conda=`); empty: the
    /// installer's own.
    pub channels: Vec<String>,
    /// Where the distribution is installed (the same for both, so paths do not depend on it).
    pub prefix: String,
    /// Pin `numpy<2` (Python ≤ 3.12, as the seed guides do for TensorBoard).
    pub numpy_below_2: bool,
}

/// The image's Python installed over the installer's own, in the base environment.
#[derive(Debug, Clone, Serialize)]
pub struct Reinstall {
    /// The installer's own Python, when the tables know it: `3.12`.
    pub installer_python: Option<String>,
    /// The channel the build installs the Python from: `conda-forge`, or its mirror.
    pub channel: String,
}

/// The framework of an image, as its module in [`crate::framework`] decided: everything the
/// templates say about it, without knowing which framework it is.
#[derive(Debug, Clone, Serialize)]
pub struct Framework {
    /// The node's keyword: `pytorch`.
    pub kind: &'static str,
    /// For people: `PyTorch`.
    pub title: &'static str,
    /// `2.3.0`.
    pub version: String,
    /// The image README's line on it (Markdown): `PyTorch 2.3.0, torchvision 0.18.0 … from …`.
    pub summary: String,
    /// How the Dockerfile installs it.
    pub install: Install,
    /// Commands that show it working, for the image README.
    pub commands: Vec<String>,
    /// The self-test's `class Probe` (Python), from the framework's module.
    pub probe: &'static str,
    /// The GPU build it installs, on a GPU base; `None` for a CPU build or an unknown one (an
    /// index URL that names no variant).
    pub gpu_build: Option<GpuBuild>,
    /// What the self-test expects of it.
    #[serde(skip)]
    pub expect: FrameworkProbe,
    /// Where the cuDNN it loads comes from.
    #[serde(skip)]
    pub cudnn: CudnnSource,
}

/// The GPU build a framework installs: what the checks against a node pool read of it.
#[derive(Debug, Clone, Serialize)]
pub struct GpuBuild {
    /// The build as `gpu_arch.tsv` names it: `cu124` (torch, PaddlePaddle), `cuda12` (JAX), `*`
    /// (TensorFlow, one GPU build a release).
    pub variant: String,
    /// The CUDA it was built with, `major.minor` (the major alone where only that is known).
    pub cuda: String,
    /// Whether its CUDA libraries come from pip wheels (else from the base).
    pub from_pip: bool,
}

/// The pip install of a framework.
#[derive(Debug, Clone, Serialize)]
pub struct Install {
    /// The Dockerfile comment above the layer: `PyTorch 2.3.0 (cu121 wheels).`
    pub comment: String,
    /// The pip requirements: `torch==2.3.0`, `torchvision==0.18.0`.
    pub requirements: Vec<String>,
    /// The framework's own wheel index, which replaces the build's PyPI (mirror):
    /// `https://download.pytorch.org/whl/cu121`.
    pub index_url: Option<String>,
    /// A page of wheel links pip also searches (`--find-links`): PaddlePaddle's builds for
    /// other CUDA versions.
    pub find_links: Option<String>,
    /// Host of `index_url` when it is plain http, which pip ignores unless it is trusted
    /// (`--trusted-host`).
    pub trusted_host: Option<String>,
}

/// Where a framework's cuDNN comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CudnnSource {
    /// The base image's.
    Base,
    /// Its own pip packages; the full version when the tables know it exactly.
    Pip(Option<String>),
}

/// What `init/bin/selftest` checks: the values the image's `dev.dlspec.*` labels declare.
#[derive(Debug, Clone, Serialize)]
pub struct SelfTest {
    /// The framework's probe, none on platform images.
    pub framework: Option<FrameworkProbe>,
    /// Built for NVIDIA GPUs: the GPU checks run on the GPU when one is visible.
    pub gpu: bool,
    /// CUDA of the base image: `12.1.0`.
    pub cuda: Option<String>,
    /// cuDNN major version the framework loads (torch's own, `[and-cuda]`'s, or the base's): `8`.
    pub cudnn: Option<String>,
    /// Name of the Kubernetes Job that runs the self-test (`k8s/selftest-job.yaml`), and the
    /// instance label of its pod: not the Deployment's, so that no Service sends it traffic.
    pub job_name: String,
    /// What the node's driver and GPU must be: the self-test's driver and architecture checks.
    pub needs: Option<GpuNeeds>,
}

/// What the self-test expects of the framework: what it imports and what it must report.
#[derive(Debug, Clone, Serialize)]
pub struct FrameworkProbe {
    /// The probe: `pytorch`, `tensorflow`.
    pub kind: &'static str,
    /// The Python module: `torch`, `tensorflow`.
    pub import_name: &'static str,
    /// The version `import_name.__version__` reports (a local part such as `+cu121` aside).
    pub version: String,
    /// CUDA major.minor the framework's build targets on a GPU image: `12.1` for `cu121` wheels.
    pub cuda: Option<String>,
    /// The oldest cuDNN major.minor the framework loads (TensorFlow's tested build): `8.9`.
    pub min_cudnn: Option<String>,
    /// The framework ships NCCL on GPU images (torch's CUDA wheels).
    pub nccl: bool,
}

impl SelfTest {
    /// The self-test of an image on `base` with `framework`, run in Kubernetes as `job_name`.
    #[must_use]
    pub fn new(base: &Base, framework: Option<&Framework>, job_name: String, needs: Option<GpuNeeds>) -> Self {
        let cudnn = match framework.map(|f| &f.cudnn) {
            Some(CudnnSource::Pip(version)) => version.as_deref().and_then(|v| v.split('.').next()).map(str::to_owned),
            Some(CudnnSource::Base) | None => base.cudnn.clone(),
        };
        let framework = framework.map(|f| f.expect.clone());
        Self { framework, gpu: base.gpu, cuda: base.cuda.clone(), cudnn, job_name, needs }
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

/// Mirrors written into the image for its users, and used during the build.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Mirrors {
    /// pip index URL for the image's users (`/etc/pip.conf`).
    pub pip: Option<String>,
    /// Host of `pip`, for `trusted-host` when the mirror is plain http.
    pub pip_trusted_host: Option<String>,
    /// conda channel mirror base for the image's users (`.condarc`).
    pub conda: Option<String>,
    /// pip index URL used while building.
    pub build_pip: Option<String>,
    /// Host of `build_pip`, for `PIP_TRUSTED_HOST` when the index is plain http.
    pub build_pip_trusted_host: Option<String>,
    /// Debian/Ubuntu archive mirror, written into the apt sources before the first update.
    pub apt: Option<String>,
    /// PyTorch's wheel indexes, `{variant}` standing for the wheel variant (`cu124`, `cpu`).
    pub pytorch: Option<String>,
    /// PaddlePaddle's per-build indexes, `{build}` standing for the build (`cu126`, `cpu`).
    pub paddle: Option<String>,
    /// NVIDIA's CUDA apt repository (`…/compute/cuda/repos`), written into the apt sources of a
    /// base that lists it, before the first update.
    pub cuda_apt: Option<String>,
}

/// The non-root user of an image (`user NAME uid= gid=`).
#[derive(Debug, Clone, Serialize)]
pub struct User {
    /// A Linux user name: `researcher`.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// The gid of its primary group.
    pub gid: u32,
    /// Its home: `/home/researcher`.
    pub home: String,
    /// The directory of the platform's run-time files that the user writes (supervisord's socket
    /// and pid file, sshd's host keys, the values of Secrets): `/run/dlspec`.
    pub run_dir: String,
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
    let hash = crate::values::short_hash(text);
    format!("{}-{hash}", trimmed[..54].trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
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
