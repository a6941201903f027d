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

mod declared;
mod verdict;

use super::environment::Environment;
use super::{Checker, deploy};
use crate::compat::gpu::{BrandClass, Compute, ForwardCompat, GpuFacts};
use crate::diag::{Code, Diag, did_you_mean};
use crate::lang::{Sharing, Spanned};
use crate::model::{
    Base, EnvVar, Framework, GpuNeeds, Kubernetes, NodeExpression, NodeSelector, PodResources, PoolRun, PoolVerdict,
    Resources, Toleration,
};
use crate::values;

pub(super) use self::declared::declared;
use self::verdict::{ImageFacts, Refusal, Verdict, gpu_needs, verdict};

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
