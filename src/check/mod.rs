//! Check: image instances → resolved [`model::Image`]s. Fills the platform defaults, checks every
//! value against the compatibility tables and the contexts it reaches, and reports all problems.
//!
//! One module per concern, each a part of [`Checker`] that reads its slice of the spec and returns
//! its slice of the model, or `None` after reporting every problem it found: [`base`], [`python`]
//! (with [`miniforge`]), [`packages`], [`environment`], [`services`], [`deploy`] (tag, docker-run, Kubernetes),
//! [`cluster`] (the catalog's cluster settings, pod placement and volumes). [`catalog`] checks
//! across images. This module runs them and assembles each [`Image`].

mod base;
mod catalog;
mod cluster;
mod credentials;
mod deploy;
mod environment;
mod miniforge;
mod mounts;
mod packages;
mod pools;
mod python;
mod services;
mod user;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use camino::{Utf8Path, Utf8PathBuf};

use crate::compat::{self, Compat};
use crate::diag::{Code, Diag, Diagnostics};
use crate::framework::BaseInfo;
use crate::lang::{CatalogPart, Decl, Part, Spanned};
use crate::model::{Catalog, Entry, Framework, Image, Mirrors, Origin, SelfTest};
use crate::resolve::{Declarations, FileDecls, Instance, InstanceOrigin};
use crate::service::{Pod, SERVICES};
use crate::source::{SourceMap, Span};
use crate::values;
use base::CudaDefaults;

/// The catalog after check: its settings and one [`Entry`] per image, sorted by output directory.
/// Each image is derived again from the specs when it is needed ([`Self::image`]), so that
/// memory holds the entries, not the images.
pub struct Checked<'s> {
    /// The catalog's settings.
    pub catalog: Catalog,
    /// One per image, sorted by output directory.
    pub entries: Arc<Vec<Entry>>,
    origins: Vec<InstanceOrigin>,
    declarations: Declarations,
    settings: cluster::Settings,
    sources: &'s SourceMap,
    locks: Option<Utf8PathBuf>,
}

impl Checked<'_> {
    /// The image of `entries[index]`, derived again as the check made it (its lock attached
    /// when the check attached locks); `decls` keeps the last spec file decoded.
    #[must_use]
    pub fn image(&self, index: usize, decls: &mut FileDecls) -> Option<Image> {
        let origin = *self.origins.get(index)?;
        let decl = self.declarations.image_decl(self.sources, origin.image, decls)?;
        let instance = self.declarations.instance(origin, decl)?;
        let mut quiet = Diagnostics::default();
        let mut checker = Checker {
            compat: compat::get(),
            instance: &instance,
            diags: &mut quiet,
            sources: self.sources,
            settings: &self.settings,
        };
        let mut image = checker.image()?;
        if let Some(specs) = &self.locks {
            crate::lock::attach(specs, std::slice::from_mut(&mut image));
        }
        Some(image)
    }

    /// Every image, derived again: for commands and tests that want them all at once.
    #[must_use]
    pub fn images(&self) -> Vec<Image> {
        let mut decls = FileDecls::default();
        (0..self.entries.len()).filter_map(|index| self.image(index, &mut decls)).collect()
    }
}

/// Where an image comes from, for the checks across images.
pub(crate) struct Place {
    /// The image's name in its spec.
    name: Span,
    /// The NodePorts it asks for.
    node_ports: Vec<Spanned<u16>>,
}

/// What the check of some image declarations found.
#[derive(Default)]
struct Found {
    entries: Vec<(Entry, Place, InstanceOrigin)>,
    diags: Diagnostics,
    used_profiles: BTreeSet<usize>,
    lock_messages: Vec<String>,
}

/// Checks the catalog settings and every instance of every image declaration (on every core, one
/// instance at a time); returns the catalog with an entry per image, and the messages about
/// locks left aside. With `locks` (the specs path), images get their current locks attached.
pub fn check<'s>(
    catalog: Option<&CatalogPart>,
    declarations: Declarations,
    sources: &'s SourceMap,
    locks: Option<&Utf8Path>,
    diags: &mut Diagnostics,
) -> (Checked<'s>, Vec<String>) {
    let compat = compat::get();
    // Without a lock folder no image has a lock: not one file to look for per image.
    let locks = locks.filter(|specs| specs.join(crate::lock::LOCK_DIR).is_dir());
    let (catalog, settings) = cluster::settings(catalog, diags);
    let mut earlier_errors: Vec<Span> = diags.error_spans().collect();
    earlier_errors.sort_unstable();
    // Each file's images on one thread, so that no file is decoded twice at once.
    let by_file = declarations.images_by_file();
    let chunks = crate::parallel::chunks(&by_file, 1, |chunk| {
        let mut found = Found::default();
        let context = Context { declarations: &declarations, compat, sources, settings: &settings, locks };
        for (file, images) in chunk {
            let decls = declarations.file_images(sources, *file);
            for image in images.clone() {
                let at = declarations.image(image).index as usize;
                if let Some(decl) = decls.get(at) {
                    check_declaration(image, decl, &context, &earlier_errors, &mut found);
                }
            }
        }
        found
    });
    let mut all = Found::default();
    for found in chunks {
        all.entries.extend(found.entries);
        diags.extend(found.diags);
        all.used_profiles.extend(found.used_profiles);
        all.lock_messages.extend(found.lock_messages);
    }
    declarations.report_unused(&all.used_profiles, diags);
    catalog::check(&all.entries, diags);
    let mut entries = all.entries;
    entries.sort_by(|a, b| catalog::natural_order(a.0.dir().as_str(), b.0.dir().as_str()));
    let origins = entries.iter().map(|(_, _, origin)| *origin).collect();
    let entries = Arc::new(entries.into_iter().map(|(entry, _, _)| entry).collect());
    let checked =
        Checked { catalog, entries, origins, declarations, settings, sources, locks: locks.map(Utf8Path::to_path_buf) };
    (checked, all.lock_messages)
}

/// What the check of every image declaration reads.
struct Context<'a> {
    declarations: &'a Declarations,
    compat: &'static Compat,
    sources: &'a SourceMap,
    settings: &'a cluster::Settings,
    locks: Option<&'a Utf8Path>,
}

/// Checks every instance of image declaration `image` (`decl`) into `found`.
fn check_declaration(image: usize, decl: &Decl, context: &Context<'_>, earlier_errors: &[Span], found: &mut Found) {
    let Context { declarations, compat, sources, settings, locks } = *context;
    // Combinations that differ only in values a diagnostic does not depend on raise it alike:
    // once per image declaration.
    let mut seen: HashSet<Diag> = HashSet::new();
    let mut resolve_diags = Diagnostics::default();
    declarations.expand(image, decl, &mut found.used_profiles, &mut resolve_diags, |instance, resolve_diags| {
        for diag in std::mem::take(resolve_diags).into_vec() {
            if seen.insert(diag.clone()) {
                found.diags.push(diag);
            }
        }
        let mut local = Diagnostics::default();
        let image = Checker { compat, instance: &instance, diags: &mut local, sources, settings }.image();
        // `python 3.10` already got a type error on `3.10`; "`python` needs a version" would repeat it.
        local.retain(|d| d.code != Code::Missing || !error_follows_on_line(earlier_errors, sources, d.primary.span));
        // A Python the framework does not support is the error to fix; whether its Miniconda
        // needs the Terms of Service accepted is moot until then.
        let unsupported_python: Vec<Span> =
            local.iter().filter(|d| d.code == Code::Python).map(|d| d.primary.span).collect();
        local.retain(|d| d.code != Code::MinicondaTos || !unsupported_python.contains(&d.primary.span));
        annotate_combination(&instance, &mut local);
        for diag in local.into_vec() {
            if seen.insert(diag.clone()) {
                found.diags.push(diag);
            }
        }
        let Some(mut image) = image else { return };
        if let Some(specs) = locks {
            found.lock_messages.extend(crate::lock::attach(specs, std::slice::from_mut(&mut image)));
        }
        let k8s = instance.part.kubernetes.as_deref();
        let node_ports = k8s
            .map(|k| SERVICES.iter().filter_map(|&service| services::node_port(k, service)).cloned().collect())
            .unwrap_or_default();
        let place = Place { name: instance.name.span, node_ports };
        found.entries.push((Entry::of(&image), place, instance.origin));
    });
    for diag in resolve_diags.into_vec() {
        if seen.insert(diag.clone()) {
            found.diags.push(diag);
        }
    }
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
        && sources.get(node.file).text.get(node.end()..later.start()).is_some_and(|gap| !gap.contains('\n'))
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

/// Validates `value` with `validate`; reports a `code` error at its span.
fn valid<T>(
    diags: &mut Diagnostics,
    value: &Spanned<String>,
    code: Code,
    what: &str,
    validate: impl Fn(&str) -> Result<T, String>,
) -> Option<T> {
    value.validate(diags, code, what, validate)
}

/// The checks of one instance: what they read, and where they report.
struct Checker<'a> {
    compat: &'static Compat,
    instance: &'a Instance,
    diags: &'a mut Diagnostics,
    sources: &'a SourceMap,
    settings: &'a cluster::Settings,
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

    /// The errors reported so far: the mark [`Self::ok_since`] compares with.
    fn errors(&self) -> usize {
        self.diags.error_count()
    }

    /// Whether no error was reported since `errors` was taken (warnings do not count).
    fn ok_since(&self, errors: usize) -> bool {
        self.diags.error_count() == errors
    }

    /// Validates `value` with `validate`; reports a `code` error at its span.
    fn valid<T>(
        &mut self,
        value: &Spanned<String>,
        code: Code,
        what: &str,
        validate: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        valid(self.diags, value, code, what, validate)
    }

    /// The base, the mirrors and the framework on that base. A `cuda` base with `cudnn` or
    /// `flavor` left out is derived twice when the framework installs CUDA, cuDNN and NCCL through
    /// pip (its `GpuBuild::from_pip`, which may depend on the base's CUDA but not on these two):
    /// first with the v1 defaults to learn that, then as the base that carries none of them.
    /// Only the diagnostics of the derivation kept are reported.
    fn base_and_framework(
        &mut self,
        python: Option<&Spanned<String>>,
    ) -> (Option<BaseInfo>, Option<Mirrors>, Option<Framework>) {
        let compiles = self.part().pip.iter().any(packages::builds_against_framework);
        let reported = std::mem::take(self.diags);
        let mut defaults = CudaDefaults { pip_libraries: false, compiles };
        let mut derived = self.derive_base_and_framework(defaults, python);
        let pip_libraries = derived.2.as_ref().and_then(|f| f.gpu_build.as_ref()).is_some_and(|b| b.from_pip);
        if pip_libraries && self.cuda_defaults_open() {
            *self.diags = Diagnostics::default();
            defaults.pip_libraries = true;
            derived = self.derive_base_and_framework(defaults, python);
        }
        let found = std::mem::replace(self.diags, reported);
        self.diags.extend(found);
        derived
    }

    /// The base with `defaults`, the mirrors, and the framework on that base.
    fn derive_base_and_framework(
        &mut self,
        defaults: CudaDefaults,
        python: Option<&Spanned<String>>,
    ) -> (Option<BaseInfo>, Option<Mirrors>, Option<Framework>) {
        let base = self.base(defaults);
        let mirrors = self.mirrors(base.as_ref());
        let framework = match (self.part().framework.clone(), &base, python) {
            (Some(f), Some(b), Some(p)) => {
                let mirrors = mirrors.clone().unwrap_or_default();
                crate::framework::check(self.compat, &f, b, p, &mirrors, self.diags)
            }
            _ => None,
        };
        (base, mirrors, framework)
    }

    /// Runs every concern, each of which reports all its problems, and assembles the image when
    /// none failed.
    fn image(&mut self) -> Option<Image> {
        let name = self.instance.name.clone();
        let valid_name = self.valid(&name, Code::ImageName, "image name", values::image_name);
        let python_version = self.python_version();
        let (base, mirrors, framework) = self.base_and_framework(python_version.as_ref());
        let python = python_version.as_ref().and_then(|p| self.python(p));
        let apt = self.apt();
        let (extra_pip, pip_no_build_isolation) = self.extra_pip();
        let origin = Origin {
            python: self.part().python.as_ref().map(|p| p.node),
            framework: self.part().framework.as_ref().map(|f| f.node),
            // What `dlspec lock` resolves: not the packages that build against the framework.
            extra_pip: self
                .part()
                .pip
                .iter()
                .filter(|p| !packages::builds_against_framework(p))
                .flat_map(|p| &p.requirements)
                .map(|r| r.span)
                .collect(),
        };
        let timezone = self.timezone();
        let locale = self.locale();
        let user = self.user();
        let services = self.services(user.as_ref().and_then(Option::as_ref));
        if let Some(Some(user)) = &user {
            self.unprivileged_ports(user);
        }
        let environment = self.env();
        self.port_conflicts();
        let (base, python, timezone, locale, mirrors, environment, (), apt, user) =
            (base?, python?, timezone?, locale?, mirrors?, environment?, valid_name?, apt?, user?);
        let home = user.as_ref().map_or(crate::service::ROOT_HOME, |u| u.home.as_str()).to_owned();
        // The tag's own problems are worth reporting even when the framework has some.
        let framework_ok = self.part().framework.is_none() || framework.is_some();
        let tag = self.tag(&base.base, &python, framework.as_ref())?;
        if !framework_ok {
            return None;
        }
        let local_reference = format!("{}:{tag}", name.value);
        let slug = deploy::slug(&name.value, &tag, &local_reference);
        let reference = cluster::under_registry(self.settings.registry.as_deref(), &local_reference);
        let listening = services::listening(self.part(), user.is_some());
        let docker_run = self.docker_run(&name.value, &listening, base.base.gpu, &python.prefix)?;
        let running = services.as_deref().unwrap_or_default();
        let secret_volumes = self.secret_volumes(running, &slug, &home, &python.prefix)?;
        let mut pod_volumes: Vec<(&str, String)> =
            secret_volumes.iter().map(|v| (v.name.as_str(), v.mount.clone())).collect();
        pod_volumes.extend(running.iter().flat_map(|(_, checked)| checked.pod_volumes()));
        let mut kubernetes = self.kubernetes(&listening, base.base.gpu, &pod_volumes, &python.prefix)?;
        kubernetes.secret_volumes = secret_volumes;
        let pools = self.pools(&base.base, framework.as_ref(), &environment, &kubernetes, &slug)?;
        // On pools, each pool's Deployment has its own resources, checked with the pools.
        if pools.runs.is_empty() && !deploy::shm_fits(self, &kubernetes.shm_size, &kubernetes.limits.memory, "") {
            return None;
        }
        let services = services?;
        let mut environment = environment;
        environment.literal.extend(pools.env);
        let ports = listening.iter().map(services::Listening::port).collect();
        let pod = Pod {
            slug: &slug,
            prefix: &python.prefix,
            user: user.as_ref(),
            home: &home,
            volume_mounts: kubernetes.volumes.iter().map(|v| v.mount.as_str()).collect(),
        };
        let mut platform_pip = Vec::new();
        if python.numpy_below_2 {
            platform_pip.push("numpy<2".to_owned());
        }
        let framework_pins =
            framework.iter().flat_map(|f| &f.install.requirements).map(|r| packages::without_extras(r));
        let pip_constraints = platform_pip.iter().cloned().chain(framework_pins).collect();
        let (services, services_off, service_pip) = services::finish(services, &docker_run, &pod);
        platform_pip.extend(service_pip);
        let job_name = values::truncate_name(&format!("{slug}-selftest"), &format!("{reference} selftest"));
        let selftest = SelfTest::new(&base.base, framework.as_ref(), job_name, pools.needs.clone());
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
            pip_no_build_isolation,
            pip_constraints,
            timezone,
            locale,
            user,
            home,
            services,
            services_off,
            mirrors,
            ports,
            docker_run,
            kubernetes,
            selftest,
            env: environment.literal,
            secret_env: environment.from_secrets,
            lock: None,
            gpu_needs: pools.needs,
            pools: pools.runs,
            pool_verdicts: pools.verdicts,
            origin,
        })
    }
}
