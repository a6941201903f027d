//! PaddlePaddle: `paddlepaddle-gpu` of the CUDA build that fits the base, from where PaddlePaddle
//! publishes it (PyPI, its per-CUDA index, or its page of wheel links), or `paddlepaddle` on CPUs.
//! 2.x GPU builds load CUDA and cuDNN from the base; 3.x builds bring them through pip.

use std::sync::OnceLock;

use crate::compat::major_minor;
use crate::compat::{Compat, compare};
use crate::diag::{Code, Diag};
use crate::framework::{Cx, Release, Rules, probe, quote_list};
use crate::lang::RegisteredPart as FrameworkPart;
use crate::lang::{Children, Kind, Node, Value};
use crate::model::{BaseKind, CudnnSource, Framework, GpuBuild, Install};

/// PaddlePaddle.
#[derive(Debug)]
pub struct Paddle;

/// PaddlePaddle's per-build indexes: `<this><build>/` (`cu126`, `cpu`), which `mirrors paddle=`
/// replaces.
const PER_BUILD_INDEXES: &str = "https://www.paddlepaddle.org.cn/packages/stable/";

/// One build of `paddle.tsv`: a release for one CUDA version, or for CPUs.
#[derive(Debug)]
struct Build {
    version: String,
    /// `cpu`, `cu118`.
    variant: String,
    /// `paddlepaddle-gpu==2.6.1.post117`.
    requirement: String,
    /// Where pip finds it, as `index_kind` says: `pypi` (none), `index-url` or `find-links`.
    index: String,
    index_kind: String,
    python_min: String,
    python_max: String,
    /// CUDA and cuDNN `major.minor` of a GPU build.
    cuda: String,
    cudnn: String,
    /// The build brings CUDA and cuDNN as nvidia-* pip packages.
    pip_cuda: bool,
    pip_cudnn: String,
    manylinux: String,
    glibc: String,
}

fn builds(compat: &Compat) -> &'static [Build] {
    static BUILDS: OnceLock<Vec<Build>> = OnceLock::new();
    BUILDS.get_or_init(|| {
        let Some(table) = compat.table("paddle.tsv") else { return Vec::new() };
        let mut builds: Vec<Build> = table
            .records()
            .map(|r| Build {
                version: r.get("version"),
                variant: r.get("variant"),
                requirement: r.get("requirement"),
                index: r.get("index"),
                index_kind: r.get("index_kind"),
                python_min: r.get("python_min"),
                python_max: r.get("python_max"),
                cuda: r.get("cuda"),
                cudnn: r.get("cudnn"),
                pip_cuda: r.yes("pip_cuda"),
                pip_cudnn: r.get("pip_cudnn"),
                manylinux: r.get("manylinux"),
                glibc: r.get("glibc"),
            })
            .collect();
        builds.sort_by(|a, b| compare(&a.version, &b.version));
        builds
    })
}

fn builds_of(compat: &Compat, version: &str) -> Vec<&'static Build> {
    builds(compat).iter().filter(|b| b.version == version).collect()
}

/// The `paddle` node: the version, then its properties.
const NODE: &Node = &Node {
    name: "paddle",
    doc: "PaddlePaddle.",
    args: &[Value {
        name: "VERSION",
        kind: Kind::String,
        expect: "a PaddlePaddle version like \"2.6.1\"",
        doc: "A PaddlePaddle release, like `2.6.1`.",
    }],
    required_args: 0,
    variadic: false,
    props: &[Value {
        name: "index",
        kind: Kind::String,
        expect: "a CUDA build like \"cu118\" or an index URL",
        doc: "CUDA build (`cu118`, `cpu`) or the URL of an index that serves it (a mirror); default: the build that fits the base",
    }],
    per_service: None,
    repeats: false,
    children: Children::None,
};

impl Rules for Paddle {
    fn keyword(&self) -> &'static str {
        "paddle"
    }

    fn title(&self) -> &'static str {
        "PaddlePaddle"
    }

    fn noun(&self) -> &'static str {
        "PaddlePaddle"
    }

    fn example(&self) -> &'static str {
        "2.6.1"
    }

    fn node(&self) -> &'static Node {
        NODE
    }

    fn table(&self) -> &'static str {
        "paddle.tsv"
    }

    fn release(&self, compat: &'static Compat, version: &str) -> Option<Release> {
        builds(compat).iter().find(|b| b.version == version).map(|b| Release {
            version: &b.version,
            python_min: &b.python_min,
            python_max: &b.python_max,
        })
    }

    fn versions(&self, compat: &'static Compat) -> Vec<&'static str> {
        let mut versions: Vec<&str> = builds(compat).iter().map(|b| b.version.as_str()).collect();
        versions.dedup();
        versions
    }

    fn check(&self, cx: &mut Cx<'_>, part: &FrameworkPart, release: Release) -> Option<Framework> {
        let version = release.version;
        let builds = builds_of(cx.compat, version);
        let variants: Vec<String> = builds.iter().map(|b| b.variant.clone()).collect();
        let index = part.string("index");
        let mirror = match &index {
            Some(url) if url.value.contains("://") => Some(cx.index_url(url)?),
            _ => None,
        };
        let variant = match &index {
            Some(written) if mirror.is_none() => {
                if !variants.contains(&written.value) {
                    cx.push(
                        Diag::error(
                            Code::WheelVariant,
                            written.span,
                            format!("PaddlePaddle {version} has no `{}` build", written.value),
                            "unknown build",
                        )
                        .with_label(cx.version.span, "PaddlePaddle chosen here")
                        .with_help(format!("PaddlePaddle {version} publishes {}", quote_list(&variants))),
                    );
                    return None;
                }
                cx.variant_fits_base(
                    "PaddlePaddle",
                    &written.value,
                    written.span,
                    "leave `index` out to get the build that fits the base",
                );
                written.value.clone()
            }
            _ => self.default_variant(cx, &builds, &variants)?,
        };
        let build = builds.iter().find(|b| b.variant == variant)?;
        let gpu_build = build.variant.starts_with("cu");
        if gpu_build && !build.pip_cuda && !self.base_cudnn_fits(cx, build) {
            return None;
        }
        if gpu_build && build.pip_cuda && cx.base.base.cudnn.is_some() {
            cx.duplicate_cudnn_note("PaddlePaddle's CUDA build brings its own cuDNN from pip");
        }
        let pip_glibc = build.pip_cuda.then_some(build.glibc.as_str());
        if !cx.glibc_fits(&format!("PaddlePaddle {version}"), &build.manylinux, &build.glibc, pip_glibc) {
            return None;
        }
        let (index_url, find_links) = match mirror {
            Some(url) => (Some(url), None),
            None => self.source(cx, build)?,
        };
        let source = match (&index_url, &find_links) {
            (Some(url), _) => format!("from `{url}`"),
            (None, Some(links)) => format!("from PyPI and `{links}`"),
            (None, None) => "from PyPI".to_owned(),
        };
        let build_text = if gpu_build { format!("CUDA {} build", build.cuda) } else { "CPU build".to_owned() };
        let cudnn = if build.pip_cuda {
            CudnnSource::Pip(Some(build.pip_cudnn.clone()).filter(|c| !c.is_empty()))
        } else {
            CudnnSource::Base
        };
        let on_gpu = gpu_build && cx.base.base.gpu;
        Some(Framework {
            kind: self.keyword(),
            title: self.title(),
            version: version.to_owned(),
            summary: format!("PaddlePaddle {version} (`{}`, the {build_text}) {source}", build.requirement),
            install: Install {
                comment: format!("PaddlePaddle {version}, the {build_text}."),
                requirements: vec![build.requirement.clone()],
                trusted_host: index_url.as_deref().and_then(crate::values::plain_http_host),
                index_url,
                find_links,
            },
            commands: vec![
                "python -c \"import paddle; print(paddle.__version__, paddle.version.cuda(), paddle.version.cudnn())\""
                    .to_owned(),
                "python -c \"import paddle; paddle.utils.run_check()\"".to_owned(),
            ],
            probe: include_str!("probe.py"),
            gpu_build: on_gpu.then(|| GpuBuild {
                variant: build.variant.clone(),
                cuda: build.cuda.clone(),
                from_pip: build.pip_cuda,
            }),
            expect: probe(
                self,
                "paddle",
                version,
                on_gpu.then(|| build.cuda.clone()),
                (on_gpu && !build.pip_cuda).then(|| build.cudnn.clone()),
                false,
            ),
            cudnn,
        })
    }

    fn describe(&self, compat: &'static Compat) -> Vec<String> {
        let mut lines = vec!["paddle: version  build  python  cuda  cudnn  requirement  (where)".to_owned()];
        lines.extend(builds(compat).iter().map(|b| {
            let cuda = if b.cuda.is_empty() { "-" } else { &b.cuda };
            let cudnn = match (b.cudnn.as_str(), b.pip_cuda) {
                ("", _) => "-".to_owned(),
                (cudnn, true) => format!("{cudnn} (pip)"),
                (cudnn, false) => cudnn.to_owned(),
            };
            let place = if b.index.is_empty() { "PyPI" } else { &b.index };
            format!(
                "  {:<7} {:<6} {}-{:<6} {cuda:<5} {cudnn:<10} {} ({place})",
                b.version, b.variant, b.python_min, b.python_max, b.requirement
            )
        }));
        lines
    }
}

impl Paddle {
    /// Where pip finds `build` (`--index-url`, `--find-links`; neither for PyPI), through the
    /// image's mirrors: `mirrors paddle=` for PaddlePaddle's per-build indexes, `build-pip` for
    /// the PyPI mirror the guide names. A build that only PaddlePaddle's page of wheel links
    /// serves cannot come through `mirrors paddle=`: `None`, after saying so.
    fn source(&self, cx: &mut Cx<'_>, build: &Build) -> Option<(Option<String>, Option<String>)> {
        let per_build_index = format!("{PER_BUILD_INDEXES}{}/", build.variant);
        match build.index_kind.as_str() {
            "index-url" if build.index == per_build_index => {
                let mirrored = cx.mirrors.paddle.as_ref().map(|m| m.replace("{build}", &build.variant));
                Some((Some(mirrored.unwrap_or_else(|| build.index.clone())), None))
            }
            "index-url" if cx.mirrors.build_pip.is_some() => Some((None, None)),
            "index-url" => Some((Some(build.index.clone()), None)),
            "find-links" if cx.mirrors.paddle.is_some() => {
                let mirrored: Vec<&str> = builds(cx.compat)
                    .iter()
                    .filter(|b| b.variant == build.variant && b.index_kind != "find-links")
                    .map(|b| b.version.as_str())
                    .collect();
                let fix = if mirrored.is_empty() {
                    "leave `mirrors paddle=` out of this image, or pick another build (`dlspec compat paddle`)"
                        .to_owned()
                } else {
                    format!(
                        "PaddlePaddle publishes its `{}` build of {} on PyPI or a per-build index: write `paddle \"{}\"`",
                        build.variant,
                        quote_list(&mirrored),
                        mirrored.last().copied().unwrap_or_default()
                    )
                };
                let span = cx.version.span;
                cx.push(
                    Diag::error(
                        Code::Unmirrored,
                        span,
                        format!(
                            "PaddlePaddle {}'s `{}` build is published only on `{}`, a page of wheel links, not on the per-build indexes that `mirrors paddle=` mirrors",
                            build.version, build.variant, build.index
                        ),
                        "not on a per-build index",
                    )
                    .with_help(fix),
                );
                None
            }
            "find-links" => Some((None, Some(build.index.clone()))),
            _ => Some((None, None)),
        }
    }

    /// The build an image gets without `index=`: the CUDA build that fits a CUDA base, the PyPI
    /// GPU build on another GPU base, the CPU build otherwise.
    fn default_variant(&self, cx: &mut Cx<'_>, builds: &[&Build], variants: &[String]) -> Option<String> {
        let version = cx.version.value.clone();
        let base = &cx.base.base;
        let chosen = match (&base.kind, base.gpu) {
            (BaseKind::Cuda, _) => {
                let cuda_builds: Vec<String> = variants.iter().filter(|v| v.starts_with("cu")).cloned().collect();
                cx.fitting_variant(&cuda_builds).cloned()
            }
            (_, true) => {
                builds.iter().find(|b| b.index_kind == "pypi" && b.variant.starts_with("cu")).map(|b| b.variant.clone())
            }
            (_, false) => variants.iter().find(|v| *v == "cpu").cloned(),
        };
        if chosen.is_none() {
            let span = cx.base_span();
            let what = match &base.cuda {
                Some(cuda) => format!("CUDA {cuda}"),
                None if base.gpu => "this GPU base".to_owned(),
                None => "CPUs".to_owned(),
            };
            cx.push(
                Diag::error(
                    Code::WheelVariant,
                    span,
                    format!("PaddlePaddle {version} publishes no build for {what}"),
                    "no matching build",
                )
                .with_label(cx.version.span, "PaddlePaddle chosen here")
                .with_help(format!(
                    "PaddlePaddle {version} publishes {}: pick a base that matches one, or set `index=`",
                    quote_list(variants)
                )),
            );
        }
        chosen
    }

    /// A 2.x GPU build loads the base's CUDA and cuDNN: the same CUDA major, and a cuDNN of the
    /// build's major no older than the one it was built with.
    fn base_cudnn_fits(&self, cx: &mut Cx<'_>, build: &Build) -> bool {
        let base = &cx.base.base;
        if base.kind != BaseKind::Cuda {
            return true;
        }
        let cuda = base.cuda.clone().unwrap_or_default();
        let span = cx.base_span();
        let version = cx.version.span;
        if major_minor(&cuda).0 != major_minor(&build.cuda).0 {
            cx.push(
                Diag::error(
                    Code::CudaMismatch,
                    span,
                    format!(
                        "the PaddlePaddle {} build `{}` needs CUDA {}, the base has CUDA {cuda}",
                        build.version, build.variant, build.cuda
                    ),
                    "wrong CUDA major",
                )
                .with_label(version, "PaddlePaddle chosen here")
                .with_help("leave `index` out to get the build that fits the base, or use a base of the build's CUDA"),
            );
            return false;
        }
        let needed_major = build.cudnn.split('.').next().unwrap_or_default();
        let problem = cx.base_cudnn_problem(&build.cudnn);
        let Some(problem) = problem else { return true };
        let code = if base.cudnn.as_deref() == Some(needed_major) { Code::CudnnTooOld } else { Code::CudaMismatch };
        let fix = cx.satisfying_tags_help(&build.cudnn, &build.cuda);
        cx.push(
            Diag::error(
                code,
                span,
                format!("PaddlePaddle {} would not load its cuDNN: {problem}", build.version),
                "base cuDNN",
            )
            .with_label(version, "PaddlePaddle chosen here")
            .with_help(fix),
        );
        false
    }
}
