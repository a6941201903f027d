//! SSH: sshd with root's password from a file or the environment, or, on an image that runs as
//! its `user`, as that user with keys only; host keys kept across restarts, and the login banner.

use serde::Serialize;

use super::{Checked, Cx, Finished, Pod, SecretFile, Service, ServiceFile, service_node};
use crate::diag::{Code, Diag};
use crate::lang::Node;
use crate::model::{LabelValue, Probe, Program};
use crate::source::Span;
use crate::values;

/// sshd.
#[derive(Debug)]
pub struct Ssh;

const HOST_KEYS_DIR: &str = "/var/lib/dlspec/ssh-host-keys";
const PASSWORD_FILE: &str = "/sync/root-passwd";
const AUTHORIZED_KEYS_FILE: &str = "/sync/authorized_keys";
/// Where boot.sh puts what sshd reads at run time (the host keys, the keys of the authorized-keys
/// file) when it runs as the image's user, or takes keys from that file: the user's, or root's.
const ROOT_RUN_DIR: &str = "/run/dlspec";

const NODE: &Node = service_node!("ssh", "The SSH server.", [
    "password-file": String = ("an absolute path", "Password file read at boot."),
    "authorized-keys-file": String = ("an absolute path", "Public keys file read at boot."),
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
    /// Who logs in: `root`, or the image's user.
    login: String,
    /// File read at boot for the root password; none on an image that runs as its user.
    password_file: Option<String>,
    /// A literal root password from the spec (warned about); passed by docker-run.sh and a Secret.
    password: Option<String>,
    /// The Secret of the root password: `<slug>-root-passwd`.
    password_secret: String,
    /// File of public keys that boot.sh copies for sshd at every start, besides
    /// `~/.ssh/authorized_keys`: by default on an image that runs as its user only.
    authorized_keys_file: Option<String>,
    /// The Secret of those keys: `<slug>-authorized-keys`.
    authorized_keys_secret: String,
    /// Where boot.sh puts the keys sshd reads (the host keys, when sshd runs as the user, and the
    /// authorized-keys file's): `/run/dlspec/ssh`.
    keys_dir: String,
    /// Show the login banner.
    motd: bool,
    /// Directory where boot.sh keeps the host keys, so that they survive restarts.
    host_keys: String,
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

    // Below 1024 only root may listen; 2222 is also the host port of `docker-run.sh`.
    fn unprivileged_port(&self) -> u16 {
        2222
    }

    fn check(&self, cx: &mut Cx<'_>) -> Option<Box<dyn Checked>> {
        let as_user = cx.user.is_some();
        // Each file with where the spec writes it, if it does.
        let mut password_file: Option<(String, Option<Span>)> = (!as_user).then(|| (PASSWORD_FILE.to_owned(), None));
        let mut authorized_keys_file: Option<(String, Option<Span>)> =
            as_user.then(|| (AUTHORIZED_KEYS_FILE.to_owned(), None));
        let mut password = None;
        let mut host_keys = HOST_KEYS_DIR.to_owned();
        if let Some(file) = cx.string("password-file") {
            cx.secret_file(&file, "password file", PASSWORD_FILE)?;
            if let Some(user) = cx.user {
                let what =
                    format!("a password file needs root: sshd runs as `{}` and cannot check passwords", user.name);
                cx.needs_root(file.span, what, NO_PASSWORD_HELP);
                return None;
            }
            password_file = Some((file.value, Some(file.span)));
        }
        if let Some(file) = cx.string("authorized-keys-file") {
            cx.secret_file(&file, "authorized-keys file", AUTHORIZED_KEYS_FILE)?;
            authorized_keys_file = Some((file.value, Some(file.span)));
        }
        let secret_dirs: Vec<&str> =
            [&password_file, &authorized_keys_file].into_iter().flatten().filter_map(|(f, _)| parent(f)).collect();
        if let Some(dir) = cx.string("host-keys") {
            cx.valid(&dir, Code::Unsafe, "path", values::absolute_path)?;
            host_keys = dir.value.trim_end_matches('/').to_owned();
            if secret_dirs.contains(&host_keys.as_str()) || host_keys.is_empty() {
                cx.push(
                    Diag::error(
                        Code::Unsafe,
                        dir.span,
                        format!("`{}` cannot hold the host keys", dir.value),
                        "host-key directory",
                    )
                    .with_help("use a directory of its own, like \"/var/lib/dlspec/ssh-host-keys\" (not `/`, not the directory of the password or authorized-keys file)"),
                );
                return None;
            }
        }
        if let Some(literal) = cx.string("password") {
            cx.valid(&literal, Code::Unsafe, "password", values::password)?;
            if let Some(user) = cx.user {
                let what = format!("a password needs root: sshd runs as `{}` and cannot check passwords", user.name);
                cx.needs_root(literal.span, what, NO_PASSWORD_HELP);
                return None;
            }
            if cx.on {
                cx.push(
                    Diag::warning(
                        Code::Password,
                        literal.span,
                        "a literal root password is written in clear text into docker-run.sh and k8s/secret.yaml",
                        "password in the spec",
                    )
                    .with_help(format!(
                        "leave `password` out and provide it at run time: a file at `{}` or the ROOT_PASSWORD variable",
                        password_file.as_ref().map_or(PASSWORD_FILE, |(f, _)| f.as_str())
                    )),
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
        Some(Box::new(Valid {
            port: cx.port,
            login: cx.user.map_or_else(|| "root".to_owned(), |u| u.name.clone()),
            run_dir: cx.user.map_or(ROOT_RUN_DIR, |u| u.run_dir.as_str()).to_owned(),
            motd: cx.boolean("motd").is_none_or(|m| m.value),
            password_file,
            authorized_keys_file,
            password,
            host_keys,
            host_keys_secret,
        }))
    }
}

const NO_PASSWORD_HELP: &str = "leave it out: the user logs in with a key, from `authorized-keys-file` (a Kubernetes Secret, `/sync/authorized_keys` by default) or `~/.ssh/authorized_keys`; or leave `user` out for root's password login";

/// The directory of an absolute file path.
fn parent(path: &str) -> Option<&str> {
    path.rsplit_once('/').map(|(dir, _)| dir)
}

/// SSH's settings, checked.
struct Valid {
    port: u16,
    login: String,
    run_dir: String,
    /// The password file, and where the spec writes it.
    password_file: Option<(String, Option<Span>)>,
    /// The authorized-keys file, and where the spec writes it.
    authorized_keys_file: Option<(String, Option<Span>)>,
    motd: bool,
    password: Option<String>,
    host_keys: String,
    /// The `host-keys-secret` of `kubernetes`, if written.
    host_keys_secret: Option<String>,
}

impl Valid {
    /// The password Secret's name. Hashed by the slug alone when cut (as it always was).
    fn password_secret(slug: &str) -> String {
        values::truncate_name(&format!("{slug}-root-passwd"), slug)
    }

    /// The authorized-keys Secret's name, hashed by the whole name when cut, so that it differs
    /// from the others.
    fn authorized_keys_secret(slug: &str) -> String {
        let name = format!("{slug}-authorized-keys");
        values::truncate_name(&name, &name)
    }
}

impl Checked for Valid {
    fn pod_volumes(&self) -> Vec<(&'static str, String)> {
        // A volume of the spec may be mounted at the host-key directory: that is how they persist.
        vec![("ssh-host-keys", String::new())]
    }

    fn secret_files(&self, slug: &str) -> Vec<SecretFile> {
        let mut files = Vec::new();
        if let Some((path, span)) = &self.password_file {
            files.push(SecretFile {
                what: "the root password (SSH)",
                path: path.clone(),
                span: *span,
                secret: Self::password_secret(slug),
                key: "root-passwd",
            });
        }
        if let Some((path, span)) = &self.authorized_keys_file {
            files.push(SecretFile {
                what: "the public keys of SSH logins",
                path: path.clone(),
                span: *span,
                secret: Self::authorized_keys_secret(slug),
                key: "authorized_keys",
            });
        }
        files
    }

    fn finish(self: Box<Self>, pod: &Pod<'_>) -> Finished {
        let Valid {
            port,
            login,
            run_dir,
            password_file,
            authorized_keys_file,
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
        let password_file = password_file.map(|(path, _)| path);
        let authorized_keys_file = authorized_keys_file.map(|(path, _)| path);
        let mut labels = vec![("ssh.port", LabelValue::Port(port))];
        if let Some(file) = &password_file {
            labels.push(("ssh.password-file", LabelValue::Text(file.clone())));
        }
        if let Some(file) = &authorized_keys_file {
            labels.push(("ssh.authorized-keys-file", LabelValue::Text(file.clone())));
        }
        labels.push(("ssh.motd", LabelValue::Flag(motd)));
        let settings = Settings {
            login,
            password_secret: Valid::password_secret(pod.slug),
            password_file,
            password,
            authorized_keys_secret: Valid::authorized_keys_secret(pod.slug),
            authorized_keys_file,
            keys_dir: format!("{run_dir}/ssh"),
            motd,
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
