//! How an image runs: docker-run.sh's container and the Kubernetes objects.

use serde::Serialize;

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
    /// `-v HOST:CONTAINER[:ro]` bind mounts.
    pub volumes: Vec<BindVolume>,
}

/// A `-v HOST:CONTAINER` bind mount of `docker-run.sh`.
#[derive(Debug, Clone, Serialize)]
pub struct BindVolume {
    /// Absolute path on the host.
    pub host: String,
    /// Absolute path in the container.
    pub container: String,
    /// Mounted `:ro`.
    pub read_only: bool,
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
    /// Size limit of the memory-backed `/dev/shm`.
    pub shm_size: String,
    /// Namespace of every object; none leaves it to `kubectl -n`.
    pub namespace: Option<String>,
    /// Secret with the registry credentials.
    pub image_pull_secret: Option<String>,
    /// `nodeSelector` entries, in spec order.
    pub node_selector: Vec<NodeSelector>,
    /// Pod tolerations, in spec order.
    pub tolerations: Vec<Toleration>,
    /// Volumes mounted into the container, in spec order.
    pub volumes: Vec<Volume>,
    /// The files the services read from Secrets, a projected volume per directory.
    pub secret_volumes: Vec<SecretVolume>,
}

/// A directory of files that the services read from Kubernetes Secrets: one projected volume,
/// each file an item of its own optional Secret, so that a Secret created later is seen at the
/// next start.
#[derive(Debug, Clone, Serialize)]
pub struct SecretVolume {
    /// The volume's name: `secret-files`, then `secret-files-2`, ….
    pub name: String,
    /// The directory: `/sync`.
    pub mount: String,
    /// Its files, in service order.
    pub files: Vec<SecretFile>,
}

/// A file of a [`SecretVolume`]: one key of one Secret.
#[derive(Debug, Clone, Serialize)]
pub struct SecretFile {
    /// What it holds, for people: `the root password (SSH)`.
    pub what: String,
    /// The Secret's name: `<slug>-jupyter-token`.
    pub secret: String,
    /// The Secret's key: `jupyter-token`.
    pub key: &'static str,
    /// The file's name in the directory: `jupyter-token`.
    pub name: String,
}

/// A `nodeSelector` entry.
#[derive(Debug, Clone, Serialize)]
pub struct NodeSelector {
    /// Label key.
    pub key: String,
    /// Label value.
    pub value: String,
}

/// A pod toleration.
#[derive(Debug, Clone, Serialize)]
pub struct Toleration {
    /// Taint key; none tolerates every key (with `Exists`).
    pub key: Option<String>,
    /// `Exists` or `Equal`.
    pub operator: String,
    /// Taint value (`Equal` only).
    pub value: Option<String>,
    /// Taint effect; none tolerates every effect.
    pub effect: Option<String>,
}

/// A pod volume and its mount.
#[derive(Debug, Clone, Serialize)]
pub struct Volume {
    /// DNS-1123 label.
    pub name: String,
    /// Mount path in the container.
    pub mount: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// Where its data lives.
    pub source: VolumeSource,
}

/// The source of a pod volume.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum VolumeSource {
    /// A PersistentVolumeClaim.
    Claim {
        /// Its name.
        claim: String,
    },
    /// A directory of the node.
    HostPath {
        /// Its path.
        path: String,
    },
    /// A scratch directory for the pod's life.
    EmptyDir,
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
