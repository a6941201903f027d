//! The base image: `cuda`, `cpu` or `base "IMAGE"`, checked against the nvidia/cuda tag table and
//! the OS releases, with warnings for superseded tags and end-of-life releases.

use super::packages::builds_against_framework;
use super::{Checker, cluster};
use crate::compat::major_minor;
use crate::compat::{self, CudaTag, compare};
use crate::diag::{Code, Diag, did_you_mean};
use crate::framework::{BaseInfo, quote_list};
use crate::lang::{BasePart, CpuPart, CudaPart, CustomBasePart, Flavor, PipPart, Spanned};
use crate::model::{Base, BaseKind};
use crate::source::Span;
use crate::values;

const DEFAULT_OS: &str = "ubuntu22.04";

/// What the defaults of `cuda`'s `cudnn` and `flavor` depend on besides the tag. Without either,
/// the v1 defaults: `devel`, with the tag's cuDNN.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct CudaDefaults {
    /// The framework installs CUDA, cuDNN and NCCL through pip wheels (its `GpuBuild::from_pip`):
    /// the base needs none of them, so it defaults to the `base` flavor (the CUDA runtime and the
    /// driver requirement) without cuDNN.
    pub pip_libraries: bool,
    /// Packages compile against CUDA (`pip … no-build-isolation=#true`): `devel`, for nvcc.
    pub compiles: bool,
}

impl Checker<'_> {
    /// Whether the spec leaves a default of its `cuda` base open that [`CudaDefaults`] decide.
    pub(super) fn cuda_defaults_open(&self) -> bool {
        matches!(self.part().base.as_deref(), Some(BasePart::Cuda(c)) if c.cudnn.is_none() || c.flavor.is_none())
    }

    /// The base image, pulled through the catalog's cache when it has one.
    pub(super) fn base(&mut self, defaults: CudaDefaults) -> Option<BaseInfo> {
        let Some(base) = self.part().base.clone() else {
            let span = self.name_span();
            self.push(
                Diag::error(
                    Code::Missing,
                    span,
                    format!("image `{}` has no base", self.instance.name.value),
                    "no base",
                )
                .with_help("add `cuda \"12.1.0\"` for a GPU image, `cpu` for a CPU image, or `base \"IMAGE\"`"),
            );
            return None;
        };
        match *base {
            BasePart::Cuda(cuda) => self.cuda_base(&cuda, defaults),
            BasePart::Cpu(cpu) => self.cpu_base(&cpu),
            BasePart::Custom(custom) => self.custom_base(&custom),
        }
    }

    /// `cuda VERSION cudnn= flavor= os=`: an nvidia/cuda tag that exists.
    fn cuda_base(&mut self, cuda: &CudaPart, defaults: CudaDefaults) -> Option<BaseInfo> {
        let Some(version) = cuda.version.clone() else {
            self.push(
                Diag::error(Code::Missing, cuda.node, "`cuda` needs a version", "version missing")
                    .with_help("write the full CUDA version, like `cuda \"12.1.0\"`"),
            );
            return None;
        };
        let os = cuda.os.clone().map_or_else(|| DEFAULT_OS.to_owned(), |o| o.value);
        let os_span = cuda.os.as_ref().map_or(cuda.node, |o| o.span);
        // A cuDNN written with a major is there to compile against its headers, which
        // only `devel` has: the framework loads its own.
        let cudnn_written = cuda.cudnn.as_ref().is_some_and(|c| c.value != "none");
        let flavor = match &cuda.flavor {
            Some(written) => written.value,
            None if defaults.compiles => Flavor::Devel,
            None if defaults.pip_libraries && !cudnn_written => Flavor::Base,
            None => Flavor::Devel,
        };
        if defaults.compiles
            && let Some(written) = cuda.flavor.as_ref().filter(|f| f.value != Flavor::Devel)
        {
            self.no_compiler_warning(written);
        }
        if !values::dotted(&version.value, 3) {
            let help = self.cuda_versions_help(&version.value, &os);
            self.push(
                Diag::error(
                    Code::CudaTag,
                    version.span,
                    format!("`{}` is not a full CUDA version", version.value),
                    "not X.Y.Z",
                )
                .with_help(help),
            );
            return None;
        }
        let tag = self.cuda_tag(&version, &os, os_span)?;
        let cudnn = self.cudnn(cuda, &version, &tag, flavor, defaults)?;
        let cudnn_tag = if cudnn.is_some() { format!("{}-", tag.cudnn) } else { String::new() };
        let upstream = format!("nvidia/cuda:{}-{cudnn_tag}{flavor}-{os}", version.value);
        let image = cluster::through_cache(self.settings.base_registry.as_deref(), &upstream);
        if let Some(removed) = self.compat.removed_tag(&image) {
            self.push(
                Diag::error(
                    Code::RemovedBase,
                    version.span,
                    format!(
                        "Docker Hub no longer serves `{image}`: NVIDIA removed the `{}:{}*` tags in {}",
                        removed.image, removed.prefix, removed.removed
                    ),
                    "removed tag",
                )
                .with_help(format!(
                    "{}; source: {}",
                    self.supported_update_help(&version.value, &os),
                    removed.source
                )),
            );
            return None;
        }
        if matches!(tag.status.as_str(), "archived" | "eol") {
            self.push(
                Diag::warning(
                    Code::DeprecatedBase,
                    version.span,
                    format!("`{upstream}` is no longer in NVIDIA's supported tag list and may be deleted"),
                    "superseded tag",
                )
                .with_help(self.supported_update_help(&version.value, &os)),
            );
        }
        self.eol_warning(&os, os_span);
        let in_tag = cudnn.as_ref().and_then(|_| self.compat.cudnn_in_tag(&version.value, &os));
        // The cuDNN v1's defaults would have given the base, which these leave out.
        let left_out = defaults.pip_libraries
            && cuda.cudnn.is_none()
            && cuda.flavor.as_ref().is_none_or(|f| f.value != Flavor::Base)
            && tag.cudnn_major().is_some();
        let left_out_cudnn =
            self.compat.cudnn_in_tag(&version.value, &os).filter(|_| left_out).map(|t| t.cudnn.clone());
        Some(BaseInfo {
            base: Base {
                image,
                upstream,
                kind: BaseKind::Cuda,
                gpu: true,
                cuda: Some(version.value.clone()),
                cudnn,
                cudnn_version: in_tag.map(|t| t.cudnn.clone()),
                nccl_version: in_tag.and_then(|t| t.nccl.clone()),
                flavor: Some(flavor.as_str().to_owned()),
                nvcc: flavor == Flavor::Devel,
                os: Some(os),
            },
            span: cuda.node,
            cuda_span: Some(version.span),
            os_span,
            left_out_cudnn,
        })
    }

    /// The cuDNN major of a `cuda` base: the one written (it must be the tag's), none, or the
    /// default for the flavor and the framework; `None` after an error.
    fn cudnn(
        &mut self,
        cuda: &CudaPart,
        version: &Spanned<String>,
        tag: &CudaTag,
        flavor: Flavor,
        defaults: CudaDefaults,
    ) -> Option<Option<String>> {
        let os = &tag.os;
        let cudnn = match &cuda.cudnn {
            Some(c) if c.value == "none" => None,
            Some(c) => {
                let Some(major) = tag.cudnn_major() else {
                    self.push(
                        Diag::error(
                            Code::CudaTag,
                            c.span,
                            format!("nvidia/cuda has no cuDNN images of CUDA {} on {os}", version.value),
                            "no cuDNN variant",
                        )
                        .with_help("write `cudnn=\"none\"`, or pick a CUDA version with cuDNN images"),
                    );
                    return None;
                };
                if c.value != major {
                    self.push(
                        Diag::error(
                            Code::CudaTag,
                            c.span,
                            format!(
                                "nvidia/cuda images of CUDA {} carry cuDNN {major}, not `{}`",
                                version.value, c.value
                            ),
                            "no such cuDNN variant",
                        )
                        .with_label(version.span, "this CUDA version")
                        .with_help(format!("write `cudnn=\"{major}\"`")),
                    );
                    return None;
                }
                Some(major.to_owned())
            }
            // NVIDIA publishes no `base` flavor with cuDNN, so that flavor defaults to none.
            None if flavor == Flavor::Base || defaults.pip_libraries => None,
            None => tag.cudnn_major().map(str::to_owned),
        };
        if cudnn.is_some() && flavor == Flavor::Base {
            let span = cuda.flavor.as_ref().map_or(cuda.node, |f| f.span);
            self.push(
                Diag::error(
                    Code::CudaTag,
                    span,
                    "nvidia/cuda has no cuDNN images of the `base` flavor",
                    "no cuDNN variant",
                )
                .with_help("use `flavor=\"runtime\"` or `flavor=\"devel\"`, or `cudnn=\"none\"`"),
            );
            return None;
        }
        Some(cudnn)
    }

    /// The nvidia/cuda tag family of `version` on `os`: the table's, or an unknown newer one (a
    /// warning); `None` after an error.
    fn cuda_tag(&mut self, version: &Spanned<String>, os: &str, os_span: Span) -> Option<CudaTag> {
        if let Some(tag) = self.compat.cuda_tag(&version.value, os) {
            return Some(tag.clone());
        }
        if !self.compat.cuda_tags.iter().any(|t| t.os == os) {
            let help = self.cuda_versions_help(&version.value, os);
            let message = format!("dlspec knows no nvidia/cuda images for `{os}`");
            self.push(Diag::error(Code::CudaTag, os_span, message, "unknown OS").with_help(help));
            return None;
        }
        let removed = self.compat.removed_tag(&format!("nvidia/cuda:{}-", version.value)).is_some();
        if !removed && self.never_published(version, os, os_span) {
            return None;
        }
        self.unknown_tag_warning(version, os, os_span);
        Some(CudaTag {
            cuda: version.value.clone(),
            os: os.to_owned(),
            cudnn: cudnn_tag_part(&version.value).to_owned(),
            flavors: Vec::new(),
            status: "unknown".to_owned(),
        })
    }

    /// `cpu os=`: the OS's own image.
    fn cpu_base(&mut self, cpu: &CpuPart) -> Option<BaseInfo> {
        let os = cpu.os.clone().map_or_else(|| DEFAULT_OS.to_owned(), |o| o.value);
        let os_span = cpu.os.as_ref().map_or(cpu.node, |o| o.span);
        let Some(release) = self.compat.os(&os) else {
            let names: Vec<&str> = self.compat.os.iter().map(|o| o.os.as_str()).collect();
            let help = did_you_mean(&os, &names, "the known releases are");
            self.push(
                Diag::error(Code::Os, os_span, format!("unknown OS release `{os}`"), "unknown release").with_help(help),
            );
            return None;
        };
        let upstream = release.image.clone();
        let image = cluster::through_cache(self.settings.base_registry.as_deref(), &upstream);
        self.eol_warning(&os, os_span);
        Some(BaseInfo {
            base: Base {
                image,
                upstream,
                kind: BaseKind::Cpu,
                gpu: false,
                cuda: None,
                cudnn: None,
                cudnn_version: None,
                nccl_version: None,
                flavor: None,
                nvcc: false,
                os: Some(os),
            },
            span: cpu.node,
            cuda_span: None,
            os_span,
            left_out_cudnn: None,
        })
    }

    /// `base IMAGE gpu=`: any image, used as it is.
    fn custom_base(&mut self, custom: &CustomBasePart) -> Option<BaseInfo> {
        self.valid(&custom.image, Code::Unsafe, "image reference", values::image_reference)?;
        if let Some(removed) = self.compat.removed_tag(&custom.image.value) {
            self.push(
                Diag::error(
                    Code::RemovedBase,
                    custom.image.span,
                    format!(
                        "Docker Hub no longer serves `{}`: NVIDIA removed the `{}:{}*` tags in {}",
                        custom.image.value, removed.image, removed.prefix, removed.removed
                    ),
                    "removed tag",
                )
                .with_help(format!(
                    "pull it from a registry that still has it (`base \"registry.example.com/{}\"`), or move to a CUDA release dlspec knows (`dlspec compat cuda`); source: {}",
                    custom.image.value.trim_start_matches("docker.io/"),
                    removed.source
                )),
            );
            return None;
        }
        Some(BaseInfo {
            base: Base {
                image: custom.image.value.clone(),
                upstream: custom.image.value.clone(),
                kind: BaseKind::Custom,
                gpu: custom.gpu.as_ref().is_some_and(|g| g.value),
                cuda: None,
                cudnn: None,
                cudnn_version: None,
                nccl_version: None,
                flavor: None,
                nvcc: false,
                os: None,
            },
            span: custom.node,
            cuda_span: None,
            os_span: custom.node,
            left_out_cudnn: None,
        })
    }

    /// Warns that a written flavor has no CUDA compiler for the packages that build against the
    /// framework (`pip … no-build-isolation=#true`).
    fn no_compiler_warning(&mut self, flavor: &Spanned<Flavor>) {
        let built: Vec<&PipPart> = self.part().pip.iter().filter(|p| builds_against_framework(p)).collect();
        let packages: Vec<&str> = built.iter().flat_map(|p| &p.requirements).map(|r| r.value.as_str()).collect();
        let mut diag = Diag::warning(
            Code::NoCompiler,
            flavor.span,
            format!(
                "the `{}` flavor has no CUDA compiler (nvcc) for {}, which build against the framework",
                flavor.value,
                quote_list(&packages)
            ),
            "no nvcc",
        );
        if let Some(node) = built.first() {
            diag = diag.with_label(node.node, "built here with `no-build-isolation`");
        }
        self.push(diag.with_help(
            "leave `flavor` out (with `no-build-isolation` packages it defaults to `devel`) or write `flavor=\"devel\"`; keep this flavor only if no package compiles CUDA code",
        ));
    }

    /// The CUDA versions to suggest for `version` on `os`.
    fn cuda_versions_help(&self, version: &str, os: &str) -> String {
        let on_os: Vec<&str> = self.compat.cuda_tags.iter().filter(|t| t.os == os).map(|t| t.cuda.as_str()).collect();
        if on_os.is_empty() {
            let mut oses: Vec<&str> = self.compat.cuda_tags.iter().map(|t| t.os.as_str()).collect();
            oses.dedup();
            return did_you_mean(os, &oses, "nvidia/cuda images exist for");
        }
        let minor: Vec<&str> = version.split('.').take(2).collect();
        let prefix = format!("{}.", minor.join("."));
        let same_minor: Vec<&str> = on_os.iter().copied().filter(|v| v.starts_with(&prefix)).collect();
        if !same_minor.is_empty() {
            return format!("for {os}, CUDA {} exists as {}", minor.join("."), quote_list(&same_minor));
        }
        let oses: Vec<&str> =
            self.compat.cuda_tags.iter().filter(|t| t.cuda == version).map(|t| t.os.as_str()).collect();
        if let Some(newest) = oses.last() {
            return format!("CUDA {version} images exist for {}: write os=\"{newest}\"", quote_list(&oses));
        }
        let nearest = compat::nearest(version, on_os.iter().copied()).unwrap_or("");
        format!("did you mean `{nearest}`? nvidia/cuda tags use the full version")
    }

    /// Reports a CUDA version the tag table lacks for `os` although it knows newer tags there: no
    /// new release, since NVIDIA releases forward. A later update of a series the table has
    /// (`12.9.2` after its `12.9.1`) may still be one, or a tag the table's sources missed: only
    /// the warning of [`Self::unknown_tag_warning`] for it.
    fn never_published(&mut self, version: &Spanned<String>, os: &str, os_span: Span) -> bool {
        let mut on_os: Vec<&str> =
            self.compat.cuda_tags.iter().filter(|t| t.os == os).map(|t| t.cuda.as_str()).collect();
        on_os.sort_by(|a, b| compare(a, b));
        let Some(newest) = on_os.last().copied() else { return false };
        let series = format!("{}.", version.value.split('.').take(2).collect::<Vec<_>>().join("."));
        let newest_of_series = on_os.iter().copied().rfind(|v| v.starts_with(&series));
        let later_update = newest_of_series.is_some_and(|n| compare(&version.value, n).is_gt());
        if compare(&version.value, newest).is_ge() || later_update {
            return false;
        }
        let below = on_os.iter().copied().rfind(|v| compare(v, &version.value).is_lt());
        let above = on_os.iter().copied().find(|v| compare(v, &version.value).is_gt());
        let nearest: Vec<String> = below.into_iter().chain(above).map(|v| format!("`cuda \"{v}\"`")).collect();
        let checked = self.compat.tables.iter().find(|t| t.file == "cuda_tags.tsv").map_or("", |t| t.checked.as_str());
        let elsewhere: Vec<&str> =
            self.compat.cuda_tags.iter().filter(|t| t.cuda == version.value).map(|t| t.os.as_str()).collect();
        let mut diag = Diag::error(
            Code::CudaTag,
            version.span,
            format!("nvidia/cuda has no CUDA `{}` images for `{os}`", version.value),
            "no such tag",
        );
        let tags = if nearest.len() == 1 { "tag" } else { "tags" };
        let mut fix = format!("write {}, the nearest {tags} for {os}", nearest.join(" or "));
        if let Some(other) = elsewhere.last() {
            diag =
                diag.with_label(os_span, format!("CUDA {} images exist for {}", version.value, quote_list(&elsewhere)));
            fix.push_str(&format!(", or `os=\"{other}\"`"));
        }
        self.push(diag.with_help(format!(
            "{fix}; dlspec's tag table (checked {checked}) has {os} tags up to `{newest}`, so an older one it lacks is no new release"
        )));
        true
    }

    /// Warns that a CUDA version is not in the tag table: the table is incomplete, so the tag may
    /// well exist; the build pulls it as written.
    fn unknown_tag_warning(&mut self, version: &Spanned<String>, os: &str, os_span: Span) {
        let on_os: Vec<&str> = self.compat.cuda_tags.iter().filter(|t| t.os == os).map(|t| t.cuda.as_str()).collect();
        let minor = format!("{}.", version.value.split('.').take(2).collect::<Vec<_>>().join("."));
        let mut near: Vec<&str> = on_os.iter().copied().filter(|v| v.starts_with(&minor)).collect();
        if near.is_empty() {
            near.extend(compat::nearest(&version.value, on_os.iter().copied()));
        }
        let elsewhere: Vec<&str> =
            self.compat.cuda_tags.iter().filter(|t| t.cuda == version.value).map(|t| t.os.as_str()).collect();
        let checked = self.compat.tables.iter().find(|t| t.file == "cuda_tags.tsv").map_or("", |t| t.checked.as_str());
        let mut diag = Diag::warning(
            Code::CudaTag,
            version.span,
            format!("CUDA `{}` on `{os}` is not in dlspec's tag table (checked {checked})", version.value),
            "unknown tag",
        );
        if !elsewhere.is_empty() {
            diag = diag
                .with_label(os_span, format!("the table has CUDA {} for {}", version.value, quote_list(&elsewhere)));
        }
        self.push(diag.with_help(format!(
            "the nearest known tags for {os} are {}; if `nvidia/cuda:{}-…-{os}` exists, the build pulls it as written",
            quote_list(&near),
            version.value
        )));
    }

    /// The newest version NVIDIA still supports in `version`'s series, to move to.
    fn supported_update_help(&self, version: &str, os: &str) -> String {
        let minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".") + ".";
        let newest = self
            .compat
            .cuda_tags
            .iter()
            .filter(|t| t.os == os && t.status == "supported" && t.cuda.starts_with(&minor))
            .map(|t| t.cuda.as_str())
            .max_by(|a, b| compare(a, b));
        match newest {
            Some(v) => format!("NVIDIA supports `{v}` for this series: write `cuda \"{v}\"` when you can rebuild"),
            None => "pick a CUDA version from NVIDIA's supported list (`dlspec compat cuda`)".to_owned(),
        }
    }

    /// Warns when `os` is past its end of standard support.
    fn eol_warning(&mut self, os: &str, span: Span) {
        if let Some(release) = self.compat.os(os)
            && release.status == "eol"
        {
            self.push(
                Diag::warning(
                    Code::DeprecatedBase,
                    span,
                    format!("`{os}` reached the end of standard support in {}", release.eol),
                    "end-of-life release",
                )
                .with_help("move to a supported release such as `ubuntu22.04` or `ubuntu24.04`"),
            );
        }
    }
}

/// The cuDNN part of an nvidia/cuda tag by NVIDIA's tag grammar: `cudnn8` up to CUDA 12.2,
/// `cudnn9` for 12.3, `cudnn` from 12.4 on.
fn cudnn_tag_part(cuda: &str) -> &'static str {
    match major_minor(cuda) {
        (major, minor) if major < 12 || (major == 12 && minor <= 2) => "cudnn8",
        (12, 3) => "cudnn9",
        _ => "cudnn",
    }
}
