//! PyTorch: torch with torchvision and torchaudio, from PyPI when PyPI's torch is the image's
//! variant, else from the wheel index of the variant (`https://download.pytorch.org/whl/cu118`);
//! the CUDA wheels bring their own cuDNN and NCCL.

use crate::compat::{Compat, TorchRelease};
use crate::diag::{Code, Diag};
use crate::framework::{Cx, Release, Rules, cuda_of_variant, is_variant, probe, quote_list};
use crate::lang::{Children, Kind, Node, Value};
use crate::lang::{RegisteredPart as FrameworkPart, Spanned};
use crate::model::{BaseKind, CudnnSource, Framework, GpuBuild, Install};

const INDEX: &str = "https://download.pytorch.org/whl";

/// PyTorch.
#[derive(Debug)]
pub struct Pytorch;

/// The `pytorch` node: the version, then its properties.
const NODE: &Node = &Node {
    name: "pytorch",
    doc: "PyTorch with torchvision and torchaudio.",
    args: &[Value {
        name: "VERSION",
        kind: Kind::String,
        expect: "a torch version like \"2.3.0\"",
        doc: "A torch release, like `2.3.0`.",
    }],
    required_args: 0,
    variadic: false,
    props: &[
        Value {
            name: "torchvision",
            kind: Kind::String,
            expect: "a torchvision version like \"0.18.0\"",
            doc: "torchvision version; default: the release that matches torch",
        },
        Value {
            name: "torchaudio",
            kind: Kind::StringOrNull,
            expect: "a torchaudio version like \"2.3.0\", or #null to leave it out",
            doc: "torchaudio version, or `#null` to leave it out; default: the release that matches torch",
        },
        Value {
            name: "index",
            kind: Kind::String,
            expect: "a wheel variant like \"cu121\" or an index URL",
            doc: "wheel variant (`cu121`, `cpu`) or index URL; default: the variant that fits the base",
        },
    ],
    per_service: None,
    repeats: false,
    children: Children::None,
};

impl Rules for Pytorch {
    fn keyword(&self) -> &'static str {
        "pytorch"
    }

    fn title(&self) -> &'static str {
        "PyTorch"
    }

    fn noun(&self) -> &'static str {
        "torch"
    }

    fn example(&self) -> &'static str {
        "2.3.0"
    }

    fn node(&self) -> &'static Node {
        NODE
    }

    fn table(&self) -> &'static str {
        "pytorch.tsv"
    }

    fn release(&self, compat: &'static Compat, version: &str) -> Option<Release> {
        compat.torch(version).map(|r| Release {
            version: &r.torch,
            python_min: &r.python_min,
            python_max: &r.python_max,
        })
    }

    fn versions(&self, compat: &'static Compat) -> Vec<&'static str> {
        compat.torch.iter().map(|r| r.torch.as_str()).collect()
    }

    fn check(&self, cx: &mut Cx<'_>, part: &FrameworkPart, release: Release) -> Option<Framework> {
        let release = cx.compat.torch(release.version)?;
        let companions_ok = companions(cx, part, release);
        let (variant, index_url) = variant_and_index(cx, part, release)?;
        let mut ok = true;
        let base = &cx.base.base;
        let cuda_wheels = variant.as_deref().is_some_and(|v| v.starts_with("cu"));
        if cuda_wheels && base.cudnn.is_some() {
            cx.duplicate_cudnn_note("torch's CUDA wheels bring their own cuDNN");
        }
        // The chosen variant's own row when the table has one; else the glibc check falls back
        // to the PyPI wheel's row, the only build of that release the table may describe.
        let variant_wheel = variant.as_deref().and_then(|v| cx.compat.wheel_variant("torch", &release.torch, v));
        let wheel = variant_wheel.or_else(|| cx.compat.wheel("torch", &release.torch));
        if let Some(w) = wheel {
            let pip_glibc = cuda_wheels.then_some(w.pip_glibc.as_str());
            ok &= cx.glibc_fits(&format!("torch {}", release.torch), &w.manylinux, &w.glibc, pip_glibc);
        }
        let torchaudio = companions_ok?;
        if !ok {
            return None;
        }
        let cudnn = variant_wheel.map(|w| w.pip_cudnn.clone());
        let mut requirements =
            vec![format!("torch=={}", release.torch), format!("torchvision=={}", release.torchvision)];
        if let Some(ta) = &torchaudio {
            requirements.push(format!("torchaudio=={ta}"));
        }
        let wheels = variant.as_deref().map(|v| format!(" (`{v}` wheels)")).unwrap_or_default();
        let source = match (&index_url, &cx.mirrors.build_pip) {
            (Some(url), _) => format!("`{url}`"),
            (None, Some(mirror)) => format!("PyPI (through `{mirror}`)"),
            (None, None) => "PyPI".to_owned(),
        };
        let audio = torchaudio.as_deref().map(|ta| format!(", torchaudio {ta}")).unwrap_or_default();
        let build_cuda = variant
            .as_deref()
            .and_then(cuda_of_variant)
            .filter(|_| base.gpu)
            .map(|(major, minor)| format!("{major}.{minor}"));
        Some(Framework {
            kind: self.keyword(),
            title: self.title(),
            version: release.torch.clone(),
            summary: format!(
                "PyTorch {}, torchvision {}{audio}{wheels} from {source}",
                release.torch, release.torchvision
            ),
            install: Install {
                comment: format!(
                    "PyTorch {}{}.",
                    release.torch,
                    variant.as_deref().map(|v| format!(" ({v} wheels)")).unwrap_or_default()
                ),
                requirements,
                trusted_host: index_url.as_deref().and_then(crate::values::plain_http_host),
                index_url,
                find_links: None,
            },
            commands: vec![
                "python -c \"import torch; print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version(), torch.cuda.is_available())\"".to_owned(),
            ],
            probe: include_str!("probe.py"),
            gpu_build: variant.zip(build_cuda.clone()).map(|(variant, cuda)| GpuBuild { variant, cuda, from_pip: true }),
            expect: probe(self, "torch", &release.torch, build_cuda.clone(), None, build_cuda.is_some()),
            cudnn: CudnnSource::Pip(cudnn),
        })
    }

    fn describe(&self, compat: &'static Compat) -> Vec<String> {
        let mut lines = vec!["pytorch: torch  torchvision  torchaudio  python  variants  (the one on PyPI)".to_owned()];
        lines.extend(compat.torch.iter().map(|r| {
            let pypi = if r.pypi_default_cuda.is_empty() {
                String::new()
            } else {
                format!(" (PyPI: {})", r.pypi_default_cuda)
            };
            format!(
                "  {:<8} {:<8} {:<8} {}-{:<6} {}{pypi}",
                r.torch,
                r.torchvision,
                r.torchaudio,
                r.python_min,
                r.python_max,
                r.variants.join(",")
            )
        }));
        lines
    }
}

/// torchvision and torchaudio as written, against the release's: the torchaudio to install (none
/// for `#null`), or `None` after an error.
fn companions(cx: &mut Cx<'_>, part: &FrameworkPart, release: &TorchRelease) -> Option<Option<String>> {
    let version = cx.version;
    let mut ok = true;
    if let Some(tv) = part.string("torchvision")
        && tv.value != release.torchvision
    {
        cx.push(
            Diag::error(
                Code::Torchvision,
                tv.span,
                format!("torchvision `{}` does not match torch {}", tv.value, release.torch),
                "wrong torchvision",
            )
            .with_label(version.span, "torch chosen here")
            .with_help(format!(
                "write `torchvision=\"{}\"`, or leave it out to get it from the tables",
                release.torchvision
            )),
        );
        ok = false;
    }
    let torchaudio = match part.property("torchaudio") {
        Some(Spanned { value: None, .. }) => None,
        Some(Spanned { value: Some(ta), span }) => {
            if ta != release.torchaudio {
                cx.push(
                    Diag::error(
                        Code::Torchaudio,
                        span,
                        format!("torchaudio `{ta}` does not match torch {}", release.torch),
                        "wrong torchaudio",
                    )
                    .with_label(version.span, "torch chosen here")
                    .with_help(format!(
                        "write `torchaudio=\"{}\"`, or `torchaudio=#null` to leave it out",
                        release.torchaudio
                    )),
                );
                ok = false;
            }
            Some(ta.clone())
        }
        None => Some(release.torchaudio.clone()),
    };
    ok.then_some(torchaudio)
}

/// The wheel variant (`cu121`, `cpu`; none when an index URL names none) and the index it comes
/// from (none: PyPI), from `index=` or the base; `None` after an error.
fn variant_and_index(
    cx: &mut Cx<'_>,
    part: &FrameworkPart,
    release: &TorchRelease,
) -> Option<(Option<String>, Option<String>)> {
    let version = cx.version;
    let base = &cx.base.base;
    let chosen = match part.string("index") {
        Some(index) if index.value.contains("://") => {
            let url = cx.index_url(&index)?;
            let named = url.rsplit('/').next().filter(|last| is_variant(last)).map(str::to_owned);
            // A custom base's CUDA is unknown: its default variant is a guess, not a rule.
            let known_base = base.kind != BaseKind::Custom;
            match (named, fitting_variant(cx, release).filter(|_| known_base)) {
                (Some(named), Some(fitting)) if named != fitting => {
                    wrong_variant_index(cx, release, &index, &url, &named, &fitting);
                    return None;
                }
                (named, _) => (named.filter(|n| release.variants.contains(n)), Some(url)),
            }
        }
        Some(index) => {
            if !release.variants.contains(&index.value) {
                cx.push(
                    Diag::error(
                        Code::WheelVariant,
                        index.span,
                        format!("torch {} publishes no `{}` wheels", release.torch, index.value),
                        "unknown variant",
                    )
                    .with_label(version.span, "torch chosen here")
                    .with_help(format!(
                        "torch {} publishes {}",
                        release.torch,
                        quote_list(&release.variants)
                    )),
                );
                return None;
            }
            cx.variant_fits_base(
                "torch",
                &index.value,
                index.span,
                "leave `index` out to get the variant that matches the base",
            );
            (Some(index.value.clone()), wheel_index(cx, release, &index.value))
        }
        None => {
            let Some(variant) = fitting_variant(cx, release) else {
                let span = cx.base_span();
                let cuda = base.cuda.clone().unwrap_or_default();
                cx.push(
                    Diag::error(
                        Code::WheelVariant,
                        span,
                        format!("torch {} publishes no wheels for CUDA {cuda}", release.torch),
                        "no matching wheels",
                    )
                    .with_label(version.span, "torch chosen here")
                    .with_help(format!(
                        "torch {} publishes {}: pick a CUDA base that matches one, or set `index=`",
                        release.torch,
                        quote_list(&release.variants)
                    )),
                );
                return None;
            };
            let url = wheel_index(cx, release, &variant);
            (Some(variant), url)
        }
    };
    Some(chosen)
}

/// The variant an image gets without `index=`: the CUDA build that fits a CUDA base, PyPI's
/// default CUDA build on another GPU base, CPU wheels otherwise; none when no CUDA build fits.
fn fitting_variant(cx: &Cx<'_>, release: &TorchRelease) -> Option<String> {
    let base = &cx.base.base;
    match base.kind {
        BaseKind::Cuda => {
            let cu_variants: Vec<String> = release.variants.iter().filter(|v| v.starts_with("cu")).cloned().collect();
            cx.fitting_variant(&cu_variants).cloned()
        }
        BaseKind::Custom if base.gpu && !release.pypi_default_cuda.is_empty() => {
            Some(release.pypi_default_cuda.clone())
        }
        _ => Some("cpu".to_owned()),
    }
}

/// Where the wheels of `variant` come from: PyPI (through the build's `build-pip` mirror, as
/// every other package) when PyPI's own torch of the release is that variant, which its
/// torchvision and torchaudio are too; else the variant's index, the spec's mirror (`mirrors
/// pytorch=`) or PyTorch's own. The `+cpu` builds, for one, are on PyTorch's index only.
fn wheel_index(cx: &Cx<'_>, release: &TorchRelease, variant: &str) -> Option<String> {
    if variant == release.pypi_default_cuda {
        return None;
    }
    Some(cx.mirrors.pytorch.as_ref().map_or_else(|| format!("{INDEX}/{variant}"), |m| m.replace("{variant}", variant)))
}

/// Reports an `index=` URL that names the wheel index of `named` on an image whose wheels are
/// `fitting`: the index has none of them when the release does not publish `named`, and other
/// builds than the image's checks assume when it does.
fn wrong_variant_index(
    cx: &mut Cx<'_>,
    release: &TorchRelease,
    index: &Spanned<String>,
    url: &str,
    named: &str,
    fitting: &str,
) {
    let parent = url.strip_suffix(named).unwrap_or(url);
    let mut help = format!("write `index=\"{parent}{fitting}\"`");
    if release.variants.iter().any(|v| v == named) {
        help.push_str(&format!(
            ", or to install `{named}` wheels on purpose, `index=\"{named}\"` with `mirrors pytorch=\"{parent}{{variant}}\"`"
        ));
    }
    let what = if cx.base.base.gpu { "base" } else { "CPU base" };
    let base_span = cx.base.cuda_span.unwrap_or(cx.base.span);
    cx.push(
        Diag::error(
            Code::IndexVariant,
            index.span,
            format!("`{}` is the index of `{named}` wheels, and this image needs `{fitting}` wheels", index.value),
            format!("`{named}` index"),
        )
        .with_label(base_span, format!("{what} chosen here: `{fitting}` wheels"))
        .with_help(help),
    );
}
