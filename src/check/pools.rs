//! GPU node pools (v3 of the language): the catalog's pools as checked facts, and for every GPU
//! image the pools it runs on. For each (image, pool):
//! - **driver**: the pool's driver against the base's `NVIDIA_REQUIRE_CUDA` (the container runtime
//!   refuses to start the container otherwise), with the base's forward-compatibility exceptions
//!   where forward compatibility runs on the pool's brand; for CUDA from pip wheels, the floor of
//!   minor-version compatibility of its major;
//! - **architecture**: the framework build's kernels (SASS of the GPU's major, or PTX the driver
//!   can compile) for the pool's compute capability;
//! - **sharing**: on pools that share GPUs, no framework that takes the GPU's memory at start;
//! - **placement**: the image's own node selector does not exclude the pool's nodes.
//!
//! An image runs on the pools it names (each must pass), or on every pool that passes (the others
//! in one note; none passing is an error). A fact the tables lack is a note, never a guess.

use super::environment::Environment;
use super::{Checker, cluster, deploy};
use crate::compat::gpu::{
    ArchBuild, Brand, BrandClass, Compute, ForwardCompat, GpuFacts, Kernels, Requirement, Runs, in_range,
};
use crate::compat::major_minor;
use crate::compat::{Compat, compare};
use crate::diag::{Code, Diag, Diagnostics, did_you_mean};
use crate::lang::{NodePoolPart, Sharing, Spanned};
use crate::model::{
    Base, BaseKind, CompatClause, EnvVar, Framework, GpuNeeds, Kubernetes, NodeExpression, NodeSelector, PodResources,
    PoolRun, PoolVerdict, Resources, Toleration,
};
use crate::source::Span;
use crate::values;

/// The label GPU Feature Discovery gives a node's GPU product.
const PRODUCT_LABEL: &str = "nvidia.com/gpu.product";
/// GPU Feature Discovery's label of the driver's major version (its branch).
const DRIVER_MAJOR_LABEL: &str = "nvidia.com/cuda.driver-version.major";
/// GPU Feature Discovery's labels of the GPU's compute capability.
const COMPUTE_MAJOR_LABEL: &str = "nvidia.com/gpu.compute.major";
const COMPUTE_MINOR_LABEL: &str = "nvidia.com/gpu.compute.minor";
/// The resource NVIDIA's device plugin advertises for a whole GPU.
const DEFAULT_RESOURCE: &str = "nvidia.com/gpu";

/// A pod's resources on a pool when the spec does not write them: two CPUs and 8 GiB reserved,
/// no CPU limit, 32 GiB of memory of which a quarter is `/dev/shm`.
const POOL_REQUESTS_CPU: &str = "2";
const POOL_REQUESTS_MEMORY: &str = "8Gi";
const POOL_LIMITS_MEMORY: &str = "32Gi";

/// A node pool of the catalog, checked.
pub(super) struct Pool {
    /// Its name, and where it is declared.
    pub name: Spanned<String>,
    /// `nvidia.com/gpu.product` of its nodes.
    pub product: String,
    /// The compute capability of its GPU.
    pub compute: Compute,
    /// The brand class of its GPU.
    pub class: BrandClass,
    /// Its driver, and that driver's branch (the major version).
    pub driver: String,
    pub branch: u32,
    /// What a pod requests for a GPU.
    pub resource: String,
    pub sharing: Sharing,
    pub runtime_class: Option<String>,
    /// Its nodes' labels that select them (by default, the product label).
    pub node_selector: Vec<NodeSelector>,
    pub tolerations: Vec<Toleration>,
}

/// The catalog's pools: those that passed their checks, and the names of those that did not
/// (an image that names one gets no second error).
#[derive(Default)]
pub(super) struct Pools {
    pub valid: Vec<Pool>,
    pub broken: Vec<String>,
}

/// Checks the catalog's `node-pool` declarations; reports every problem.
pub(super) fn declared(parts: &[NodePoolPart], compat: &Compat, diags: &mut Diagnostics) -> Pools {
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
fn pool(part: &NodePoolPart, facts: &GpuFacts, diags: &mut Diagnostics) -> Option<Pool> {
    let errors = diags.error_count();
    let name = &part.name;
    super::valid(diags, name, Code::PoolDeclaration, "node pool name", values::dns_label);
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
        super::valid(diags, &g.product, Code::PoolDeclaration, "GPU product label", values::label_value)
            .map(|()| g.product.value.clone())
    });
    let known = gpu.and_then(|g| facts.gpu(&g.product.value));
    let compute = gpu.and_then(|g| match (&g.compute, known) {
        (Some(written), _) => {
            let compute = super::valid(diags, written, Code::PoolDeclaration, "compute capability", |c| {
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
        super::valid(diags, d, Code::PoolDeclaration, "driver version", values::driver_version)?;
        Some(d.value.clone())
    });
    let resource = match part.resource.as_ref().map(|r| &r.resource) {
        Some(r) => super::valid(diags, r, Code::PoolDeclaration, "extended resource", values::extended_resource)
            .map(|()| r.value.clone()),
        None => Some(DEFAULT_RESOURCE.to_owned()),
    };
    let sharing = part.sharing.as_ref().map_or(Sharing::None, |s| s.mode.value);
    let runtime_class = part.runtime_class.as_ref().map(|r| &r.runtime_class).and_then(|r| {
        super::valid(diags, r, Code::PoolDeclaration, "RuntimeClass name", values::dns_subdomain)?;
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

fn unknown_product(span: Span, product: &str, property: &str) -> Diag {
    Diag::error(Code::PoolDeclaration, span, format!("the tables do not know the GPU `{product}`"), "unknown GPU")
        .with_help(format!(
            "write its `{property}` (`dlspec compat gpus` lists the GPUs the tables know, with their labels)"
        ))
}

/// What the checks of an image against its pools give.
pub(super) struct PoolPlan {
    /// What a node must have to run the image.
    pub needs: Option<GpuNeeds>,
    /// The pools it runs on.
    pub runs: Vec<PoolRun>,
    /// Whether it runs on each pool of the catalog.
    pub verdicts: Vec<PoolVerdict>,
    /// Environment the image gets for the pools it runs on (memory preallocation switched off).
    pub env: Vec<EnvVar>,
}

/// Why an image does not run on a pool.
#[derive(Debug, Clone)]
struct Refusal {
    code: Code,
    /// In a few words, for the catalog's table.
    short: String,
    /// The whole reason.
    message: String,
    /// What would run there.
    help: String,
}

/// The facts of an image that its pools are checked against.
struct ImageFacts<'a> {
    base: &'a Base,
    framework: Option<&'a Framework>,
    env: &'a Environment,
    needs: &'a GpuNeeds,
    kernels: Option<&'a Kernels>,
    requirement: Option<&'a Requirement>,
    kubernetes: &'a Kubernetes,
}

/// The outcome of one (image, pool).
struct Verdict {
    refusals: Vec<Refusal>,
    /// Facts the tables lack: in a few words, and as a sentence.
    unknown: Vec<(&'static str, String)>,
    /// How it runs: `CUDA 12.6 by forward compatibility`, `SASS for 8.0`.
    how: Vec<String>,
    /// The environment the pool needs (memory preallocation off).
    env: Option<EnvVar>,
}

impl Checker<'_> {
    /// The pools a GPU image runs on, with what it needs of a node; reports the pools it was told
    /// to run on that refuse it, unknown pool names, and an image no pool runs.
    pub(super) fn pools(
        &mut self,
        base: &Base,
        framework: Option<&Framework>,
        env: &Environment,
        kubernetes: &Kubernetes,
        slug: &str,
    ) -> Option<PoolPlan> {
        let named = self.part().kubernetes.as_ref().and_then(|k| k.node_pools.clone());
        if !base.gpu {
            if let Some(named) = named {
                self.push(
                    Diag::warning(
                        Code::PoolUnknown,
                        named.node,
                        "a CPU image runs on any node: its `node-pool` is ignored",
                        "CPU image",
                    )
                    .with_help("remove `node-pool`, or build on `cuda` to make a GPU image"),
                );
            }
            return Some(PoolPlan { needs: None, runs: Vec::new(), verdicts: Vec::new(), env: Vec::new() });
        }
        let facts = &self.compat.gpu;
        let (needs, kernels, requirement) = gpu_needs(facts, base, framework);
        let settings = self.settings;
        let pools = &settings.pools;
        let image =
            ImageFacts { base, framework, env, needs: &needs, kernels: kernels.as_ref(), requirement, kubernetes };
        let verdicts: Vec<Verdict> = pools.valid.iter().map(|pool| verdict(facts, &image, pool)).collect();
        let errors = self.errors();
        let chosen = match &named {
            Some(named) => self.named_pools(&named.pools, pools, &verdicts),
            None => self.passing_pools(pools, &verdicts),
        };
        self.unknown_fact_notes(pools, &verdicts);
        if !self.ok_since(errors) {
            return None;
        }
        let mut env: Vec<EnvVar> = Vec::new();
        for var in chosen.iter().filter_map(|&at| verdicts[at].env.as_ref()) {
            if !env.iter().any(|e| e.name == var.name) {
                env.push(var.clone());
            }
        }
        let resources = if chosen.is_empty() { None } else { Some(self.pool_resources()?) };
        let runs = resources
            .iter()
            .flat_map(|resources| chosen.iter().map(move |&at| (at, resources)))
            .map(|(at, resources)| run(facts, &pools.valid[at], &verdicts[at], &image, slug, resources))
            .collect();
        let verdicts = pool_verdicts(pools, &verdicts, &chosen);
        Some(PoolPlan { needs: Some(needs), runs, verdicts, env })
    }

    /// The pools of `kubernetes { node-pool … }`, by index; reports each that refuses the image,
    /// names no pool, or is named twice.
    fn named_pools(&mut self, named: &[Spanned<String>], pools: &Pools, verdicts: &[Verdict]) -> Vec<usize> {
        let mut chosen = Vec::new();
        for (index, name) in named.iter().enumerate() {
            if named[..index].iter().any(|earlier| earlier.value == name.value) {
                self.push(
                    Diag::error(
                        Code::Duplicate,
                        name.span,
                        format!("node pool `{}` is named twice", name.value),
                        "named again",
                    )
                    .with_help("name each pool once"),
                );
                continue;
            }
            match pools.valid.iter().position(|p| p.name.value == name.value) {
                Some(at) => {
                    for refusal in &verdicts[at].refusals {
                        self.push(
                            Diag::error(refusal.code, name.span, refusal.message.clone(), "refused on this pool")
                                .with_label(pools.valid[at].name.span, "pool declared here")
                                .with_help(refusal.help.clone()),
                        );
                    }
                    chosen.push(at);
                }
                None if pools.broken.contains(&name.value) => {}
                None => {
                    let names: Vec<&str> = pools.valid.iter().map(|p| p.name.value.as_str()).collect();
                    let help = if names.is_empty() {
                        format!("declare it in `catalog {{ node-pool \"{}\" {{ gpu …; driver … }} }}`", name.value)
                    } else {
                        did_you_mean(&name.value, &names, "the catalog's node pools are")
                    };
                    self.push(
                        Diag::error(
                            Code::PoolUnknown,
                            name.span,
                            format!("no node pool is named `{}`", name.value),
                            "unknown pool",
                        )
                        .with_help(help),
                    );
                }
            }
        }
        chosen
    }

    /// Every pool that passes, by index; the others in one note with their reasons and fixes, an
    /// error when none passes.
    fn passing_pools(&mut self, pools: &Pools, verdicts: &[Verdict]) -> Vec<usize> {
        let (chosen, refused): (Vec<usize>, Vec<usize>) =
            (0..pools.valid.len()).partition(|&at| verdicts[at].refusals.is_empty());
        if refused.is_empty() {
            return chosen;
        }
        let each = |at: usize, text: fn(&Refusal) -> &str| {
            verdicts[at].refusals.iter().map(text).collect::<Vec<_>>().join("; ")
        };
        let reasons: Vec<String> = refused
            .iter()
            .map(|&at| format!("`{}`: {}", pools.valid[at].name.value, each(at, |r| &r.message)))
            .collect();
        let mut help: String = refused
            .iter()
            .map(|&at| format!("for `{}`: {}", pools.valid[at].name.value, each(at, |r| &r.help)))
            .collect::<Vec<_>>()
            .join("; ");
        let reasons = reasons.join("; and on ");
        let span = self.name_span();
        let diag = if chosen.is_empty() && pools.broken.is_empty() {
            let message = format!("no node pool of the catalog runs this image: not on {reasons}");
            Diag::error(Code::PoolRefused, span, message, "runs on no pool")
        } else {
            help.push_str("; or name the pools it runs on with `kubernetes { node-pool … }`");
            Diag::note(
                Code::PoolRefused,
                span,
                format!("this image does not run on {reasons}"),
                "refused by some pools",
            )
        };
        self.push(diag.with_help(help));
        chosen
    }

    /// One note for each fact the tables lack, naming the pools whose check needed it.
    fn unknown_fact_notes(&mut self, pools: &Pools, verdicts: &[Verdict]) {
        let mut unknown: Vec<(&str, Vec<&str>)> = Vec::new();
        for (verdict, pool) in verdicts.iter().zip(&pools.valid) {
            for (_, fact) in &verdict.unknown {
                match unknown.iter_mut().find(|(f, _)| f == fact) {
                    Some((_, names)) => names.push(&pool.name.value),
                    None => unknown.push((fact, vec![&pool.name.value])),
                }
            }
        }
        let span = self.part().framework.as_ref().and_then(|f| f.version()).map_or(self.name_span(), |v| v.span);
        for (fact, names) in unknown {
            let plural = if names.len() == 1 { "" } else { "s" };
            let names = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
            self.push(
                Diag::note(Code::PoolUnknownFact, span, format!("not checked on node pool{plural} {names}: {fact}"), "fact unknown")
                    .with_help("the image's self-test checks it on the node (`k8s/<pool>/selftest-job.yaml`); add the fact to the tables with its source"),
            );
        }
    }

    /// A pod's resources on a pool: the spec's values, else the GPU defaults; `/dev/shm` must fit
    /// in the memory limit.
    fn pool_resources(&mut self) -> Option<PodResources> {
        let part = self.part().kubernetes.clone().unwrap_or_default();
        let written = |v: &Option<Spanned<String>>| {
            v.as_ref().filter(|q| values::quantity(&q.value).is_ok()).map(|q| q.value.clone())
        };
        let requests = part.requests.clone().unwrap_or_default();
        let limits = part.limits.clone().unwrap_or_default();
        let limit_memory = written(&limits.memory).unwrap_or_else(|| POOL_LIMITS_MEMORY.to_owned());
        let shm_size = match written(&part.shm_size) {
            Some(shm) => shm,
            None => values::bytes_quantity(
                values::quantity_bytes(&limit_memory).map_or(2 << 30, |limit| limit / 4 / (1 << 20) * (1 << 20)),
            ),
        };
        let resources = PodResources {
            requests: Resources {
                cpu: written(&requests.cpu).unwrap_or_else(|| POOL_REQUESTS_CPU.to_owned()),
                memory: written(&requests.memory).unwrap_or_else(|| POOL_REQUESTS_MEMORY.to_owned()),
            },
            limit_cpu: written(&limits.cpu),
            limit_memory,
            shm_size,
        };
        deploy::shm_fits(self, &resources.shm_size, &resources.limit_memory, "on a node pool").then_some(resources)
    }
}

/// Whether the image runs on each pool of the catalog (`chosen`: the pools it runs on), and how or
/// why not in a few words.
fn pool_verdicts(pools: &Pools, verdicts: &[Verdict], chosen: &[usize]) -> Vec<PoolVerdict> {
    verdicts
        .iter()
        .zip(&pools.valid)
        .enumerate()
        .map(|(at, (verdict, pool))| {
            let runs = chosen.contains(&at);
            let note = if !verdict.refusals.is_empty() {
                verdict.refusals.iter().map(|r| r.short.as_str()).collect::<Vec<_>>().join("; ")
            } else if !runs {
                "not named in its `node-pool`".to_owned()
            } else {
                verdict.unknown.iter().map(|(short, _)| *short).collect::<Vec<_>>().join("; ")
            };
            PoolVerdict { pool: pool.name.value.clone(), runs, note }
        })
        .collect()
}

/// What a GPU image needs of a node, its framework build's kernels when the tables know them, and
/// its base's `NVIDIA_REQUIRE_CUDA`.
fn gpu_needs<'f>(
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
fn verdict(facts: &GpuFacts, image: &ImageFacts<'_>, pool: &Pool) -> Verdict {
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
fn driver(facts: &GpuFacts, image: &ImageFacts<'_>, pool: &Pool, verdict: &mut Verdict) -> bool {
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
fn older_base_help(driver_cuda: Option<(u64, u64)>, base: &Base) -> Option<String> {
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
fn architecture(facts: &GpuFacts, image: &ImageFacts<'_>, pool: &Pool, forward: bool, verdict: &mut Verdict) {
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
fn other_builds_help(facts: &GpuFacts, framework: &Framework, variant: &str, compute: Compute) -> String {
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
fn sharing(facts: &GpuFacts, image: &ImageFacts<'_>, pool: &Pool, verdict: &mut Verdict) {
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

/// The placement and resources of an image's pods on a pool it runs on.
fn run(
    facts: &GpuFacts,
    pool: &Pool,
    verdict: &Verdict,
    image: &ImageFacts<'_>,
    slug: &str,
    resources: &PodResources,
) -> PoolRun {
    let kubernetes = image.kubernetes;
    let mut node_selector = pool.node_selector.clone();
    node_selector.extend(
        kubernetes
            .node_selector
            .iter()
            .filter(|s| !node_selector.iter().any(|p| p.key == s.key))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let mut tolerations = pool.tolerations.clone();
    tolerations.extend(kubernetes.tolerations.iter().cloned());
    let deployment =
        values::truncate_name(&format!("{slug}-{}", pool.name.value), &format!("{slug} {}", pool.name.value));
    let job_name = values::truncate_name(
        &format!("{slug}-{}-selftest", pool.name.value),
        &format!("{slug} {} selftest", pool.name.value),
    );
    PoolRun {
        name: pool.name.value.clone(),
        deployment,
        job_name,
        gpu: pool.product.clone(),
        compute: pool.compute.to_string(),
        driver: pool.driver.clone(),
        sharing: pool.sharing.as_str(),
        resource: pool.resource.clone(),
        gpus: kubernetes.gpus.max(1),
        runtime_class: pool.runtime_class.clone(),
        node_selector,
        tolerations,
        affinity: affinity(facts, image, pool),
        resources: resources.clone(),
        how: verdict.how.join("; "),
    }
}

/// The node-affinity guard: nodes whose driver branch and compute capability (GPU Feature
/// Discovery's labels) the checks accept for this pool's brand, whatever pool they are in. A node
/// must match one term (every expression of it).
fn affinity(facts: &GpuFacts, image: &ImageFacts<'_>, pool: &Pool) -> Vec<Vec<NodeExpression>> {
    let needs = image.needs;
    let branch = |driver: &str| driver.split('.').next().and_then(|b| b.parse::<u32>().ok());
    // Drivers: the branches that support the base's CUDA and reach the pip libraries' floor, and
    // the base's exceptions where forward compatibility runs on the pool's brand.
    let floor = needs.pip_min_driver.as_deref().and_then(branch);
    let native = [needs.min_driver.as_deref().and_then(branch), floor].into_iter().flatten().max();
    let mut driver_terms: Vec<Vec<NodeExpression>> = Vec::new();
    if let Some(native) = native {
        driver_terms.push(vec![expression(DRIVER_MAJOR_LABEL, "Gt", vec![(native - 1).to_string()])]);
    }
    let brand = facts.brand(pool.class).filter(|b| b.forward_compat != ForwardCompat::No);
    let excepted: Vec<String> = needs
        .compat
        .iter()
        .map(|clause| clause.branch)
        .filter(|b| image.requirement.zip(brand).is_some_and(|(r, brand)| r.excepts(*b, brand)))
        .filter(|b| floor.is_none_or(|f| *b >= f) && native.is_some_and(|n| *b < n))
        .map(|b| b.to_string())
        .collect();
    if !excepted.is_empty() {
        driver_terms.push(vec![expression(DRIVER_MAJOR_LABEL, "In", excepted)]);
    }
    // GPUs: within a major the minors that run a build are those from some lowest one up (SASS of
    // X.Y runs on X.Z for Z >= Y, PTX on every newer GPU); every major above the first PTX runs it.
    let mut compute_terms: Vec<Vec<NodeExpression>> = Vec::new();
    if let Some(kernels) = image.kernels {
        let first_ptx = kernels.ptx.iter().min().copied();
        let mut majors: Vec<u32> = kernels.sass.iter().chain(&first_ptx).map(|c| c.major).collect();
        majors.sort_unstable();
        majors.dedup();
        let mut whole_majors: Vec<String> = Vec::new();
        for major in majors.into_iter().filter(|m| first_ptx.is_none_or(|p| p.major >= *m)) {
            let lowest = kernels
                .sass
                .iter()
                .chain(&first_ptx)
                .filter(|c| c.major == major)
                .map(|c| c.minor)
                .min()
                .unwrap_or_default();
            if lowest == 0 {
                whole_majors.push(major.to_string());
            } else {
                compute_terms.push(vec![
                    expression(COMPUTE_MAJOR_LABEL, "In", vec![major.to_string()]),
                    expression(COMPUTE_MINOR_LABEL, "Gt", vec![(lowest - 1).to_string()]),
                ]);
            }
        }
        if let Some(ptx) = first_ptx {
            compute_terms.push(vec![expression(COMPUTE_MAJOR_LABEL, "Gt", vec![ptx.major.to_string()])]);
        }
        if !whole_majors.is_empty() {
            compute_terms.insert(0, vec![expression(COMPUTE_MAJOR_LABEL, "In", whole_majors)]);
        }
    }
    match (driver_terms.is_empty(), compute_terms.is_empty()) {
        (true, _) => compute_terms,
        (false, true) => driver_terms,
        (false, false) => driver_terms
            .iter()
            .flat_map(|d| compute_terms.iter().map(move |c| d.iter().chain(c).cloned().collect()))
            .collect(),
    }
}

fn expression(key: &'static str, operator: &'static str, values: Vec<String>) -> NodeExpression {
    NodeExpression { key, operator, values }
}
