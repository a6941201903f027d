//! The checks of one image on one pool: the driver against the base's `NVIDIA_REQUIRE_CUDA`, the
//! framework build's kernels against the GPU, and the sharing of GPU memory.

use super::Pool;
use crate::check::environment::Environment;
use crate::compat::compare;
use crate::compat::gpu::{ArchBuild, Brand, Compute, ForwardCompat, GpuFacts, Kernels, Requirement, Runs, in_range};
use crate::compat::major_minor;
use crate::diag::Code;
use crate::lang::Sharing;
use crate::model::{Base, BaseKind, CompatClause, EnvVar, Framework, GpuNeeds, Kubernetes};

/// Why an image does not run on a pool.
#[derive(Debug, Clone)]
pub(super) struct Refusal {
    pub(super) code: Code,
    /// In a few words, for the catalog's table.
    pub(super) short: String,
    /// The whole reason.
    pub(super) message: String,
    /// What would run there.
    pub(super) help: String,
}

/// The facts of an image that its pools are checked against.
pub(super) struct ImageFacts<'a> {
    pub(super) base: &'a Base,
    pub(super) framework: Option<&'a Framework>,
    pub(super) env: &'a Environment,
    pub(super) needs: &'a GpuNeeds,
    pub(super) kernels: Option<&'a Kernels>,
    pub(super) requirement: Option<&'a Requirement>,
    pub(super) kubernetes: &'a Kubernetes,
}

/// The outcome of one (image, pool).
pub(super) struct Verdict {
    pub(super) refusals: Vec<Refusal>,
    /// Facts the tables lack: in a few words, and as a sentence.
    pub(super) unknown: Vec<(&'static str, String)>,
    /// How it runs: `CUDA 12.6 by forward compatibility`, `SASS for 8.0`.
    pub(super) how: Vec<String>,
    /// The environment the pool needs (memory preallocation off).
    pub(super) env: Option<EnvVar>,
}

/// What a GPU image needs of a node, its framework build's kernels when the tables know them, and
/// its base's `NVIDIA_REQUIRE_CUDA`.
pub(super) fn gpu_needs<'f>(
    facts: &'f GpuFacts,
    base: &Base,
    framework: Option<&Framework>,
) -> (GpuNeeds, Option<Kernels>, Option<&'f Requirement>) {
    let requirement = match (base.kind, &base.cuda, &base.os) {
        (BaseKind::Cuda, Some(cuda), Some(os)) => facts.requirement(cuda, os),
        _ => None,
    };
    let cuda = requirement.and_then(|r| r.require.clone());
    let min_driver = cuda.as_deref().and_then(|c| facts.min_driver(major_minor(c))).map(str::to_owned);
    let clauses: &[(u32, Vec<String>)] = requirement.map_or(&[], |r| &r.clauses);
    let compat =
        clauses.iter().map(|(branch, brands)| CompatClause { branch: *branch, brands: brands.clone() }).collect();
    let build = framework.and_then(|f| f.gpu_build.as_ref());
    let pip_cuda = build.filter(|b| b.from_pip).map(|b| b.cuda.clone());
    let pip_min_driver =
        pip_cuda.as_deref().and_then(|c| facts.minor_compat_driver(major_minor(c).0)).map(str::to_owned);
    let kernels = framework
        .zip(build)
        .and_then(|(f, b)| facts.arch(f.kind, &f.version, &b.variant))
        .and_then(|row| row.kernels.clone());
    let read = kernels.as_ref().filter(|k| !k.inferred);
    let list = |items: &[Compute]| items.iter().map(Compute::to_string).collect::<Vec<_>>();
    let forward: Vec<&Brand> = facts
        .brands
        .iter()
        .filter(|b| b.forward_compat == ForwardCompat::Yes)
        .filter(|b| requirement.is_some_and(|r| clauses.iter().any(|(branch, _)| r.excepts(*branch, b))))
        .collect();
    let forward_compat_branches = clauses
        .iter()
        .map(|(branch, _)| *branch)
        .filter(|branch| forward.iter().any(|b| requirement.is_some_and(|r| r.excepts(*branch, b))))
        .collect();
    let needs = GpuNeeds {
        cuda,
        min_driver,
        compat,
        any_driver: requirement.and_then(|r| r.any_driver.clone()),
        forward_compat: forward.iter().map(|b| b.class.title()).collect(),
        forward_compat_branches,
        forward_compat_brands: forward.iter().flat_map(|b| b.brands.iter().cloned()).collect(),
        pip_cuda,
        pip_min_driver,
        build_cuda: build.map(|b| b.cuda.clone()),
        sass: read.map(|k| list(&k.sass)),
        ptx: read.map(|k| list(&k.ptx)),
    };
    (needs, kernels, requirement)
}

/// Checks one image on one pool.
pub(super) fn verdict(facts: &GpuFacts, image: &ImageFacts<'_>, pool: &Pool) -> Verdict {
    let mut verdict = Verdict { refusals: Vec::new(), unknown: Vec::new(), how: Vec::new(), env: None };
    let forward = driver(facts, image, pool, &mut verdict);
    architecture(facts, image, pool, forward, &mut verdict);
    sharing(facts, image, pool, &mut verdict);
    for selector in &image.kubernetes.node_selector {
        if let Some(other) = pool.node_selector.iter().find(|p| p.key == selector.key && p.value != selector.value) {
            verdict.refusals.push(Refusal {
                code: Code::PoolPlacement,
                short: format!("selector `{}`", selector.key),
                message: format!(
                    "the image selects nodes with `{}={}`, the pool's nodes have `{}`",
                    selector.key, selector.value, other.value
                ),
                help: format!(
                    "remove the image's `node-selector \"{}\"`: each pool selects its own nodes",
                    selector.key
                ),
            });
        }
    }
    verdict
}

/// The driver check; whether the image runs by forward compatibility (the driver's own CUDA is
/// older than the base's).
pub(super) fn driver(facts: &GpuFacts, image: &ImageFacts<'_>, pool: &Pool, verdict: &mut Verdict) -> bool {
    let driver_cuda = facts.driver_cuda(&pool.driver);
    let supports = |cuda: (u64, u64)| driver_cuda.is_some_and(|d| d >= cuda);
    let driver_cuda_text =
        driver_cuda.map_or_else(|| "no CUDA the tables know".to_owned(), |(a, b)| format!("CUDA {a}.{b}"));
    let mut forward = false;
    let base = image.base;
    match (&image.needs.cuda, base.kind) {
        (Some(need), _) if supports(major_minor(need)) => verdict.how.push(format!("CUDA {need}")),
        (Some(need), _) => {
            let min = image.needs.min_driver.as_deref().unwrap_or("a newer driver");
            let brand = facts.brand(pool.class);
            let excepted = image.requirement.zip(brand).is_some_and(|(r, b)| r.excepts(pool.branch, b));
            let any_brand = image.needs.any_driver.as_deref().is_some_and(|any| compare(&pool.driver, any).is_ge());
            let fix = format!(
                "{}, or a driver `{min}` or newer on the pool",
                older_base_help(driver_cuda, base).unwrap_or_else(|| format!("a base of {driver_cuda_text} or older"))
            );
            match brand.map(|b: &Brand| b.forward_compat) {
                // 2021's bases let any brand from a branch start: their CUDA 11 runtime runs on it by
                // minor-version compatibility.
                _ if any_brand => verdict.how.push(format!("CUDA {need} by minor-version compatibility")),
                Some(ForwardCompat::Yes) if excepted => {
                    forward = true;
                    verdict.how.push(format!("CUDA {need} by forward compatibility"));
                }
                Some(ForwardCompat::Select) if excepted => {
                    forward = true;
                    verdict.how.push(format!("CUDA {need} by forward compatibility"));
                    verdict.unknown.push((
                        "forward compatibility unchecked",
                        format!(
                            "forward compatibility runs on select {} GPUs only; whether `{}` is one is not in the tables",
                            pool.class.title(),
                            pool.product
                        ),
                    ));
                }
                Some(ForwardCompat::No) if excepted => verdict.refusals.push(Refusal {
                    code: Code::PoolDriver,
                    short: format!("driver {} < {min}", pool.driver),
                    message: format!(
                        "`{}` needs a driver with CUDA {need}; driver {} has {driver_cuda_text}, and forward compatibility does not run on {} GPUs (CUDA error 804)",
                        base.upstream, pool.driver, pool.class.title()
                    ),
                    help: fix,
                }),
                _ => verdict.refusals.push(Refusal {
                    code: Code::PoolDriver,
                    short: format!("driver {} < {min}", pool.driver),
                    message: format!(
                        "`{}` needs a driver with CUDA {need} (its `NVIDIA_REQUIRE_CUDA`); driver {} has {driver_cuda_text}, and its branch R{} on {} GPUs is not among the base's forward-compatibility exceptions, so the container runtime refuses to start it",
                        base.upstream, pool.driver, pool.branch, pool.class.title()
                    ),
                    help: fix,
                }),
            }
        }
        (None, BaseKind::Cuda) => verdict.unknown.push((
            "driver unchecked",
            format!("the tables do not know the `NVIDIA_REQUIRE_CUDA` of `{}`", base.upstream),
        )),
        (None, _) => verdict
            .unknown
            .push(("driver unchecked", format!("what driver `{}` needs is not in the tables", base.upstream))),
    }
    if let (Some(pip), Some(floor)) = (&image.needs.pip_cuda, &image.needs.pip_min_driver)
        && compare(&pool.driver, floor).is_lt()
    {
        verdict.refusals.push(Refusal {
            code: Code::PoolDriver,
            short: format!("driver {} < {floor}", pool.driver),
            message: format!(
                "the framework's CUDA {pip} libraries from pip need a driver `{floor}` or newer (minor-version compatibility of CUDA {}); the pool has {}",
                major_minor(pip).0,
                pool.driver
            ),
            help: format!("upgrade the pool's driver to `{floor}` or newer, or choose a framework build for an older CUDA"),
        });
    }
    forward
}

/// `write `cuda "12.4.1"``: the newest supported nvidia/cuda tag of the base's OS whose CUDA the
/// driver supports.
pub(super) fn older_base_help(driver_cuda: Option<(u64, u64)>, base: &Base) -> Option<String> {
    let driver_cuda = driver_cuda?;
    let os = base.os.as_deref()?;
    let compat = crate::compat::get();
    compat
        .cuda_tags
        .iter()
        .filter(|t| t.os == os && t.status == "supported" && major_minor(&t.cuda) <= driver_cuda)
        .max_by(|a, b| compare(&a.cuda, &b.cuda))
        .map(|t| format!("use a base the driver supports, like `cuda \"{}\"`", t.cuda))
}

/// The architecture check.
pub(super) fn architecture(
    facts: &GpuFacts,
    image: &ImageFacts<'_>,
    pool: &Pool,
    forward: bool,
    verdict: &mut Verdict,
) {
    let (Some(framework), Some(build)) = (image.framework, image.framework.and_then(|f| f.gpu_build.as_ref())) else {
        return;
    };
    let Some(kernels) = image.kernels.filter(|k| !k.inferred) else {
        let what = format!("{} {} (`{}` build)", framework.title, framework.version, build.variant);
        let fact = match image.kernels {
            Some(inferred) => format!(
                "the tables only infer which GPUs {what} has kernels for ({}), they did not read it from the build",
                inferred.describe()
            ),
            None => format!("which GPUs {what} has kernels for is not in the tables"),
        };
        verdict.unknown.push(("kernels unchecked", fact));
        return;
    };
    let ptx_jit = forward || facts.driver_cuda(&pool.driver).is_some_and(|d| d >= major_minor(&build.cuda));
    match kernels.runs_on(pool.compute, ptx_jit) {
        Some(Runs::Sass(cc)) => verdict.how.push(format!("SASS for {cc}")),
        Some(Runs::Ptx(cc)) => verdict.how.push(format!("PTX for {cc}, compiled by the driver")),
        None => {
            let ptx_needs_driver = !ptx_jit && kernels.ptx.iter().any(|p| *p <= pool.compute);
            let why = if ptx_needs_driver {
                format!(
                    "; its PTX would need a driver with CUDA {} to compile, the pool's {} has less",
                    build.cuda, pool.driver
                )
            } else {
                String::new()
            };
            verdict.refusals.push(Refusal {
                code: Code::PoolArch,
                short: format!("no kernels for {}", pool.compute),
                message: format!(
                    "{} {} (`{}` build) has no kernels for the pool's `{}` (compute capability {}): {}{why}",
                    framework.title,
                    framework.version,
                    build.variant,
                    pool.product,
                    pool.compute,
                    kernels.describe()
                ),
                help: other_builds_help(facts, framework, &build.variant, pool.compute),
            });
        }
    }
}

/// What framework build has kernels for `compute`: another build of the release, else a release.
pub(super) fn other_builds_help(facts: &GpuFacts, framework: &Framework, variant: &str, compute: Compute) -> String {
    let running: Vec<&ArchBuild> = facts
        .arch
        .iter()
        .filter(|a| {
            a.framework == framework.kind
                && a.kernels.as_ref().is_some_and(|k| !k.inferred && k.runs_on(compute, true).is_some())
        })
        .collect();
    let same_release: Vec<&str> = running
        .iter()
        .filter(|a| in_range(&framework.version, &a.first, &a.last))
        .flat_map(|a| a.variants.iter().map(String::as_str))
        .filter(|v| *v != variant && *v != "*")
        .collect();
    if let Some(other) = same_release.first() {
        return format!(
            "the `{other}` build of {} {} has kernels for compute capability {compute}: choose it (its CUDA base, or `index=`)",
            framework.title, framework.version
        );
    }
    match running.iter().max_by(|a, b| compare(&a.last, &b.last)) {
        Some(row) => format!(
            "{} {}–{} (`{}` build) has kernels for compute capability {compute}",
            framework.title,
            row.first,
            row.last,
            row.variants.join("`, `")
        ),
        None => format!("no {} build in the tables has kernels for compute capability {compute}", framework.title),
    }
}

/// The sharing check: a framework that takes the GPU's memory at start gets the variable that stops
/// it, unless the spec sets it otherwise.
pub(super) fn sharing(facts: &GpuFacts, image: &ImageFacts<'_>, pool: &Pool, verdict: &mut Verdict) {
    if pool.sharing == Sharing::None {
        return;
    }
    let Some(framework) = image.framework.filter(|f| f.gpu_build.is_some()) else { return };
    let Some(preallocation) = facts.preallocation(framework.kind, &framework.version) else { return };
    if image.env.from_secrets.iter().any(|e| e.name == preallocation.variable) {
        return;
    }
    match image.env.literal.iter().find(|e| e.name == preallocation.variable) {
        Some(set) if set.value != preallocation.value => verdict.refusals.push(Refusal {
            code: Code::PoolSharing,
            short: format!("`{}` preallocates", set.name),
            message: format!(
                "`{}={}` makes {} take the GPU's memory at start, and the pool shares its GPUs ({}): the next pod on the GPU fails",
                set.name,
                set.value,
                framework.title,
                pool.sharing.as_str()
            ),
            help: format!(
                "remove `env \"{}\"`: on pools that share GPUs dlspec sets it to `{}`",
                set.name, preallocation.value
            ),
        }),
        Some(_) => {}
        None => {
            verdict.env = Some(EnvVar { name: preallocation.variable.clone(), value: preallocation.value.clone() });
            verdict.how.push(format!("{}={}", preallocation.variable, preallocation.value));
        }
    }
}
