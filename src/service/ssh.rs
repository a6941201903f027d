//! SSH: sshd with root's password from a file or the environment, host keys kept across restarts,
//! and the login banner.

use serde::Serialize;

use super::{Checked, Cx, Finished, Pod, Service, ServiceFile, service_node};
use crate::diag::{Code, Diag};
use crate::lang::Node;
use crate::model::{LabelValue, Probe, Program};
use crate::values;

/// sshd.
#[derive(Debug)]
pub struct Ssh;

const HOST_KEYS_DIR: &str = "/var/lib/dlspec/ssh-host-keys";
const PASSWORD_FILE: &str = "/sync/root-passwd";

const NODE: &Node = service_node!("ssh", "The SSH server.", [
    "password-file": String = ("an absolute path", "Password file read at boot."),
    "motd": Boolean = ("a boolean", "The login banner."),
    "password": String = ("a password", "A literal root password (warned about)."),
    "host-keys": String = ("an absolute directory path", "Directory where boot.sh keeps the host keys."),
]);

const TEMPLATES: &[(&str, &str)] = &[
    ("image/services/ssh/sshd_config.j2", include_str!("../../templates/image/services/ssh/sshd_config.j2")),
    ("image/services/ssh/motd.sh.j2", include_str!("../../templates/image/services/ssh/motd.sh.j2")),
    ("image/services/ssh/secret.yaml.j2", include_str!("../../templates/image/services/ssh/secret.yaml.j2")),
    ("image/services/ssh/boot.sh.setup.j2", include_str!("../../templates/image/services/ssh/boot.sh.setup.j2")),
    ("image/services/ssh/boot.sh.off.j2", include_str!("../../templates/image/services/ssh/boot.sh.off.j2")),
    (
        "image/services/ssh/platform.sh.setup.j2",
        include_str!("../../templates/image/services/ssh/platform.sh.setup.j2"),
    ),
    ("image/services/ssh/platform.sh.env.j2", include_str!("../../templates/image/services/ssh/platform.sh.env.j2")),
    (
        "image/services/ssh/docker-run.sh.usage.j2",
        include_str!("../../templates/image/services/ssh/docker-run.sh.usage.j2"),
    ),
    (
        "image/services/ssh/docker-run.sh.prepare.j2",
        include_str!("../../templates/image/services/ssh/docker-run.sh.prepare.j2"),
    ),
    (
        "image/services/ssh/docker-run.sh.args.j2",
        include_str!("../../templates/image/services/ssh/docker-run.sh.args.j2"),
    ),
    (
        "image/services/ssh/deployment.yaml.mounts.j2",
        include_str!("../../templates/image/services/ssh/deployment.yaml.mounts.j2"),
    ),
    (
        "image/services/ssh/deployment.yaml.volumes.j2",
        include_str!("../../templates/image/services/ssh/deployment.yaml.volumes.j2"),
    ),
    ("image/services/ssh/README.md.ports.j2", include_str!("../../templates/image/services/ssh/README.md.ports.j2")),
    ("image/services/ssh/README.md.docker.j2", include_str!("../../templates/image/services/ssh/README.md.docker.j2")),
    (
        "image/services/ssh/README.md.docker-run.j2",
        include_str!("../../templates/image/services/ssh/README.md.docker-run.j2"),
    ),
    (
        "image/services/ssh/README.md.kubectl.j2",
        include_str!("../../templates/image/services/ssh/README.md.kubectl.j2"),
    ),
    (
        "image/services/ssh/README.md.kubernetes.j2",
        include_str!("../../templates/image/services/ssh/README.md.kubernetes.j2"),
    ),
    ("image/services/ssh/README.md.login.j2", include_str!("../../templates/image/services/ssh/README.md.login.j2")),
];

const FILES: &[ServiceFile] = &[
    ServiceFile { template: "image/services/ssh/sshd_config.j2", path: "init/ssh/sshd_config", executable: false },
    ServiceFile { template: "image/services/ssh/motd.sh.j2", path: "init/motd/motd.sh", executable: false },
    ServiceFile { template: "image/services/ssh/secret.yaml.j2", path: "k8s/secret.yaml", executable: false },
];

/// What the templates of SSH see (`service.settings`).
#[derive(Debug, Serialize)]
struct Settings {
    /// File read at boot for the root password.
    password_file: String,
    /// Its directory, where Kubernetes mounts the password Secret.
    password_dir: String,
    /// Its name in that directory (the Secret's item path).
    password_file_name: String,
    /// Show the login banner.
    motd: bool,
    /// A literal root password from the spec (warned about); passed by docker-run.sh and a Secret.
    password: Option<String>,
    /// Directory where boot.sh keeps the host keys, so that they survive restarts.
    host_keys: String,
    /// The Secret of the root password: `<slug>-root-passwd`.
    password_secret: String,
    /// The optional Secret that keeps the host keys, unless a volume of the spec does.
    host_keys_secret: Option<String>,
}

impl Service for Ssh {
    fn keyword(&self) -> &'static str {
        "ssh"
    }

    fn title(&self) -> &'static str {
        "SSH"
    }

    fn node(&self) -> &'static Node {
        NODE
    }

    fn port_name(&self) -> &'static str {
        "ssh"
    }

    fn default_port(&self) -> u16 {
        22
    }

    // Port 22 of the host is usually its own sshd's.
    fn default_host_port(&self) -> Option<u16> {
        Some(2222)
    }

    fn templates(&self) -> &'static [(&'static str, &'static str)] {
        TEMPLATES
    }

    fn files(&self) -> &'static [ServiceFile] {
        FILES
    }

    fn apt(&self) -> &'static [&'static str] {
        &["openssh-server"]
    }

    fn reserved_env(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("MOTD_SHOWN", "switch the banner with `ssh motd=#false`"),
            ("ROOT_PASSWORD", "give the password at run time, or in `ssh password-file=`"),
            ("ROOT_PASSWORD_FILE", "give the password at run time, or in `ssh password-file=`"),
        ]
    }

    // sshd refuses a privilege-separation directory that is not root's alone, which a volume is not.
    fn run_dirs(&self) -> &'static [&'static str] {
        &["/run/sshd", "/var/run/sshd"]
    }

    fn check(&self, cx: &mut Cx<'_>) -> Option<Box<dyn Checked>> {
        let mut password_file = PASSWORD_FILE.to_owned();
        let mut password = None;
        let mut host_keys = HOST_KEYS_DIR.to_owned();
        if let Some(file) = cx.string("password-file") {
            cx.valid(&file, Code::Unsafe, "path", values::absolute_path)?;
            cx.valid(&file, Code::InvalidValue, "password file", values::password_file)?;
            // Kubernetes mounts the password Secret as the file's directory.
            if file.value.rfind('/') == Some(0) || file.value.ends_with('/') {
                cx.push(
                    Diag::error(
                        Code::Unsafe,
                        file.span,
                        format!("`{}` is not a file in a directory of its own", file.value),
                        "needs a directory",
                    )
                    .with_help("put the password file in a directory, like \"/sync/root-passwd\": Kubernetes mounts the Secret there"),
                );
                return None;
            }
            password_file.clone_from(&file.value);
        }
        if let Some(dir) = cx.string("host-keys") {
            cx.valid(&dir, Code::Unsafe, "path", values::absolute_path)?;
            host_keys = dir.value.trim_end_matches('/').to_owned();
            if password_file.rsplit_once('/').is_some_and(|(d, _)| d == host_keys) || host_keys.is_empty() {
                cx.push(
                    Diag::error(
                        Code::Unsafe,
                        dir.span,
                        format!("`{}` cannot hold the host keys", dir.value),
                        "host-key directory",
                    )
                    .with_help("use a directory of its own, like \"/var/lib/dlspec/ssh-host-keys\" (not `/`, not the password file's directory)"),
                );
                return None;
            }
        }
        if let Some(literal) = cx.string("password") {
            cx.valid(&literal, Code::Unsafe, "password", values::password)?;
            if cx.on {
                cx.push(
                    Diag::warning(Code::Password, literal.span, "a literal root password is written in clear text into docker-run.sh and k8s/secret.yaml", "password in the spec")
                        .with_help(format!("leave `password` out and provide it at run time: a file at `{password_file}` or the ROOT_PASSWORD variable")),
                );
            }
            password = Some(literal.value);
        }
        // The Secret that keeps the host keys: the spec's name, or one made from the slug.
        let host_keys_secret = match cx.part.kubernetes.as_ref().and_then(|k| k.host_keys_secret.as_ref()) {
            Some(name) => {
                cx.valid(name, Code::KubernetesName, "Secret name", values::dns_subdomain)?;
                Some(name.value.clone())
            }
            None => None,
        };
        let (password_dir, password_file_name) =
            password_file.rsplit_once('/').map(|(d, f)| (d.to_owned(), f.to_owned())).unwrap_or_default();
        Some(Box::new(Valid {
            port: cx.port,
            motd: cx.boolean("motd").is_none_or(|m| m.value),
            password_file,
            password_dir,
            password_file_name,
            password,
            host_keys,
            host_keys_secret,
        }))
    }
}

/// SSH's settings, checked.
struct Valid {
    port: u16,
    password_file: String,
    password_dir: String,
    password_file_name: String,
    motd: bool,
    password: Option<String>,
    host_keys: String,
    /// The `host-keys-secret` of `kubernetes`, if written.
    host_keys_secret: Option<String>,
}

impl Checked for Valid {
    fn pod_volumes(&self) -> Vec<(&'static str, String)> {
        // A volume of the spec may be mounted at the host-key directory: that is how they persist.
        vec![("root-password", self.password_dir.clone()), ("ssh-host-keys", String::new())]
    }

    fn finish(self: Box<Self>, pod: &Pod<'_>) -> Finished {
        let Valid {
            port,
            password_file,
            password_dir,
            password_file_name,
            motd,
            password,
            host_keys,
            host_keys_secret,
        } = *self;
        // Hashed by the whole name, so that it differs from the password Secret's when cut.
        let host_keys_secret = host_keys_secret.unwrap_or_else(|| {
            let name = format!("{}-ssh-host-keys", pod.slug);
            values::truncate_name(&name, &name)
        });
        // A volume of the spec at the host-key directory keeps them (writable); otherwise the
        // optional Secret does.
        let host_keys_secret = Some(host_keys_secret).filter(|_| !pod.volume_mounts.contains(&host_keys.as_str()));
        let mut files = vec![FILES[0].path];
        if motd {
            files.push(FILES[1].path);
        }
        if password.is_some() {
            files.push(FILES[2].path);
        }
        let labels = vec![
            ("ssh.port", LabelValue::Port(port)),
            ("ssh.password-file", LabelValue::Text(password_file.clone())),
            ("ssh.motd", LabelValue::Flag(motd)),
        ];
        let settings = Settings {
            password_secret: values::truncate_name(&format!("{}-root-passwd", pod.slug), pod.slug),
            password_file,
            password_dir,
            password_file_name,
            motd,
            password,
            host_keys,
            host_keys_secret,
        };
        Finished {
            program: Program {
                name: "sshd",
                command: vec!["/usr/sbin/sshd".into(), "-D".into(), "-e".into()],
                directory: None,
            },
            probe: Probe::banner("SSH-"),
            login: true,
            labels,
            directories: Vec::new(),
            pip: Vec::new(),
            files,
            settings: minijinja::Value::from(minijinja::value::Serde(settings)),
        }
    }
}
