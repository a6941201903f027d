//! JAX from PyPI: `jax[cuda12]` (or `jax[cuda13]`) on a GPU base, whose plugin wheels bring
//! CUDA, cuDNN and NCCL through pip (the base needs only the driver); plain `jax` on CPUs.

use std::sync::OnceLock;

use crate::compat::major_minor;
use crate::compat::{Compat, compare};
use crate::diag::{Code, Diag};
use crate::framework::{Cx, Release, Rules, probe, quote_list};
use crate::lang::RegisteredPart as FrameworkPart;
use crate::lang::{Children, Kind, Node, Value};
use crate::model::{CudnnSource, Framework, GpuBuild, Install};

/// JAX.
#[derive(Debug)]
pub struct Jax;

/// One release of `jax.tsv`.
#[derive(Debug)]
struct JaxRelease {
    version: String,
    python_min: String,
    python_max: String,
    /// The CUDA extras that install from PyPI alone: `cuda12`, `cuda13`.
    extras: Vec<String>,
    manylinux: String,
    glibc: String,
    pip_glibc: String,
    /// The CUDA the `cuda12` wheels were built with: `12.3`, or the major alone where unknown.
    pip_cuda: String,
}

fn releases(compat: &Compat) -> &'static [JaxRelease] {
    static RELEASES: OnceLock<Vec<JaxRelease>> = OnceLock::new();
    RELEASES.get_or_init(|| {
        let Some(table) = compat.table("jax.tsv") else { return Vec::new() };
        let mut releases: Vec<JaxRelease> = table
            .records()
            .map(|r| JaxRelease {
                version: r.get("version"),
                python_min: r.get("python_min"),
                python_max: r.get("python_max"),
                extras: r.list("extras"),
                manylinux: r.get("manylinux"),
                glibc: r.get("glibc"),
                pip_glibc: r.get("pip_glibc"),
                pip_cuda: r.get("pip_cuda"),
            })
            .collect();
        releases.sort_by(|a, b| compare(&a.version, &b.version));
        releases
    })
}

fn release_of(compat: &Compat, version: &str) -> Option<&'static JaxRelease> {
    releases(compat).iter().find(|r| r.version == version)
}

/// The `jax` node: the version, then its properties.
const NODE: &Node = &Node {
    name: "jax",
    doc: "JAX.",
    args: &[Value {
        name: "VERSION",
        kind: Kind::String,
        expect: "a JAX version like \"0.4.30\"",
        doc: "A JAX release, like `0.4.30`.",
    }],
    required_args: 0,
    variadic: false,
    props: &[],
    per_service: None,
    repeats: false,
    children: Children::None,
};

impl Rules for Jax {
    fn keyword(&self) -> &'static str {
        "jax"
    }

    fn title(&self) -> &'static str {
        "JAX"
    }

    fn noun(&self) -> &'static str {
        "JAX"
    }

    fn example(&self) -> &'static str {
        "0.4.30"
    }

    fn node(&self) -> &'static Node {
        NODE
    }

    fn table(&self) -> &'static str {
        "jax.tsv"
    }

    fn release(&self, compat: &'static Compat, version: &str) -> Option<Release> {
        release_of(compat, version).map(|r| Release {
            version: &r.version,
            python_min: &r.python_min,
            python_max: &r.python_max,
        })
    }

    fn versions(&self, compat: &'static Compat) -> Vec<&'static str> {
        releases(compat).iter().map(|r| r.version.as_str()).collect()
    }

    fn check(&self, cx: &mut Cx<'_>, _part: &FrameworkPart, release: Release) -> Option<Framework> {
        let release = release_of(cx.compat, release.version)?;
        let base = &cx.base.base;
        let version = &release.version;
        let extra = if base.gpu {
            // A custom GPU base says nothing of its CUDA: the first CUDA extra of the release.
            let wanted = base.cuda.as_deref().map(|cuda| format!("cuda{}", major_minor(cuda).0));
            match wanted {
                Some(extra) if release.extras.contains(&extra) => Some(extra),
                Some(extra) => {
                    let span = cx.base_span();
                    let cuda = base.cuda.clone().unwrap_or_default();
                    cx.push(
                        Diag::error(
                            Code::CudaMismatch,
                            span,
                            format!("JAX {version} publishes no `{extra}` wheels for the base's CUDA {cuda}"),
                            "no matching wheels",
                        )
                        .with_label(cx.version.span, "JAX chosen here")
                        .with_help(format!(
                            "JAX {version} installs with {}: pick a CUDA base of that major",
                            quote_list(&release.extras)
                        )),
                    );
                    return None;
                }
                None => release.extras.first().cloned(),
            }
        } else {
            None
        };
        if extra.is_some() && base.cudnn.is_some() {
            cx.duplicate_cudnn_note("JAX's CUDA wheels bring their own cuDNN");
        }
        let pip_glibc = extra.is_some().then_some(release.pip_glibc.as_str());
        if !cx.glibc_fits(&format!("JAX {version}"), &release.manylinux, &release.glibc, pip_glibc) {
            return None;
        }
        // From 0.4.30 jax depends on jaxlib itself; before, a CPU install names the `cpu` extra.
        let requirement = match &extra {
            Some(extra) => format!("jax[{extra}]=={version}"),
            None if compare(version, "0.4.30").is_lt() => format!("jax[cpu]=={version}"),
            None => format!("jax=={version}"),
        };
        // Only a `cuda12` build with a known minor makes a promise the self-test can check.
        let build_cuda =
            (extra.as_deref() == Some("cuda12") && release.pip_cuda.contains('.')).then(|| release.pip_cuda.clone());
        let summary = match &extra {
            Some(_) => format!("JAX {version} (`{requirement}`): CUDA, cuDNN and NCCL come from its PyPI wheels"),
            None => format!("JAX {version} (`{requirement}`), for CPUs"),
        };
        Some(Framework {
            kind: self.keyword(),
            title: self.title(),
            version: version.clone(),
            summary,
            install: Install {
                comment: match &extra {
                    Some(extra) => format!("JAX {version} with its {extra} plugin (CUDA libraries from pip)."),
                    None => format!("JAX {version} for CPUs."),
                },
                requirements: vec![requirement],
                index_url: None,
                find_links: None,
                trusted_host: None,
            },
            commands: vec![
                "python -c \"import jax; print(jax.__version__, jax.devices())\"".to_owned(),
                "python -c \"import jax.numpy as jnp; print(jnp.ones((1000, 1000)).sum())\"".to_owned(),
            ],
            probe: include_str!("probe.py"),
            gpu_build: extra.clone().map(|variant| GpuBuild {
                variant,
                cuda: release.pip_cuda.clone(),
                from_pip: true,
            }),
            expect: probe(self, "jax", version, build_cuda, None, false),
            cudnn: if extra.is_some() { CudnnSource::Pip(None) } else { CudnnSource::Base },
        })
    }

    fn describe(&self, compat: &'static Compat) -> Vec<String> {
        let mut lines = vec!["jax: version  python  CUDA extras  manylinux (glibc)".to_owned()];
        lines.extend(releases(compat).iter().map(|r| {
            let extras = if r.extras.is_empty() { "-".to_owned() } else { r.extras.join(",") };
            format!(
                "  {:<9} {}-{:<6} {extras:<13} {} ({})",
                r.version, r.python_min, r.python_max, r.manylinux, r.glibc
            )
        }));
        lines
    }
}
