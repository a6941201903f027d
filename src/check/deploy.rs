//! How an image is named and run: its tag and Kubernetes names, `docker-run` and `kubernetes`.

use super::Checker;
use super::services::{Listening, node_port};
use crate::diag::{Code, Diag, did_you_mean};
use crate::lang::{KubernetesPart, ServiceType, Spanned};
use crate::model::{
    Base, BaseKind, BindVolume, DockerRun, Framework, Kubernetes, KubernetesPort, PublishedPort, Python, Resources,
};
use crate::service::SERVICES;
use crate::values;

impl Checker<'_> {
    /// The tag: the spec's template (or the default one) with its placeholders filled in.
    pub(super) fn tag(&mut self, base: &Base, python: &Python, framework: Option<&Framework>) -> Option<String> {
        let (template, span, written) = match self.part().tag.clone() {
            Some(t) => (t.template.value, t.template.span, true),
            None => (default_tag(base, framework), self.name_span(), false),
        };
        let mut out = String::new();
        let mut rest = template.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                self.push(
                    Diag::error(Code::Tag, span, "unclosed `{` in the tag template", "unclosed placeholder")
                        .with_help("close it with `}`"),
                );
                return None;
            };
            let key = &rest[open + 1..open + close];
            let base_slug = base.upstream.replace(['/', ':', '@'], "-");
            let value = match key {
                "version" => framework.map(|f| f.version.clone()),
                "framework" => Some(framework.map_or("none", |f| f.kind).to_owned()),
                "python" => Some(python.version.clone()),
                "cuda" => base.cuda.clone(),
                "cudnn" => base.cudnn.clone(),
                "flavor" => base.flavor.clone(),
                "os" => base.os.clone(),
                "base" => Some(base_slug),
                _ => {
                    let help = did_you_mean(key, &PLACEHOLDERS, "the placeholders are");
                    self.push(
                        Diag::error(
                            Code::Tag,
                            span,
                            format!("unknown placeholder `{{{key}}}` in the tag template"),
                            "unknown placeholder",
                        )
                        .with_help(help),
                    );
                    return None;
                }
            };
            let Some(value) = value else {
                self.push(
                    Diag::error(Code::Tag, span, format!("placeholder `{{{key}}}` has no value for this image"), "empty placeholder")
                        .with_help("remove it from the tag template: it applies only to images that have it (`{cuda}` to CUDA bases, `{version}` to images with a framework)"),
                );
                return None;
            };
            out.push_str(&value);
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        if let Err(reason) = values::tag(&out) {
            let label = if written { "invalid tag" } else { "tag from this image's settings" };
            self.push(
                Diag::error(Code::Tag, span, format!("the tag `{out}` is not a valid Docker tag"), label)
                    .with_help(reason),
            );
            return None;
        }
        Some(out)
    }

    /// How docker-run.sh starts the image: container name, restart policy, ports, bind mounts
    /// (none over `prefix`, Miniconda's).
    pub(super) fn docker_run(
        &mut self,
        name: &str,
        services: &[Listening],
        gpu: bool,
        prefix: &str,
    ) -> Option<DockerRun> {
        let part = self.part().docker_run.clone().unwrap_or_default();
        let container_name = match &part.name {
            Some(n) => {
                self.valid(n, Code::Unsafe, "container name", values::container_name)?;
                n.value.clone()
            }
            None => format!("{}-test", name.rsplit('/').next().unwrap_or(name)),
        };
        let restart = match &part.restart {
            Some(r) => {
                let ok = ["no", "always", "unless-stopped", "on-failure"].contains(&r.value.as_str())
                    || r.value.strip_prefix("on-failure:").is_some_and(|n| n.parse::<u32>().is_ok());
                if !ok {
                    let help = did_you_mean(
                        &r.value,
                        &["no", "always", "unless-stopped", "on-failure"],
                        "restart policies are",
                    );
                    self.push(
                        Diag::error(
                            Code::InvalidValue,
                            r.span,
                            format!("`{}` is not a restart policy", r.value),
                            "unknown policy",
                        )
                        .with_help(help),
                    );
                    return None;
                }
                r.value.clone()
            }
            None => "always".to_owned(),
        };
        let published = services
            .iter()
            .map(|l| PublishedPort { name: l.service.port_name().to_owned(), host: l.host(&part).0, container: l.port })
            .collect();
        let volumes = self.bind_volumes(prefix)?;
        Some(DockerRun { container_name, restart, gpu, ports: published, volumes })
    }

    /// The Deployment and Service: resources, Service type, ports and NodePorts, placement,
    /// volumes (none over `prefix`, Miniconda's) and Secrets.
    pub(super) fn kubernetes(
        &mut self,
        services: &[Listening],
        gpu: bool,
        service_volumes: &[(&str, String)],
        prefix: &str,
    ) -> Option<Kubernetes> {
        let part = self.part().kubernetes.clone().unwrap_or_default();
        let errors = self.errors();
        let quantity = |this: &mut Self, v: &Option<Spanned<String>>, default: &str| -> String {
            match v {
                Some(q) if this.valid(q, Code::InvalidValue, "quantity", values::quantity).is_none() => String::new(),
                Some(q) => q.value.clone(),
                None => default.to_owned(),
            }
        };
        let (requests, limits) = (part.requests.as_ref(), part.limits.as_ref());
        let requests = Resources {
            cpu: quantity(self, &requests.and_then(|r| r.cpu.clone()), "100m"),
            memory: quantity(self, &requests.and_then(|r| r.memory.clone()), "512Mi"),
        };
        let limits = Resources {
            cpu: quantity(self, &limits.and_then(|l| l.cpu.clone()), "2"),
            memory: quantity(self, &limits.and_then(|l| l.memory.clone()), "4Gi"),
        };
        let shm_size = quantity(self, &part.shm_size, "2Gi");
        let service_type = part.service.as_ref().map_or(ServiceType::NodePort, |s| s.value).as_str().to_owned();
        let gpus = match &part.gpus {
            Some(g) if !gpu && g.value > 0 => {
                self.push(
                    Diag::warning(
                        Code::InvalidValue,
                        g.span,
                        format!("`gpus={}` is ignored: this is a CPU image", g.value),
                        "no GPU in this image",
                    )
                    .with_help("leave `gpus` out, or build on `cuda` (or `base … gpu=#true`) to make a GPU image"),
                );
                0
            }
            Some(g) => g.value,
            None => u32::from(gpu),
        };
        let k8s_ports = self.service_ports(&part, services, &service_type);
        let placement = self.placement();
        // The platform's own volumes: their names and mount paths are not the spec's to take.
        let mut reserved = vec![("dshm", "/dev/shm")];
        reserved.extend(service_volumes.iter().map(|(name, mount)| (*name, mount.as_str())));
        let volumes = self.volumes(&reserved, prefix);
        let (Some(placement), Some(volumes), true) = (placement, volumes, self.ok_since(errors)) else {
            return None;
        };
        Some(Kubernetes {
            namespace: placement.namespace,
            image_pull_secret: placement.pull_secret,
            node_selector: placement.node_selector,
            tolerations: placement.tolerations,
            volumes,
            replicas: part.replicas.as_ref().map_or(1, |r| r.value),
            requests,
            limits,
            gpus,
            service_type,
            ports: k8s_ports,
            shm_size,
            secret_volumes: Vec::new(),
        })
    }

    /// The Service's ports, with the NodePorts the spec fixes: each in the cluster's range, none
    /// on a ClusterIP Service or for a switched-off service, no two the same.
    fn service_ports(
        &mut self,
        part: &KubernetesPart,
        services: &[Listening],
        service_type: &str,
    ) -> Vec<KubernetesPort> {
        let mut k8s_ports = Vec::new();
        for listening in services {
            let node_port = node_port(part, listening.service);
            if let Some(np) = node_port {
                let range = self.settings.node_ports.clone();
                if !range.contains(&np.value) {
                    let (low, high) = (range.start(), range.end());
                    let mut diag = Diag::error(
                        Code::NodePort,
                        np.span,
                        format!("NodePort {} is outside {low}–{high}", np.value),
                        "outside the NodePort range",
                    );
                    diag = match self.settings.node_ports_span {
                        Some(span) => diag
                            .with_label(span, "the catalog's NodePort range")
                            .with_help(format!("pick a port from {low} to {high} (the catalog's `node-ports`)")),
                        None => diag.with_help(format!(
                            "pick a port from {low} to {high} (the default NodePort range), or set the cluster's range with `catalog {{ node-ports LOW HIGH }}`"
                        )),
                    };
                    self.push(diag);
                }
                if service_type == "ClusterIP" {
                    self.push(
                        Diag::error(
                            Code::NodePort,
                            np.span,
                            "a ClusterIP Service has no NodePorts",
                            "NodePort on ClusterIP",
                        )
                        .with_help("remove `node-port`, or use `service=\"NodePort\"`"),
                    );
                }
            }
            k8s_ports.push(KubernetesPort {
                name: listening.service.port_name().to_owned(),
                port: listening.port,
                node_port: node_port.map(|n| n.value),
            });
        }
        for &service in SERVICES {
            if let Some(np) = node_port(part, service)
                && !services.iter().any(|l| l.service.keyword() == service.keyword())
            {
                self.push(
                    Diag::error(
                        Code::NodePort,
                        np.span,
                        format!("`{}` is switched off, so it has no NodePort", service.port_name()),
                        "service is off",
                    )
                    .with_help(format!("remove `{}=` from `node-port`", service.keyword())),
                );
            }
        }
        let mut seen: Vec<&Spanned<u16>> = Vec::new();
        for np in SERVICES.iter().filter_map(|&service| node_port(part, service)) {
            if let Some(first) = seen.iter().find(|s| s.value == np.value) {
                self.push(
                    Diag::error(
                        Code::PortConflict,
                        np.span,
                        format!("NodePort {} is given to two services", np.value),
                        "used again here",
                    )
                    .with_label(first.span, "first used here")
                    .with_help("give each service its own NodePort"),
                );
            }
            seen.push(np);
        }
        k8s_ports
    }

    /// `docker-run { volume HOST CONTAINER read-only= }`.
    fn bind_volumes(&mut self, prefix: &str) -> Option<Vec<BindVolume>> {
        let part = self.part().docker_run.clone().unwrap_or_default();
        let errors = self.errors();
        let mut volumes = Vec::new();
        for volume in &part.volumes {
            let host = self
                .valid(&volume.host, Code::Unsafe, "host path", values::absolute_path)
                .and_then(|()| self.host_source(&volume.host));
            let container = self
                .valid(&volume.container, Code::Unsafe, "container path", values::absolute_path)
                .and_then(|()| self.mount_target(&volume.container, prefix));
            if host.is_none() || container.is_none() {
                continue;
            }
            volumes.push(BindVolume {
                host: volume.host.value.clone(),
                container: volume.container.value.clone(),
                read_only: volume.read_only.as_ref().is_some_and(|r| r.value),
            });
        }
        self.ok_since(errors).then_some(volumes)
    }
}

/// Whether `/dev/shm` (memory-backed, so part of the pod's memory) fits in the memory limit;
/// reports it where the spec wrote either, `context` saying where the values apply.
pub(super) fn shm_fits(checker: &mut Checker<'_>, shm: &str, limit: &str, context: &str) -> bool {
    let (Some(shm_bytes), Some(limit_bytes)) = (values::quantity_bytes(shm), values::quantity_bytes(limit)) else {
        return true;
    };
    if shm_bytes < limit_bytes {
        return true;
    }
    let part = checker.part().kubernetes.clone().unwrap_or_default();
    let limit_memory = part.limits.as_ref().and_then(|l| l.memory.as_ref());
    let span = part.shm_size.as_ref().or(limit_memory).map_or_else(|| checker.name_span(), |written| written.span);
    let context = if context.is_empty() { String::new() } else { format!(" {context}") };
    let mut diag = Diag::error(
        Code::Shm,
        span,
        format!("`/dev/shm` of {shm} does not fit in the memory limit of {limit}{context}"),
        "/dev/shm too large",
    )
    .with_help("`/dev/shm` is memory the pod's limit counts: write a `shm-size` well below `limits memory=` (a quarter leaves room for the processes), or raise the limit");
    if part.shm_size.is_some()
        && let Some(limit) = limit_memory
    {
        diag = diag.with_label(limit.span, "the memory limit");
    }
    checker.push(diag);
    false
}

/// What a tag template may name in braces.
const PLACEHOLDERS: [&str; 8] = ["version", "framework", "python", "cuda", "cudnn", "flavor", "os", "base"];

/// The tag template of a spec without `tag`: the parts that tell this base's images apart.
fn default_tag(base: &Base, framework: Option<&Framework>) -> String {
    let prefix = if framework.is_some() { "{version}-python{python}" } else { "python{python}" };
    match base.kind {
        BaseKind::Cuda if base.cudnn.is_some() => format!("{prefix}-cuda{{cuda}}-cudnn{{cudnn}}-{{flavor}}-{{os}}"),
        BaseKind::Cuda => format!("{prefix}-cuda{{cuda}}-{{flavor}}-{{os}}"),
        BaseKind::Cpu => format!("{prefix}-cpu-{{os}}"),
        BaseKind::Custom => format!("{prefix}-{{base}}"),
    }
}

/// A DNS-1123 label for the image: lowercase alphanumerics and `-`, at most 63 characters; long
/// names keep a hash of the full reference so that they stay unique.
pub(super) fn slug(name: &str, tag: &str, reference: &str) -> String {
    let raw = format!("{name}-{tag}");
    let mut slug = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' };
        if !(c == '-' && (slug.is_empty() || slug.ends_with('-'))) {
            slug.push(c);
        }
    }
    let slug = slug.trim_end_matches('-');
    // A Service's name is a DNS-1035 label, which starts with a letter.
    let slug = if slug.starts_with(|c: char| c.is_ascii_digit()) { format!("img-{slug}") } else { slug.to_owned() };
    values::truncate_name(&slug, reference)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_dns_labels() {
        let s = slug("pytorch", "2.3.0-python3.8-cuda12.1.0-cudnn8-devel-ubuntu22.04", "x");
        assert_eq!(s, "pytorch-2-3-0-python3-8-cuda12-1-0-cudnn8-devel-ubuntu22-04");
        let long = slug("myteam/pytorch-matrix", "2.3.0-python3.10-cuda12.1.0-cudnn8-devel-ubuntu22.04", "ref");
        assert!(long.len() <= 63, "{long}");
        assert!(long.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        assert_eq!(slug("3d", "python3.10-cpu-ubuntu22.04", "x"), "img-3d-python3-10-cpu-ubuntu22-04");
    }
}
