//! The catalog's `node-pool` declarations, checked: each pool's GPU, driver, resource, sharing
//! and placement.

use super::super::cluster;
use super::{DEFAULT_RESOURCE, PRODUCT_LABEL, Pool, Pools};
use crate::compat::Compat;
use crate::compat::gpu::{Compute, GpuFacts};
use crate::diag::{Code, Diag, Diagnostics};
use crate::lang::{NodePoolPart, Sharing};
use crate::model::{NodeSelector, Toleration};
use crate::source::Span;
use crate::values;

/// Checks the catalog's `node-pool` declarations; reports every problem.
pub(in crate::check) fn declared(parts: &[NodePoolPart], compat: &Compat, diags: &mut Diagnostics) -> Pools {
    let mut pools = Pools::default();
    for (index, part) in parts.iter().enumerate() {
        if let Some(first) = parts[..index].iter().find(|p| p.name.value == part.name.value) {
            diags.push(
                Diag::error(
                    Code::PoolDeclaration,
                    part.name.span,
                    format!("node pool `{}` is declared twice", part.name.value),
                    "declared again here",
                )
                .with_label(first.name.span, "first declared here")
                .with_help("give each pool its own name"),
            );
            continue;
        }
        match pool(part, &compat.gpu, diags) {
            Some(pool) => pools.valid.push(pool),
            None => pools.broken.push(part.name.value.clone()),
        }
    }
    pools
}

/// One `node-pool` declaration, checked.
pub(super) fn pool(part: &NodePoolPart, facts: &GpuFacts, diags: &mut Diagnostics) -> Option<Pool> {
    let errors = diags.error_count();
    let name = &part.name;
    super::super::valid(diags, name, Code::PoolDeclaration, "node pool name", values::dns_label);
    let missing = |diags: &mut Diagnostics, what: &str, example: &str| {
        diags.push(
            Diag::error(
                Code::PoolDeclaration,
                part.node,
                format!("node pool `{}` has no `{what}`", name.value),
                format!("no `{what}`"),
            )
            .with_help(format!("add `{example}` to the pool: the checks of every image read it")),
        );
    };
    let gpu = part.gpu.as_ref();
    if gpu.is_none() {
        missing(diags, "gpu", "gpu \"NVIDIA-A100-SXM4-80GB\" compute=\"8.0\" brand=\"datacenter\"");
    }
    if part.driver.is_none() {
        missing(diags, "driver", "driver \"535.183.01\"");
    }
    let product = gpu.and_then(|g| {
        super::super::valid(diags, &g.product, Code::PoolDeclaration, "GPU product label", values::label_value)
            .map(|()| g.product.value.clone())
    });
    let known = gpu.and_then(|g| facts.gpu(&g.product.value));
    let compute = gpu.and_then(|g| match (&g.compute, known) {
        (Some(written), _) => {
            let compute = super::super::valid(diags, written, Code::PoolDeclaration, "compute capability", |c| {
                Compute::parse(c)
                    .ok_or_else(|| "write the compute capability as `MAJOR.MINOR`, like \"8.0\" or \"12.0\"".to_owned())
            })?;
            if let Some(known) = known.filter(|k| k.compute != compute) {
                diags.push(
                    Diag::warning(
                        Code::PoolDeclaration,
                        written.span,
                        format!(
                            "the tables give `{}` compute capability {}, not {compute}",
                            g.product.value, known.compute
                        ),
                        "other compute capability",
                    )
                    .with_help(format!(
                        "write `compute=\"{}\"`, or leave it out to take the tables' value",
                        known.compute
                    )),
                );
            }
            Some(compute)
        }
        (None, Some(known)) => Some(known.compute),
        (None, None) => {
            diags.push(unknown_product(g.node, &g.product.value, "compute=\"8.0\""));
            None
        }
    });
    let class = gpu.and_then(|g| match (&g.brand, known) {
        (Some(written), _) => Some(written.value),
        (None, Some(known)) => Some(known.class),
        (None, None) => {
            diags.push(unknown_product(g.node, &g.product.value, "brand=\"datacenter\""));
            None
        }
    });
    let driver = part.driver.as_ref().map(|d| &d.version).and_then(|d| {
        super::super::valid(diags, d, Code::PoolDeclaration, "driver version", values::driver_version)?;
        Some(d.value.clone())
    });
    let resource = match part.resource.as_ref().map(|r| &r.resource) {
        Some(r) => super::super::valid(diags, r, Code::PoolDeclaration, "extended resource", values::extended_resource)
            .map(|()| r.value.clone()),
        None => Some(DEFAULT_RESOURCE.to_owned()),
    };
    let sharing = part.sharing.as_ref().map_or(Sharing::None, |s| s.mode.value);
    let runtime_class = part.runtime_class.as_ref().map(|r| &r.runtime_class).and_then(|r| {
        super::super::valid(diags, r, Code::PoolDeclaration, "RuntimeClass name", values::dns_subdomain)?;
        Some(r.value.clone())
    });
    let mut node_selector = cluster::node_selector(diags, &part.node_selector);
    let tolerations: Vec<Toleration> = part.tolerations.iter().filter_map(|t| cluster::toleration(diags, t)).collect();
    if diags.error_count() != errors {
        return None;
    }
    let (product, compute, class, driver, resource, sharing) =
        (product?, compute?, class?, driver?, resource?, sharing);
    if part.node_selector.is_empty() {
        node_selector.push(NodeSelector { key: PRODUCT_LABEL.to_owned(), value: product.clone() });
    }
    let branch = driver.split('.').next().and_then(|b| b.parse().ok())?;
    Some(Pool {
        name: name.clone(),
        product,
        compute,
        class,
        driver,
        branch,
        resource,
        sharing,
        runtime_class: part.runtime_class.as_ref().and(runtime_class),
        node_selector,
        tolerations,
    })
}

pub(super) fn unknown_product(span: Span, product: &str, property: &str) -> Diag {
    Diag::error(Code::PoolDeclaration, span, format!("the tables do not know the GPU `{product}`"), "unknown GPU")
        .with_help(format!(
            "write its `{property}` (`dlspec compat gpus` lists the GPUs the tables know, with their labels)"
        ))
}
