//! Every node of the language but `image`, `profile`, `matrix` and the registries' nodes, each
//! declared once (see [`super::declare`]).

use super::reader::choice;
use super::{FromEntry, Kind, Reader, Spanned, Value, declare};
use crate::compat::gpu::BrandClass;
use crate::diag::Code;

choice! {
    /// The flavor of an nvidia/cuda tag.
    pub enum Flavor("an nvidia/cuda flavor", "unknown flavor", "nvidia/cuda flavors are", CudaTag) {
        /// With the compilers and headers.
        Devel = "devel",
        /// The runtime libraries.
        Runtime = "runtime",
        /// The CUDA runtime alone.
        Base = "base",
    }
}

choice! {
    /// The type of a Kubernetes Service.
    pub enum ServiceType("a Service type", "unknown type", "Service types are", InvalidValue) {
        /// A port on every node.
        NodePort = "NodePort",
        /// An address inside the cluster.
        ClusterIP = "ClusterIP",
        /// A cloud load balancer.
        LoadBalancer = "LoadBalancer",
    }
}

choice! {
    /// How a toleration matches a taint.
    pub enum TolerationOperator("a toleration operator", "unknown operator", "a toleration's operator is one of", Toleration) {
        /// Any value of the key.
        Exists = "Exists",
        /// One value of the key.
        Equal = "Equal",
    }
}

choice! {
    /// What a taint does to pods that do not tolerate it.
    pub enum TaintEffect("a taint effect", "unknown effect", "a taint's effect is one of", Toleration) {
        /// Not scheduled there.
        NoSchedule = "NoSchedule",
        /// Scheduled there only when nothing else fits.
        PreferNoSchedule = "PreferNoSchedule",
        /// Not scheduled, and evicted.
        NoExecute = "NoExecute",
    }
}

choice! {
    /// How a node pool's pods share its GPUs.
    pub enum Sharing("a sharing mode", "unknown mode", "the sharing modes are", PoolDeclaration) {
        /// A GPU per pod.
        None = "none",
        /// Time-slicing: pods take turns on one GPU and share its memory.
        TimeSlicing = "time-slicing",
        /// CUDA MPS: pods' processes run on one GPU at once and share its memory.
        Mps = "mps",
        /// A MIG slice per pod: a fixed share of one GPU's memory.
        Mig = "mig",
    }
}

choice! {
    /// Where the image's conda and Python come from.
    pub enum Distribution("a conda distribution", "unknown distribution", "the distributions are", InvalidValue) {
        /// Anaconda's Miniconda, with Anaconda's `defaults` channels.
        Miniconda = "miniconda",
        /// conda-forge's Miniforge, with the conda-forge channel only.
        Miniforge = "miniforge",
    }
}

/// The brand classes of the compatibility tables, as the language spells them.
impl FromEntry for BrandClass {
    const KIND: Kind = Kind::Choice(&["datacenter", "workstation", "geforce"]);
    fn read(r: &mut Reader<'_>, entry: &kdl::KdlEntry, value: &Value) -> Option<Spanned<Self>> {
        let written = r.string(entry, value.expect)?;
        match BrandClass::parse(&written.value) {
            Some(class) => Some(Spanned::new(class, written.span)),
            None => {
                let unknown = super::UnknownChoice {
                    what: "a brand class",
                    label: "unknown brand",
                    list: "the brand classes of the driver are",
                    code: Code::PoolDeclaration,
                };
                let names: Vec<&str> = BrandClass::ALL.iter().map(|(name, _)| *name).collect();
                r.unknown_choice(&written, &unknown, &names);
                None
            }
        }
    }
}

declare! {
    /// `catalog { registry REGISTRY }`.
    pub struct RegistryPart = "registry" {
        doc: "Push prefix of every image reference.",
        repeats: false,
        args: [registry: String, required = ("REGISTRY", "a registry like \"harbor.example.edu:5000/ai\"", "A registry: host and optional repository prefix.")],
        rest: [],
        props: [],
        children: [],
    }
}

declare! {
    /// `catalog { base-registry REGISTRY }`.
    pub struct BaseRegistryPart = "base-registry" {
        doc: "Where the bases of `cuda` and `cpu` are pulled from (a pull-through cache).",
        repeats: false,
        args: [registry: String, required = ("REGISTRY", "a registry like \"harbor.example.edu:5000/proxy\"", "A registry: host and optional repository prefix.")],
        rest: [],
        props: [],
        children: [],
    }
}

declare! {
    /// `catalog { templates DIR }`.
    pub struct TemplatesPart = "templates" {
        doc: "Templates directory, relative to the specs directory.",
        repeats: false,
        args: [dir: String, required = ("DIR", "a directory like \"templates\"", "A directory.")],
        rest: [],
        props: [],
        children: [],
    }
}

declare! {
    /// `catalog { node-ports LOW HIGH }`.
    pub struct NodePortsPart = "node-ports" {
        doc: "The cluster's NodePort range.",
        repeats: false,
        args: [
            low: i128, required = ("LOW", "a port number", "The lowest NodePort."),
            high: i128, required = ("HIGH", "a port number", "The highest NodePort."),
        ],
        rest: [],
        props: [],
        children: [],
    }
}

declare! {
    /// `node-pool { gpu PRODUCT compute= brand= }`.
    pub struct GpuPart = "gpu" {
        doc: "The pool's GPU.",
        repeats: false,
        args: [product: String, required = ("PRODUCT", "a GPU product like \"NVIDIA-A100-SXM4-80GB\"", "As GPU Feature Discovery writes `nvidia.com/gpu.product`.")],
        rest: [],
        props: [
            compute: String = ("compute", "a compute capability like \"8.0\"", "Its compute capability; default: the tables' value for PRODUCT."),
            brand: BrandClass = ("brand", "`datacenter`, `workstation` or `geforce`", "The driver's brand class; default: the tables' value for PRODUCT."),
        ],
        children: [],
    }
}

declare! {
    /// `node-pool { driver VERSION }`.
    pub struct DriverPart = "driver" {
        doc: "The NVIDIA driver of the pool's nodes.",
        repeats: false,
        args: [version: String, required = ("VERSION", "a driver version like \"535.183.01\"", "What `nvidia-smi` reports as the driver version.")],
        rest: [],
        props: [],
        children: [],
    }
}

declare! {
    /// `node-pool { resource NAME }`.
    pub struct ResourcePart = "resource" {
        doc: "The extended resource a pod requests for a GPU; default `nvidia.com/gpu`.",
        repeats: false,
        args: [resource: String, required = ("NAME", "an extended resource like \"nvidia.com/gpu\"", "`DOMAIN/NAME`, as the device plugin advertises it.")],
        rest: [],
        props: [],
        children: [],
    }
}

declare! {
    /// `node-pool { sharing MODE }`.
    pub struct SharingPart = "sharing" {
        doc: "How pods share a GPU; default `none`.",
        repeats: false,
        args: [mode: Sharing, required = ("MODE", "`none`, `time-slicing`, `mps` or `mig`", "`none`, `time-slicing`, `mps` or `mig`.")],
        rest: [],
        props: [],
        children: [],
    }
}

declare! {
    /// `node-pool { runtime-class NAME }`.
    pub struct RuntimeClassPart = "runtime-class" {
        doc: "The pods' `runtimeClassName`, when the cluster needs one.",
        repeats: false,
        args: [runtime_class: String, required = ("NAME", "a RuntimeClass name like \"nvidia\"", "A DNS-1123 subdomain.")],
        rest: [],
        props: [],
        children: [],
    }
}

declare! {
    /// `node-selector KEY VALUE`.
    pub struct NodeSelectorPart = "node-selector" {
        doc: "A `nodeSelector` entry.",
        repeats: true,
        args: [
            key: String, required = ("KEY", "a label key like \"nvidia.com/gpu.product\"", "Label key."),
            value: String, required = ("VALUE", "a label value", "Label value."),
        ],
        rest: [],
        props: [],
        children: [],
    }
}

declare! {
    /// `toleration key= operator= value= effect=`.
    pub struct TolerationPart = "toleration" {
        doc: "A pod toleration.",
        repeats: true,
        args: [],
        rest: [],
        props: [
            key: String = ("key", "a taint key like \"nvidia.com/gpu\"", "Taint key."),
            operator: TolerationOperator = ("operator", "`Exists` or `Equal`", "`Exists` or `Equal`."),
            value: String = ("value", "a taint value", "Taint value."),
            effect: TaintEffect = ("effect", "`NoSchedule`, `PreferNoSchedule` or `NoExecute`", "`NoSchedule`, `PreferNoSchedule` or `NoExecute`."),
        ],
        children: [],
    }
}

declare! {
    /// `catalog { node-pool NAME { … } }`: a pool of GPU nodes, as the checks see it.
    pub struct NodePoolPart = "node-pool" {
        doc: "A pool of the cluster's GPU nodes: facts the checks of every image use.",
        repeats: true,
        args: [name: String, required = ("NAME", "a pool name like \"a100\"", "A DNS-1123 label: the pool's folder `k8s/NAME/` of each image.")],
        rest: [],
        props: [],
        children: [
            gpu: one GpuPart,
            driver: one DriverPart,
            resource: one ResourcePart,
            sharing: one SharingPart,
            runtime_class: one RuntimeClassPart,
            node_selector: many NodeSelectorPart,
            tolerations: many TolerationPart,
        ],
    }
}

declare! {
    /// `catalog { … }`: settings of the whole catalog, written at most once across all spec files.
    pub struct CatalogPart = "catalog" {
        doc: "Settings of the whole catalog, written at most once across all spec files.",
        repeats: false,
        args: [],
        rest: [],
        props: [],
        children: [
            registry: one RegistryPart,
            base_registry: one BaseRegistryPart,
            templates: one TemplatesPart,
            node_ports: one NodePortsPart,
            node_pools: many NodePoolPart,
        ],
    }
}

declare! {
    /// `use PROFILE…`.
    pub struct UsePart = "use" {
        doc: "Apply these profiles, in order, before the block's own children.",
        repeats: true,
        args: [],
        rest: [profiles: String, required = ("PROFILE…", "a profile name", "Profile names, one or more.")],
        props: [],
        children: [],
    }
}

declare! {
    /// `python VERSION distribution= miniconda= sha256= accept-tos=`.
    pub struct PythonPart = "python" {
        doc: "Miniconda (or Miniforge) with this Python.",
        repeats: false,
        args: [version: String, optional = ("VERSION", "a Python version like \"3.10\"", "`3.N`, like `\"3.10\"`.")],
        rest: [],
        props: [
            distribution: Distribution = ("distribution", "`miniconda` or `miniforge`", "`miniconda` (Anaconda's channels) or `miniforge` (conda-forge only)."),
            miniconda: String = ("miniconda", "an installer file name", "Installer file name."),
            sha256: String = ("sha256", "the installer's sha256 in hex", "The installer's sha256, 64 hex digits."),
            accept_tos: bool = ("accept-tos", "a boolean", "Accept Anaconda's Terms of Service for the default channels."),
        ],
        children: [],
    }
}

declare! {
    /// `cuda VERSION cudnn= flavor= os=`.
    pub struct CudaPart = "cuda" {
        doc: "The base `nvidia/cuda:<cuda>-[<cudnn>-]<flavor>-<os>`.",
        repeats: false,
        args: [version: String, optional = ("VERSION", "a CUDA version like \"12.1.0\"", "Full CUDA version `X.Y.Z`.")],
        rest: [],
        props: [
            cudnn: String = ("cudnn", "a cuDNN major version like \"8\"", "The cuDNN major, or `\"none\"`."),
            flavor: Flavor = ("flavor", "`devel`, `runtime` or `base`", "`devel`, `runtime` or `base`."),
            os: String = ("os", "an OS release like \"ubuntu22.04\"", "An Ubuntu release, like `ubuntu22.04`."),
        ],
        children: [],
    }
}

declare! {
    /// `cpu os=`.
    pub struct CpuPart = "cpu" {
        doc: "The base `ubuntu:<version>`.",
        repeats: false,
        args: [],
        rest: [],
        props: [os: String = ("os", "an OS release like \"ubuntu22.04\"", "An Ubuntu release, like `ubuntu22.04`.")],
        children: [],
    }
}

declare! {
    /// `base IMAGE gpu=`.
    pub struct CustomBasePart = "base" {
        doc: "Any Debian- or Ubuntu-based image, used as is.",
        repeats: false,
        args: [image: String, required = ("IMAGE", "an image reference like \"ubuntu:22.04\"", "An image reference.")],
        rest: [],
        props: [gpu: bool = ("gpu", "a boolean", "Treat the image as a GPU image.")],
        children: [],
    }
}

declare! {
    /// `apt PKG…`.
    pub struct AptPart = "apt" {
        doc: "Extra Debian packages.",
        repeats: true,
        args: [],
        rest: [packages: String, required = ("PKG…", "a Debian package name", "`name` or `name=version`, one or more.")],
        props: [],
        children: [],
    }
}

declare! {
    /// `pip REQ… no-build-isolation=`.
    pub struct PipPart = "pip" {
        doc: "Extra Python packages.",
        repeats: true,
        args: [],
        rest: [requirements: String, required = ("REQ…", "a pip requirement", "Requirements in a safe subset of PEP 508, one or more.")],
        props: [no_build_isolation: bool = ("no-build-isolation", "a boolean", "Install these after the rest, with `--no-build-isolation`: they build against the framework installed.")],
        children: [],
    }
}

declare! {
    /// `timezone ZONE`.
    pub struct TimezonePart = "timezone" {
        doc: "The image's time zone.",
        repeats: false,
        args: [zone: String, required = ("ZONE", "a time zone like \"Asia/Shanghai\"", "A tz database name.")],
        rest: [],
        props: [],
        children: [],
    }
}

declare! {
    /// `locale LOCALE`.
    pub struct LocalePart = "locale" {
        doc: "The image's locale.",
        repeats: false,
        args: [locale: String, required = ("LOCALE", "a locale like \"zh_CN.UTF-8\"", "A UTF-8 locale.")],
        rest: [],
        props: [],
        children: [],
    }
}

declare! {
    /// `mirrors pip= conda= build-pip= miniconda= apt= pytorch= paddle= cuda-apt=`.
    pub struct MirrorsPart = "mirrors" {
        doc: "Package mirrors, for the image's users and for the build.",
        repeats: false,
        args: [],
        rest: [],
        props: [
            pip: String = ("pip", "a pip index URL", "pip index for the image's users."),
            conda: String = ("conda", "a conda mirror URL", "conda mirror base for the image's users."),
            build_pip: String = ("build-pip", "a pip index URL", "pip index used while building."),
            miniconda: String = ("miniconda", "a Miniconda download URL", "Where the Miniconda or Miniforge installer is downloaded from."),
            apt: String = ("apt", "an archive mirror URL", "Debian/Ubuntu archive mirror for the build and the users."),
            pytorch: String = ("pytorch", "a PyTorch index URL with {variant}", "PyTorch's wheel indexes: `{variant}` becomes the image's wheel variant."),
            paddle: String = ("paddle", "a PaddlePaddle index URL with {build}", "PaddlePaddle's per-build indexes: `{build}` becomes the image's build."),
            cuda_apt: String = ("cuda-apt", "an apt repository mirror URL", "NVIDIA's CUDA apt repository, for the build and the users."),
        ],
        children: [],
    }
}

declare! {
    /// `tag TEMPLATE`.
    pub struct TagPart = "tag" {
        doc: "The image's tag template.",
        repeats: false,
        args: [template: String, required = ("TEMPLATE", "a tag template like \"{version}-python{python}\"", "The tag, with `{placeholder}`s filled in.")],
        rest: [],
        props: [],
        children: [],
    }
}

declare! {
    /// `docker-run { volume HOST CONTAINER read-only= }`.
    pub struct BindVolumePart = "volume" {
        doc: "A bind mount, `-v HOST:CONTAINER[:ro]`.",
        repeats: true,
        args: [
            host: String, required = ("HOST", "a host path like \"/data/datasets\"", "Absolute path on the host."),
            container: String, required = ("CONTAINER", "a container path like \"/root/datasets\"", "Absolute path in the container."),
        ],
        rest: [],
        props: [read_only: bool = ("read-only", "a boolean", "Mounted read-only.")],
        children: [],
    }
}

declare! {
    /// `docker-run name= restart= SERVICE=PORT… { volume … }`.
    #[derive(Default)]
    pub struct DockerRunPart = "docker-run" {
        doc: "How `docker-run.sh` starts the container.",
        repeats: false,
        args: [],
        rest: [],
        props: [
            name: String = ("name", "a container name", "Container name."),
            restart: String = ("restart", "a restart policy like \"always\"", "Restart policy."),
        ],
        per_service: [ports: u16 = ("a port number", "Host port of {service}.")],
        children: [volumes: many BindVolumePart],
    }
}

declare! {
    /// `kubernetes { requests cpu= memory= }`.
    #[derive(Default)]
    pub struct RequestsPart = "requests" {
        doc: "Container resource requests.",
        repeats: false,
        args: [],
        rest: [],
        props: [
            cpu: String = ("cpu", "a CPU quantity like \"2\" or \"500m\"", "CPU quantity."),
            memory: String = ("memory", "a memory quantity like \"4Gi\"", "Memory quantity."),
        ],
        children: [],
    }
}

declare! {
    /// `kubernetes { limits cpu= memory= }`.
    #[derive(Default)]
    pub struct LimitsPart = "limits" {
        doc: "Container resource limits.",
        repeats: false,
        args: [],
        rest: [],
        props: [
            cpu: String = ("cpu", "a CPU quantity like \"2\" or \"500m\"", "CPU quantity."),
            memory: String = ("memory", "a memory quantity like \"4Gi\"", "Memory quantity."),
        ],
        children: [],
    }
}

declare! {
    /// `kubernetes { node-port SERVICE=PORT… }`.
    pub struct NodePortPart = "node-port" {
        doc: "Fixed NodePorts.",
        repeats: false,
        args: [],
        rest: [],
        props: [],
        per_service: [ports: u16 = ("a port number", "NodePort of {service}.")],
        children: [],
    }
}

declare! {
    /// `kubernetes { namespace NAME }`.
    pub struct NamespacePart = "namespace" {
        doc: "Namespace of every object.",
        repeats: false,
        args: [namespace: String, required = ("NAME", "a namespace like \"ai-platform\"", "A DNS-1123 label.")],
        rest: [],
        props: [],
        children: [],
    }
}

declare! {
    /// `kubernetes { image-pull-secret NAME }`.
    pub struct ImagePullSecretPart = "image-pull-secret" {
        doc: "Secret with the registry's credentials.",
        repeats: false,
        args: [secret: String, required = ("NAME", "a Secret name like \"harbor-cred\"", "A DNS-1123 subdomain.")],
        rest: [],
        props: [],
        children: [],
    }
}

declare! {
    /// `kubernetes { volume NAME mount= claim= host-path= empty-dir= read-only= }`.
    pub struct VolumePart = "volume" {
        doc: "A pod volume.",
        repeats: true,
        args: [name: String, required = ("NAME", "a volume name like \"datasets\"", "A DNS-1123 label.")],
        rest: [],
        props: [
            mount: String = ("mount", "an absolute path", "Mount path in the container."),
            claim: String = ("claim", "a PersistentVolumeClaim name", "PersistentVolumeClaim source."),
            host_path: String = ("host-path", "an absolute path on the node", "Node directory source."),
            empty_dir: bool = ("empty-dir", "a boolean", "A scratch directory for the pod's life."),
            read_only: bool = ("read-only", "a boolean", "Mounted read-only."),
        ],
        children: [],
    }
}

declare! {
    /// `kubernetes { node-pool POOL… }`.
    pub struct PoolsPart = "node-pool" {
        doc: "The catalog's node pools the image runs on; default: every pool that passes the checks.",
        repeats: false,
        args: [],
        rest: [pools: String, required = ("POOL…", "a node pool name", "Names of `catalog` node pools, one or more.")],
        props: [],
        children: [],
    }
}

declare! {
    /// `kubernetes replicas= gpus= service= shm-size= host-keys-secret= { … }`.
    #[derive(Default)]
    pub struct KubernetesPart = "kubernetes" {
        doc: "The Deployment and Service in `k8s/`.",
        repeats: false,
        args: [],
        rest: [],
        props: [
            replicas: u32 = ("replicas", "a whole number", "Deployment replicas."),
            gpus: u32 = ("gpus", "a whole number", "GPUs per pod."),
            service: ServiceType = ("service", "`NodePort` or `ClusterIP`", "Service type."),
            shm_size: String = ("shm-size", "a quantity like \"2Gi\"", "Size of `/dev/shm`."),
            host_keys_secret: String = ("host-keys-secret", "a Secret name", "Secret that keeps the SSH host keys across restarts."),
        ],
        children: [
            requests: one RequestsPart,
            limits: one LimitsPart,
            node_port: one NodePortPart,
            namespace: one NamespacePart,
            image_pull_secret: one ImagePullSecretPart,
            node_selector: many NodeSelectorPart,
            tolerations: many TolerationPart,
            volumes: many VolumePart,
            node_pools: one PoolsPart,
        ],
    }
}

declare! {
    /// `env NAME [VALUE] secret= key=`.
    pub struct EnvPart = "env" {
        doc: "An environment variable of the image.",
        repeats: true,
        args: [
            name: String, required = ("NAME", "a variable name like \"HF_ENDPOINT\"", "The variable's name."),
            value: String, optional = ("VALUE", "the variable's value", "Its value, written into the image."),
        ],
        rest: [],
        props: [
            secret: String = ("secret", "a Secret name like \"hf-token\"", "Instead of VALUE: the Kubernetes Secret that holds the value at run time."),
            key: String = ("key", "a key of the Secret like \"HF_TOKEN\"", "The Secret's key; default: NAME."),
        ],
        children: [],
    }
}
