//! TensorFlow from PyPI: CUDA and cuDNN from the base (its cuDNN no older than TensorFlow's
//! build), or from pip with `tensorflow[and-cuda]` (2.14 on) where that extra installs.

use crate::compat::major_minor;
use crate::compat::{self, Compat, TensorflowRelease, compare};
use crate::diag::{Code, Diag, did_you_mean};
use crate::framework::{Cx, Release, Rules, probe};
use crate::lang::{Children, Kind, Node, Value};
use crate::lang::{RegisteredPart as FrameworkPart, Spanned};
use crate::model::{BaseKind, CudnnSource, Framework, GpuBuild, Install};

/// TensorFlow.
#[derive(Debug)]
pub struct Tensorflow;

const PACKAGES: &[&str] = &["tensorflow", "tensorflow-gpu", "tensorflow-cpu", "tensorflow[and-cuda]"];

/// The `tensorflow` node: the version, then its properties.
const NODE: &Node = &Node {
    name: "tensorflow",
    doc: "TensorFlow.",
    args: &[Value {
        name: "VERSION",
        kind: Kind::String,
        expect: "a TensorFlow version like \"2.15.0\"",
        doc: "A TensorFlow release, like `2.15.0`.",
    }],
    required_args: 0,
    variadic: false,
    props: &[Value {
        name: "package",
        kind: Kind::String,
        expect: "a package name like \"tensorflow-gpu\"",
        doc: "`tensorflow`, `tensorflow-gpu`, `tensorflow-cpu` or `tensorflow[and-cuda]`; default: what fits the release and the base",
    }],
    per_service: None,
    repeats: false,
    children: Children::None,
};

impl Rules for Tensorflow {
    fn keyword(&self) -> &'static str {
        "tensorflow"
    }

    fn title(&self) -> &'static str {
        "TensorFlow"
    }

    fn noun(&self) -> &'static str {
        "TensorFlow"
    }

    fn example(&self) -> &'static str {
        "2.15.0"
    }

    fn node(&self) -> &'static Node {
        NODE
    }

    fn table(&self) -> &'static str {
        "tensorflow.tsv"
    }

    fn release(&self, compat: &'static Compat, version: &str) -> Option<Release> {
        compat.tensorflow(version).map(|r| Release {
            version: &r.version,
            python_min: &r.python_min,
            python_max: &r.python_max,
        })
    }

    fn versions(&self, compat: &'static Compat) -> Vec<&'static str> {
        compat.tensorflow.iter().map(|r| r.version.as_str()).collect()
    }

    fn check(&self, cx: &mut Cx<'_>, part: &FrameworkPart, release: Release) -> Option<Framework> {
        let release = cx.compat.tensorflow(release.version)?;
        let written_package = part.string("package");
        let package = package(cx, release, written_package.as_ref())?;
        let version = cx.version;
        let wheel = cx.compat.wheel("tensorflow", &release.version);
        let and_cuda_installs = wheel.is_some_and(|w| w.pip_cuda_installs(&cx.python.value));
        if package == "tensorflow[and-cuda]" && !and_cuda_installs {
            let p = written_package.as_ref().map_or(version.span, |p| p.span);
            let help = and_cuda_help(cx, release);
            cx.push(
                Diag::error(
                    Code::TensorflowPackage,
                    p,
                    format!(
                        "`tensorflow[and-cuda]` {} does not install on Python {}",
                        release.version, cx.python.value
                    ),
                    "extra does not install",
                )
                .with_label(version.span, "version chosen here")
                .with_help(help),
            );
            return None;
        }
        let package = cuda_fit(cx, release, package, written_package.is_some(), and_cuda_installs)?;
        let pip_cuda = package == "tensorflow[and-cuda]";
        let base = &cx.base.base;
        if pip_cuda && base.cudnn.is_some() && written_package.is_some() {
            cx.duplicate_cudnn_note("TensorFlow's `[and-cuda]` extra brings its own cuDNN from pip");
        }
        let glibc_ok = wheel.is_none_or(|w| {
            let pip_glibc = pip_cuda.then_some(w.pip_glibc.as_str());
            cx.glibc_fits(&format!("TensorFlow {}", release.version), &w.manylinux, &w.glibc, pip_glibc)
        });
        if !glibc_ok {
            return None;
        }
        let cudnn = if pip_cuda {
            // A range (2.20 on) resolves at build time: no exact version to promise.
            CudnnSource::Pip(wheel.map(|w| w.pip_cudnn.clone()).filter(|c| compat::Version::parse(c).is_some()))
        } else {
            CudnnSource::Base
        };
        let gpu_build = base.gpu && package != "tensorflow-cpu";
        let requirement = format!("{package}=={}", release.version);
        Some(Framework {
            kind: self.keyword(),
            title: self.title(),
            version: release.version.clone(),
            summary: format!(
                "TensorFlow {} (`{requirement}`), tested by Google with CUDA {} and cuDNN {}",
                release.version, release.cuda, release.cudnn
            ),
            install: Install {
                comment: format!(
                    "TensorFlow {} (tested with CUDA {}, cuDNN {}).",
                    release.version, release.cuda, release.cudnn
                ),
                requirements: vec![requirement],
                index_url: None,
                find_links: None,
                trusted_host: None,
            },
            commands: vec![
                "python -c \"import tensorflow as tf; print(tf.__version__); print(tf.config.list_physical_devices('GPU'))\"".to_owned(),
                "python -c \"import tensorflow as tf; b = tf.sysconfig.get_build_info(); print(b.get('cuda_version'), b.get('cudnn_version'))\"".to_owned(),
                "python -c \"import tensorflow as tf; print(tf.reduce_sum(tf.random.normal([1000, 1000])))\"".to_owned(),
            ],
            probe: include_str!("probe.py"),
            gpu_build: gpu_build.then(|| GpuBuild { variant: "*".to_owned(), cuda: release.cuda.clone(), from_pip: pip_cuda }),
            expect: probe(
                self,
                "tensorflow",
                &release.version,
                gpu_build.then(|| release.cuda.clone()),
                gpu_build.then(|| release.cudnn.clone()),
                false,
            ),
            cudnn,
        })
    }

    fn describe(&self, compat: &'static Compat) -> Vec<String> {
        let mut lines = vec!["tensorflow: version  python  cuda  cudnn  gpu-package".to_owned()];
        lines.extend(compat.tensorflow.iter().map(|r| {
            let and_cuda = if r.and_cuda { " (tensorflow[and-cuda] too)" } else { "" };
            format!(
                "  {:<10} {}-{:<6} {:<5} {:<5} {}{and_cuda}",
                r.version, r.python_min, r.python_max, r.cuda, r.cudnn, r.gpu_package
            )
        }));
        lines
    }
}

/// The package that installs `release`: the one written (checked against the release and the
/// base), else the one for the base; `None` after an error.
fn package(cx: &mut Cx<'_>, release: &TensorflowRelease, written_package: Option<&Spanned<String>>) -> Option<String> {
    let version = cx.version;
    let base = &cx.base.base;
    let is_1x_or_20 = compare(&release.version, "2.1").is_lt();
    let package = match written_package {
        Some(p) => {
            if !PACKAGES.contains(&p.value.as_str()) {
                let help = did_you_mean(&p.value, PACKAGES, "TensorFlow packages are");
                cx.push(
                    Diag::error(
                        Code::TensorflowPackage,
                        p.span,
                        format!("`{}` is not a TensorFlow package", p.value),
                        "unknown package",
                    )
                    .with_help(help),
                );
                return None;
            }
            let refusal = match p.value.as_str() {
                "tensorflow-gpu" if compare(&release.version, "2.12").is_ge() => {
                    Some("from TensorFlow 2.12 on `tensorflow-gpu` is a stub that fails to install; write `package=\"tensorflow\"`".to_owned())
                }
                "tensorflow[and-cuda]" if !release.and_cuda => {
                    Some(format!("`tensorflow[and-cuda]` exists from TensorFlow 2.14 on; write `package=\"{}\"`", release.gpu_package))
                }
                _ => None,
            };
            if let Some(help) = refusal {
                cx.push(
                    Diag::error(
                        Code::TensorflowPackage,
                        p.span,
                        format!("`{}` cannot install TensorFlow {}", p.value, release.version),
                        "wrong package",
                    )
                    .with_label(version.span, "version chosen here")
                    .with_help(help),
                );
                return None;
            }
            if base.gpu
                && (p.value == "tensorflow-cpu"
                    || (is_1x_or_20 && p.value == "tensorflow" && release.version != "1.15.0"))
            {
                cx.push(
                    Diag::warning(
                        Code::TensorflowPackage,
                        p.span,
                        format!("`{}` {} is CPU-only, but the image is built for GPUs", p.value, release.version),
                        "CPU-only package",
                    )
                    .with_help(format!("write `package=\"{}\"`", release.gpu_package)),
                );
            }
            p.value.clone()
        }
        None if base.gpu && is_1x_or_20 => release.gpu_package.clone(),
        None => "tensorflow".to_owned(),
    };
    Some(package)
}

/// A base whose cuDNN TensorFlow would not load (`problem`): when dlspec chooses the package and
/// `[and-cuda]` installs, it brings its own cuDNN from pip, as upstream's install does (a note,
/// and `true`); otherwise an error.
fn cudnn_from_pip(
    cx: &mut Cx<'_>,
    release: &TensorflowRelease,
    problem: &str,
    package_written: bool,
    and_cuda_installs: bool,
) -> bool {
    let version = cx.version;
    let base = &cx.base.base;
    let base_span = cx.base_span();
    let cudnn_major = release.cudnn.split('.').next().unwrap_or("");
    if !package_written && and_cuda_installs {
        // Upstream's install for this case: the pip cuDNN of `[and-cuda]` wins over the base's.
        let tags = cx.satisfying_tags_help(&release.cudnn, &release.cuda);
        let help = if base.cudnn.is_some() {
            format!(
                "the base's own cuDNN is then unused: write `cudnn=\"none\"` for a leaner base, or {tags} to use the base's cuDNN instead"
            )
        } else if cx.base.left_out_cudnn.is_some() {
            format!("this is upstream's install; to use a cuDNN from the base instead, {tags}")
        } else {
            format!("this is upstream's install; to use a cuDNN from the base instead, {tags} with cuDNN")
        };
        cx.push(
            Diag::note(
                Code::PipCuda,
                version.span,
                format!(
                    "TensorFlow {} installs `tensorflow[and-cuda]` (CUDA and cuDNN from pip): {problem}",
                    release.version
                ),
                "installed with [and-cuda]",
            )
            .with_label(base_span, "base chosen here")
            .with_help(help),
        );
        return true;
    }
    let fix = cx.satisfying_tags_help(&release.cudnn, &release.cuda);
    let pip_fix = if release.and_cuda && and_cuda_installs {
        "or leave `package` out to install `tensorflow[and-cuda]`".to_owned()
    } else if release.and_cuda {
        and_cuda_help(cx, release)
    } else {
        format!("TensorFlow {} has no `[and-cuda]` extra (2.14 on)", release.version)
    };
    let (code, label) = match base.cudnn.as_deref() {
        Some(major) if major == cudnn_major => (Code::CudnnTooOld, "older cuDNN"),
        Some(_) => (Code::CudaMismatch, "wrong cuDNN"),
        None => (Code::CudaMismatch, "no cuDNN"),
    };
    cx.push(
        Diag::error(
            code,
            base_span,
            format!("TensorFlow {} would not load its cuDNN: {problem}", release.version),
            label,
        )
        .with_label(version.span, "TensorFlow chosen here")
        .with_help(format!("{fix}; {pip_fix}")),
    );
    false
}

/// How `package` uses the CUDA of a `cuda` base: the base's CUDA major, and a cuDNN TensorFlow
/// loads; when the base's cuDNN does not do and the package was left to dlspec, `[and-cuda]`
/// brings its own from pip (the package it then installs is returned); `None` after an error.
fn cuda_fit(
    cx: &mut Cx<'_>,
    release: &TensorflowRelease,
    package: String,
    package_written: bool,
    and_cuda_installs: bool,
) -> Option<String> {
    let version = cx.version;
    let base = &cx.base.base;
    let mut package = package;
    let pip_cuda = package == "tensorflow[and-cuda]";
    if base.kind == BaseKind::Cuda && !pip_cuda && package != "tensorflow-cpu" {
        let cuda = base.cuda.clone().unwrap_or_default();
        let (bmaj, bmin) = major_minor(&cuda);
        let (tmaj, tmin) = major_minor(&release.cuda);
        let base_span = cx.base_span();
        if bmaj != tmaj {
            cx.push(
                Diag::error(
                    Code::CudaMismatch,
                    base_span,
                    format!(
                        "TensorFlow {} is built for CUDA {}, the base has CUDA {cuda}",
                        release.version, release.cuda
                    ),
                    "wrong CUDA major",
                )
                .with_label(version.span, "TensorFlow chosen here")
                .with_help(format!(
                    "use a CUDA {tmaj}.x base (TensorFlow was tested with CUDA {} and cuDNN {})",
                    release.cuda, release.cudnn
                )),
            );
            return None;
        }
        // TensorFlow refuses a cuDNN of another major, or of the same major with an older minor
        // ("needs equal or higher minor version"); patch levels do not matter.
        let base_cudnn_problem = cx.base_cudnn_problem(&release.cudnn);
        if let Some(problem) = base_cudnn_problem {
            if !cudnn_from_pip(cx, release, &problem, package_written, and_cuda_installs) {
                return None;
            }
            package = "tensorflow[and-cuda]".to_owned();
        } else if bmin < tmin {
            // A newer CUDA minor is fine (the libraries keep their ABI within a major); an older
            // one may lack what TensorFlow was built against.
            cx.push(
                Diag::warning(
                    Code::Untested,
                    base_span,
                    format!(
                        "TensorFlow {} was built and tested with CUDA {} and cuDNN {}, the base has an older CUDA {cuda}",
                        release.version, release.cuda, release.cudnn
                    ),
                    "untested CUDA",
                )
                .with_label(version.span, "TensorFlow chosen here")
                .with_help(format!("use a CUDA {} base to run what TensorFlow tested", release.cuda)),
            );
        }
    }
    Some(package)
}

/// Why `tensorflow[and-cuda]` does not install for this release and Python, and what does.
fn and_cuda_help(cx: &Cx<'_>, release: &TensorflowRelease) -> String {
    if !release.and_cuda {
        return format!(
            "`tensorflow[and-cuda]` exists from TensorFlow 2.14 on; write `package=\"{}\"`",
            release.gpu_package
        );
    }
    let python = &cx.python.value;
    let series = format!("{}.", release.version.split('.').take(2).collect::<Vec<_>>().join("."));
    let fixed: Vec<&str> = cx
        .compat
        .wheels
        .iter()
        .filter(|w| w.framework == "tensorflow" && w.version.starts_with(&series) && w.pip_cuda_installs(python))
        .map(|w| w.version.as_str())
        .collect();
    let pythons: &str = cx.compat.wheel("tensorflow", &release.version).map_or("", |w| w.pip_pythons.as_str());
    match (pythons, fixed.first()) {
        ("none", Some(v)) => format!(
            "the `[and-cuda]` extra of TensorFlow {} pins a TensorRT without wheels; {v} fixes it: write `tensorflow \"{v}\"`",
            release.version
        ),
        ("none" | "", _) => {
            format!("the `[and-cuda]` extra of TensorFlow {} does not install; pick another release", release.version)
        }
        (list, _) => format!(
            "the `[and-cuda]` extra of TensorFlow {} installs on Python {} only (its TensorRT pin has no wheels for Python {python}): write `python \"{}\"`",
            release.version,
            list.replace(',', ", "),
            list.rsplit(',').next().unwrap_or(list)
        ),
    }
}
