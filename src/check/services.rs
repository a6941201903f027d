//! The ports of the image's services ([`crate::service`]): where each listens in the container,
//! where docker-run.sh publishes it, and whether two of them would share one; and each service's
//! own checks, run through the registry.

use super::Checker;
use crate::diag::{Code, Diag};
use crate::lang::{DockerRunPart, KubernetesPart, Part, Spanned};
use crate::model::{self, DockerRun, PublishedPort, SecretVolume, ServiceFileUse, ServicePort, User};
use crate::service::{self, Checked, Cx, Finished, Pod, SERVICES, SecretFile, Service};
use crate::source::Span;

/// A switched-on service and the container port it listens on.
pub(super) struct Listening {
    /// The service.
    pub service: &'static dyn Service,
    /// Its container port.
    pub port: u16,
    /// Where the spec sets the port, unless it is the default.
    pub span: Option<Span>,
}

impl Listening {
    /// The image's port.
    pub fn port(&self) -> ServicePort {
        ServicePort { name: self.service.port_name().to_owned(), port: self.port }
    }

    /// The host port docker-run.sh publishes it at, and where the spec sets that port (its
    /// container port's span when the host port is the container port).
    pub fn host(&self, run: &DockerRunPart) -> (u16, Option<Span>) {
        match (service_port(&run.ports, self.service), self.service.default_host_port()) {
            (Some(host), _) => (host.value, Some(host.span)),
            (None, Some(default)) => (default, None),
            (None, None) => (self.port, self.span),
        }
    }
}

/// The port `ports` (`docker-run`'s or `node-port`'s) gives `service`.
pub(super) fn service_port<'p>(
    ports: &'p [(&'static str, Spanned<u16>)],
    service: &dyn Service,
) -> Option<&'p Spanned<u16>> {
    ports.iter().find(|(keyword, _)| *keyword == service.keyword()).map(|(_, port)| port)
}

/// The NodePort `kubernetes { node-port }` gives `service`.
pub(super) fn node_port<'k>(kubernetes: &'k KubernetesPart, service: &dyn Service) -> Option<&'k Spanned<u16>> {
    service_port(&kubernetes.node_port.as_ref()?.ports, service)
}

/// The switched-on services of `part`, in service order; `as_user`: on an image that runs as its
/// user.
pub(super) fn listening(part: &Part, as_user: bool) -> Vec<Listening> {
    SERVICES
        .iter()
        .filter_map(|&service| {
            let node = service::node_of(service, part);
            if !service::is_on(service, node) {
                return None;
            }
            let port = service::port_of(node);
            Some(Listening {
                service,
                port: port.as_ref().map_or(service::default_port(service, as_user), |p| p.value),
                span: port.map(|p| p.span),
            })
        })
        .collect()
}

/// The name of the first projected volume of the services' Secret files.
const SECRET_VOLUME: &str = "secret-files";

/// A running service, checked.
pub(super) type Running = (&'static dyn Service, Box<dyn Checked>);

/// The running services as the image runs them (each published as `docker_run` says, in `pod`),
/// the keywords of the switched-off ones, and the running ones' pip packages.
pub(super) fn finish(
    running: Vec<Running>,
    docker_run: &DockerRun,
    pod: &Pod<'_>,
) -> (Vec<model::Service>, Vec<&'static str>, Vec<String>) {
    let off = SERVICES
        .iter()
        .map(|s| s.keyword())
        .filter(|keyword| !running.iter().any(|(service, _)| service.keyword() == *keyword))
        .collect();
    let mut pip = Vec::new();
    let services = running
        .into_iter()
        .filter_map(|(service, checked)| {
            let published = docker_run.ports.iter().find(|p| p.name == service.port_name())?;
            let finished = checked.finish(pod);
            pip.extend(finished.pip.iter().cloned());
            Some(self::running(service, finished, published))
        })
        .collect();
    (services, off, pip)
}

/// The service as the image runs it: what its module decided, with its names and ports.
pub(super) fn running(service: &'static dyn Service, finished: Finished, published: &PublishedPort) -> model::Service {
    let Finished { program, probe, login, labels, directories, pip, files, settings } = finished;
    let files = files
        .into_iter()
        .filter_map(|path| {
            let index = service::file_index(service, path)?;
            Some(ServiceFileUse { path, index: u8::try_from(index).ok()? })
        })
        .collect();
    model::Service {
        keyword: service.keyword(),
        title: service.title(),
        port: published.container,
        port_name: service.port_name(),
        host_port: published.host,
        program,
        probe,
        login,
        labels,
        directories,
        pip,
        apt: service.apt().to_vec(),
        files,
        settings,
    }
}

impl Checker<'_> {
    /// Every service's own checks, switched-off services' too (they may be switched on later):
    /// the running ones, checked, in service order; `None` after an error.
    pub(super) fn services(&mut self, user: Option<&User>) -> Option<Vec<Running>> {
        let errors = self.errors();
        let mut running = Vec::new();
        let instance = self.instance;
        for &service in SERVICES {
            let mut cx = Cx::new(service, &instance.part, user, self.diags);
            let on = cx.on;
            if let Some(checked) = service.check(&mut cx)
                && on
            {
                running.push((service, checked));
            }
        }
        self.ok_since(errors).then_some(running)
    }

    /// A port below 1024 that a service of an image that runs as its user (`user`) would need
    /// root to listen on.
    pub(super) fn unprivileged_ports(&mut self, user: &User) {
        for listening in listening(self.part(), true) {
            let Some(span) = listening.span.filter(|_| listening.port < 1024) else { continue };
            let service = listening.service;
            self.push(
                Diag::error(
                    Code::NeedsRoot,
                    span,
                    format!(
                        "`{}` cannot listen on port {}: it runs as `{}`, and ports below 1024 need root",
                        service.keyword(),
                        listening.port,
                        user.name
                    ),
                    "needs root",
                )
                .with_label(self.part().user.as_ref().map_or(span, |u| u.node), "the services run as this user")
                .with_help(format!(
                    "leave `port` out ({} on an image with a `user`) or give a port from 1024 on; `docker-run {}=PORT` still publishes it at any host port",
                    service.unprivileged_port(),
                    service.keyword()
                )),
            );
        }
    }

    /// The files the running services read from Secrets, a projected volume per directory
    /// (`secret-files`, `secret-files-2`, …, in service order); `None` when two are one file, or a
    /// directory would hide the image's own files (`prefix`, the Python prefix, and `home`).
    pub(super) fn secret_volumes(
        &mut self,
        running: &[Running],
        slug: &str,
        home: &str,
        prefix: &str,
    ) -> Option<Vec<SecretVolume>> {
        let errors = self.errors();
        let files: Vec<SecretFile> = running.iter().flat_map(|(_, checked)| checked.secret_files(slug)).collect();
        let mut volumes: Vec<SecretVolume> = Vec::new();
        for (index, file) in files.iter().enumerate() {
            let Some((dir, name)) = file.path.rsplit_once('/') else { continue };
            if let Some(first) = files[..index].iter().find(|f| f.path == file.path) {
                let span = file.span.or(first.span).unwrap_or_else(|| self.name_span());
                let mut diag = Diag::error(
                    Code::InvalidValue,
                    span,
                    format!("`{}` is {} and {}", file.path, first.what, file.what),
                    "one file for two",
                )
                .with_help("give each file a path of its own: each comes from its own Secret");
                if let (Some(first), true) = (first.span, file.span.is_some()) {
                    diag = diag.with_label(first, "first given here");
                }
                self.push(diag);
                continue;
            }
            if let Some(span) = file.span {
                let hides = super::mounts::mount_point(dir, prefix).err().or_else(|| {
                    super::mounts::covers(dir, home)
                        .then(|| format!("a Secret mounted at `{dir}` would hide the home `{home}`, read-only"))
                });
                if let Some(reason) = hides {
                    self.push(
                        Diag::error(Code::MountPoint, span, reason, "its directory is mounted")
                            .with_help("Kubernetes mounts the Secret at the file's directory: put the file in a directory of its own, like `/sync`"),
                    );
                    continue;
                }
            }
            let item = model::SecretFile {
                what: file.what.to_owned(),
                secret: file.secret.clone(),
                key: file.key,
                name: name.to_owned(),
            };
            match volumes.iter_mut().find(|v| v.mount == dir) {
                Some(volume) => volume.files.push(item),
                None => {
                    let name = match volumes.len() {
                        0 => SECRET_VOLUME.to_owned(),
                        n => format!("{SECRET_VOLUME}-{}", n + 1),
                    };
                    volumes.push(SecretVolume { name, mount: dir.to_owned(), files: vec![item] });
                }
            }
        }
        self.ok_since(errors).then_some(volumes)
    }

    /// Two enabled services on one container port, or two services on one host port.
    pub(super) fn port_conflicts(&mut self) {
        let as_user = self.part().user.is_some();
        let listening = listening(self.part(), as_user);
        let container: Vec<(&str, u16, Option<Span>)> =
            listening.iter().map(|l| (l.service.keyword(), l.port, l.span)).collect();
        let container_clash = self.report_port_clash(&container, "in the container");
        // docker-run.sh publishes every port, at the port `docker-run` names or at its default
        // (2222 for ssh, the container port otherwise), so defaults can clash too.
        let run = self.part().docker_run.clone().unwrap_or_default();
        let host: Vec<(&str, u16, Option<Span>)> = listening
            .iter()
            .map(|l| {
                let (port, span) = l.host(&run);
                (l.service.keyword(), port, span)
            })
            .collect();
        if !container_clash {
            self.report_port_clash(&host, "on the host (docker-run.sh)");
        }
    }

    /// Reports every service whose port an earlier one already has; true when any two share one.
    fn report_port_clash(&mut self, ports: &[(&str, u16, Option<Span>)], place: &str) -> bool {
        let mut clash = false;
        for (i, (name, port, span)) in ports.iter().enumerate() {
            if let Some((other, _, other_span)) = ports[..i].iter().find(|(_, p, _)| p == port) {
                clash = true;
                // The label names the service whose port is written there: `name`'s own, or, when
                // `name` keeps its default port, `other`'s.
                let (primary, label, moved) = match (span, other_span) {
                    (Some(span), _) => (*span, format!("port of `{name}`"), *name),
                    (None, Some(span)) => {
                        (*span, format!("port of `{other}`, the default port of `{name}` too"), *other)
                    }
                    (None, None) => continue,
                };
                let mut diag = Diag::error(
                    Code::PortConflict,
                    primary,
                    format!("`{name}` and `{other}` both use port {port} {place}"),
                    label,
                )
                .with_help(if place.contains("host") {
                    format!("publish `{moved}` on another host port with `docker-run {moved}=PORT`")
                } else {
                    format!("give `{moved}` another port")
                });
                if let (Some(o), Some(_)) = (other_span, span) {
                    diag = diag.with_label(*o, format!("port of `{other}`"));
                }
                self.push(diag);
            }
        }
        clash
    }
}
