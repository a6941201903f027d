//! The spanned surface model of a spec: what the user wrote, every value with its place.
//!
//! A `Part` is one layer of settings (a profile or an image's own children); every field is optional
//! so that layers can be merged: later layers win field by field, lists accumulate.

use crate::framework::Rules;
use crate::source::Span;

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Its place in the spec.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Pairs a value with its span.
    pub fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }
}

/// `image` or `profile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclKind {
    /// `image NAME { … }`.
    Image,
    /// `profile NAME { … }`.
    Profile,
}

impl DeclKind {
    /// The keyword.
    #[must_use]
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Profile => "profile",
        }
    }
}

/// A top-level declaration.
#[derive(Debug, Clone)]
pub struct Decl {
    /// Image or profile.
    pub kind: DeclKind,
    /// Its name.
    pub name: Spanned<String>,
    /// Its settings.
    pub body: Part,
}

/// One layer of settings.
#[derive(Debug, Clone, Default)]
pub struct Part {
    /// `use "PROFILE"…`, in order.
    pub uses: Vec<Spanned<String>>,
    /// The framework slot.
    pub framework: Option<Box<FrameworkPart>>,
    /// `python`.
    pub python: Option<Box<PythonPart>>,
    /// The base slot: `cuda`, `cpu` or `base`.
    pub base: Option<Box<BasePart>>,
    /// `apt` packages, accumulated.
    pub apt: Vec<Spanned<String>>,
    /// `pip` requirements, accumulated.
    pub pip: Vec<Spanned<String>>,
    /// `timezone`.
    pub timezone: Option<Spanned<String>>,
    /// `locale`.
    pub locale: Option<Spanned<String>>,
    /// `ssh`.
    pub ssh: Option<Box<SshPart>>,
    /// `jupyter`.
    pub jupyter: Option<Box<JupyterPart>>,
    /// `tensorboard`.
    pub tensorboard: Option<Box<TensorBoardPart>>,
    /// `mirrors`.
    pub mirrors: Option<Box<MirrorsPart>>,
    /// `tag`.
    pub tag: Option<Spanned<String>>,
    /// `docker-run`.
    pub docker_run: Option<Box<DockerRunPart>>,
    /// `kubernetes`.
    pub kubernetes: Option<Box<KubernetesPart>>,
    /// `matrix`.
    pub matrix: Option<Box<Matrix>>,
    /// `env NAME VALUE`, accumulated; a later layer's value of a name replaces an earlier one.
    pub env: Vec<EnvPart>,
}

/// `env NAME VALUE`.
#[derive(Debug, Clone)]
pub struct EnvPart {
    /// The variable's name.
    pub name: Spanned<String>,
    /// Its value.
    pub value: Spanned<String>,
}

/// `catalog { registry …; base-registry …; templates …; node-ports LOW HIGH }`: settings of the
/// whole catalog, written at most once across all spec files.
#[derive(Debug, Clone)]
pub struct CatalogPart {
    /// The node name.
    pub node: Span,
    /// Push prefix of every image reference: `harbor.example.edu:5000/ai`.
    pub registry: Option<Spanned<String>>,
    /// Where the bases of `cuda` and `cpu` are pulled from (a pull-through cache).
    pub base_registry: Option<Spanned<String>>,
    /// Templates directory, relative to the specs directory.
    pub templates: Option<Spanned<String>>,
    /// The cluster's NodePort range.
    pub node_ports: Option<(Spanned<i128>, Spanned<i128>)>,
}

/// A framework node (`pytorch`, `tensorflow`, … see [`crate::framework`]).
#[derive(Debug, Clone)]
pub struct FrameworkPart {
    /// The framework.
    pub rules: &'static dyn Rules,
    /// The node name.
    pub node: Span,
    /// Its version.
    pub version: Option<Spanned<String>>,
    /// The properties as written, in order; `None` is `#null` (leave it out).
    pub properties: Vec<(&'static str, Spanned<Option<String>>)>,
}

impl FrameworkPart {
    /// A framework node with a version only (a matrix axis value).
    #[must_use]
    pub fn new(rules: &'static dyn Rules, node: Span) -> Self {
        Self { rules, node, version: None, properties: Vec::new() }
    }

    /// The node name.
    #[must_use]
    pub fn keyword(&self) -> &'static str {
        self.rules.keyword()
    }

    /// The span of the node name.
    #[must_use]
    pub fn node_span(&self) -> Span {
        self.node
    }

    /// The property `name`, when written (`#null` as `None`).
    #[must_use]
    pub fn property(&self, name: &str) -> Option<&Spanned<Option<String>>> {
        self.properties.iter().find(|(n, _)| *n == name).map(|(_, value)| value)
    }

    /// The property `name`, when written as a string.
    #[must_use]
    pub fn string(&self, name: &str) -> Option<Spanned<String>> {
        let value = self.property(name)?;
        Some(Spanned::new(value.value.clone()?, value.span))
    }
}

/// `python VERSION miniconda= sha256= accept-tos=`.
#[derive(Debug, Clone)]
pub struct PythonPart {
    /// The node name.
    pub node: Span,
    /// `3.10`.
    pub version: Option<Spanned<String>>,
    /// Installer file name.
    pub miniconda: Option<Spanned<String>>,
    /// Installer sha256.
    pub sha256: Option<Spanned<String>>,
    /// Accept Anaconda's terms for the default channels.
    pub accept_tos: Option<Spanned<bool>>,
}

/// The base slot.
#[derive(Debug, Clone)]
pub enum BasePart {
    /// `cuda VERSION cudnn= flavor= os=`.
    Cuda(CudaPart),
    /// `cpu os=`.
    Cpu(CpuPart),
    /// `base IMAGE gpu=`.
    Custom(CustomBasePart),
}

impl BasePart {
    /// The span of the node name.
    #[must_use]
    pub fn node_span(&self) -> Span {
        match self {
            Self::Cuda(c) => c.node,
            Self::Cpu(c) => c.node,
            Self::Custom(c) => c.node,
        }
    }
}

/// `cuda VERSION cudnn= flavor= os=`.
#[derive(Debug, Clone)]
pub struct CudaPart {
    /// The node name.
    pub node: Span,
    /// `12.1.0`.
    pub version: Option<Spanned<String>>,
    /// `8`.
    pub cudnn: Option<Spanned<String>>,
    /// `devel`.
    pub flavor: Option<Spanned<String>>,
    /// `ubuntu22.04`.
    pub os: Option<Spanned<String>>,
}

/// `cpu os=`.
#[derive(Debug, Clone)]
pub struct CpuPart {
    /// The node name.
    pub node: Span,
    /// `ubuntu22.04`.
    pub os: Option<Spanned<String>>,
}

/// `base IMAGE gpu=`.
#[derive(Debug, Clone)]
pub struct CustomBasePart {
    /// The node name.
    pub node: Span,
    /// Image reference.
    pub image: Spanned<String>,
    /// Whether it is a GPU image.
    pub gpu: Option<Spanned<bool>>,
}

/// `ssh [#false] port= password-file= motd= password=`.
#[derive(Debug, Clone)]
pub struct SshPart {
    /// The node name.
    pub node: Span,
    /// `#false` switches the service off, `#true` back on.
    pub enabled: Option<Spanned<bool>>,
    /// Port in the container.
    pub port: Option<Spanned<u16>>,
    /// Password file read at boot.
    pub password_file: Option<Spanned<String>>,
    /// Login banner.
    pub motd: Option<Spanned<bool>>,
    /// A literal root password (warned about).
    pub password: Option<Spanned<String>>,
    /// Directory where boot.sh keeps the host keys.
    pub host_keys: Option<Spanned<String>>,
}

/// `jupyter [#false] port= base-url= root-dir= language= token-file= open= terminal-theme=`.
#[derive(Debug, Clone)]
pub struct JupyterPart {
    /// The node name.
    pub node: Span,
    /// On or off.
    pub enabled: Option<Spanned<bool>>,
    /// Port.
    pub port: Option<Spanned<u16>>,
    /// Base URL.
    pub base_url: Option<Spanned<String>>,
    /// Root directory.
    pub root_dir: Option<Spanned<String>>,
    /// UI language, `zh-CN`.
    pub language: Option<Spanned<String>>,
    /// Token file.
    pub token_file: Option<Spanned<String>>,
    /// The guides' open, embeddable setup.
    pub open: Option<Spanned<bool>>,
    /// Terminal theme.
    pub terminal_theme: Option<Spanned<String>>,
    /// Origins allowed to frame JupyterLab.
    pub frame_ancestors: Option<Spanned<String>>,
}

/// `tensorboard [#false] port= path-prefix= logdir= bind=`.
#[derive(Debug, Clone)]
pub struct TensorBoardPart {
    /// The node name.
    pub node: Span,
    /// On or off.
    pub enabled: Option<Spanned<bool>>,
    /// Port.
    pub port: Option<Spanned<u16>>,
    /// Path prefix.
    pub path_prefix: Option<Spanned<String>>,
    /// Log directory.
    pub logdir: Option<Spanned<String>>,
    /// Bind address.
    pub bind: Option<Spanned<String>>,
}

/// `mirrors pip= conda= build-pip= miniconda= apt=`.
#[derive(Debug, Clone, Default)]
pub struct MirrorsPart {
    /// Debian/Ubuntu archive mirror for the build and the image's users.
    pub apt: Option<Spanned<String>>,
    /// pip index for the image's users.
    pub pip: Option<Spanned<String>>,
    /// conda mirror base for the image's users.
    pub conda: Option<Spanned<String>>,
    /// pip index used while building.
    pub build_pip: Option<Spanned<String>>,
    /// Where the Miniconda installer is downloaded from.
    pub miniconda: Option<Spanned<String>>,
}

/// `docker-run name= restart= ssh= jupyter= tensorboard=`.
#[derive(Debug, Clone, Default)]
pub struct DockerRunPart {
    /// Container name.
    pub name: Option<Spanned<String>>,
    /// Restart policy.
    pub restart: Option<Spanned<String>>,
    /// Host port of ssh.
    pub ssh: Option<Spanned<u16>>,
    /// Host port of JupyterLab.
    pub jupyter: Option<Spanned<u16>>,
    /// Host port of TensorBoard.
    pub tensorboard: Option<Spanned<u16>>,
    /// `volume HOST CONTAINER read-only=`, accumulated.
    pub volumes: Vec<BindVolumePart>,
}

/// `docker-run { volume HOST_PATH CONTAINER_PATH read-only=#true }`.
#[derive(Debug, Clone)]
pub struct BindVolumePart {
    /// Path on the host.
    pub host: Spanned<String>,
    /// Path in the container.
    pub container: Spanned<String>,
    /// Mounted read-only.
    pub read_only: Option<Spanned<bool>>,
}

/// `kubernetes replicas= gpus= service= shm-size= { requests …; limits …; node-port … }`.
#[derive(Debug, Clone, Default)]
pub struct KubernetesPart {
    /// Replicas.
    pub replicas: Option<Spanned<u32>>,
    /// GPUs per pod.
    pub gpus: Option<Spanned<u32>>,
    /// Service type.
    pub service: Option<Spanned<String>>,
    /// `/dev/shm` size.
    pub shm_size: Option<Spanned<String>>,
    /// Requested CPU.
    pub requests_cpu: Option<Spanned<String>>,
    /// Requested memory.
    pub requests_memory: Option<Spanned<String>>,
    /// CPU limit.
    pub limits_cpu: Option<Spanned<String>>,
    /// Memory limit.
    pub limits_memory: Option<Spanned<String>>,
    /// NodePort of ssh.
    pub node_port_ssh: Option<Spanned<u16>>,
    /// NodePort of JupyterLab.
    pub node_port_jupyter: Option<Spanned<u16>>,
    /// NodePort of TensorBoard.
    pub node_port_tensorboard: Option<Spanned<u16>>,
    /// Namespace of every object.
    pub namespace: Option<Spanned<String>>,
    /// Secret with the registry credentials.
    pub image_pull_secret: Option<Spanned<String>>,
    /// `node-selector KEY VALUE`, accumulated.
    pub node_selector: Vec<(Spanned<String>, Spanned<String>)>,
    /// `toleration key= operator= value= effect=`, accumulated.
    pub tolerations: Vec<TolerationPart>,
    /// `volume NAME mount= claim=|host-path=|empty-dir= read-only=`, accumulated.
    pub volumes: Vec<VolumePart>,
    /// Secret that keeps the SSH host keys across restarts.
    pub host_keys_secret: Option<Spanned<String>>,
}

/// `toleration key= operator= value= effect=`.
#[derive(Debug, Clone)]
pub struct TolerationPart {
    /// The node name.
    pub node: Span,
    /// Taint key.
    pub key: Option<Spanned<String>>,
    /// `Exists` or `Equal`.
    pub operator: Option<Spanned<String>>,
    /// Taint value.
    pub value: Option<Spanned<String>>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: Option<Spanned<String>>,
}

/// `volume NAME mount= claim= host-path= empty-dir= read-only=`.
#[derive(Debug, Clone)]
pub struct VolumePart {
    /// The node name.
    pub node: Span,
    /// Volume name.
    pub name: Spanned<String>,
    /// Mount path in the container.
    pub mount: Option<Spanned<String>>,
    /// PersistentVolumeClaim name.
    pub claim: Option<Spanned<String>>,
    /// Path on the node.
    pub host_path: Option<Spanned<String>>,
    /// A scratch directory for the pod's life.
    pub empty_dir: Option<Spanned<bool>>,
    /// Mounted read-only.
    pub read_only: Option<Spanned<bool>>,
}

/// A matrix axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Axis {
    /// A framework's version, by its keyword.
    Framework(&'static str),
    /// Python version.
    Python,
    /// CUDA version.
    Cuda,
    /// cuDNN major.
    Cudnn,
    /// OS release.
    Os,
}

impl Axis {
    const OTHERS: [(&'static str, Axis); 4] =
        [("python", Axis::Python), ("cuda", Axis::Cuda), ("cudnn", Axis::Cudnn), ("os", Axis::Os)];

    /// Every axis name: the frameworks', then the base's and Python's.
    #[must_use]
    pub fn names() -> Vec<&'static str> {
        crate::framework::FRAMEWORKS.iter().map(|f| f.keyword()).chain(Self::OTHERS.iter().map(|(n, _)| *n)).collect()
    }

    /// The axis named `name` in a spec.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        if let Some(framework) = crate::framework::by_keyword(name) {
            return Some(Self::Framework(framework.keyword()));
        }
        Self::OTHERS.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
    }

    /// The axis' name in a spec.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Framework(keyword) => keyword,
            other => Self::OTHERS.iter().find(|(_, a)| *a == other).map_or("", |(n, _)| n),
        }
    }
}

/// `matrix { AXIS VALUE…; exclude AXIS=VALUE… }`.
#[derive(Debug, Clone)]
pub struct Matrix {
    /// The node name.
    pub node: Span,
    /// Axes in the order written, each with its values.
    pub axes: Vec<(Spanned<Axis>, Vec<Spanned<String>>)>,
    /// Excluded combinations: every listed axis must match.
    pub excludes: Vec<Vec<(Spanned<Axis>, Spanned<String>)>>,
}

/// Merges a later layer into an earlier one, field by field.
pub trait Merge {
    /// Applies `later` on top of `self`.
    fn merge(&mut self, later: &Self);
}

/// Merges a scalar: a later value wins.
fn later_wins<T: Clone>(earlier: &mut Option<T>, later: &Option<T>) {
    if later.is_some() {
        earlier.clone_from(later);
    }
}

// Each `merge` destructures `later` without `..`: a new field fails to compile until it is merged.

impl Merge for FrameworkPart {
    fn merge(&mut self, later: &Self) {
        let Self { rules: _, node, version, properties } = later;
        self.node = *node;
        later_wins(&mut self.version, version);
        for (name, value) in properties {
            match self.properties.iter_mut().find(|(n, _)| n == name) {
                Some((_, earlier)) => earlier.clone_from(value),
                None => self.properties.push((name, value.clone())),
            }
        }
    }
}

impl Merge for PythonPart {
    fn merge(&mut self, later: &Self) {
        let Self { node, version, miniconda, sha256, accept_tos } = later;
        self.node = *node;
        later_wins(&mut self.version, version);
        later_wins(&mut self.miniconda, miniconda);
        later_wins(&mut self.sha256, sha256);
        later_wins(&mut self.accept_tos, accept_tos);
    }
}

impl Merge for CudaPart {
    fn merge(&mut self, later: &Self) {
        let Self { node, version, cudnn, flavor, os } = later;
        self.node = *node;
        later_wins(&mut self.version, version);
        later_wins(&mut self.cudnn, cudnn);
        later_wins(&mut self.flavor, flavor);
        later_wins(&mut self.os, os);
    }
}

impl Merge for SshPart {
    fn merge(&mut self, later: &Self) {
        let Self { node, enabled, port, password_file, motd, password, host_keys } = later;
        self.node = *node;
        later_wins(&mut self.enabled, enabled);
        later_wins(&mut self.port, port);
        later_wins(&mut self.password_file, password_file);
        later_wins(&mut self.motd, motd);
        later_wins(&mut self.password, password);
        later_wins(&mut self.host_keys, host_keys);
    }
}

impl Merge for JupyterPart {
    fn merge(&mut self, later: &Self) {
        let Self {
            node,
            enabled,
            port,
            base_url,
            root_dir,
            language,
            token_file,
            open,
            terminal_theme,
            frame_ancestors,
        } = later;
        self.node = *node;
        later_wins(&mut self.enabled, enabled);
        later_wins(&mut self.port, port);
        later_wins(&mut self.base_url, base_url);
        later_wins(&mut self.root_dir, root_dir);
        later_wins(&mut self.language, language);
        later_wins(&mut self.token_file, token_file);
        later_wins(&mut self.open, open);
        later_wins(&mut self.terminal_theme, terminal_theme);
        later_wins(&mut self.frame_ancestors, frame_ancestors);
    }
}

impl Merge for TensorBoardPart {
    fn merge(&mut self, later: &Self) {
        let Self { node, enabled, port, path_prefix, logdir, bind } = later;
        self.node = *node;
        later_wins(&mut self.enabled, enabled);
        later_wins(&mut self.port, port);
        later_wins(&mut self.path_prefix, path_prefix);
        later_wins(&mut self.logdir, logdir);
        later_wins(&mut self.bind, bind);
    }
}

impl Merge for MirrorsPart {
    fn merge(&mut self, later: &Self) {
        let Self { apt, pip, conda, build_pip, miniconda } = later;
        later_wins(&mut self.pip, pip);
        later_wins(&mut self.conda, conda);
        later_wins(&mut self.build_pip, build_pip);
        later_wins(&mut self.miniconda, miniconda);
        later_wins(&mut self.apt, apt);
    }
}

impl Merge for DockerRunPart {
    fn merge(&mut self, later: &Self) {
        let Self { name, restart, ssh, jupyter, tensorboard, volumes } = later;
        later_wins(&mut self.name, name);
        later_wins(&mut self.restart, restart);
        later_wins(&mut self.ssh, ssh);
        later_wins(&mut self.jupyter, jupyter);
        later_wins(&mut self.tensorboard, tensorboard);
        self.volumes.extend(volumes.iter().cloned());
    }
}

impl Merge for KubernetesPart {
    fn merge(&mut self, later: &Self) {
        let Self {
            replicas,
            gpus,
            service,
            shm_size,
            requests_cpu,
            requests_memory,
            limits_cpu,
            limits_memory,
            node_port_ssh,
            node_port_jupyter,
            node_port_tensorboard,
            namespace,
            image_pull_secret,
            node_selector,
            tolerations,
            volumes,
            host_keys_secret,
        } = later;
        later_wins(&mut self.replicas, replicas);
        later_wins(&mut self.gpus, gpus);
        later_wins(&mut self.service, service);
        later_wins(&mut self.shm_size, shm_size);
        later_wins(&mut self.requests_cpu, requests_cpu);
        later_wins(&mut self.requests_memory, requests_memory);
        later_wins(&mut self.limits_cpu, limits_cpu);
        later_wins(&mut self.limits_memory, limits_memory);
        later_wins(&mut self.node_port_ssh, node_port_ssh);
        later_wins(&mut self.node_port_jupyter, node_port_jupyter);
        later_wins(&mut self.node_port_tensorboard, node_port_tensorboard);
        later_wins(&mut self.namespace, namespace);
        later_wins(&mut self.image_pull_secret, image_pull_secret);
        later_wins(&mut self.host_keys_secret, host_keys_secret);
        self.node_selector.extend(node_selector.iter().cloned());
        self.tolerations.extend(tolerations.iter().cloned());
        self.volumes.extend(volumes.iter().cloned());
    }
}

/// Large parts that most layers leave out are boxed, so that a layer without them stays small.
impl<T: Merge> Merge for Box<T> {
    fn merge(&mut self, later: &Self) {
        (**self).merge(later);
    }
}

fn merge_option<T: Merge + Clone>(earlier: &mut Option<T>, later: &Option<T>) {
    match (earlier.as_mut(), later) {
        (Some(e), Some(l)) => e.merge(l),
        (None, Some(l)) => *earlier = Some(l.clone()),
        (_, None) => {}
    }
}

/// Two layers of one image name different frameworks.
#[derive(Debug, Clone, Copy)]
pub struct FrameworkConflict {
    /// The framework set earlier.
    pub earlier: Span,
    /// The framework set later.
    pub later: Span,
}

impl Part {
    /// Applies `later` on top of `self`: later scalars win, lists accumulate, `use` is left to
    /// the resolver. Different frameworks do not merge: the conflict is returned.
    pub fn merge(&mut self, later: &Part) -> Option<FrameworkConflict> {
        let Part {
            uses: _,
            framework,
            python,
            base,
            apt,
            pip,
            timezone,
            locale,
            ssh,
            jupyter,
            tensorboard,
            mirrors,
            tag,
            docker_run,
            kubernetes,
            matrix,
            env,
        } = later;
        let mut conflict = None;
        match (self.framework.as_mut(), framework) {
            (Some(e), Some(l)) if e.keyword() == l.keyword() => e.merge(l),
            (Some(e), Some(l)) => {
                conflict = Some(FrameworkConflict { earlier: e.node_span(), later: l.node_span() });
            }
            (None, Some(l)) => self.framework = Some(l.clone()),
            (_, None) => {}
        }
        match (self.base.as_deref_mut(), base.as_deref()) {
            (Some(BasePart::Cuda(e)), Some(BasePart::Cuda(l))) => e.merge(l),
            (_, Some(l)) => self.base = Some(Box::new(l.clone())),
            (_, None) => {}
        }
        merge_option(&mut self.python, python);
        self.apt.extend(apt.iter().cloned());
        self.pip.extend(pip.iter().cloned());
        self.env.extend(env.iter().cloned());
        later_wins(&mut self.timezone, timezone);
        later_wins(&mut self.locale, locale);
        later_wins(&mut self.tag, tag);
        later_wins(&mut self.matrix, matrix);
        merge_option(&mut self.ssh, ssh);
        merge_option(&mut self.jupyter, jupyter);
        merge_option(&mut self.tensorboard, tensorboard);
        merge_option(&mut self.mirrors, mirrors);
        merge_option(&mut self.docker_run, docker_run);
        merge_option(&mut self.kubernetes, kubernetes);
        conflict
    }
}
