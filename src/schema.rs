//! The language's schema, declared once: every node other than the frameworks' (whose nodes come
//! from [`crate::framework::FRAMEWORKS`]), with its arguments, properties and children. The
//! decoder takes names, arity, value kinds and the expectations of type errors from here, and the
//! reference doc's tables are rendered from it ([`reference_tables`], checked by
//! `tests/schema_doc.rs`).

use crate::framework::{self, Rules};

/// What a value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    String,
    /// `#true` or `#false`.
    Boolean,
    /// Any integer.
    Integer,
    /// An integer from 0 to 4294967295.
    WholeNumber,
    /// An integer from 1 to 65535.
    Port,
    /// A string, or `#null` to leave something out.
    StringOrNull,
}

impl Kind {
    /// The kind as the reference doc names it.
    #[must_use]
    pub fn doc(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Integer => "integer",
            Self::WholeNumber => "whole number",
            Self::Port => "port",
            Self::StringOrNull => "string or `#null`",
        }
    }
}

/// An argument or a property.
#[derive(Debug, Clone, Copy)]
pub struct Value {
    /// The property's name, or the argument's placeholder (`VERSION`).
    pub name: &'static str,
    /// What it must be.
    pub kind: Kind,
    /// What it must be, for type errors: `a Python version like "3.10"`.
    pub expect: &'static str,
    /// One line for the reference doc.
    pub doc: &'static str,
}

/// What a node takes as children.
#[derive(Debug, Clone, Copy)]
pub enum Children {
    /// No children block.
    None,
    /// These nodes.
    Nodes(&'static [&'static Node]),
    /// An image's or profile's: `use`, the frameworks, then [`OTHER_CHILDREN`].
    Image,
    /// A matrix's: one node per axis ([`crate::ast::Axis::names`]), and `exclude`.
    Matrix,
}

/// A node of the language.
#[derive(Debug)]
pub struct Node {
    /// Its name.
    pub name: &'static str,
    /// One line for the reference doc.
    pub doc: &'static str,
    /// Its arguments, in order.
    pub args: &'static [Value],
    /// How many arguments it needs.
    pub required_args: usize,
    /// The last argument repeats (`apt "a" "b" …`).
    pub variadic: bool,
    /// Its properties, in the order the help lines list them.
    pub props: &'static [Value],
    /// It may be given more than once where it appears.
    pub repeats: bool,
    /// What it takes as children.
    pub children: Children,
}

impl Node {
    /// The most arguments it takes.
    #[must_use]
    pub fn max_args(&self) -> usize {
        if self.variadic { usize::MAX } else { self.args.len() }
    }

    /// The names of its properties.
    #[must_use]
    pub fn prop_names(&self) -> Vec<&'static str> {
        self.props.iter().map(|p| p.name).collect()
    }

    /// The names of its child nodes (none for [`Children::Image`] and [`Children::Matrix`]).
    #[must_use]
    pub fn child_names(&self) -> Vec<&'static str> {
        match self.children {
            Children::Nodes(nodes) => nodes.iter().map(|n| n.name).collect(),
            _ => Vec::new(),
        }
    }
}

/// Declares one argument or property as a constant documented by its own doc line.
macro_rules! value {
    ($id:ident = $kind:ident($name:literal, $expect:literal, $doc:literal)) => {
        #[doc = $doc]
        pub const $id: Value = Value { name: $name, kind: Kind::$kind, expect: $expect, doc: $doc };
    };
}

/// Declares one node: its module holds `NAME`, its arguments and properties, and `NODE`.
macro_rules! node {
    (
        $(#[$meta:meta])* mod $module:ident = $name:literal {
            doc: $doc:literal,
            $( values { $($id:ident = $kind:ident($vname:literal, $expect:literal, $vdoc:literal);)* } )?
            args: [$($arg:expr),*] $(required $required:literal)? $(, variadic $variadic:literal)?,
            props: [$($prop:expr),*],
            repeats: $repeats:literal,
            children: $children:expr $(,)?
        }
    ) => {
        $(#[$meta])*
        pub mod $module {
            #[allow(unused_imports)]
            use super::*;
            #[doc = concat!("`", $name, "`.")]
            pub const NAME: &str = $name;
            $($( value!($id = $kind($vname, $expect, $vdoc)); )*)?
            #[doc = $doc]
            pub static NODE: Node = Node {
                name: NAME,
                doc: $doc,
                args: &[$($arg),*],
                required_args: 0 $(+ $required)?,
                variadic: false $(|| $variadic)?,
                props: &[$($prop),*],
                repeats: $repeats,
                children: $children,
            };
        }
    };
}

/// The top-level nodes.
pub static TOP_LEVEL: &[&Node] = &[&image::NODE, &profile::NODE, &catalog::NODE];

node! {
    /// `image NAME { … }`.
    mod image = "image" {
        doc: "An image: its settings as children.",
        values { NAME_ARG = String("NAME", "a name like \"pytorch\"", "The image's name, `[registry/]path`."); }
        args: [NAME_ARG] required 1,
        props: [],
        repeats: true,
        children: Children::Image,
    }
}

node! {
    /// `profile NAME { … }`.
    mod profile = "profile" {
        doc: "Settings that images apply with `use`.",
        args: [image::NAME_ARG] required 1,
        props: [],
        repeats: true,
        children: Children::Image,
    }
}

node! {
    /// `catalog { … }`.
    mod catalog = "catalog" {
        doc: "Settings of the whole catalog, written at most once across all spec files.",
        args: [],
        props: [],
        repeats: false,
        children: Children::Nodes(&[
            &registry::NODE,
            &base_registry::NODE,
            &templates::NODE,
            &node_ports::NODE,
            &node_pool::NODE,
        ]),
    }
}

node! {
    /// `catalog { registry REGISTRY }`.
    mod registry = "registry" {
        doc: "Push prefix of every image reference.",
        values { REGISTRY = String("REGISTRY", "a registry like \"harbor.example.edu:5000/ai\"", "A registry: host and optional repository prefix."); }
        args: [REGISTRY] required 1,
        props: [],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `catalog { base-registry REGISTRY }`.
    mod base_registry = "base-registry" {
        doc: "Where the bases of `cuda` and `cpu` are pulled from (a pull-through cache).",
        values { REGISTRY = String("REGISTRY", "a registry like \"harbor.example.edu:5000/proxy\"", "A registry: host and optional repository prefix."); }
        args: [REGISTRY] required 1,
        props: [],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `catalog { templates DIR }`.
    mod templates = "templates" {
        doc: "Templates directory, relative to the specs directory.",
        values { DIR = String("DIR", "a directory like \"templates\"", "A directory."); }
        args: [DIR] required 1,
        props: [],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `catalog { node-ports LOW HIGH }`.
    mod node_ports = "node-ports" {
        doc: "The cluster's NodePort range.",
        values {
            LOW = Integer("LOW", "a port number", "The lowest NodePort.");
            HIGH = Integer("HIGH", "a port number", "The highest NodePort.");
        }
        args: [LOW, HIGH] required 2,
        props: [],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `catalog { node-pool NAME { … } }`.
    mod node_pool = "node-pool" {
        doc: "A pool of the cluster's GPU nodes: facts the checks of every image use.",
        values { POOL_NAME = String("NAME", "a pool name like \"a100\"", "A DNS-1123 label: the pool's folder `k8s/NAME/` of each image."); }
        args: [POOL_NAME] required 1,
        props: [],
        repeats: true,
        children: Children::Nodes(&[
            &gpu::NODE,
            &driver::NODE,
            &resource::NODE,
            &sharing::NODE,
            &runtime_class::NODE,
            &node_selector::NODE,
            &toleration::NODE,
        ]),
    }
}

node! {
    /// `node-pool { gpu PRODUCT compute= brand= }`.
    mod gpu = "gpu" {
        doc: "The pool's GPU.",
        values {
            PRODUCT = String("PRODUCT", "a GPU product like \"NVIDIA-A100-SXM4-80GB\"", "As GPU Feature Discovery writes `nvidia.com/gpu.product`.");
            COMPUTE = String("compute", "a compute capability like \"8.0\"", "Its compute capability; default: the tables' value for PRODUCT.");
            BRAND = String("brand", "`datacenter`, `workstation` or `geforce`", "The driver's brand class; default: the tables' value for PRODUCT.");
        }
        args: [PRODUCT] required 1,
        props: [COMPUTE, BRAND],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `node-pool { driver VERSION }`.
    mod driver = "driver" {
        doc: "The NVIDIA driver of the pool's nodes.",
        values { VERSION = String("VERSION", "a driver version like \"535.183.01\"", "What `nvidia-smi` reports as the driver version."); }
        args: [VERSION] required 1,
        props: [],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `node-pool { resource NAME }`.
    mod resource = "resource" {
        doc: "The extended resource a pod requests for a GPU; default `nvidia.com/gpu`.",
        values { RESOURCE = String("NAME", "an extended resource like \"nvidia.com/gpu\"", "`DOMAIN/NAME`, as the device plugin advertises it."); }
        args: [RESOURCE] required 1,
        props: [],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `node-pool { sharing MODE }`.
    mod sharing = "sharing" {
        doc: "How pods share a GPU; default `none`.",
        values { MODE = String("MODE", "`none`, `time-slicing`, `mps` or `mig`", "`none`, `time-slicing`, `mps` or `mig`."); }
        args: [MODE] required 1,
        props: [],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `node-pool { runtime-class NAME }`.
    mod runtime_class = "runtime-class" {
        doc: "The pods' `runtimeClassName`, when the cluster needs one.",
        values { RUNTIME_CLASS = String("NAME", "a RuntimeClass name like \"nvidia\"", "A DNS-1123 subdomain."); }
        args: [RUNTIME_CLASS] required 1,
        props: [],
        repeats: false,
        children: Children::None,
    }
}

/// The children an `image` or `profile` takes besides `use` and the frameworks' nodes.
pub static OTHER_CHILDREN: &[&Node] = &[
    &python::NODE,
    &cuda::NODE,
    &cpu::NODE,
    &base::NODE,
    &apt::NODE,
    &pip::NODE,
    &timezone::NODE,
    &locale::NODE,
    &ssh::NODE,
    &jupyter::NODE,
    &tensorboard::NODE,
    &mirrors::NODE,
    &tag::NODE,
    &docker_run::NODE,
    &kubernetes::NODE,
    &matrix::NODE,
    &env::NODE,
];

/// A child of an `image` or `profile`: a node of this schema or a framework's.
#[derive(Debug, Clone, Copy)]
pub enum ImageChild {
    /// A node of this schema.
    Node(&'static Node),
    /// A framework's node.
    Framework(&'static dyn Rules),
}

impl ImageChild {
    /// The node's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Node(node) => node.name,
            Self::Framework(rules) => rules.keyword(),
        }
    }
}

/// The children an `image` or `profile` takes: `use`, the frameworks, then the others.
#[must_use]
pub fn image_children() -> Vec<ImageChild> {
    std::iter::once(ImageChild::Node(&uses::NODE))
        .chain(framework::FRAMEWORKS.iter().map(|f| ImageChild::Framework(*f)))
        .chain(OTHER_CHILDREN.iter().map(|n| ImageChild::Node(n)))
        .collect()
}

/// The names of [`image_children`].
#[must_use]
pub fn image_child_names() -> Vec<&'static str> {
    image_children().into_iter().map(ImageChild::name).collect()
}

node! {
    /// `use PROFILE…`.
    mod uses = "use" {
        doc: "Apply these profiles, in order, before the block's own children.",
        values { PROFILE = String("PROFILE…", "a profile name", "Profile names, one or more."); }
        args: [PROFILE] required 1, variadic true,
        props: [],
        repeats: true,
        children: Children::None,
    }
}

node! {
    /// `python VERSION miniconda= sha256= accept-tos=`.
    mod python = "python" {
        doc: "Miniconda with this Python.",
        values {
            VERSION = String("VERSION", "a Python version like \"3.10\"", "`3.N`, like `\"3.10\"`.");
            MINICONDA = String("miniconda", "an installer file name", "Installer file name.");
            SHA256 = String("sha256", "the installer's sha256 in hex", "The installer's sha256, 64 hex digits.");
            ACCEPT_TOS = Boolean("accept-tos", "a boolean", "Accept Anaconda's Terms of Service for the default channels.");
        }
        args: [VERSION],
        props: [MINICONDA, SHA256, ACCEPT_TOS],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `cuda VERSION cudnn= flavor= os=`.
    mod cuda = "cuda" {
        doc: "The base `nvidia/cuda:<cuda>-[<cudnn>-]<flavor>-<os>`.",
        values {
            VERSION = String("VERSION", "a CUDA version like \"12.1.0\"", "Full CUDA version `X.Y.Z`.");
            CUDNN = String("cudnn", "a cuDNN major version like \"8\"", "The cuDNN major, or `\"none\"`.");
            FLAVOR = String("flavor", "`devel`, `runtime` or `base`", "`devel`, `runtime` or `base`.");
            OS = String("os", "an OS release like \"ubuntu22.04\"", "An Ubuntu release, like `ubuntu22.04`.");
        }
        args: [VERSION],
        props: [CUDNN, FLAVOR, OS],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `cpu os=`.
    mod cpu = "cpu" {
        doc: "The base `ubuntu:<version>`.",
        args: [],
        props: [cuda::OS],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `base IMAGE gpu=`.
    mod base = "base" {
        doc: "Any Debian- or Ubuntu-based image, used as is.",
        values {
            IMAGE = String("IMAGE", "an image reference like \"ubuntu:22.04\"", "An image reference.");
            GPU = Boolean("gpu", "a boolean", "Treat the image as a GPU image.");
        }
        args: [IMAGE] required 1,
        props: [GPU],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `apt PKG…`.
    mod apt = "apt" {
        doc: "Extra Debian packages.",
        values { PACKAGE = String("PKG…", "a Debian package name", "`name` or `name=version`, one or more."); }
        args: [PACKAGE] required 1, variadic true,
        props: [],
        repeats: true,
        children: Children::None,
    }
}

node! {
    /// `pip REQ…`.
    mod pip = "pip" {
        doc: "Extra Python packages.",
        values { REQUIREMENT = String("REQ…", "a pip requirement", "Requirements in a safe subset of PEP 508, one or more."); }
        args: [REQUIREMENT] required 1, variadic true,
        props: [],
        repeats: true,
        children: Children::None,
    }
}

node! {
    /// `timezone ZONE`.
    mod timezone = "timezone" {
        doc: "The image's time zone.",
        values { ZONE = String("ZONE", "a time zone like \"Asia/Shanghai\"", "A tz database name."); }
        args: [ZONE] required 1,
        props: [],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `locale LOCALE`.
    mod locale = "locale" {
        doc: "The image's locale.",
        values { LOCALE = String("LOCALE", "a locale like \"zh_CN.UTF-8\"", "A UTF-8 locale."); }
        args: [LOCALE] required 1,
        props: [],
        repeats: false,
        children: Children::None,
    }
}

/// The on/off argument of a service.
pub const ENABLED: Value = Value {
    name: "on/off",
    kind: Kind::Boolean,
    expect: "a boolean",
    doc: "`#false` switches the service off, `#true` back on.",
};

node! {
    /// `ssh [#false] port= password-file= motd= password= host-keys=`.
    mod ssh = "ssh" {
        doc: "The SSH server.",
        values {
            PORT = Port("port", "a port number", "Port in the container.");
            PASSWORD_FILE = String("password-file", "an absolute path", "Password file read at boot.");
            MOTD = Boolean("motd", "a boolean", "The login banner.");
            PASSWORD = String("password", "a password", "A literal root password (warned about).");
            HOST_KEYS = String("host-keys", "an absolute directory path", "Directory where boot.sh keeps the host keys.");
        }
        args: [ENABLED],
        props: [PORT, PASSWORD_FILE, MOTD, PASSWORD, HOST_KEYS],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `jupyter [#false] port= base-url= root-dir= language= token-file= open= terminal-theme= frame-ancestors=`.
    mod jupyter = "jupyter" {
        doc: "JupyterLab.",
        values {
            PORT = Port("port", "a port number", "Port in the container.");
            BASE_URL = String("base-url", "a URL path like \"/jupyter/\"", "Base URL path.");
            ROOT_DIR = String("root-dir", "an absolute path", "The file browser's root and the working directory.");
            LANGUAGE = String("language", "a language like \"zh-CN\"", "UI language, `ll` or `ll-CC`.");
            TOKEN_FILE = String("token-file", "an absolute path", "Absolute path of the access-token file.");
            OPEN = Boolean("open", "a boolean", "The seed guides' open setup: no token, any origin.");
            TERMINAL_THEME = String("terminal-theme", "`dark`, `light` or `inherit`", "`dark`, `light` or `inherit`.");
            FRAME_ANCESTORS = String("frame-ancestors", "an origin like \"https://portal.example.edu\"", "Web origins that may embed JupyterLab in a frame.");
        }
        args: [ENABLED],
        props: [PORT, BASE_URL, ROOT_DIR, LANGUAGE, TOKEN_FILE, OPEN, TERMINAL_THEME, FRAME_ANCESTORS],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `tensorboard [#false] port= path-prefix= logdir= bind=`.
    mod tensorboard = "tensorboard" {
        doc: "TensorBoard.",
        values {
            PORT = Port("port", "a port number", "Port in the container.");
            PATH_PREFIX = String("path-prefix", "a URL path like \"/monitor\"", "URL path prefix.");
            LOGDIR = String("logdir", "an absolute path", "Log directory.");
            BIND = String("bind", "an address like \"0.0.0.0\"", "IP address TensorBoard listens on.");
        }
        args: [ENABLED],
        props: [PORT, PATH_PREFIX, LOGDIR, BIND],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `mirrors pip= conda= build-pip= miniconda= apt=`.
    mod mirrors = "mirrors" {
        doc: "Package mirrors, for the image's users and for the build.",
        values {
            PIP = String("pip", "a pip index URL", "pip index for the image's users.");
            CONDA = String("conda", "a conda mirror URL", "conda mirror base for the image's users.");
            BUILD_PIP = String("build-pip", "a pip index URL", "pip index used while building.");
            MINICONDA = String("miniconda", "a Miniconda download URL", "Where the Miniconda installer is downloaded from.");
            APT = String("apt", "an archive mirror URL", "Debian/Ubuntu archive mirror for the build and the users.");
        }
        args: [],
        props: [PIP, CONDA, BUILD_PIP, MINICONDA, APT],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `tag TEMPLATE`.
    mod tag = "tag" {
        doc: "The image's tag template.",
        values { TEMPLATE = String("TEMPLATE", "a tag template like \"{version}-python{python}\"", "The tag, with `{placeholder}`s filled in."); }
        args: [TEMPLATE] required 1,
        props: [],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `docker-run name= restart= ssh= jupyter= tensorboard= { volume … }`.
    mod docker_run = "docker-run" {
        doc: "How `docker-run.sh` starts the container.",
        values {
            CONTAINER_NAME = String("name", "a container name", "Container name.");
            RESTART = String("restart", "a restart policy like \"always\"", "Restart policy.");
            SSH = Port("ssh", "a port number", "Host port of SSH.");
            JUPYTER = Port("jupyter", "a port number", "Host port of JupyterLab.");
            TENSORBOARD = Port("tensorboard", "a port number", "Host port of TensorBoard.");
        }
        args: [],
        props: [CONTAINER_NAME, RESTART, SSH, JUPYTER, TENSORBOARD],
        repeats: false,
        children: Children::Nodes(&[&bind_volume::NODE]),
    }
}

/// The read-only property of a volume.
pub const READ_ONLY: Value =
    Value { name: "read-only", kind: Kind::Boolean, expect: "a boolean", doc: "Mounted read-only." };

node! {
    /// `docker-run { volume HOST CONTAINER read-only= }`.
    mod bind_volume = "volume" {
        doc: "A bind mount, `-v HOST:CONTAINER[:ro]`.",
        values {
            HOST = String("HOST", "a host path like \"/data/datasets\"", "Absolute path on the host.");
            CONTAINER = String("CONTAINER", "a container path like \"/root/datasets\"", "Absolute path in the container.");
        }
        args: [HOST, CONTAINER] required 2,
        props: [READ_ONLY],
        repeats: true,
        children: Children::None,
    }
}

node! {
    /// `kubernetes replicas= gpus= service= shm-size= host-keys-secret= { … }`.
    mod kubernetes = "kubernetes" {
        doc: "The Deployment and Service in `k8s/`.",
        values {
            REPLICAS = WholeNumber("replicas", "a whole number", "Deployment replicas.");
            GPUS = WholeNumber("gpus", "a whole number", "GPUs per pod.");
            SERVICE = String("service", "`NodePort` or `ClusterIP`", "Service type.");
            SHM_SIZE = String("shm-size", "a quantity like \"2Gi\"", "Size of `/dev/shm`.");
            HOST_KEYS_SECRET = String("host-keys-secret", "a Secret name", "Secret that keeps the SSH host keys across restarts.");
        }
        args: [],
        props: [REPLICAS, GPUS, SERVICE, SHM_SIZE, HOST_KEYS_SECRET],
        repeats: false,
        children: Children::Nodes(&[
            &requests::NODE,
            &limits::NODE,
            &node_port::NODE,
            &namespace::NODE,
            &image_pull_secret::NODE,
            &node_selector::NODE,
            &toleration::NODE,
            &volume::NODE,
            &pools::NODE,
        ]),
    }
}

node! {
    /// `kubernetes { node-pool POOL… }`.
    mod pools = "node-pool" {
        doc: "The catalog's node pools the image runs on; default: every pool that passes the checks.",
        values { POOL = String("POOL…", "a node pool name", "Names of `catalog` node pools, one or more."); }
        args: [POOL] required 1, variadic true,
        props: [],
        repeats: false,
        children: Children::None,
    }
}

/// The CPU quantity of `requests` and `limits`.
pub const CPU_QUANTITY: Value =
    Value { name: "cpu", kind: Kind::String, expect: "a CPU quantity like \"2\" or \"500m\"", doc: "CPU quantity." };

/// The memory quantity of `requests` and `limits`.
pub const MEMORY_QUANTITY: Value =
    Value { name: "memory", kind: Kind::String, expect: "a memory quantity like \"4Gi\"", doc: "Memory quantity." };

node! {
    /// `kubernetes { requests cpu= memory= }`.
    mod requests = "requests" {
        doc: "Container resource requests.",
        args: [],
        props: [CPU_QUANTITY, MEMORY_QUANTITY],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `kubernetes { limits cpu= memory= }`.
    mod limits = "limits" {
        doc: "Container resource limits.",
        args: [],
        props: [CPU_QUANTITY, MEMORY_QUANTITY],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `kubernetes { node-port ssh= jupyter= tensorboard= }`.
    mod node_port = "node-port" {
        doc: "Fixed NodePorts.",
        values {
            SSH = Port("ssh", "a port number", "NodePort of SSH.");
            JUPYTER = Port("jupyter", "a port number", "NodePort of JupyterLab.");
            TENSORBOARD = Port("tensorboard", "a port number", "NodePort of TensorBoard.");
        }
        args: [],
        props: [SSH, JUPYTER, TENSORBOARD],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `kubernetes { namespace NAME }`.
    mod namespace = "namespace" {
        doc: "Namespace of every object.",
        values { NAMESPACE = String("NAME", "a namespace like \"ai-platform\"", "A DNS-1123 label."); }
        args: [NAMESPACE] required 1,
        props: [],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `kubernetes { image-pull-secret NAME }`.
    mod image_pull_secret = "image-pull-secret" {
        doc: "Secret with the registry's credentials.",
        values { SECRET = String("NAME", "a Secret name like \"harbor-cred\"", "A DNS-1123 subdomain."); }
        args: [SECRET] required 1,
        props: [],
        repeats: false,
        children: Children::None,
    }
}

node! {
    /// `kubernetes { node-selector KEY VALUE }`.
    mod node_selector = "node-selector" {
        doc: "A `nodeSelector` entry.",
        values {
            KEY = String("KEY", "a label key like \"nvidia.com/gpu.product\"", "Label key.");
            VALUE = String("VALUE", "a label value", "Label value.");
        }
        args: [KEY, VALUE] required 2,
        props: [],
        repeats: true,
        children: Children::None,
    }
}

node! {
    /// `kubernetes { toleration key= operator= value= effect= }`.
    mod toleration = "toleration" {
        doc: "A pod toleration.",
        values {
            KEY = String("key", "a taint key like \"nvidia.com/gpu\"", "Taint key.");
            OPERATOR = String("operator", "`Exists` or `Equal`", "`Exists` or `Equal`.");
            VALUE = String("value", "a taint value", "Taint value.");
            EFFECT = String("effect", "`NoSchedule`, `PreferNoSchedule` or `NoExecute`", "`NoSchedule`, `PreferNoSchedule` or `NoExecute`.");
        }
        args: [],
        props: [KEY, OPERATOR, VALUE, EFFECT],
        repeats: true,
        children: Children::None,
    }
}

node! {
    /// `kubernetes { volume NAME mount= claim= host-path= empty-dir= read-only= }`.
    mod volume = "volume" {
        doc: "A pod volume.",
        values {
            VOLUME_NAME = String("NAME", "a volume name like \"datasets\"", "A DNS-1123 label.");
            MOUNT = String("mount", "an absolute path", "Mount path in the container.");
            CLAIM = String("claim", "a PersistentVolumeClaim name", "PersistentVolumeClaim source.");
            HOST_PATH = String("host-path", "an absolute path on the node", "Node directory source.");
            EMPTY_DIR = Boolean("empty-dir", "a boolean", "A scratch directory for the pod's life.");
        }
        args: [VOLUME_NAME] required 1,
        props: [MOUNT, CLAIM, HOST_PATH, EMPTY_DIR, READ_ONLY],
        repeats: true,
        children: Children::None,
    }
}

node! {
    /// `matrix { AXIS VALUE…; exclude AXIS=VALUE… }`.
    mod matrix = "matrix" {
        doc: "One image per combination of the axis values.",
        args: [],
        props: [],
        repeats: false,
        children: Children::Matrix,
    }
}

node! {
    /// `matrix { exclude AXIS=VALUE… }`: its properties are the axes.
    mod exclude = "exclude" {
        doc: "Removes every combination that matches all the pairs given.",
        args: [],
        props: [],
        repeats: true,
        children: Children::None,
    }
}

node! {
    /// `env NAME VALUE`, or `env NAME secret= key=` for a value from a Kubernetes Secret.
    mod env = "env" {
        doc: "An environment variable of the image.",
        values {
            VARIABLE = String("NAME", "a variable name like \"HF_ENDPOINT\"", "The variable's name.");
            VALUE = String("VALUE", "the variable's value", "Its value, written into the image.");
            SECRET = String("secret", "a Secret name like \"hf-token\"", "Instead of VALUE: the Kubernetes Secret that holds the value at run time.");
            KEY = String("key", "a key of the Secret like \"HF_TOKEN\"", "The Secret's key; default: NAME.");
        }
        args: [VARIABLE, VALUE] required 1,
        props: [SECRET, KEY],
        repeats: true,
        children: Children::None,
    }
}

node! {
    /// `matrix { AXIS VALUE… }`: the node's name is the axis.
    mod axis = "AXIS" {
        doc: "An axis: a framework, `python`, `cuda`, `cudnn` or `os`.",
        values { VALUE = String("VALUE…", "an axis value", "Distinct values, one or more."); }
        args: [VALUE] required 1, variadic true,
        props: [],
        repeats: false,
        children: Children::None,
    }
}

/// The reference doc's table of every documented node, `(name, markdown)`: `catalog`, then the
/// children of an image in their order (`use`, the frameworks, the others). docs/spec-reference.md
/// holds each between `<!-- schema:NAME -->` and `<!-- /schema -->` (`tests/schema_doc.rs`).
#[must_use]
pub fn reference_tables() -> Vec<(&'static str, String)> {
    [(catalog::NAME, node_table(&catalog::NODE)), (node_pool::NAME, node_table(&node_pool::NODE))]
        .into_iter()
        .chain(image_children().into_iter().map(|child| match child {
            ImageChild::Node(node) => (node.name, node_table(node)),
            ImageChild::Framework(rules) => (rules.keyword(), framework_table(rules)),
        }))
        .collect()
}

const VALUES_HEADER: &str = "| name | kind | what it is |\n|---|---|---|\n";

fn value_row(value: &Value, argument: bool, variadic: bool) -> String {
    let name = match (argument, variadic) {
        (true, true) => format!("{} (arguments)", value.name),
        (true, false) => format!("{} (argument)", value.name),
        _ => format!("`{}`", value.name),
    };
    format!("| {name} | {} | {} |\n", value.kind.doc(), value.doc)
}

fn node_table(node: &Node) -> String {
    let mut rows = String::new();
    for (index, arg) in node.args.iter().enumerate() {
        rows.push_str(&value_row(arg, true, node.variadic && index + 1 == node.args.len()));
    }
    for prop in node.props {
        rows.push_str(&value_row(prop, false, false));
    }
    let mut table = if rows.is_empty() { String::new() } else { format!("{VALUES_HEADER}{rows}") };
    let children: Vec<(&str, String, &str)> = match node.children {
        Children::None | Children::Image => Vec::new(),
        Children::Nodes(nodes) => nodes.iter().map(|n| (n.name, form(n), n.doc)).collect(),
        Children::Matrix => vec![
            (axis::NAME, form(&axis::NODE), axis::NODE.doc),
            (exclude::NAME, format!("{}=VALUE…, repeatable", axis::NAME), exclude::NODE.doc),
        ],
    };
    if !children.is_empty() {
        if !table.is_empty() {
            table.push('\n');
        }
        table.push_str("| child | takes | what it is |\n|---|---|---|\n");
        for (name, form, doc) in children {
            let name = if name == axis::NAME { name.to_owned() } else { format!("`{name}`") };
            table.push_str(&format!("| {name} | {form} | {doc} |\n"));
        }
    }
    table
}

/// What a child node takes, on one line: `HOST CONTAINER read-only=, repeatable`.
fn form(node: &Node) -> String {
    let args = node.args.iter().map(|a| a.name.to_owned());
    let props = node.props.iter().map(|p| format!("`{}=`", p.name));
    let mut form = args.chain(props).collect::<Vec<_>>().join(" ");
    if node.repeats {
        form.push_str(", repeatable");
    }
    form
}

fn framework_table(rules: &dyn Rules) -> String {
    let version = format!("A {} release, like `{}`.", rules.noun(), rules.example());
    let mut table = format!("{VALUES_HEADER}| VERSION (argument) | {} | {version} |\n", Kind::String.doc());
    for property in rules.properties() {
        let kind = if property.nullable { Kind::StringOrNull } else { Kind::String };
        table.push_str(&format!("| `{}` | {} | {} |\n", property.name, kind.doc(), property.doc));
    }
    table
}
