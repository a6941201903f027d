//! The framework registry: one module per framework, each with its compatibility table, the
//! properties of its node, its own rules and how it installs, on the checks every framework
//! shares (the node needs a version, the release exists, the Python is in its range).
//!
//! Adding a framework is its table (`src/compat/data/NAME.tsv`), its module here with a line in
//! [`FRAMEWORKS`], its section of the docs, and its tests: the language, the matrix, the checks,
//! the templates, `dlspec compat` and the self-test all come from the registry.

mod jax;
mod paddle;
mod pytorch;
mod tensorflow;

use crate::compat::{self, Compat, compare, major_minor};
use crate::diag::{Code, Diag, Diagnostics};
use crate::lang::{Node, RegisteredPart as FrameworkPart, Spanned};
use crate::model::{Base, Framework, FrameworkProbe, Mirrors};
use crate::source::Span;

/// What the frameworks add to the language: their nodes.
#[must_use]
pub fn language() -> Vec<&'static Node> {
    FRAMEWORKS.iter().map(|f| f.node()).collect()
}

/// Every framework dlspec knows, in the order the language lists them.
pub static FRAMEWORKS: &[&dyn Rules] = &[&pytorch::Pytorch, &tensorflow::Tensorflow, &jax::Jax, &paddle::Paddle];

/// The framework whose node is `keyword`.
#[must_use]
pub fn by_keyword(keyword: &str) -> Option<&'static dyn Rules> {
    FRAMEWORKS.iter().copied().find(|f| f.keyword() == keyword)
}

/// A release as the shared checks see it.
#[derive(Debug, Clone, Copy)]
pub struct Release {
    /// `2.3.0`.
    pub version: &'static str,
    /// Oldest Python `major.minor` with wheels.
    pub python_min: &'static str,
    /// Newest Python `major.minor` with wheels.
    pub python_max: &'static str,
}

/// What one framework is: its node, its table and its own rules.
pub trait Rules: Sync + std::fmt::Debug {
    /// The node's name and matrix axis: `pytorch`.
    fn keyword(&self) -> &'static str;
    /// The framework for people: `PyTorch`.
    fn title(&self) -> &'static str;
    /// What a version names in messages: `torch`.
    fn noun(&self) -> &'static str;
    /// A version for help lines: `2.3.0`.
    fn example(&self) -> &'static str;
    /// Its node: the version argument and the properties, as the language reads them.
    fn node(&self) -> &'static Node;
    /// Its compatibility table: the file name under `src/compat/data/`.
    fn table(&self) -> &'static str;
    /// The release of `version`, if the table knows it.
    fn release(&self, compat: &'static Compat, version: &str) -> Option<Release>;
    /// Every release the table knows, oldest first.
    fn versions(&self, compat: &'static Compat) -> Vec<&'static str>;
    /// The framework's own rules on a known release: what it installs, or `None` after
    /// reporting why it cannot.
    fn check(&self, cx: &mut Cx<'_>, part: &FrameworkPart, release: Release) -> Option<Framework>;
    /// The lines of `dlspec compat KEYWORD`: a heading, then one line a release.
    fn describe(&self, compat: &'static Compat) -> Vec<String>;
}

/// The resolved base with the spans the framework checks point back to.
pub struct BaseInfo {
    /// The base.
    pub base: Base,
    /// Its node.
    pub span: Span,
    /// Its CUDA version, on a `cuda` base.
    pub cuda_span: Option<Span>,
    /// Its OS release (or the node, when the OS is a default).
    pub os_span: Span,
    /// The full cuDNN of the tag's cuDNN variant, when the spec left `cudnn` out and the base has
    /// none because the framework brings its own: what the framework's rules compared when they
    /// chose that (see [`Cx::base_cudnn_problem`]).
    pub left_out_cudnn: Option<String>,
}

/// The context of a framework's rules: the tables, the image's base, Python and mirrors, the
/// version as written, and where problems go.
pub struct Cx<'a> {
    /// The embedded tables.
    pub compat: &'static Compat,
    /// The resolved base.
    pub base: &'a BaseInfo,
    /// The image's Python.
    pub python: &'a Spanned<String>,
    /// The image's mirrors: the framework's own (`mirrors pytorch=`, `paddle=`) and PyPI's.
    pub mirrors: &'a Mirrors,
    /// The framework version as written.
    pub version: &'a Spanned<String>,
    rules: &'static dyn Rules,
    diags: &'a mut Diagnostics,
}

/// Checks the framework node of an image: the shared checks, then the framework's own rules.
pub(crate) fn check(
    compat: &'static Compat,
    part: &FrameworkPart,
    base: &BaseInfo,
    python: &Spanned<String>,
    mirrors: &Mirrors,
    diags: &mut Diagnostics,
) -> Option<Framework> {
    let rules = by_keyword(part.keyword)?;
    let Some(version) = part.version() else {
        diags.push(
            Diag::error(Code::Missing, part.node, format!("`{}` needs a version", rules.keyword()), "version missing")
                .with_help(format!("write `{} \"{}\"`", rules.keyword(), rules.example())),
        );
        return None;
    };
    let Some(release) = rules.release(compat, &version.value) else {
        let nearest = compat::nearest(&version.value, rules.versions(compat)).unwrap_or("");
        diags.push(
            Diag::error(
                Code::Release,
                version.span,
                format!("{} `{}` was never released", rules.noun(), version.value),
                "unknown release",
            )
            .with_help(format!("did you mean `{nearest}`? `dlspec compat {}` lists the releases", rules.keyword())),
        );
        return None;
    };
    let mut cx = Cx { compat, base, python, mirrors, version: &version, rules, diags };
    let python_ok = cx.python_range(release);
    let framework = rules.check(&mut cx, part, release);
    framework.filter(|_| python_ok)
}

impl Cx<'_> {
    /// Reports a problem.
    pub fn push(&mut self, diag: Diag) {
        self.diags.push(diag);
    }

    /// The span of the base node's CUDA version (or of the base node).
    #[must_use]
    pub fn base_span(&self) -> Span {
        self.base.cuda_span.unwrap_or(self.base.span)
    }

    fn python_range(&mut self, release: Release) -> bool {
        let (min, max, python) = (release.python_min, release.python_max, &self.python.value);
        if compare(python, min).is_ge() && compare(python, max).is_le() {
            return true;
        }
        let what = format!("{} {}", self.rules.noun(), release.version);
        self.push(
            Diag::error(
                Code::Python,
                self.python.span,
                format!("{what} supports Python {min} to {max}, not {python}"),
                "Python out of range",
            )
            .with_label(self.version.span, format!("{what} chosen here"))
            .with_help(format!("write `python \"{max}\"` (or another version from {min} to {max})")),
        );
        false
    }

    /// Validates a wheel index URL written in the spec.
    pub fn index_url(&mut self, index: &Spanned<String>) -> Option<String> {
        match crate::values::url(&index.value) {
            Ok(_) => Some(index.value.trim_end_matches('/').to_owned()),
            Err(reason) => {
                self.push(
                    Diag::error(
                        Code::Unsafe,
                        index.span,
                        format!("`{}` is not a valid index URL", index.value),
                        "invalid index URL",
                    )
                    .with_help(reason),
                );
                None
            }
        }
    }

    /// Warns when a CUDA build of the framework (`cu121`, `cpu`) does not fit the base: CUDA
    /// wheels on a CPU base, another CUDA major or a newer minor than the base's, CPU wheels on a
    /// GPU base.
    pub fn variant_fits_base(&mut self, what: &str, variant: &str, span: Span, fix: &str) {
        let warning = match (variant, self.base.base.gpu, &self.base.base.cuda) {
            ("cpu", true, _) => Some(format!("CPU-only wheels on a GPU base: {what} will not see the GPU")),
            (v, false, _) if v.starts_with("cu") => {
                Some(format!("`{v}` wheels on a CPU base: they work but carry CUDA libraries for nothing"))
            }
            (v, true, Some(cuda)) if v.starts_with("cu") => {
                let (maj, min) = cuda_of_variant(v).unwrap_or((0, 0));
                let (bmaj, bmin) = major_minor(cuda);
                if maj != bmaj {
                    Some(format!("`{v}` wheels need CUDA {maj}, the base has CUDA {cuda}"))
                } else if min > bmin {
                    Some(format!(
                        "`{v}` wheels were built for a newer CUDA than the base's {cuda}: the host driver must support CUDA {maj}.{min}"
                    ))
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some(message) = warning {
            let base_span = self.base_span();
            self.push(
                Diag::warning(Code::CudaMismatch, span, message, "wheel variant")
                    .with_label(base_span, "base chosen here")
                    .with_help(fix),
            );
        }
    }

    /// The CUDA build among `variants` (`cu118`, `cu121`, …) that fits a CUDA base best: the same
    /// major, the newest minor not newer than the base's.
    #[must_use]
    pub fn fitting_variant<'v>(&self, variants: &'v [String]) -> Option<&'v String> {
        let cuda = self.base.base.cuda.as_deref()?;
        let (bmaj, bmin) = major_minor(cuda);
        variants
            .iter()
            .filter(|v| cuda_of_variant(v).is_some_and(|(maj, min)| maj == bmaj && min <= bmin))
            .max_by(|a, b| cuda_of_variant(a).cmp(&cuda_of_variant(b)))
    }

    /// Why the base's cuDNN cannot serve a framework built with cuDNN `built` (`major.minor`),
    /// which loads a cuDNN of the same major and an equal or newer minor only: none when it can.
    /// A base that the defaults left without cuDNN (the framework brings its own) names the cuDNN
    /// its tag would have carried.
    #[must_use]
    pub fn base_cudnn_problem(&self, built: &str) -> Option<String> {
        let base = &self.base.base;
        let built_major = built.split('.').next().unwrap_or_default();
        if let (None, Some(tag)) = (&base.cudnn, &self.base.left_out_cudnn) {
            let cuda = base.cuda.as_deref().unwrap_or_default();
            let why = if tag.split('.').next() != Some(built_major) {
                Some(format!("is not the cuDNN {built} it was built with"))
            } else if major_minor(tag) < major_minor(built) {
                Some(format!("is older than the cuDNN {built} it was built with"))
            } else {
                None
            };
            return Some(match why {
                Some(why) => format!("the CUDA {cuda} tags' cuDNN {tag} {why}, so the base leaves it out"),
                None => format!("the base leaves out the CUDA {cuda} tags' cuDNN {tag}"),
            });
        }
        match (&base.cudnn, &base.cudnn_version) {
            (None, _) => Some("the base has no cuDNN".to_owned()),
            (Some(major), _) if major != built_major => {
                Some(format!("the base's cuDNN {major} is not the cuDNN {built} it was built with"))
            }
            (Some(_), Some(full)) if major_minor(full) < major_minor(built) => {
                Some(format!("the base's cuDNN {full} is older than the cuDNN {built} it was built with"))
            }
            _ => None,
        }
    }

    /// Notes that the base's cuDNN is a second copy next to the one the framework installs.
    pub fn duplicate_cudnn_note(&mut self, why: &str) {
        let span = self.base.span;
        self.push(
            Diag::note(
                Code::DuplicateLibraries,
                span,
                format!("the image carries cuDNN twice: {why}, and the base has one too"),
                "base with cuDNN",
            )
            .with_help("leave `cudnn` out (the base then has no cuDNN, several hundred MB smaller) or write `cudnn=\"none\"`; keep it only to compile against the cuDNN headers"),
        );
    }

    /// Checks that the framework's wheels (and the CUDA libraries they pull through pip) install
    /// on the OS's glibc: `needed` is the glibc of the framework's wheel (`manylinux` names its
    /// tag), `pip_glibc` the newest glibc of the CUDA libraries it installs, when it does.
    pub fn glibc_fits(&mut self, what: &str, manylinux: &str, glibc: &str, pip_glibc: Option<&str>) -> bool {
        let Some(os) = self.base.base.os.as_deref().and_then(|os| self.compat.os(os)) else {
            return true;
        };
        let (needed, by) = match pip_glibc {
            Some(pip) if compare(pip, glibc).is_gt() => {
                (pip, "the CUDA libraries it installs through pip need".to_owned())
            }
            _ => (glibc, format!("its wheels ({manylinux}) need")),
        };
        if needed.is_empty() || compare(&os.glibc, needed).is_ge() {
            return true;
        }
        let fitting: Vec<&str> = self
            .compat
            .os
            .iter()
            .filter(|o| compare(&o.glibc, needed).is_ge() && o.status == "supported")
            .map(|o| o.os.as_str())
            .collect();
        let (span, os_span) = (self.version.span, self.base.os_span);
        self.push(
            Diag::error(
                Code::Glibc,
                span,
                format!("{what} does not install on {}: {by} glibc {needed}, it has {}", os.os, os.glibc),
                "needs a newer glibc",
            )
            .with_label(os_span, format!("{} chosen here", os.os))
            .with_help(format!("use an OS with glibc {needed} or newer: {}", quote_list(&fitting))),
        );
        false
    }

    /// The nvidia/cuda tags on the image's OS whose cuDNN satisfies `cudnn` (major.minor) on the
    /// same CUDA major as `cuda`, as a help line.
    #[must_use]
    pub fn satisfying_tags_help(&self, cudnn: &str, cuda: &str) -> String {
        let os = self.base.base.os.as_deref().unwrap_or_default();
        let (need_major, _) = major_minor(cudnn);
        let (cuda_major, _) = major_minor(cuda);
        let mut fitting: Vec<&compat::CudnnInTag> = self
            .compat
            .cudnn_in_tags
            .iter()
            .filter(|t| {
                let (maj, _) = major_minor(&t.cudnn);
                t.os == os
                    && maj == need_major
                    && major_minor(&t.cudnn) >= major_minor(cudnn)
                    && major_minor(&t.cuda).0 == cuda_major
                    && self.compat.cuda_tag(&t.cuda, os).is_some_and(|c| c.status == "supported")
            })
            .collect();
        // The oldest tag that is not older than the CUDA the framework was built with, else the newest.
        let older_than_build = |tag: &compat::CudnnInTag| major_minor(&tag.cuda) < major_minor(cuda);
        fitting.sort_by(|a, b| older_than_build(a).cmp(&older_than_build(b)).then_with(|| compare(&a.cuda, &b.cuda)));
        if fitting.first().is_some_and(|t| older_than_build(t)) {
            fitting.reverse();
        }
        match fitting.first() {
            Some(t) => format!("write `cuda \"{}\"` (its cuDNN is {})", t.cuda, t.cudnn),
            None => {
                format!("no nvidia/cuda tag for {os} known to dlspec has cuDNN {cudnn} or newer on CUDA {cuda_major}")
            }
        }
    }
}

/// What the self-test of an image with this framework expects, from the framework's facts.
#[must_use]
pub fn probe(
    rules: &dyn Rules,
    import_name: &'static str,
    version: &str,
    cuda: Option<String>,
    min_cudnn: Option<String>,
    nccl: bool,
) -> FrameworkProbe {
    FrameworkProbe { kind: rules.keyword(), import_name, version: version.to_owned(), cuda, min_cudnn, nccl }
}

/// `(12, 1)` for the wheel variant `cu121`, `(11, 8)` for `cu118`.
#[must_use]
pub fn cuda_of_variant(variant: &str) -> Option<(u64, u64)> {
    let digits = variant.strip_prefix("cu").filter(|d| d.len() >= 3 && d.chars().all(|c| c.is_ascii_digit()))?;
    let (major, minor) = digits.split_at(2);
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Whether a URL path segment names a wheel variant or build: `cu124`, `cpu`, `rocm6.0`.
#[must_use]
pub fn is_variant(segment: &str) -> bool {
    segment == "cpu" || cuda_of_variant(segment).is_some() || segment.starts_with("rocm")
}

/// `` `a`, `b`, `c` ``.
#[must_use]
pub fn quote_list(items: &[impl AsRef<str>]) -> String {
    items.iter().map(|i| format!("`{}`", i.as_ref())).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_of_wheel_variants() {
        assert_eq!(cuda_of_variant("cu121"), Some((12, 1)));
        assert_eq!(cuda_of_variant("cu118"), Some((11, 8)));
        assert_eq!(cuda_of_variant("cu102"), Some((10, 2)));
        assert_eq!(cuda_of_variant("cpu"), None);
        assert_eq!(cuda_of_variant("rocm6.0"), None);
        assert!(is_variant("cu124") && is_variant("cpu") && is_variant("rocm6.0"));
        assert!(!is_variant("simple") && !is_variant("whl") && !is_variant("cuda"));
    }

    #[test]
    fn keywords_are_unique_and_tables_are_theirs() {
        for (i, framework) in FRAMEWORKS.iter().enumerate() {
            assert!(FRAMEWORKS[..i].iter().all(|f| f.keyword() != framework.keyword()));
            assert_eq!(framework.table(), format!("{}.tsv", framework.keyword()));
            assert!(crate::compat::get().table(framework.table()).is_some(), "{} is embedded", framework.table());
            assert!(!framework.versions(crate::compat::get()).is_empty(), "{} has releases", framework.keyword());
        }
    }
}
