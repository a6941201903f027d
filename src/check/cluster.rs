//! The settings a cluster needs (v2 of the language): the `catalog` node (registries, NodePort
//! range), and each image's Kubernetes namespace, pull secret, node selection, tolerations and
//! volumes.

use std::ops::RangeInclusive;

use super::Checker;
use crate::diag::{Code, Diag, Diagnostics};
use crate::lang::{
    CatalogPart, NodePortsPart, NodeSelectorPart, Spanned, TolerationOperator, TolerationPart, VolumePart,
};
use crate::model::{Catalog, NodeSelector, Toleration, Volume, VolumeSource};
use crate::source::Span;
use crate::values;

/// The range Kubernetes allocates NodePorts from unless the cluster says otherwise.
pub(super) const DEFAULT_NODE_PORTS: RangeInclusive<u16> = 30000..=32767;

/// The catalog's settings that the checks of each image use.
pub(super) struct Settings {
    pub registry: Option<String>,
    pub base_registry: Option<String>,
    pub node_ports: RangeInclusive<u16>,
    /// Where the range was written, for the NodePort diagnostics.
    pub node_ports_span: Option<Span>,
    /// The cluster's GPU node pools.
    pub pools: super::pools::Pools,
}

/// Where and how a pod is scheduled: namespace, pull secret, node selector, tolerations.
pub(super) struct Placement {
    pub namespace: Option<String>,
    pub pull_secret: Option<String>,
    pub node_selector: Vec<NodeSelector>,
    pub tolerations: Vec<Toleration>,
}

/// Validates the `catalog` node; an invalid value is reported and left at its default.
pub(super) fn settings(part: Option<&CatalogPart>, diags: &mut Diagnostics) -> (Catalog, Settings) {
    let mut settings = Settings {
        registry: None,
        base_registry: None,
        node_ports: DEFAULT_NODE_PORTS,
        node_ports_span: None,
        pools: super::pools::Pools::default(),
    };
    let mut catalog = Catalog::default();
    let Some(part) = part else { return (catalog, settings) };
    let registry = |value: &Option<Spanned<String>>, diags: &mut Diagnostics| {
        let value = value.as_ref()?;
        match values::registry(&value.value) {
            Ok(()) => Some(value.value.clone()),
            Err(reason) => {
                diags.push(
                    Diag::error(
                        Code::Registry,
                        value.span,
                        format!("`{}` is not a registry reference", value.value),
                        "not a registry",
                    )
                    .with_help(reason),
                );
                None
            }
        }
    };
    settings.pools = super::pools::declared(&part.node_pools, crate::compat::get(), diags);
    settings.registry = registry(&part.registry.as_ref().map(|r| r.registry.clone()), diags);
    settings.base_registry = registry(&part.base_registry.as_ref().map(|r| r.registry.clone()), diags);
    catalog.registry.clone_from(&settings.registry);
    catalog.base_registry.clone_from(&settings.base_registry);
    if let Some(templates) = part.templates.as_ref().map(|t| &t.dir) {
        let relative = !templates.value.is_empty()
            && !templates.value.starts_with('/')
            && templates.value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '.' | '-'));
        if relative {
            catalog.templates = Some(templates.value.clone());
        } else {
            diags.push(
                Diag::error(
                    Code::Unsafe,
                    templates.span,
                    format!("`{}` is not a relative directory path", templates.value),
                    "invalid path",
                )
                .with_help("write the templates directory relative to the specs directory, like \"templates\" or \"../templates\""),
            );
        }
    }
    if let Some(NodePortsPart { low, high, .. }) = &part.node_ports {
        let port = |n: &Spanned<i128>| u16::try_from(n.value).ok().filter(|p| *p > 0);
        match (port(low), port(high)) {
            (Some(l), Some(h)) if l <= h => {
                settings.node_ports = l..=h;
                settings.node_ports_span = Some(Span { end: high.span.end, ..low.span });
            }
            (l, h) => {
                let (span, message) = match (l, h) {
                    (None, _) => (low.span, format!("`{}` is not a port number", low.value)),
                    (_, None) => (high.span, format!("`{}` is not a port number", high.value)),
                    _ => (
                        Span { end: high.span.end, ..low.span },
                        format!("the range {}–{} is empty", low.value, high.value),
                    ),
                };
                diags.push(Diag::error(Code::NodePort, span, message, "not a NodePort range").with_help(
                    "write the cluster's --service-node-port-range as two ports, low first: `node-ports 30000 32767`",
                ));
            }
        }
    }
    (catalog, settings)
}

/// A toleration, validated; reports every problem.
pub(super) fn toleration(diags: &mut Diagnostics, part: &TolerationPart) -> Option<Toleration> {
    let operator = part.operator.as_ref().map_or(TolerationOperator::Equal, |o| o.value);
    if let Some(key) = &part.key {
        super::valid(diags, key, Code::Label, "taint key", values::label_key)?;
    }
    if let Some(value) = &part.value {
        if operator == TolerationOperator::Exists {
            diags.push(
                Diag::error(Code::Toleration, value.span, "an `Exists` toleration takes no value", "value with Exists")
                    .with_help("remove `value=`, or use `operator=\"Equal\"` to match this value"),
            );
            return None;
        }
        super::valid(diags, value, Code::Label, "taint value", values::label_value)?;
    }
    if part.key.is_none() && operator == TolerationOperator::Equal {
        diags.push(
            Diag::error(Code::Toleration, part.node, "an `Equal` toleration needs a `key`", "no key")
                .with_help("add `key=\"…\"`, or write `operator=\"Exists\"` to tolerate every taint"),
        );
        return None;
    }
    Some(Toleration {
        key: part.key.as_ref().map(|k| k.value.clone()),
        operator: operator.as_str().to_owned(),
        value: part.value.as_ref().map(|v| v.value.clone()),
        effect: part.effect.as_ref().map(|e| e.value.as_str().to_owned()),
    })
}

/// Validates node-selector pairs; reports every problem.
pub(super) fn node_selector(diags: &mut Diagnostics, pairs: &[NodeSelectorPart]) -> Vec<NodeSelector> {
    let mut selectors = Vec::new();
    for NodeSelectorPart { key, value, .. } in pairs {
        let key_ok = super::valid(diags, key, Code::Label, "label key", values::label_key).is_some();
        let value_ok = super::valid(diags, value, Code::Label, "label value", values::label_value).is_some();
        if key_ok && value_ok {
            selectors.push(NodeSelector { key: key.value.clone(), value: value.value.clone() });
        }
    }
    selectors
}

/// `registry/reference`, or the reference itself without a registry.
pub(super) fn under_registry(registry: Option<&str>, reference: &str) -> String {
    registry.map_or_else(|| reference.to_owned(), |r| format!("{r}/{reference}"))
}

/// The path a pull-through cache serves `reference` at: Docker Hub's official images live under
/// `library/`.
pub(super) fn through_cache(base_registry: Option<&str>, reference: &str) -> String {
    let path = if reference.contains('/') { reference.to_owned() } else { format!("library/{reference}") };
    match base_registry {
        Some(r) => format!("{r}/{path}"),
        None => reference.to_owned(),
    }
}

impl Checker<'_> {
    /// The Kubernetes placement settings: namespace, pull secret, node selector, tolerations.
    pub(super) fn placement(&mut self) -> Option<Placement> {
        let part = self.part().kubernetes.clone().unwrap_or_default();
        let errors = self.errors();
        let name = |this: &mut Self, v: &Option<Spanned<String>>, what: &str, rule: fn(&str) -> Result<(), String>| {
            let v = v.as_ref()?;
            this.valid(v, Code::KubernetesName, what, rule)?;
            Some(v.value.clone())
        };
        let namespace =
            name(self, &part.namespace.as_ref().map(|n| n.namespace.clone()), "namespace", values::dns_label);
        let pull_secret = name(
            self,
            &part.image_pull_secret.as_ref().map(|s| s.secret.clone()),
            "Secret name",
            values::dns_subdomain,
        );
        let node_selector = node_selector(self.diags, &part.node_selector);
        let tolerations: Vec<Toleration> = part.tolerations.iter().filter_map(|t| toleration(self.diags, t)).collect();
        self.ok_since(errors).then_some(Placement { namespace, pull_secret, node_selector, tolerations })
    }

    /// `volume NAME mount= claim=|host-path=|empty-dir=#true read-only=`; `reserved` are the
    /// names and mount paths of the platform's own volumes, `prefix` Miniconda's.
    pub(super) fn volumes(&mut self, reserved: &[(&str, &str)], prefix: &str) -> Option<Vec<Volume>> {
        let part = self.part().kubernetes.clone().unwrap_or_default();
        let errors = self.errors();
        let mut volumes: Vec<(Volume, &VolumePart)> = Vec::new();
        for volume in &part.volumes {
            if let Some(v) = self.volume(volume, reserved, prefix, &volumes) {
                volumes.push((v, volume));
            }
        }
        self.ok_since(errors).then(|| volumes.into_iter().map(|(v, _)| v).collect())
    }

    fn volume(
        &mut self,
        part: &VolumePart,
        reserved: &[(&str, &str)],
        prefix: &str,
        earlier: &[(Volume, &VolumePart)],
    ) -> Option<Volume> {
        let name = &part.name;
        self.valid(name, Code::KubernetesName, "volume name", values::dns_label)?;
        let taken = reserved.iter().any(|(n, _)| *n == name.value);
        if taken {
            self.push(
                Diag::error(
                    Code::Volume,
                    name.span,
                    format!("the platform names a volume `{}` itself", name.value),
                    "reserved name",
                )
                .with_help("give the volume another name"),
            );
            return None;
        }
        if let Some((_, first)) = earlier.iter().find(|(v, _)| v.name == name.value) {
            self.push(
                Diag::error(
                    Code::Volume,
                    name.span,
                    format!("volume `{}` is given twice", name.value),
                    "given again here",
                )
                .with_label(first.name.span, "first given here")
                .with_help("give each volume its own name"),
            );
            return None;
        }
        let Some(mount) = &part.mount else {
            self.push(
                Diag::error(
                    Code::Volume,
                    part.node,
                    format!("volume `{}` has no mount path", name.value),
                    "no `mount`",
                )
                .with_help("add `mount=\"/root/…\"`: where the volume appears in the container"),
            );
            return None;
        };
        self.valid(mount, Code::Unsafe, "path", values::absolute_path)?;
        self.mount_target(mount, prefix)?;
        let clash = reserved.iter().find(|(_, m)| *m == mount.value).map(|(n, _)| format!("the platform's `{n}`"));
        let clash = clash
            .or_else(|| earlier.iter().find(|(v, _)| v.mount == mount.value).map(|(v, _)| format!("`{}`", v.name)));
        if let Some(other) = clash {
            self.push(
                Diag::error(
                    Code::Volume,
                    mount.span,
                    format!("`{}` is already the mount path of {other}", mount.value),
                    "mount path taken",
                )
                .with_help("mount each volume at its own path"),
            );
            return None;
        }
        let empty_dir = part.empty_dir.as_ref().filter(|e| e.value);
        let sources: Vec<Span> =
            [part.claim.as_ref().map(|c| c.span), part.host_path.as_ref().map(|h| h.span), empty_dir.map(|e| e.span)]
                .into_iter()
                .flatten()
                .collect();
        if sources.len() != 1 {
            let (span, message) = match sources.as_slice() {
                [] => (part.node, format!("volume `{}` has no source", name.value)),
                [_, second, ..] => (*second, format!("volume `{}` has more than one source", name.value)),
                [_] => unreachable!("one source is fine"),
            };
            let mut diag = Diag::error(Code::Volume, span, message, "one source")
                .with_help("give exactly one of `claim=\"PVC\"`, `host-path=\"/path/on/node\"` and `empty-dir=#true`");
            if let [first, _, ..] = sources.as_slice() {
                diag = diag.with_label(*first, "first source");
            }
            self.push(diag);
            return None;
        }
        let source = if let Some(claim) = &part.claim {
            self.valid(claim, Code::KubernetesName, "claim name", values::dns_subdomain)?;
            VolumeSource::Claim { claim: claim.value.clone() }
        } else if let Some(path) = &part.host_path {
            self.valid(path, Code::Unsafe, "path", values::absolute_path)?;
            self.host_source(path)?;
            VolumeSource::HostPath { path: path.value.clone() }
        } else {
            VolumeSource::EmptyDir
        };
        Some(Volume {
            name: name.value.clone(),
            mount: mount.value.clone(),
            read_only: part.read_only.as_ref().is_some_and(|r| r.value),
            source,
        })
    }
}
