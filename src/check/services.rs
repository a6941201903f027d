//! The ports of the image's services ([`crate::service`]): where each listens in the container,
//! where docker-run.sh publishes it, and whether two of them would share one; and each service's
//! own checks, run through the registry.

use super::Checker;
use crate::diag::{Code, Diag};
use crate::lang::{DockerRunPart, KubernetesPart, Part, Spanned};
use crate::model::{self, PublishedPort, ServiceFileUse, ServicePort};
use crate::service::{self, Checked, Cx, Finished, SERVICES, Service};
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

/// The switched-on services of `part`, in service order.
pub(super) fn listening(part: &Part) -> Vec<Listening> {
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
                port: port.as_ref().map_or(service.default_port(), |p| p.value),
                span: port.map(|p| p.span),
            })
        })
        .collect()
}

/// A running service, checked.
pub(super) type Running = (&'static dyn Service, Box<dyn Checked>);

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
    pub(super) fn services(&mut self) -> Option<Vec<Running>> {
        let errors = self.errors();
        let mut running = Vec::new();
        let instance = self.instance;
        for &service in SERVICES {
            let mut cx = Cx::new(service, &instance.part, self.diags);
            let on = cx.on;
            if let Some(checked) = service.check(&mut cx)
                && on
            {
                running.push((service, checked));
            }
        }
        self.ok_since(errors).then_some(running)
    }

    /// Two enabled services on one container port, or two services on one host port.
    pub(super) fn port_conflicts(&mut self) {
        let listening = listening(self.part());
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
