//! What a GPU image needs of a node, and how it runs on each node pool.

use serde::Serialize;

use super::{NodeSelector, Resources, Toleration};

/// What a GPU image needs of a node, from the facts of its base and its framework build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GpuNeeds {
    /// The CUDA the driver must support, from the base's `NVIDIA_REQUIRE_CUDA`: `12.6`.
    pub cuda: Option<String>,
    /// The oldest driver that supports it: `560.28.03`.
    pub min_driver: Option<String>,
    /// The base's forward-compatibility exceptions: a driver branch and the brands it holds for
    /// (the self-test reads the node's brand).
    pub compat: Vec<CompatClause>,
    /// A driver from which any brand starts the base (an OR term of 2021's bases).
    pub any_driver: Option<String>,
    /// The brand classes on which forward compatibility runs and the exceptions hold: `data-center`.
    pub forward_compat: Vec<&'static str>,
    /// Their exception branches: `535`, `550`.
    pub forward_compat_branches: Vec<u32>,
    /// The driver's brands of those classes.
    pub forward_compat_brands: Vec<String>,
    /// The CUDA of the libraries the framework installs through pip: `12.8`.
    pub pip_cuda: Option<String>,
    /// The oldest driver that runs that CUDA major (minor-version compatibility): `525`.
    pub pip_min_driver: Option<String>,
    /// The CUDA the framework build was made with: its PTX needs a driver with it.
    pub build_cuda: Option<String>,
    /// The compute capabilities the build has SASS for; `None` where the tables do not know.
    pub sass: Option<Vec<String>>,
    /// The compute capabilities the build has PTX for.
    pub ptx: Option<Vec<String>>,
}

/// A forward-compatibility exception of a base: its driver branch and the brands it holds for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompatClause {
    /// `535`.
    pub branch: u32,
    /// `tesla`, `nvidia`, …
    pub brands: Vec<String>,
}

/// How an image runs on one node pool: where its pods go and what they ask for there.
#[derive(Debug, Clone, Serialize)]
pub struct PoolRun {
    /// The pool's name: the folder `k8s/<name>/`.
    pub name: String,
    /// The Deployment's name.
    pub deployment: String,
    /// The self-test Job's name, and its pod's instance label.
    pub job_name: String,
    /// The pool's `nvidia.com/gpu.product`.
    pub gpu: String,
    /// The pool's compute capability: `8.9`.
    pub compute: String,
    /// The pool's driver.
    pub driver: String,
    /// `none`, `time-slicing`, `mps` or `mig`.
    pub sharing: &'static str,
    /// The extended resource a pod requests for its GPUs.
    pub resource: String,
    /// How many.
    pub gpus: u32,
    /// The pods' `runtimeClassName`.
    pub runtime_class: Option<String>,
    /// The pool's node selector, then the image's own.
    pub node_selector: Vec<NodeSelector>,
    /// The pool's tolerations, then the image's own.
    pub tolerations: Vec<Toleration>,
    /// The node-affinity guard: a node must match one of these terms (every expression of it).
    pub affinity: Vec<Vec<NodeExpression>>,
    /// Requests, limits and `/dev/shm` of a pod there.
    pub resources: PodResources,
    /// How the image runs there, for the README: `CUDA 12.6 by forward compatibility; SASS for 8.0`.
    pub how: String,
}

/// One expression of a node-selector term: `key operator values`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeExpression {
    /// A node label: `nvidia.com/gpu.compute.major`.
    pub key: &'static str,
    /// `In` or `Gt`.
    pub operator: &'static str,
    /// Its values: integers as text.
    pub values: Vec<String>,
}

/// A pod's resources on a node pool: no CPU limit unless written (data loading is not throttled),
/// and a memory limit that holds the memory-backed `/dev/shm`.
#[derive(Debug, Clone, Serialize)]
pub struct PodResources {
    /// What the pod reserves.
    pub requests: Resources,
    /// The CPU limit, when the spec writes one.
    pub limit_cpu: Option<String>,
    /// The memory limit.
    pub limit_memory: String,
    /// The size of `/dev/shm`, part of the memory limit.
    pub shm_size: String,
}

/// Whether an image runs on one node pool of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolVerdict {
    /// The pool's name.
    pub pool: String,
    /// Whether it runs there.
    pub runs: bool,
    /// How (when it runs), or why not, in a few words.
    pub note: String,
}
