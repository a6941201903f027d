//! Check: image instances → resolved [`model::Image`]s. Fills the platform defaults, checks every
//! value against the compatibility tables and the contexts it reaches, and reports all problems.

mod cluster;
pub(crate) mod values;

use std::collections::{BTreeMap, HashMap, HashSet};

use camino::Utf8PathBuf;
use sha2::{Digest, Sha256};

use crate::ast::{BasePart, CatalogPart, FrameworkPart, Part, Spanned};
use crate::compat::{self, Compat, CudaTag, compare};
use crate::diag::{Code, Diag, Diagnostics, did_you_mean};
use crate::framework::{major_minor, quote_list};
use crate::model::{
    Base, BaseKind, Catalog, DockerRun, Framework, Image, Jupyter, Kubernetes, KubernetesPort, Locale, Mirrors, Origin,
    PublishedPort, Python, Resources, SelfTest, ServicePort, Ssh, TensorBoard,
};
use crate::resolve::Instance;
use crate::source::{SourceMap, Span};

/// The platform's Debian packages (the seed guides' set, plus what the platform layer runs on).
const PLATFORM_APT: &[&str] =
    &["openssh-server", "locales", "tzdata", "curl", "vim", "tmux", "wget", "ca-certificates", "supervisor"];
const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";
const DEFAULT_LOCALE: &str = "zh_CN.UTF-8";
const DEFAULT_OS: &str = "ubuntu22.04";
const MINICONDA_PREFIX: &str = "/root/miniconda3";
const MINICONDA_URL: &str = "https://repo.anaconda.com/miniconda";
const HOST_KEYS_DIR: &str = "/var/lib/dlspec/ssh-host-keys";

/// Checks the catalog settings and every instance; returns the images, sorted by output
/// directory, and the catalog settings.
pub fn check(
    catalog: Option<&CatalogPart>,
    instances: &[Instance],
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> (Vec<Image>, Catalog) {
    let compat = compat::get();
    let (catalog, settings) = cluster::settings(catalog, diags);
    let mut earlier_errors: Vec<Span> = diags.error_spans().collect();
    earlier_errors.sort_unstable();
    let mut images: Vec<(Image, &Instance)> = Vec::new();
    let (mut seen, mut seen_for): (HashSet<Diag>, Option<Span>) = (HashSet::new(), None);
    for instance in instances {
        let mut local = Diagnostics::default();
        let image = Checker { compat, instance, diags: &mut local, sources, settings: &settings }.image();
        // `python 3.10` already got a type error on `3.10`; "`python` needs a version" would repeat it.
        local.retain(|d| d.code != Code::Missing || !error_follows_on_line(&earlier_errors, sources, d.primary.span));
        // A Python the framework does not support is the error to fix; whether its Miniconda
        // needs the Terms of Service accepted is moot until then.
        let unsupported_python: Vec<Span> =
            local.iter().filter(|d| d.code == Code::Python).map(|d| d.primary.span).collect();
        local.retain(|d| d.code != Code::MinicondaTos || !unsupported_python.contains(&d.primary.span));
        annotate_combination(instance, &mut local);
        // Combinations that differ only in values a diagnostic does not depend on raise it alike:
        // once per image declaration (its instances come one after the other).
        if seen_for != Some(instance.name.span) {
            seen.clear();
            seen_for = Some(instance.name.span);
        }
        for diag in local.into_vec() {
            if seen.insert(diag.clone()) {
                diags.push(diag);
            }
        }
        if let Some(image) = image {
            images.push((image, instance));
        }
    }
    check_catalog(&images, diags);
    let mut images: Vec<Image> = images.into_iter().map(|(i, _)| i).collect();
    images.sort_by(|a, b| natural_order(a.dir.as_str(), b.dir.as_str()));
    (images, catalog)
}

/// Orders text with numbers in it as people do: `python3.8` before `python3.10`.
fn natural_order(a: &str, b: &str) -> std::cmp::Ordering {
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Chunk<'a> {
        /// Digits without leading zeros, compared by length first.
        Number(usize, &'a str),
        Text(&'a str),
    }
    fn chunks(mut rest: &str) -> Vec<Chunk<'_>> {
        let mut out = Vec::new();
        while let Some(first) = rest.chars().next() {
            let digits = first.is_ascii_digit();
            let end = rest.find(|c: char| c.is_ascii_digit() != digits).unwrap_or(rest.len());
            let (chunk, tail) = rest.split_at(end);
            out.push(if digits {
                let number = chunk.trim_start_matches('0');
                Chunk::Number(number.len(), number)
            } else {
                Chunk::Text(chunk)
            });
            rest = tail;
        }
        out
    }
    chunks(a).cmp(&chunks(b)).then_with(|| a.cmp(b))
}

/// Whether one of `errors` (sorted) starts after `node` on its line: when any does, the first after
/// it does, found by binary search.
fn error_follows_on_line(errors: &[Span], sources: &SourceMap, node: Span) -> bool {
    let first_after = errors.partition_point(|e| (e.file, e.start) < (node.file, node.end));
    errors.get(first_after).is_some_and(|e| follows_on_line(sources, node, *e))
}

/// Whether `later` starts after `node`, on the same line of the same file.
fn follows_on_line(sources: &SourceMap, node: Span, later: Span) -> bool {
    node.file == later.file
        && later.start >= node.end
        && sources.get(node.file).text.get(node.end..later.start).is_some_and(|gap| !gap.contains('\n'))
}

/// Names the matrix values a diagnostic points at (the part of the combination it depends on), so
/// that the combinations that share them share one diagnostic, and labels them.
fn annotate_combination(instance: &Instance, diags: &mut Diagnostics) {
    if instance.combination.is_empty() {
        return;
    }
    let items = std::mem::take(diags);
    for mut diag in items.into_vec() {
        let labelled: Vec<Span> = std::iter::once(&diag.primary).chain(&diag.secondary).map(|l| l.span).collect();
        let touched: Vec<_> = instance.combination.iter().filter(|(_, v)| labelled.contains(&v.span)).collect();
        if !touched.is_empty() {
            let axis_spans: Vec<Span> = touched.iter().map(|(_, v)| v.span).collect();
            let combination = touched
                .iter()
                .map(|(axis, v)| format!("{}=\"{}\"", axis.name(), v.value))
                .collect::<Vec<_>>()
                .join(" ");
            diag.message = format!("{} (matrix combination {combination})", diag.message);
            let exclude = format!("or leave the combination out with `exclude {combination}` in `matrix`");
            diag.help = Some(diag.help.map_or(exclude.clone(), |h| format!("{h}; {exclude}")));
            for span in &axis_spans {
                let labelled = diag.primary.span == *span || diag.secondary.iter().any(|l| l.span == *span);
                if !labelled {
                    diag = diag.with_label(*span, "in this combination");
                }
            }
        }
        diags.push(diag);
    }
}

/// The catalog's own files at the top of `out/`, which no image directory may take.
const CATALOG_FILES: &[&str] = &["README.md", "docker-bake.hcl", ".dlspec-manifest", ".dlspec-lock"];

/// No image directory takes a catalog file's name (case-insensitively: macOS and Windows disks)
/// or lies inside another image's directory, where that image's `COPY init/` would ship it. One
/// hash lookup per ancestor of each directory.
fn check_output_paths(images: &[(Image, &Instance)], diags: &mut Diagnostics) {
    let mut dirs: HashMap<&str, &Image> = HashMap::with_capacity(images.len());
    for (image, _) in images {
        dirs.entry(image.dir.as_str()).or_insert(image);
    }
    for (image, instance) in images {
        let dir = image.dir.as_str();
        let top = dir.split('/').next().unwrap_or(dir);
        if let Some(file) = CATALOG_FILES.iter().find(|f| f.eq_ignore_ascii_case(top)) {
            diags.push(
                Diag::error(
                    Code::OutputPath,
                    instance.name.span,
                    format!("image `{}` would be written to `out/{dir}`, over the catalog's `{file}`", image.reference),
                    "takes a catalog file's name",
                )
                .with_help(format!("rename the image: `out/{file}` is the catalog's own file")),
            );
        }
        for (at, _) in dir.match_indices('/') {
            if let Some(outer) = dirs.get(&dir[..at]) {
                diags.push(
                    Diag::error(
                        Code::OutputPath,
                        instance.name.span,
                        format!(
                            "image `{}` would be written to `out/{dir}`, inside the directory of image `{}`",
                            image.reference, outer.reference
                        ),
                        "directory inside another image's",
                    )
                    .with_help(format!(
                        "rename one of the images: `out/{}` is the build context of `{}`, whose `COPY init/` would ship \
                         files of the other",
                        outer.dir, outer.reference
                    )),
                );
            }
        }
    }
}

/// Every name `docker buildx bake` sees is one group or one target: the group `default`, a group
/// per image name (mangled by [`crate::model::bake_group`]) and a target per image (its slug).
fn check_bake_names(images: &[(Image, &Instance)], diags: &mut Diagnostics) {
    // By bake name: who has it, where, and whether it is a target.
    let mut owners: HashMap<String, (String, Option<Span>, bool)> = HashMap::with_capacity(images.len() * 2 + 1);
    owners.insert("default".to_owned(), ("the group of every image".to_owned(), None, false));
    let mut groups_seen: HashSet<&str> = HashSet::with_capacity(images.len());
    let mut names = Vec::new();
    for (image, instance) in images {
        if groups_seen.insert(&image.name) {
            let owner = format!("the group of image name `{}`", image.name);
            names.push((crate::model::bake_group(&image.name), owner, instance, false));
        }
    }
    let targets = images
        .iter()
        .map(|(image, instance)| (image.slug.clone(), format!("the target of `{}`", image.reference), instance, true));
    for (bake_name, owner, instance, is_target) in names.into_iter().chain(targets) {
        match owners.get(&bake_name) {
            // Two images of one slug: `duplicate-output` reports them.
            Some((_, _, true)) if is_target => {}
            Some((first, first_span, _)) => {
                let mut diag = Diag::error(
                    Code::BakeName,
                    instance.name.span,
                    format!("docker-bake.hcl would give the name `{bake_name}` to both {first} and {owner}"),
                    "bake name taken",
                )
                .with_help(
                    "rename one of the images: a bake group is the image name with `/`, `.` and `_` turned into `-`, \
                     a target is NAME-TAG in the same way, and `default` is the group of every image",
                );
                if let Some(span) = first_span {
                    diag = diag.with_label(*span, "first here");
                }
                diags.push(diag);
            }
            None => {
                owners.insert(bake_name, (owner, Some(instance.name.span), is_target));
            }
        }
    }
}

/// Checks across images: output directories and NodePorts are unique.
fn check_catalog(images: &[(Image, &Instance)], diags: &mut Diagnostics) {
    check_output_paths(images, diags);
    check_bake_names(images, diags);
    let mut dirs: BTreeMap<&Utf8PathBuf, &Instance> = BTreeMap::new();
    let mut slugs: BTreeMap<&str, &Instance> = BTreeMap::new();
    let mut node_ports: BTreeMap<u16, (Span, &str)> = BTreeMap::new();
    let mut shared_node_ports = std::collections::BTreeSet::new();
    for (image, instance) in images {
        if let Some(first) = dirs.get(&image.dir) {
            diags.push(
                Diag::error(
                    Code::DuplicateOutput,
                    instance.name.span,
                    format!("two images would be written to `out/{}`", image.dir),
                    "second image",
                )
                .with_label(first.name.span, "first image")
                .with_help("give one of them another name, or a `tag` template that tells them apart (for a matrix, use every axis in the tag)"),
            );
            continue;
        }
        dirs.insert(&image.dir, instance);
        if let Some(first) = slugs.get(image.slug.as_str()) {
            diags.push(
                Diag::error(
                    Code::DuplicateOutput,
                    instance.name.span,
                    format!("two images would share the Kubernetes name `{}`", image.slug),
                    "second image",
                )
                .with_label(first.name.span, "first image")
                .with_help("rename one of the images"),
            );
        }
        slugs.insert(&image.slug, instance);
        let k8s = instance.part.kubernetes.as_ref();
        let fixed = k8s.map(|k| [&k.node_port_ssh, &k.node_port_jupyter, &k.node_port_tensorboard]);
        for port in fixed.into_iter().flatten().flatten() {
            match node_ports.get(&port.value) {
                Some((first, owner)) if *first == port.span => {
                    if shared_node_ports.insert(port.span) {
                        diags.push(
                            Diag::error(
                                Code::NodePort,
                                port.span,
                                format!(
                                    "NodePort {} would be given to several images: `{owner}`, `{}`",
                                    port.value, image.reference
                                ),
                                "one NodePort for several images",
                            )
                            .with_help(
                                "a NodePort belongs to one image: set `node-port` in an image without a matrix, not in a \
                                 matrix image or a shared profile, or leave it out to let Kubernetes pick",
                            ),
                        );
                    }
                }
                Some((first, owner)) if *owner != image.reference => diags.push(
                    Diag::error(
                        Code::NodePort,
                        port.span,
                        format!("NodePort {} is used by two images of the catalog", port.value),
                        "used again here",
                    )
                    .with_label(*first, format!("used by `{owner}`"))
                    .with_help("give each image its own NodePorts, or leave `node-port` out to let Kubernetes pick"),
                ),
                Some(_) => {}
                None => {
                    node_ports.insert(port.value, (port.span, &image.reference));
                }
            }
        }
    }
}

struct Checker<'a> {
    compat: &'static Compat,
    instance: &'a Instance,
    diags: &'a mut Diagnostics,
    sources: &'a SourceMap,
    settings: &'a cluster::Settings,
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
}

impl Checker<'_> {
    fn part(&self) -> &Part {
        &self.instance.part
    }

    fn push(&mut self, diag: Diag) {
        self.diags.push(diag);
    }

    fn name_span(&self) -> Span {
        self.instance.name.span
    }

    /// Validates `value` with `validate`; reports a `code` error at its span.
    fn valid<T>(
        &mut self,
        value: &Spanned<String>,
        code: Code,
        what: &str,
        validate: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        match validate(&value.value) {
            Ok(t) => Some(t),
            Err(reason) => {
                self.push(
                    Diag::error(
                        code,
                        value.span,
                        format!("`{}` is not a valid {what}", value.value),
                        format!("invalid {what}"),
                    )
                    .with_help(reason),
                );
                None
            }
        }
    }

    fn image(&mut self) -> Option<Image> {
        let name = self.instance.name.clone();
        let name_ok = self.valid(&name, Code::ImageName, "image name", values::image_name).is_some();
        let base = self.base();
        let python_version = self.python_version();
        let framework = match (&self.part().framework, &base, &python_version) {
            (Some(f), Some(b), Some(p)) => {
                let f = f.clone();
                crate::framework::check(self.compat, &f, b, p, self.diags)
            }
            _ => None,
        };
        let python = python_version.as_ref().and_then(|p| self.python(p));
        let (apt, extra_apt_ok) = self.apt();
        let extra_pip = self.extra_pip();
        let origin = Origin {
            python: self.part().python.as_ref().map(|p| p.node),
            framework: self.part().framework.as_ref().map(FrameworkPart::node_span),
            extra_pip: self.part().pip.iter().map(|p| p.span).collect(),
        };
        let timezone = self.timezone();
        let locale = self.locale();
        let ssh = self.ssh();
        let jupyter = self.jupyter();
        let tensorboard = self.tensorboard();
        let mirrors = self.mirrors();
        let env = self.env();
        self.port_conflicts();
        let (base, python, timezone, locale, mirrors, env) = (base?, python?, timezone?, locale?, mirrors?, env?);
        if !name_ok || !extra_apt_ok {
            return None;
        }
        let framework_ok = self.part().framework.is_none() || framework.is_some();
        let tag = self.tag(&base.base, &python, framework.as_ref())?;
        if !framework_ok {
            return None;
        }
        let ssh = ssh?;
        let jupyter = jupyter?;
        let tensorboard = tensorboard?;
        let local_reference = format!("{}:{tag}", name.value);
        let slug = slug(&name.value, &tag, &local_reference);
        let reference = cluster::under_registry(self.settings.registry.as_deref(), &local_reference);
        let mut ports = Vec::new();
        if let Some(s) = &ssh {
            ports.push(ServicePort { name: "ssh".to_owned(), port: s.port });
        }
        if let Some(j) = &jupyter {
            ports.push(ServicePort { name: "jupyterlab".to_owned(), port: j.port });
        }
        if let Some(t) = &tensorboard {
            ports.push(ServicePort { name: "tensorboard".to_owned(), port: t.port });
        }
        let docker_run = self.docker_run(&name.value, &ports, base.base.gpu)?;
        let kubernetes = self.kubernetes(&slug, &ports, base.base.gpu, ssh.as_ref())?;
        let mut platform_pip = Vec::new();
        if python.numpy_below_2 {
            platform_pip.push("numpy<2".to_owned());
        }
        if jupyter.is_some() {
            platform_pip.extend(["jupyterlab".to_owned()]);
            if let Some(pack) = jupyter.as_ref().and_then(|j| j.language_pack.clone()) {
                platform_pip.push(pack);
            }
            platform_pip.push("jupyterlab_pygments".to_owned());
        }
        if tensorboard.is_some() {
            platform_pip.push("tensorboard".to_owned());
        }
        let job_name = truncate_name(&format!("{slug}-selftest"), &format!("{reference} selftest"));
        let selftest = SelfTest::new(&base.base, framework.as_ref(), job_name);
        Some(Image {
            dir: Utf8PathBuf::from(&name.value).join(&tag),
            spec: self.sources.get(name.span.file).relative.clone(),
            name: name.value,
            tag,
            reference,
            slug,
            base: base.base,
            python,
            framework,
            apt,
            platform_pip,
            extra_pip,
            timezone,
            locale,
            ssh,
            jupyter,
            tensorboard,
            mirrors,
            ports,
            docker_run,
            kubernetes,
            selftest,
            env,
            lock: None,
            origin,
        })
    }

    // ----- base -----

    fn base(&mut self) -> Option<BaseInfo> {
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
        match base {
            BasePart::Cuda(cuda) => {
                let Some(version) = cuda.version.clone() else {
                    self.push(
                        Diag::error(Code::Missing, cuda.node, "`cuda` needs a version", "version missing")
                            .with_help("write the full CUDA version, like `cuda \"12.1.0\"`"),
                    );
                    return None;
                };
                let os = cuda.os.clone().map_or_else(|| DEFAULT_OS.to_owned(), |o| o.value);
                let os_span = cuda.os.as_ref().map_or(cuda.node, |o| o.span);
                let flavor = cuda.flavor.clone().map_or_else(|| "devel".to_owned(), |f| f.value);
                if !["base", "runtime", "devel"].contains(&flavor.as_str()) {
                    let span = cuda.flavor.as_ref().map_or(cuda.node, |f| f.span);
                    let help = did_you_mean(&flavor, &["devel", "runtime", "base"], "nvidia/cuda flavors are");
                    self.push(
                        Diag::error(
                            Code::CudaTag,
                            span,
                            format!("`{flavor}` is not an nvidia/cuda flavor"),
                            "unknown flavor",
                        )
                        .with_help(help),
                    );
                    return None;
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
                let tag = if let Some(tag) = self.compat.cuda_tag(&version.value, &os) {
                    tag.clone()
                } else if self.compat.cuda_tags.iter().any(|t| t.os == os) {
                    self.unknown_tag_warning(&version, &os, os_span);
                    CudaTag {
                        cuda: version.value.clone(),
                        os: os.clone(),
                        cudnn: cudnn_tag_part(&version.value).to_owned(),
                        flavors: Vec::new(),
                        status: "unknown".to_owned(),
                    }
                } else {
                    let help = self.cuda_versions_help(&version.value, &os);
                    let message = format!("dlspec knows no nvidia/cuda images for `{os}`");
                    self.push(Diag::error(Code::CudaTag, os_span, message, "unknown OS").with_help(help));
                    return None;
                };
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
                    None if flavor == "base" => None,
                    None => tag.cudnn_major().map(str::to_owned),
                };
                if cudnn.is_some() && flavor == "base" {
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
                        flavor: Some(flavor),
                        os: Some(os),
                    },
                    span: cuda.node,
                    cuda_span: Some(version.span),
                    os_span,
                })
            }
            BasePart::Cpu(cpu) => {
                let os = cpu.os.clone().map_or_else(|| DEFAULT_OS.to_owned(), |o| o.value);
                let os_span = cpu.os.as_ref().map_or(cpu.node, |o| o.span);
                let Some(release) = self.compat.os(&os) else {
                    let names: Vec<&str> = self.compat.os.iter().map(|o| o.os.as_str()).collect();
                    let help = did_you_mean(&os, &names, "the known releases are");
                    self.push(
                        Diag::error(Code::Os, os_span, format!("unknown OS release `{os}`"), "unknown release")
                            .with_help(help),
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
                        os: Some(os),
                    },
                    span: cpu.node,
                    cuda_span: None,
                    os_span,
                })
            }
            BasePart::Custom(custom) => {
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
                        os: None,
                    },
                    span: custom.node,
                    cuda_span: None,
                    os_span: custom.node,
                })
            }
        }
    }

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

    // ----- python and miniconda -----

    fn python_version(&mut self) -> Option<Spanned<String>> {
        let Some(python) = self.part().python.clone() else {
            let span = self.name_span();
            self.push(
                Diag::error(
                    Code::Missing,
                    span,
                    format!("image `{}` has no `python`", self.instance.name.value),
                    "no python",
                )
                .with_help("add `python \"3.10\"` (Miniconda with that Python is installed at /root/miniconda3)"),
            );
            return None;
        };
        let Some(version) = python.version.clone() else {
            self.push(
                Diag::error(Code::Missing, python.node, "`python` needs a version", "version missing")
                    .with_help("write `python \"3.10\"`"),
            );
            return None;
        };
        self.valid(&version, Code::Python, "Python version", values::python_version)?;
        Some(version)
    }

    fn python(&mut self, version: &Spanned<String>) -> Option<Python> {
        let part = self.part().python.clone()?;
        let accept_tos = part.accept_tos.as_ref().is_some_and(|a| a.value);
        let installers = self.compat.installers(&version.value);
        let (installer, sha256, tos) = match &part.miniconda {
            Some(file) => {
                let tag = format!("py{}_", version.value.replace('.', ""));
                let for_python = file.value.strip_prefix("Miniconda3-").and_then(|rest| rest.split('_').next());
                let well_formed = file.value.starts_with("Miniconda3-")
                    && file.value.ends_with(".sh")
                    && file.value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
                if !well_formed {
                    self.push(
                        Diag::error(
                            Code::Miniconda,
                            file.span,
                            format!("`{}` is not a Miniconda installer file name", file.value),
                            "not an installer",
                        )
                        .with_help(installer_help(&installers, &version.value)),
                    );
                    return None;
                }
                if !file.value.ends_with("-Linux-x86_64.sh") {
                    self.push(
                        Diag::error(
                            Code::Miniconda,
                            file.span,
                            format!("`{}` is not an x86_64 Linux installer", file.value),
                            "another platform",
                        )
                        .with_help(format!(
                            "the images are built for linux/amd64 (the platform of the nvidia/cuda bases); {}",
                            installer_help(&installers, &version.value)
                        )),
                    );
                    return None;
                }
                if !file.value.contains(&tag) {
                    let other = for_python.and_then(|p| p.strip_prefix("py")).map(|digits| {
                        let (major, minor) = digits.split_at(1.min(digits.len()));
                        format!("Python {major}.{minor}")
                    });
                    self.push(
                        Diag::error(
                            Code::Miniconda,
                            file.span,
                            format!(
                                "installer `{}` brings {}, not Python {}",
                                file.value,
                                other.unwrap_or_else(|| "another Python".to_owned()),
                                version.value
                            ),
                            "installer for another Python",
                        )
                        .with_label(version.span, "Python chosen here")
                        .with_help(installer_help(&installers, &version.value)),
                    );
                    return None;
                }
                let known = self.compat.installer(&file.value);
                let sha = part
                    .sha256
                    .as_ref()
                    .map(|s| s.value.to_lowercase())
                    .or_else(|| known.and_then(|k| k.sha256.clone()));
                let tos = known.is_some_and(|k| k.tos) || conda_needs_tos(&file.value);
                (file.value.clone(), sha, tos)
            }
            None => {
                let chosen = default_installer(&installers);
                let Some(chosen) = chosen else {
                    self.push(
                        Diag::error(
                            Code::Miniconda,
                            version.span,
                            format!("the tables know no Miniconda installer for Python {}", version.value),
                            "no installer known",
                        )
                        .with_help("name one with `miniconda=\"Miniconda3-pyXY_….sh\"`, or pick another Python (`dlspec compat miniconda`)"),
                    );
                    return None;
                };
                let sha = part.sha256.as_ref().map(|s| s.value.to_lowercase()).or_else(|| chosen.sha256.clone());
                (chosen.installer.clone(), sha, chosen.tos)
            }
        };
        if let Some(sha) = &part.sha256 {
            self.valid(sha, Code::Unsafe, "sha256", values::sha256)?;
        }
        if tos && !accept_tos {
            let span = part.miniconda.as_ref().map_or(version.span, |m| m.span);
            self.push(
                Diag::error(
                    Code::MinicondaTos,
                    span,
                    format!("the build would stop at Anaconda's Terms of Service: `{installer}` refuses non-interactive use of the default channels until they are accepted"),
                    "needs the terms accepted",
                )
                .with_help(tos_help(&installers, &version.value)),
            );
            return None;
        }
        let base_url = self
            .part()
            .mirrors
            .as_ref()
            .and_then(|m| m.miniconda.clone())
            .map_or_else(|| MINICONDA_URL.to_owned(), |m| m.value.trim_end_matches('/').to_owned());
        let minor: u32 = version.value.split('.').nth(1).and_then(|m| m.parse().ok()).unwrap_or(0);
        Some(Python {
            version: version.value.clone(),
            installer_url: format!("{base_url}/{installer}"),
            installer,
            installer_sha256: sha256,
            accept_tos: accept_tos && tos,
            prefix: MINICONDA_PREFIX.to_owned(),
            numpy_below_2: minor <= 12,
        })
    }

    // ----- packages, time zone, locale -----

    fn apt(&mut self) -> (Vec<String>, bool) {
        let mut packages: Vec<String> = PLATFORM_APT.iter().map(|s| (*s).to_owned()).collect();
        if self.part().ssh.as_ref().and_then(|s| s.enabled.as_ref()).is_some_and(|e| !e.value) {
            packages.retain(|p| p != "openssh-server");
        }
        let mut ok = true;
        let mut seen: HashSet<String> = packages.iter().cloned().collect();
        for package in self.part().apt.clone() {
            if self.valid(&package, Code::Unsafe, "Debian package", values::apt_package).is_none() {
                ok = false;
            } else if seen.insert(package.value.clone()) {
                packages.push(package.value);
            }
        }
        (packages, ok)
    }

    fn extra_pip(&mut self) -> Vec<String> {
        let mut requirements: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for requirement in self.part().pip.clone() {
            if self.valid(&requirement, Code::Unsafe, "pip requirement", values::pip_requirement).is_some()
                && seen.insert(requirement.value.clone())
            {
                requirements.push(requirement.value);
            }
        }
        requirements
    }

    fn timezone(&mut self) -> Option<String> {
        let Some(tz) = self.part().timezone.clone() else { return Some(DEFAULT_TIMEZONE.to_owned()) };
        if self.compat.is_timezone(&tz.value) {
            return Some(tz.value);
        }
        let names: Vec<&str> = self.compat.timezones.iter().map(String::as_str).collect();
        let help = match crate::diag::suggest(&tz.value, names.iter().copied()) {
            Some(best) => format!("did you mean `{best}`?"),
            None => {
                "use an IANA name like \"Asia/Shanghai\" or \"UTC\" (`dlspec compat timezones` lists them)".to_owned()
            }
        };
        self.push(
            Diag::error(Code::Timezone, tz.span, format!("unknown time zone `{}`", tz.value), "unknown time zone")
                .with_help(help),
        );
        None
    }

    fn locale(&mut self) -> Option<Locale> {
        let Some(locale) = self.part().locale.clone() else {
            return Some(Locale {
                name: DEFAULT_LOCALE.to_owned(),
                input: "zh_CN".to_owned(),
                charmap: "UTF-8".to_owned(),
            });
        };
        match parse_locale(&locale.value) {
            Some(parsed) => Some(parsed),
            None => {
                let help = match locale.value.split_once('.') {
                    Some((base, _)) if parse_locale(&format!("{base}.UTF-8")).is_some() => {
                        format!("write \"{base}.UTF-8\"")
                    }
                    None if parse_locale(&format!("{}.UTF-8", locale.value)).is_some() => {
                        format!("write \"{}.UTF-8\"", locale.value)
                    }
                    _ => "write `language_TERRITORY.UTF-8`, like \"zh_CN.UTF-8\" or \"en_US.UTF-8\" (or \"C.UTF-8\")"
                        .to_owned(),
                };
                self.push(
                    Diag::error(
                        Code::Locale,
                        locale.span,
                        format!("`{}` is not a locale name", locale.value),
                        "malformed locale",
                    )
                    .with_help(help),
                );
                None
            }
        }
    }

    // ----- services -----

    fn ssh(&mut self) -> Option<Option<Ssh>> {
        let part = self.part().ssh.clone();
        // A switched-off service's settings are still checked: they may be switched on later.
        let enabled = part.as_ref().and_then(|p| p.enabled.as_ref()).is_none_or(|e| e.value);
        let mut password_file = "/sync/root-passwd".to_owned();
        let mut password = None;
        let mut host_keys = HOST_KEYS_DIR.to_owned();
        if let Some(p) = &part {
            if let Some(file) = &p.password_file {
                self.valid(file, Code::Unsafe, "path", values::absolute_path)?;
                self.valid(file, Code::InvalidValue, "password file", values::password_file)?;
                // Kubernetes mounts the password Secret as the file's directory.
                if file.value.rfind('/') == Some(0) || file.value.ends_with('/') {
                    self.push(
                        Diag::error(
                            Code::Unsafe,
                            file.span,
                            format!("`{}` is not a file in a directory of its own", file.value),
                            "needs a directory",
                        )
                        .with_help("put the password file in a directory, like \"/sync/root-passwd\": Kubernetes mounts the Secret there"),
                    );
                    return None;
                }
                password_file.clone_from(&file.value);
            }
            if let Some(dir) = &p.host_keys {
                self.valid(dir, Code::Unsafe, "path", values::absolute_path)?;
                host_keys = dir.value.trim_end_matches('/').to_owned();
                if password_file.rsplit_once('/').is_some_and(|(d, _)| d == host_keys) || host_keys.is_empty() {
                    self.push(
                        Diag::error(
                            Code::Unsafe,
                            dir.span,
                            format!("`{}` cannot hold the host keys", dir.value),
                            "host-key directory",
                        )
                        .with_help("use a directory of its own, like \"/var/lib/dlspec/ssh-host-keys\" (not `/`, not the password file's directory)"),
                    );
                    return None;
                }
            }
            if let Some(literal) = &p.password {
                self.valid(literal, Code::Unsafe, "password", values::password)?;
                if enabled {
                    self.push(
                    Diag::warning(Code::Password, literal.span, "a literal root password is written in clear text into docker-run.sh and k8s/secret.yaml", "password in the spec")
                        .with_help(format!("leave `password` out and provide it at run time: a file at `{password_file}` or the ROOT_PASSWORD variable")),
                    );
                }
                password = Some(literal.value.clone());
            }
        }
        if !enabled {
            return Some(None);
        }
        let (password_dir, password_file_name) =
            password_file.rsplit_once('/').map(|(d, f)| (d.to_owned(), f.to_owned())).unwrap_or_default();
        Some(Some(Ssh {
            password_dir,
            password_file_name,
            port: part.as_ref().and_then(|p| p.port.as_ref()).map_or(22, |p| p.value),
            password_file,
            motd: part.as_ref().and_then(|p| p.motd.as_ref()).is_none_or(|m| m.value),
            password,
            host_keys,
        }))
    }

    fn jupyter(&mut self) -> Option<Option<Jupyter>> {
        let part = self.part().jupyter.clone();
        let enabled = part.as_ref().and_then(|p| p.enabled.as_ref()).is_none_or(|e| e.value);
        let mut jupyter = Jupyter {
            port: 8888,
            base_url: "/jupyter/".to_owned(),
            root_dir: "/root".to_owned(),
            locale: Some("zh_CN".to_owned()),
            language_pack: Some("jupyterlab-language-pack-zh-CN".to_owned()),
            token_file: "/sync/jupyter-token".to_owned(),
            open: false,
            frame_ancestors: Vec::new(),
            terminal_theme: "dark".to_owned(),
        };
        let Some(p) = part else { return Some(Some(jupyter)) };
        if let Some(port) = &p.port {
            jupyter.port = port.value;
        }
        if let Some(url) = &p.base_url {
            self.valid(url, Code::Unsafe, "URL path", values::url_path)?;
            jupyter.base_url = format!("/{}/", url.value.trim_matches('/')).replace("//", "/");
        }
        if let Some(dir) = &p.root_dir {
            self.valid(dir, Code::Unsafe, "path", values::absolute_path)?;
            jupyter.root_dir.clone_from(&dir.value);
        }
        if let Some(file) = &p.token_file {
            self.valid(file, Code::Unsafe, "path", values::absolute_path)?;
            jupyter.token_file.clone_from(&file.value);
        }
        if let Some(language) = &p.language {
            let (locale, pack) = self.valid(language, Code::InvalidValue, "JupyterLab language", parse_language)?;
            jupyter.locale = locale;
            jupyter.language_pack = pack;
        }
        if let Some(theme) = &p.terminal_theme {
            const THEMES: &[&str] = &["dark", "light", "inherit"];
            if !THEMES.contains(&theme.value.as_str()) {
                let help = did_you_mean(&theme.value, THEMES, "terminal themes are");
                self.push(
                    Diag::error(
                        Code::InvalidValue,
                        theme.span,
                        format!("`{}` is not a terminal theme", theme.value),
                        "unknown theme",
                    )
                    .with_help(help),
                );
                return None;
            }
            jupyter.terminal_theme.clone_from(&theme.value);
        }
        if let Some(ancestors) = &p.frame_ancestors {
            jupyter.frame_ancestors = self.frame_ancestors(ancestors)?;
            if let Some(open) = p.open.as_ref().filter(|o| o.value) {
                self.push(
                    Diag::error(
                        Code::Origin,
                        ancestors.span,
                        "`frame-ancestors` and `open=#true` contradict each other",
                        "only these origins",
                    )
                    .with_label(open.span, "any origin, no token")
                    .with_help("keep `frame-ancestors` and remove `open=#true`: the portal frames JupyterLab and the token stays on"),
                );
                return None;
            }
        }
        if let Some(open) = &p.open {
            if open.value && enabled {
                self.push(
                    Diag::warning(
                        Code::OpenJupyter,
                        open.span,
                        "JupyterLab runs without a token, accepts any origin and can be framed by any site",
                        "open JupyterLab",
                    )
                    .with_help(
                        "only do this behind a proxy that authenticates users; leave `open` out to require a token",
                    ),
                );
            }
            jupyter.open = open.value;
        }
        Some(enabled.then_some(jupyter))
    }

    fn tensorboard(&mut self) -> Option<Option<TensorBoard>> {
        let part = self.part().tensorboard.clone();
        let enabled = part.as_ref().and_then(|p| p.enabled.as_ref()).is_none_or(|e| e.value);
        let mut tb = TensorBoard {
            port: 6006,
            path_prefix: "/monitor".to_owned(),
            logdir: "/root/tensorboard-logs".to_owned(),
            bind: "0.0.0.0".to_owned(),
        };
        let Some(p) = part else { return Some(Some(tb)) };
        if let Some(port) = &p.port {
            tb.port = port.value;
        }
        if let Some(prefix) = &p.path_prefix {
            self.valid(prefix, Code::Unsafe, "URL path", values::url_path)?;
            tb.path_prefix = format!("/{}", prefix.value.trim_matches('/'));
        }
        if let Some(logdir) = &p.logdir {
            self.valid(logdir, Code::Unsafe, "path", values::absolute_path)?;
            tb.logdir.clone_from(&logdir.value);
        }
        if let Some(bind) = &p.bind {
            self.valid(bind, Code::InvalidValue, "bind address", |b| {
                b.parse::<std::net::IpAddr>()
                    .map(|_| ())
                    .map_err(|_| "write an IP address like \"0.0.0.0\" or \"127.0.0.1\"".to_owned())
            })?;
            tb.bind.clone_from(&bind.value);
        }
        Some(enabled.then_some(tb))
    }

    fn mirrors(&mut self) -> Option<Mirrors> {
        let Some(m) = self.part().mirrors.clone() else {
            return Some(Mirrors { pip: None, pip_trusted_host: None, conda: None, build_pip: None, apt: None });
        };
        let mut ok = true;
        let mut url = |this: &mut Self, v: &Option<Spanned<String>>| -> Option<String> {
            let v = v.as_ref()?;
            match this.valid(v, Code::Unsafe, "URL", values::url) {
                Some(_) => Some(v.value.clone()),
                None => {
                    ok = false;
                    None
                }
            }
        };
        let pip = url(self, &m.pip);
        let conda = url(self, &m.conda).map(|c| c.trim_end_matches('/').to_owned());
        let build_pip = url(self, &m.build_pip);
        let apt = url(self, &m.apt).map(|a| a.trim_end_matches('/').to_owned());
        url(self, &m.miniconda);
        if !ok {
            return None;
        }
        let pip_trusted_host = pip.as_ref().filter(|p| p.starts_with("http://")).and_then(|p| values::url(p).ok());
        Some(Mirrors { pip, pip_trusted_host, conda, build_pip, apt })
    }

    /// Two enabled services on one container port, or two services on one host port.
    fn port_conflicts(&mut self) {
        let part = self.part().clone();
        let enabled = |e: Option<&Spanned<bool>>| e.is_none_or(|e| e.value);
        let mut container: Vec<(&str, u16, Option<Span>)> = Vec::new();
        if part.ssh.as_ref().is_none_or(|s| enabled(s.enabled.as_ref())) {
            let p = part.ssh.as_ref().and_then(|s| s.port.as_ref());
            container.push(("ssh", p.map_or(22, |p| p.value), p.map(|p| p.span)));
        }
        if part.jupyter.as_ref().is_none_or(|s| enabled(s.enabled.as_ref())) {
            let p = part.jupyter.as_ref().and_then(|s| s.port.as_ref());
            container.push(("jupyter", p.map_or(8888, |p| p.value), p.map(|p| p.span)));
        }
        if part.tensorboard.as_ref().is_none_or(|s| enabled(s.enabled.as_ref())) {
            let p = part.tensorboard.as_ref().and_then(|s| s.port.as_ref());
            container.push(("tensorboard", p.map_or(6006, |p| p.value), p.map(|p| p.span)));
        }
        let container_clash = self.report_port_clash(&container, "in the container");
        // docker-run.sh publishes every port, at the port `docker-run` names or at its default
        // (2222 for ssh, the container port otherwise), so defaults can clash too.
        let run = part.docker_run.clone().unwrap_or_default();
        let host: Vec<(&str, u16, Option<Span>)> = container
            .iter()
            .map(|(name, port, span)| {
                let fixed = match *name {
                    "ssh" => run.ssh.as_ref(),
                    "jupyter" => run.jupyter.as_ref(),
                    _ => run.tensorboard.as_ref(),
                };
                match fixed {
                    Some(p) => (*name, p.value, Some(p.span)),
                    None if *name == "ssh" => (*name, 2222, None),
                    None => (*name, *port, *span),
                }
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

    // ----- tag, docker-run, kubernetes -----

    fn tag(&mut self, base: &Base, python: &Python, framework: Option<&Framework>) -> Option<String> {
        let (template, span, written) = match self.part().tag.clone() {
            Some(t) => (t.value, t.span, true),
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

    fn docker_run(&mut self, name: &str, ports: &[ServicePort], gpu: bool) -> Option<DockerRun> {
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
        let published = ports
            .iter()
            .map(|p| {
                let fixed = match p.name.as_str() {
                    "ssh" => part.ssh.as_ref(),
                    "jupyterlab" => part.jupyter.as_ref(),
                    _ => part.tensorboard.as_ref(),
                };
                let default = if p.name == "ssh" { 2222 } else { p.port };
                PublishedPort { name: p.name.clone(), host: fixed.map_or(default, |f| f.value), container: p.port }
            })
            .collect();
        let volumes = self.bind_volumes()?;
        Some(DockerRun { container_name, restart, gpu, ports: published, volumes })
    }

    fn kubernetes(&mut self, slug: &str, ports: &[ServicePort], gpu: bool, ssh: Option<&Ssh>) -> Option<Kubernetes> {
        let part = self.part().kubernetes.clone().unwrap_or_default();
        let mut ok = true;
        let mut quantity = |this: &mut Self, v: &Option<Spanned<String>>, default: &str| -> String {
            match v {
                Some(q) if this.valid(q, Code::InvalidValue, "quantity", values::quantity).is_none() => {
                    ok = false;
                    String::new()
                }
                Some(q) => q.value.clone(),
                None => default.to_owned(),
            }
        };
        let requests = Resources {
            cpu: quantity(self, &part.requests_cpu, "100m"),
            memory: quantity(self, &part.requests_memory, "512Mi"),
        };
        let limits = Resources {
            cpu: quantity(self, &part.limits_cpu, "2"),
            memory: quantity(self, &part.limits_memory, "4Gi"),
        };
        let shm_size = quantity(self, &part.shm_size, "2Gi");
        let service_type = match &part.service {
            Some(s) if !["NodePort", "ClusterIP", "LoadBalancer"].contains(&s.value.as_str()) => {
                let help = did_you_mean(&s.value, &["NodePort", "ClusterIP", "LoadBalancer"], "Service types are");
                self.push(
                    Diag::error(
                        Code::InvalidValue,
                        s.span,
                        format!("`{}` is not a Service type", s.value),
                        "unknown type",
                    )
                    .with_help(help),
                );
                return None;
            }
            Some(s) => s.value.clone(),
            None => "NodePort".to_owned(),
        };
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
        let mut k8s_ports = Vec::new();
        for port in ports {
            let node_port = match port.name.as_str() {
                "ssh" => part.node_port_ssh.as_ref(),
                "jupyterlab" => part.node_port_jupyter.as_ref(),
                _ => part.node_port_tensorboard.as_ref(),
            };
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
                    ok = false;
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
                    ok = false;
                }
            }
            k8s_ports.push(KubernetesPort {
                name: port.name.clone(),
                port: port.port,
                node_port: node_port.map(|n| n.value),
            });
        }
        let fixed = [
            ("ssh", &part.node_port_ssh),
            ("jupyterlab", &part.node_port_jupyter),
            ("tensorboard", &part.node_port_tensorboard),
        ];
        for (name, np) in fixed {
            if let Some(np) = np
                && !ports.iter().any(|p| p.name == name)
            {
                self.push(
                    Diag::error(
                        Code::NodePort,
                        np.span,
                        format!("`{name}` is switched off, so it has no NodePort"),
                        "service is off",
                    )
                    .with_help(format!(
                        "remove `{}=` from `node-port`",
                        if name == "jupyterlab" { "jupyter" } else { name }
                    )),
                );
                ok = false;
            }
        }
        let mut seen: Vec<&Spanned<u16>> = Vec::new();
        for np in [&part.node_port_ssh, &part.node_port_jupyter, &part.node_port_tensorboard].into_iter().flatten() {
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
                ok = false;
            }
            seen.push(np);
        }
        let placement = self.placement();
        // The platform's own volumes: their names and mount paths are not the spec's to take.
        let mut reserved = vec![("dshm", "/dev/shm")];
        if let Some(ssh) = ssh {
            reserved.push(("root-password", ssh.password_dir.as_str()));
            // A volume of the spec may be mounted at the host-key directory: that is how they persist.
            reserved.push(("ssh-host-keys", ""));
        }
        let volumes = self.volumes(&reserved);
        let host_keys_secret = match &part.host_keys_secret {
            Some(name) => {
                self.valid(name, Code::KubernetesName, "Secret name", values::dns_subdomain)?;
                Some(name.value.clone())
            }
            None => {
                // Hashed by the whole name, so that it differs from the password Secret's when cut.
                let name = format!("{slug}-ssh-host-keys");
                Some(truncate_name(&name, &name))
            }
        };
        let (Some(placement), Some(volumes), true) = (placement, volumes, ok) else {
            return None;
        };
        // A volume of the spec at the host-key directory keeps them (writable); otherwise the
        // optional Secret does.
        let host_keys_secret =
            host_keys_secret.filter(|_| ssh.is_some_and(|s| !volumes.iter().any(|v| v.mount == s.host_keys)));
        Some(Kubernetes {
            namespace: placement.namespace,
            image_pull_secret: placement.pull_secret,
            node_selector: placement.node_selector,
            tolerations: placement.tolerations,
            volumes,
            host_keys_secret,
            replicas: part.replicas.as_ref().map_or(1, |r| r.value),
            requests,
            limits,
            gpus,
            service_type,
            ports: k8s_ports,
            password_secret: truncate_name(&format!("{slug}-root-passwd"), slug),
            shm_size,
        })
    }
}

const PLACEHOLDERS: [&str; 8] = ["version", "framework", "python", "cuda", "cudnn", "flavor", "os", "base"];

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
fn slug(name: &str, tag: &str, reference: &str) -> String {
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
    truncate_name(&slug, reference)
}

/// Cuts a name to 63 characters, ending in 8 hex digits of the hash of `key` when cut.
fn truncate_name(name: &str, key: &str) -> String {
    if name.len() <= 63 {
        return name.to_owned();
    }
    let hash = Sha256::digest(key.as_bytes());
    let hex: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", name[..54].trim_end_matches('-'))
}

/// The installer a spec gets without `miniconda=`: one that needs no terms accepted and whose
/// sha256 the tables know, else one that needs no terms, else the newest.
fn default_installer<'a>(installers: &[&'a compat::MinicondaInstaller]) -> Option<&'a compat::MinicondaInstaller> {
    let newest = |wanted: &dyn Fn(&compat::MinicondaInstaller) -> bool| installers.iter().copied().find(|i| wanted(i));
    newest(&|i| !i.tos && i.sha256.is_some()).or_else(|| newest(&|i| !i.tos)).or_else(|| installers.first().copied())
}

fn installer_help(installers: &[&compat::MinicondaInstaller], python: &str) -> String {
    match default_installer(installers) {
        Some(i) => format!("write `miniconda=\"{}\"`, or leave `miniconda` out to get it from the tables", i.installer),
        None => format!("the tables know no installer for Python {python}: `dlspec compat miniconda` lists them"),
    }
}

fn tos_help(installers: &[&compat::MinicondaInstaller], python: &str) -> String {
    let accept = "read https://www.anaconda.com/legal/terms/terms-of-service and add `accept-tos=#true` to `python`";
    match installers.iter().find(|i| !i.tos) {
        Some(older) => {
            format!("{accept}, or name an installer from before the terms: `miniconda=\"{}\"`", older.installer)
        }
        None => format!("{accept}; every installer the tables know for Python {python} needs the terms"),
    }
}

/// Whether an installer's conda (from its file name) ships the terms-of-service plugin (25.1.1+).
fn conda_needs_tos(file: &str) -> bool {
    let version = file.split('_').nth(1).and_then(|rest| rest.split("-Linux").next()).unwrap_or("");
    compare(version, "25.1.1").is_ge() && compat::Version::parse(version).is_some()
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

fn parse_locale(name: &str) -> Option<Locale> {
    let (input, charmap) = name.split_once('.')?;
    if charmap != "UTF-8" {
        return None;
    }
    let ok = input == "C"
        || input.split_once('_').is_some_and(|(lang, territory)| {
            (2..=3).contains(&lang.len())
                && lang.chars().all(|c| c.is_ascii_lowercase())
                && territory.len() == 2
                && territory.chars().all(|c| c.is_ascii_uppercase())
        });
    ok.then(|| Locale { name: name.to_owned(), input: input.to_owned(), charmap: charmap.to_owned() })
}

/// `zh-CN` → (`zh_CN`, `jupyterlab-language-pack-zh-CN`); `en`/`en-US` → English, no pack.
fn parse_language(language: &str) -> Result<(Option<String>, Option<String>), String> {
    let (lang, territory) = language.split_once('-').map_or((language, None), |(l, t)| (l, Some(t)));
    let ok = (2..=3).contains(&lang.len())
        && lang.chars().all(|c| c.is_ascii_lowercase())
        && territory.is_none_or(|t| t.len() == 2 && t.chars().all(|c| c.is_ascii_uppercase()));
    if !ok {
        return Err("write a language like \"zh-CN\", \"ja-JP\" or \"en\"".to_owned());
    }
    if lang == "en" {
        return Ok((None, None));
    }
    let locale = territory.map_or_else(|| lang.to_owned(), |t| format!("{lang}_{t}"));
    Ok((Some(locale), Some(format!("jupyterlab-language-pack-{language}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_sort_by_their_numbers() {
        let mut dirs = vec!["p/2.10.0-python3.10", "p/2.2.0-python3.8", "p/2.2.0-python3.10", "p/2.2.0-python3.9"];
        dirs.sort_by(|a, b| natural_order(a, b));
        assert_eq!(dirs, ["p/2.2.0-python3.8", "p/2.2.0-python3.9", "p/2.2.0-python3.10", "p/2.10.0-python3.10"]);
        assert_eq!(natural_order("a01", "a1"), std::cmp::Ordering::Less, "a total order: ties fall back to the text");
    }

    #[test]
    fn slugs_are_dns_labels() {
        let s = slug("pytorch", "2.3.0-python3.8-cuda12.1.0-cudnn8-devel-ubuntu22.04", "x");
        assert_eq!(s, "pytorch-2-3-0-python3-8-cuda12-1-0-cudnn8-devel-ubuntu22-04");
        let long = slug("myteam/pytorch-matrix", "2.3.0-python3.10-cuda12.1.0-cudnn8-devel-ubuntu22.04", "ref");
        assert!(long.len() <= 63, "{long}");
        assert!(long.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        assert_eq!(slug("3d", "python3.10-cpu-ubuntu22.04", "x"), "img-3d-python3-10-cpu-ubuntu22-04");
    }

    #[test]
    fn locales_and_terms() {
        assert!(parse_locale("zh_CN.UTF-8").is_some() && parse_locale("C.UTF-8").is_some());
        assert!(
            parse_locale("zh_CN").is_none()
                && parse_locale("zh-CN.UTF-8").is_none()
                && parse_locale("zh_CN.utf8").is_none()
        );
        assert_eq!(parse_language("zh-CN").unwrap().0.as_deref(), Some("zh_CN"));
        assert!(conda_needs_tos("Miniconda3-py311_25.9.1-1-Linux-x86_64.sh"));
        assert!(!conda_needs_tos("Miniconda3-py38_23.11.0-2-Linux-x86_64.sh"));
    }
}
