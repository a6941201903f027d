//! The service registry: one module per service the image runs under supervisord, each with its
//! node and properties, its port, its packages, its supervisord program, how the health check
//! and the self-test see it answer, its labels, its own files and its fragments of the image's
//! files (`templates/image/services/<keyword>/`).
//!
//! Adding a service is its module here with a line in [`SERVICES`], its templates folder, its
//! section of the docs, and its tests: the language (its node, its `docker-run` and `node-port`
//! properties), the port checks, the Dockerfile, supervisord, the health check, the self-test, the
//! READMEs and the catalog all come from the registry.

mod jupyter;
mod ssh;
mod tensorboard;

use crate::diag::{Code, Diag, Diagnostics};
use crate::lang::{Node, Part, RegisteredPart, ServiceNode, Spanned};
use crate::model;
use crate::source::Span;
use crate::values;

/// Every service dlspec knows, in service order: the order of the image's ports, programs and
/// checks everywhere they are listed.
pub static SERVICES: &[&dyn Service] = &[&ssh::Ssh, &jupyter::Jupyter, &tensorboard::TensorBoard];

/// What the services add to the language: their nodes.
#[must_use]
pub fn language() -> Vec<ServiceNode> {
    SERVICES.iter().map(|s| ServiceNode { node: s.node(), title: s.title() }).collect()
}

/// Every template of every service, by name (its path under `templates/`).
pub fn templates() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    SERVICES.iter().flat_map(|s| s.templates())
}

/// Every file a service may add to an image, in registry order: an image's [`model::Shape`] says
/// which it has by their index here.
pub fn files() -> impl Iterator<Item = &'static ServiceFile> {
    SERVICES.iter().flat_map(|s| s.files())
}

/// The index of `service`'s file at `path` among [`files`].
#[must_use]
pub fn file_index(service: &dyn Service, path: &str) -> Option<usize> {
    let earlier: usize =
        SERVICES.iter().take_while(|s| s.keyword() != service.keyword()).map(|s| s.files().len()).sum();
    Some(earlier + service.files().iter().position(|file| file.path == path)?)
}

/// A file of the image that a service adds when it runs.
#[derive(Debug)]
pub struct ServiceFile {
    /// Its template's name.
    pub template: &'static str,
    /// Its path in the image's directory.
    pub path: &'static str,
    /// Mode 0755 instead of 0644.
    pub executable: bool,
}

/// What one service is: its node, its port and its own rules.
pub trait Service: Sync + std::fmt::Debug {
    /// Its node's name, its key in `docker-run` and `node-port`, and its templates' folder: `jupyter`.
    fn keyword(&self) -> &'static str;
    /// For people: `JupyterLab`.
    fn title(&self) -> &'static str;
    /// Its node: `#true`/`#false` and its properties, as the language reads them.
    fn node(&self) -> &'static Node;
    /// The name of its port in the Kubernetes Service and docker-run.sh: `jupyterlab`.
    fn port_name(&self) -> &'static str;
    /// The port it listens on in the container unless its node says `port=`.
    fn default_port(&self) -> u16;
    /// The port it listens on instead when the image runs as its `user`: ports below 1024 need root.
    fn unprivileged_port(&self) -> u16 {
        self.default_port()
    }
    /// Whether it runs when the spec does not write its node (or writes no `#true`/`#false`).
    fn on_by_default(&self) -> bool {
        true
    }
    /// The host port docker-run.sh publishes it at unless `docker-run` names one; `None`: its
    /// container port.
    fn default_host_port(&self) -> Option<u16> {
        None
    }
    /// Its templates, by name: its files and its fragments of the image's templates.
    fn templates(&self) -> &'static [(&'static str, &'static str)];
    /// The files it may add to an image.
    fn files(&self) -> &'static [ServiceFile] {
        &[]
    }
    /// Its Debian packages.
    fn apt(&self) -> &'static [&'static str] {
        &[]
    }
    /// Variables its programs or scripts read, which the spec may not set: name, what to do instead.
    fn reserved_env(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// Directories it needs as the image made them: a volume at or above one breaks it.
    fn run_dirs(&self) -> &'static [&'static str] {
        &[]
    }
    /// Checks its node and its settings elsewhere in the spec, reporting every problem (a
    /// switched-off service's too: it may be switched on later); `None` after an error.
    fn check(&self, cx: &mut Cx<'_>) -> Option<Box<dyn Checked>>;
}

/// A checked service: what the pod reserves for it, and the service as the image runs it.
pub trait Checked {
    /// The pod volumes it mounts, by name and mount path: the spec's volumes may take neither (an
    /// empty path reserves only the name).
    fn pod_volumes(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// The files it reads from Kubernetes Secrets, for the image whose slug is `slug`: the
    /// Deployment mounts each directory of them as one volume.
    fn secret_files(&self, _slug: &str) -> Vec<SecretFile> {
        Vec::new()
    }
    /// The service as the image runs it, in `pod`.
    fn finish(self: Box<Self>, pod: &Pod<'_>) -> Finished;
}

/// A file a service reads from a Kubernetes Secret.
#[derive(Debug, Clone)]
pub struct SecretFile {
    /// What it holds, for people: `the root password (SSH)`.
    pub what: &'static str,
    /// Its absolute path in the container, in a directory other than `/`.
    pub path: String,
    /// Where the spec writes the path, if it does.
    pub span: Option<Span>,
    /// The Secret's name.
    pub secret: String,
    /// The Secret's key.
    pub key: &'static str,
}

/// What the other checks decided that a service's files name.
#[derive(Debug)]
pub struct Pod<'a> {
    /// The image's slug: its Kubernetes objects' names start with it.
    pub slug: &'a str,
    /// Where Python is installed: `/root/miniconda3`.
    pub prefix: &'a str,
    /// The image's non-root user, if it has one.
    pub user: Option<&'a model::User>,
    /// The home of whoever the services run as: `/root` or the user's.
    pub home: &'a str,
    /// Where the spec's Kubernetes volumes are mounted.
    pub volume_mounts: Vec<&'a str>,
}

/// What a service's module decides of it; the registry adds its names and ports
/// ([`model::Service`]).
#[derive(Debug)]
pub struct Finished {
    /// Its supervisord program.
    pub program: model::Program,
    /// How the health check and the self-test see it answer.
    pub probe: model::Probe,
    /// Whether users log in through it.
    pub login: bool,
    /// Its labels.
    pub labels: Vec<(&'static str, model::LabelValue)>,
    /// Directories it works in, made at first boot.
    pub directories: Vec<String>,
    /// Its pip packages of the platform layer.
    pub pip: Vec<String>,
    /// Which of its [`Service::files`] the image has, by path.
    pub files: Vec<&'static str>,
    /// Its settings, for its templates.
    pub settings: minijinja::Value,
}

/// The context of a service's rules: the spec's settings, its port, and where problems go.
pub struct Cx<'a> {
    /// The image's settings, merged.
    pub part: &'a Part,
    /// Its node, if written.
    pub node: Option<&'a RegisteredPart>,
    /// Whether it runs.
    pub on: bool,
    /// The port it listens on in the container.
    pub port: u16,
    /// The image's non-root user, if it has one (checked).
    pub user: Option<&'a model::User>,
    /// The home of whoever the services run as: `/root` or the user's.
    pub home: &'a str,
    diags: &'a mut Diagnostics,
}

impl<'a> Cx<'a> {
    /// The context of `service`'s checks on the image's settings `part`, run as `user` (root when
    /// `None`).
    pub fn new(
        service: &dyn Service,
        part: &'a Part,
        user: Option<&'a model::User>,
        diags: &'a mut Diagnostics,
    ) -> Self {
        let node = node_of(service, part);
        let port = port_of(node).map_or(default_port(service, user.is_some()), |p| p.value);
        let home = user.map_or(ROOT_HOME, |u| u.home.as_str());
        Self { part, node, on: is_on(service, node), port, user, home, diags }
    }

    /// An error for the setting at `span` that only works as root, on an image that runs as its
    /// user: `what` says why, `help` what to write instead.
    pub fn needs_root(&mut self, span: Span, what: String, help: &str) {
        let mut diag = Diag::error(Code::NeedsRoot, span, what, "needs root").with_help(help);
        if let Some(user) = &self.part.user {
            diag = diag.with_label(user.node, "the services run as this user");
        }
        self.push(diag);
    }

    /// Checks the path of a file read from a Kubernetes Secret (`what`, like `password file`),
    /// mounted as its directory: safe, absolute, not over a system path, and in a directory of
    /// its own. `example` is a good path.
    pub fn secret_file(&mut self, file: &Spanned<String>, what: &str, example: &str) -> Option<()> {
        self.valid(file, Code::Unsafe, "path", values::absolute_path)?;
        self.valid(file, Code::InvalidValue, what, |path| values::secret_file(path, example))?;
        if file.value.rfind('/') == Some(0) || file.value.ends_with('/') {
            self.push(
                Diag::error(
                    Code::Unsafe,
                    file.span,
                    format!("`{}` is not a file in a directory of its own", file.value),
                    "needs a directory",
                )
                .with_help(format!(
                    "put the {what} in a directory, like \"{example}\": Kubernetes mounts the Secret there"
                )),
            );
            return None;
        }
        Some(())
    }

    /// Reports a problem.
    pub fn push(&mut self, diag: Diag) {
        self.diags.push(diag);
    }

    /// Validates `value` with `validate`; reports a `code` error at its span.
    pub fn valid<T>(
        &mut self,
        value: &Spanned<String>,
        code: Code,
        what: &str,
        validate: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        value.validate(self.diags, code, what, validate)
    }

    /// The string property `name` of its node.
    #[must_use]
    pub fn string(&self, name: &str) -> Option<Spanned<String>> {
        self.node.and_then(|n| n.string(name))
    }

    /// The boolean property `name` of its node.
    #[must_use]
    pub fn boolean(&self, name: &str) -> Option<Spanned<bool>> {
        self.node.and_then(|n| n.boolean(name))
    }
}

/// The service's node among the image's settings.
#[must_use]
pub fn node_of<'p>(service: &dyn Service, part: &'p Part) -> Option<&'p RegisteredPart> {
    part.services.iter().find(|s| s.keyword == service.keyword())
}

/// Whether the service runs with this node (or none): as its node's `#true`/`#false` says, else
/// as the service says by default.
#[must_use]
pub fn is_on(service: &dyn Service, node: Option<&RegisteredPart>) -> bool {
    node.and_then(RegisteredPart::switch).map_or(service.on_by_default(), |on| on.value)
}

/// The home of root, whom the services run as without `user`.
pub const ROOT_HOME: &str = "/root";

/// The port `service` listens on unless its node writes one: on an image that runs as its user
/// (`as_user`), one that needs no root.
#[must_use]
pub fn default_port(service: &dyn Service, as_user: bool) -> u16 {
    if as_user { service.unprivileged_port() } else { service.default_port() }
}

/// The `port=` a service's node writes: the container port it listens on.
#[must_use]
pub fn port_of(node: Option<&RegisteredPart>) -> Option<Spanned<u16>> {
    node.and_then(|n| n.port("port"))
}

/// A service's node: `#true`/`#false`, `port=`, then its own properties.
macro_rules! service_node {
    ($name:literal, $doc:literal, [$($prop:literal: $kind:ident = ($expect:literal, $pdoc:literal)),* $(,)?]) => {
        &$crate::lang::Node {
            name: $name,
            doc: $doc,
            args: &[$crate::lang::Value {
                name: "on/off",
                kind: $crate::lang::Kind::Boolean,
                expect: "a boolean",
                doc: "`#false` switches the service off, `#true` back on.",
            }],
            required_args: 0,
            variadic: false,
            props: &[
                $crate::lang::Value {
                    name: "port",
                    kind: $crate::lang::Kind::Port,
                    expect: "a port number",
                    doc: "Port in the container.",
                },
                $($crate::lang::Value { name: $prop, kind: $crate::lang::Kind::$kind, expect: $expect, doc: $pdoc },)*
            ],
            per_service: None,
            repeats: false,
            children: $crate::lang::Children::None,
        }
    };
}
use service_node;
