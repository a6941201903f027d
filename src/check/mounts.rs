//! Where volumes come from and where they go, for `docker-run` and `kubernetes` alike. The
//! container's root shell is reachable over SSH, so a system directory of the host handed to it
//! hands over the host; and a mount over the image's own directories hides the files it runs
//! from, so the container crash-loops.

use super::Checker;
use crate::diag::{Code, Diag};
use crate::lang::Spanned;
use crate::service::SERVICES;

/// The host's system trees: its programs, libraries and configuration (`/etc/shadow`, the
/// kubelet's kubeconfig), devices and kernel interfaces, the run-time state and daemon sockets
/// (`/run`, `/var/run`), the state of the kubelet (every pod's Secrets) and of the container
/// runtimes (every container's files), every pod's logs, root's home (its SSH keys, kubeconfig and
/// registry credentials) and the CNI plugins, which run as root on the node.
const HOST_SYSTEM_TREES: &[&str] = &[
    "/etc",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/boot",
    "/dev",
    "/proc",
    "/sys",
    "/run",
    "/var/run",
    "/var/lib/kubelet",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/containers",
    "/var/lib/etcd",
    "/var/lib/cni",
    "/var/log",
    "/root",
    "/opt/cni",
];

/// The image's own trees: a mount at, above or inside one hides the programs, libraries and
/// configuration the container runs from. `/init` is where the Dockerfile copies the platform's
/// `init/` (boot script, services, self-test); the Miniconda prefix comes from the image's model.
const IMAGE_TREES: &[&str] =
    &["/bin", "/etc", "/init", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sbin", "/sys", "/usr"];

/// Directories the container fills as it runs: a mount inside one is fine, one at or above it
/// hides what the runtime and the platform put there (devices, supervisord's socket, the services'
/// logs in `/var/log/supervisor`, the platform's `/run/dlspec`: the values of Secrets, and with a
/// `user` the run-time files the user writes). The services add theirs
/// ([`crate::service::Service::run_dirs`]).
const IMAGE_RUN_DIRS: &[&str] = &["/dev", "/run", "/run/dlspec", "/var/log/supervisor", "/var/run"];

/// A path's components, without empty and `.` ones: `//etc/./x/` is `["etc", "x"]`.
fn components(path: &str) -> Vec<&str> {
    path.split('/').filter(|c| !c.is_empty() && *c != ".").collect()
}

/// Whether `path` is at or inside `dir`, or above it (both as components).
fn overlaps(path: &[&str], dir: &str) -> bool {
    let dir = components(dir);
    path.starts_with(&dir) || dir.starts_with(path)
}

/// Whether a mount at `path` covers `dir`: `path` is `dir` or above it.
pub(super) fn covers(path: &str, dir: &str) -> bool {
    components(dir).starts_with(&components(path))
}

/// What makes the host path `path` (absolute, without `..`) a system path of the host, if it is
/// one: at, above or inside one of [`HOST_SYSTEM_TREES`], or a socket (a name ending in `.sock`:
/// docker.sock, containerd.sock, crio.sock).
pub(super) fn host_path(path: &str) -> Result<(), String> {
    let parts = components(path);
    if parts.last().is_some_and(|name| name.ends_with(".sock")) {
        return Err(format!("`{path}` is a daemon's socket on the host"));
    }
    let Some(tree) = HOST_SYSTEM_TREES.iter().find(|tree| overlaps(&parts, tree)) else { return Ok(()) };
    Err(if parts.is_empty() {
        "`/` is the host's whole file system".to_owned()
    } else if parts == components(tree) {
        format!("`{path}` is a system directory of the host")
    } else if parts.starts_with(&components(tree)) {
        format!("`{path}` is in the host's system directory `{tree}`")
    } else {
        format!("`{path}` holds the host's system directory `{tree}`")
    })
}

/// Why the container path `path` (absolute, without `..`) may not be a mount point, if a mount
/// there hides the image's own files: at, above or inside one of [`IMAGE_TREES`] or `prefix`
/// (Miniconda's), or at or above one of [`IMAGE_RUN_DIRS`] or the services' run directories.
pub(super) fn mount_point(path: &str, prefix: &str) -> Result<(), String> {
    let parts = components(path);
    if parts.is_empty() {
        return Err("a mount at `/` would hide the whole image".to_owned());
    }
    let tree = IMAGE_TREES.iter().copied().chain([prefix]).find(|dir| overlaps(&parts, dir));
    let run_dirs = IMAGE_RUN_DIRS.iter().chain(SERVICES.iter().flat_map(|s| s.run_dirs())).copied();
    let hidden = tree.or_else(|| run_dirs.into_iter().find(|dir| components(dir).starts_with(&parts)));
    let Some(dir) = hidden else { return Ok(()) };
    let what = if parts == components(dir) {
        format!("the image's `{dir}`")
    } else if parts.starts_with(&components(dir)) {
        format!("part of the image's `{dir}`")
    } else {
        format!("the image's `{dir}` inside it")
    };
    Err(format!("a mount at `{path}` would hide {what}, which the container runs from"))
}

impl Checker<'_> {
    /// Reports a host path of `docker-run volume` or `kubernetes volume host-path=` that is a
    /// system path of the host ([`host_path`]).
    pub(super) fn host_source(&mut self, path: &Spanned<String>) -> Option<()> {
        let Err(what) = host_path(&path.value) else { return Some(()) };
        self.push(Diag::error(Code::HostPath, path.span, what, "host system path").with_help(
            "the container's root shell, reachable over SSH, would read or change the host through it (a runtime's socket starts privileged containers; read-only does not help: sockets stay writable, credentials readable); mount a data directory of its own, like `/data/work`",
        ));
        None
    }

    /// Reports a container path of a volume that would hide the image's own files ([`mount_point`]).
    pub(super) fn mount_target(&mut self, path: &Spanned<String>, prefix: &str) -> Option<()> {
        let Err(reason) = mount_point(&path.value, prefix) else { return Some(()) };
        // Root's home holds the platform's Python: a home that survives the pod is a `user`'s.
        let help = if components(&path.value) == components(crate::service::ROOT_HOME) {
            "keep the users' work on a volume below the home, like `/root/work` (JupyterLab and SSH sessions see it), or give the image a `user`, whose home `/home/NAME` may be a volume"
        } else {
            "mount it at a directory of its own, like `/root/work` or `/data/datasets`"
        };
        self.push(Diag::error(Code::MountPoint, path.span, reason, "hides the image's files").with_help(help));
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_system_paths() {
        for refused in [
            "/",
            "//",
            "/etc",
            "/etc/kubernetes",
            "/var",
            "/var/lib",
            "/var/run/docker.sock",
            "/run/containerd/containerd.sock",
            "/data/crio.sock",
            "/var/lib/kubelet/pods",
            "/lib64",
            "/usr/local",
            "/root/.ssh",
            "/opt",
            "/./etc/",
        ] {
            assert!(host_path(refused).is_err(), "{refused}");
        }
        for fine in ["/data/work", "/data/alice/datasets", "/mnt/nfs/ai", "/opt/data", "/srv/models", "/var/lib/ai"] {
            assert_eq!(host_path(fine), Ok(()), "{fine}");
        }
    }

    #[test]
    fn mount_points() {
        let prefix = "/root/miniconda3";
        for refused in [
            "/",
            "/etc",
            "/etc/ssh",
            "/usr",
            "/usr/local/bin",
            "/lib",
            "/lib64/x",
            "/init",
            "/init/boot",
            "/root",
            "/root/miniconda3",
            "/root/miniconda3/envs",
            "/var",
            "/var/log",
            "/var/run",
            "/run",
            "/dev",
            "/proc",
            "/run/sshd",
            "/var/run/sshd",
            "/run/dlspec",
        ] {
            assert!(mount_point(refused, prefix).is_err(), "{refused}");
        }
        for fine in [
            "/root/work",
            "/root/.ssh",
            "/data",
            "/workspace",
            "/run/secrets/tokens",
            "/var/lib/dlspec/ssh-host-keys",
            "/run/sshd-keys",
            "/tmp/scratch",
            "/var/log/supervisor/old",
            "/opt",
            "/libraries-of-mine",
        ] {
            assert_eq!(mount_point(fine, prefix), Ok(()), "{fine}");
        }
    }
}
