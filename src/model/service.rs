//! The services an image runs, as the service registry decided them.

use serde::Serialize;

/// A service the image runs under supervisord, as its module in [`crate::service`] decided.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    /// Its node's name, and its templates' folder `image/services/<keyword>/`: `jupyter`.
    pub keyword: &'static str,
    /// For people: `JupyterLab`.
    pub title: &'static str,
    /// The port it listens on in the container.
    pub port: u16,
    /// The name of that port in the Kubernetes Service and docker-run.sh: `jupyterlab`.
    pub port_name: &'static str,
    /// The host port docker-run.sh publishes it at.
    pub host_port: u16,
    /// Its supervisord program.
    pub program: Program,
    /// How the health check and the self-test see it answer.
    pub probe: Probe,
    /// Whether users log in through it (their sessions start with a clean environment).
    pub login: bool,
    /// Its LABELs of the image, after `dev.dlspec.`.
    pub labels: Vec<(&'static str, LabelValue)>,
    /// Directories it works in, made at first boot.
    pub directories: Vec<String>,
    /// Its pip packages, installed in the platform layer.
    pub pip: Vec<String>,
    /// Its Debian packages.
    pub apt: Vec<&'static str>,
    /// Its own files of the image.
    pub files: Vec<ServiceFileUse>,
    /// Its own settings, for its templates.
    pub settings: minijinja::Value,
}

/// A file a service adds to the image.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ServiceFileUse {
    /// Its path in the image's directory: `init/ssh/sshd_config`.
    pub path: &'static str,
    /// Its index among the files of every service ([`crate::service::files`]), its bit in
    /// [`Shape::service_files`].
    pub index: u8,
}

/// A supervisord program.
#[derive(Debug, Clone, Serialize)]
pub struct Program {
    /// `[program:NAME]`, and its log `/var/log/supervisor/NAME.log`.
    pub name: &'static str,
    /// The command, as arguments (each quoted for the shell that supervisord is not, and for
    /// supervisord's `%` expansion, by the template).
    pub command: Vec<String>,
    /// Its working directory; supervisord's own when `None`.
    pub directory: Option<String>,
}

/// How a service is seen answering: it greets a connection to its port with a banner, or its URL
/// answers over HTTP.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    /// What the self-test checks: `banner` or `http`.
    pub kind: &'static str,
    /// The start of the banner: `SSH-`.
    pub banner: Option<&'static str>,
    /// The URL that answers over HTTP, from inside the container.
    pub url: Option<String>,
}

impl Probe {
    /// A service that greets every connection with a banner that starts so.
    #[must_use]
    pub fn banner(start: &'static str) -> Self {
        Self { kind: "banner", banner: Some(start), url: None }
    }

    /// A service whose `url` answers over HTTP.
    #[must_use]
    pub fn http(url: String) -> Self {
        Self { kind: "http", banner: None, url: Some(url) }
    }
}

/// A LABEL's value: its text as the Dockerfile writes it.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum LabelValue {
    /// A string.
    Text(String),
    /// A port.
    Port(u16),
    /// `true` or `false`.
    Flag(bool),
}
