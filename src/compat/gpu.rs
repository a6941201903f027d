//! GPU facts: what a node's driver and GPU must be for an image to start and find its kernels.
//!
//! - `nvidia_require.tsv`: the `NVIDIA_REQUIRE_CUDA` of every nvidia/cuda base, with its history;
//! - `cuda_drivers.tsv`: the driver each CUDA release needs, and the minor-version floor;
//! - `gpu_brands.tsv`: the driver's brand classes and whether forward compatibility runs there;
//! - `gpus.tsv`: GPU products, their `nvidia.com/gpu.product` label and compute capability;
//! - `gpu_arch.tsv`: the compute capabilities each framework build carries kernels for;
//! - `gpu_memory.tsv`: the frameworks that take a GPU's memory at start, and how to stop it.

use std::fmt;

use super::{Record, Table, Version, compare};

/// A compute capability, `8.9`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Compute {
    /// `8`.
    pub major: u32,
    /// `9`.
    pub minor: u32,
}

impl Compute {
    /// Parses `X.Y` (one or two digits each side).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let (major, minor) = text.split_once('.')?;
        let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(major) || !digits(minor) {
            return None;
        }
        Some(Self { major: major.parse().ok()?, minor: minor.parse().ok()? })
    }
}

impl fmt::Display for Compute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A driver's brand class, as the forward-compatibility rules group the brands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BrandClass {
    /// Data-center GPUs: Tesla and the NVIDIA-branded A, H, B and L series.
    Datacenter,
    /// Workstation GPUs: Quadro and NVIDIA RTX.
    Workstation,
    /// GeForce and TITAN.
    Geforce,
}

impl BrandClass {
    /// Every class, as the language spells them.
    pub const ALL: [(&'static str, Self); 3] =
        [("datacenter", Self::Datacenter), ("workstation", Self::Workstation), ("geforce", Self::Geforce)];

    /// The class of a spelling.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().find(|(name, _)| *name == text).map(|(_, class)| *class)
    }

    /// The spelling.
    #[must_use]
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, class)| *class == self).map_or("", |(name, _)| name)
    }

    /// For people: `data-center`, `workstation`, `GeForce`.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Datacenter => "data-center",
            Self::Workstation => "workstation",
            Self::Geforce => "GeForce",
        }
    }
}

/// Whether CUDA forward compatibility runs on a brand class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardCompat {
    /// It runs.
    Yes,
    /// The CUDA runtime fails (`cudaErrorCompatNotSupportedOnDevice`).
    No,
    /// Only on some products of the class: unknown for a pool.
    Select,
}

/// A brand class: the driver's brand names in it and whether forward compatibility runs there.
#[derive(Debug, Clone)]
pub struct Brand {
    /// The class.
    pub class: BrandClass,
    /// The driver's brand names of the class, as `NVIDIA_REQUIRE_CUDA` spells them.
    pub brands: Vec<String>,
    /// Whether forward compatibility runs.
    pub forward_compat: ForwardCompat,
    /// Where the fact comes from.
    pub source: String,
}

/// The `NVIDIA_REQUIRE_CUDA` of an nvidia/cuda base on some OS releases, at one point of its
/// history.
#[derive(Debug, Clone)]
pub struct Requirement {
    /// The tag's CUDA version: `12.6.3`.
    pub cuda: String,
    /// The OS releases whose base carried it: `ubuntu22.04`.
    pub os: Vec<String>,
    /// The CUDA the driver must support (`12.6`); `None` where no Dockerfile was read.
    pub require: Option<String>,
    /// The forward-compatibility exceptions: a driver branch, and the brands it holds for.
    pub clauses: Vec<(u32, Vec<String>)>,
    /// A driver from which every brand passes (an OR term `driver>=N` of 2021's bases).
    pub any_driver: Option<String>,
    /// When the value was set (date and commit).
    pub since: String,
    /// Where the row comes from.
    pub source: String,
}

impl Requirement {
    /// Whether the exceptions let a driver of `branch` start the container on every brand of `brand`.
    #[must_use]
    pub fn excepts(&self, branch: u32, brand: &Brand) -> bool {
        self.clauses.iter().any(|(b, brands)| *b == branch && brand.brands.iter().all(|name| brands.contains(name)))
    }
}

/// The driver a CUDA release needs.
#[derive(Debug, Clone)]
pub struct CudaDriver {
    /// `12.6.3`.
    pub cuda: String,
    /// The driver the release ships with, the oldest that supports its CUDA: `560.35.05`.
    pub min_driver: String,
    /// The oldest driver that runs the release's major through minor-version compatibility.
    pub minor_compat: String,
}

/// A GPU product.
#[derive(Debug, Clone)]
pub struct Gpu {
    /// GPU Feature Discovery's `nvidia.com/gpu.product`, when a source shows its spelling.
    pub product: Option<String>,
    /// The product's name: `NVIDIA A100 SXM4 80GB`.
    pub name: String,
    /// Its compute capability.
    pub compute: Compute,
    /// `Ampere`.
    pub architecture: String,
    /// Its brand class.
    pub class: BrandClass,
}

/// The kernels of one framework build.
#[derive(Debug, Clone)]
pub struct ArchBuild {
    /// The framework's keyword: `pytorch`.
    pub framework: String,
    /// The first release (a version prefix).
    pub first: String,
    /// The last release (a version prefix).
    pub last: String,
    /// The builds it describes: `cu118`, `cuda12`, `*`.
    pub variants: Vec<String>,
    /// The capabilities with kernels (SASS), and those with PTX; `None` where no source was read.
    pub kernels: Option<Kernels>,
    /// Where the row comes from.
    pub source: String,
}

/// What a build carries: SASS for some compute capabilities, PTX for others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernels {
    /// Capabilities with SASS.
    pub sass: Vec<Compute>,
    /// Capabilities with PTX.
    pub ptx: Vec<Compute>,
    /// Whether the lists were inferred (from a neighbouring release, say) rather than read: the
    /// checks treat them as unknown.
    pub inferred: bool,
}

/// How a GPU runs a build's kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runs {
    /// The SASS of this capability (the same major, an equal or older minor).
    Sass(Compute),
    /// The PTX of this capability, compiled by the driver.
    Ptx(Compute),
}

impl Kernels {
    /// How a GPU of `device` runs these kernels, if it does: its own major's newest SASS not newer
    /// than it, else the newest PTX not newer than it (when `ptx_jit` says the driver can compile it).
    #[must_use]
    pub fn runs_on(&self, device: Compute, ptx_jit: bool) -> Option<Runs> {
        let sass = self.sass.iter().filter(|s| s.major == device.major && s.minor <= device.minor).max();
        if let Some(sass) = sass {
            return Some(Runs::Sass(*sass));
        }
        let ptx = self.ptx.iter().filter(|p| **p <= device).max();
        ptx.filter(|_| ptx_jit).map(|p| Runs::Ptx(*p))
    }

    /// `5.0, 6.0, 7.0 (SASS); 9.0 (PTX)`.
    #[must_use]
    pub fn describe(&self) -> String {
        let list = |items: &[Compute]| items.iter().map(Compute::to_string).collect::<Vec<_>>().join(", ");
        if self.ptx.is_empty() {
            format!("SASS for {}, no PTX", list(&self.sass))
        } else {
            format!("SASS for {}, PTX for {}", list(&self.sass), list(&self.ptx))
        }
    }
}

/// A framework that takes a GPU's memory when it starts, for some releases.
#[derive(Debug, Clone)]
pub struct Preallocation {
    /// The framework's keyword.
    pub framework: String,
    /// The first release (a version prefix).
    pub first: String,
    /// The last release (a version prefix).
    pub last: String,
    /// The environment variable that stops it: `XLA_PYTHON_CLIENT_PREALLOCATE`.
    pub variable: String,
    /// Its value that stops it: `false`.
    pub value: String,
    /// Where the fact comes from.
    pub source: String,
}

/// The GPU facts.
#[derive(Debug, Default)]
pub struct GpuFacts {
    /// Base requirements, oldest first per CUDA version.
    pub requirements: Vec<Requirement>,
    /// Drivers of the CUDA releases.
    pub drivers: Vec<CudaDriver>,
    /// Brand classes.
    pub brands: Vec<Brand>,
    /// GPU products.
    pub gpus: Vec<Gpu>,
    /// Framework builds' kernels.
    pub arch: Vec<ArchBuild>,
    /// Frameworks that take a GPU's memory at start.
    pub preallocation: Vec<Preallocation>,
}

/// The tables of [`GpuFacts`], for the list of embedded tables.
pub(super) const DATA: [(&str, &str); 6] = [
    ("nvidia_require.tsv", include_str!("data/nvidia_require.tsv")),
    ("cuda_drivers.tsv", include_str!("data/cuda_drivers.tsv")),
    ("gpu_brands.tsv", include_str!("data/gpu_brands.tsv")),
    ("gpus.tsv", include_str!("data/gpus.tsv")),
    ("gpu_arch.tsv", include_str!("data/gpu_arch.tsv")),
    ("gpu_memory.tsv", include_str!("data/gpu_memory.tsv")),
];

/// `first-last`, or one series for both.
fn release_range(record: &Record<'_>) -> (String, String) {
    let releases = record.get("releases");
    match releases.split_once('-') {
        Some((first, last)) => (first.to_owned(), last.to_owned()),
        None => (releases.clone(), releases),
    }
}

/// Whether `version` is in the inclusive range of version prefixes `first`–`last`.
#[must_use]
pub fn in_range(version: &str, first: &str, last: &str) -> bool {
    let (Some(v), Some(first), Some(last)) = (Version::parse(version), Version::parse(first), Version::parse(last))
    else {
        return false;
    };
    v.prefix(first.0.len()) >= first.0.as_slice() && v.prefix(last.0.len()) <= last.0.as_slice()
}

fn computes(cell: &str) -> Option<Vec<Compute>> {
    if cell == "-" {
        return Some(Vec::new());
    }
    cell.split(',').map(|c| Compute::parse(c.trim())).collect()
}

impl GpuFacts {
    /// Reads the facts from their tables.
    pub(super) fn load<'t>(table: impl Fn(&str) -> &'t Table) -> Self {
        let requirements = table("nvidia_require.tsv")
            .records()
            .map(|r| {
                let known = |cell: String| Some(cell).filter(|c| c != "unknown" && c != "-");
                let clauses = r
                    .get("clauses")
                    .split_whitespace()
                    .filter_map(|clause| {
                        let (branch, brands) = clause.split_once(':')?;
                        Some((branch.parse().ok()?, brands.split(',').map(str::to_owned).collect()))
                    })
                    .collect();
                Requirement {
                    cuda: r.get("cuda"),
                    os: r.list("os"),
                    require: known(r.get("require")),
                    clauses,
                    any_driver: known(r.get("any_driver")),
                    since: r.get("since"),
                    source: r.get("source"),
                }
            })
            .collect();
        let drivers = table("cuda_drivers.tsv")
            .records()
            .map(|r| CudaDriver {
                cuda: r.get("cuda"),
                min_driver: r.get("min_driver"),
                minor_compat: r.get("minor_compat"),
            })
            .collect();
        let brands = table("gpu_brands.tsv")
            .records()
            .filter_map(|r| {
                let forward_compat = match r.get("forward_compat").as_str() {
                    "yes" => ForwardCompat::Yes,
                    "no" => ForwardCompat::No,
                    _ => ForwardCompat::Select,
                };
                Some(Brand {
                    class: BrandClass::parse(&r.get("class"))?,
                    brands: r.list("brands"),
                    forward_compat,
                    source: r.get("source"),
                })
            })
            .collect();
        let gpus = table("gpus.tsv")
            .records()
            .filter_map(|r| {
                let product = r.get("product");
                Some(Gpu {
                    product: Some(product.trim_start_matches("inferred:").to_owned()).filter(|p| p != "-"),
                    name: r.get("name"),
                    compute: Compute::parse(&r.get("compute"))?,
                    architecture: r.get("architecture"),
                    class: BrandClass::parse(&r.get("class"))?,
                })
            })
            .collect();
        let arch = table("gpu_arch.tsv")
            .records()
            .map(|r| {
                let (first, last) = release_range(&r);
                let inferred = r.get("confidence") != "read";
                let kernels = match (computes(&r.get("sass")), computes(&r.get("ptx"))) {
                    (Some(sass), Some(ptx)) if !sass.is_empty() => Some(Kernels { sass, ptx, inferred }),
                    _ => None,
                };
                ArchBuild {
                    framework: r.get("framework"),
                    first,
                    last,
                    variants: r.list("variant"),
                    kernels,
                    source: r.get("source"),
                }
            })
            .collect();
        let preallocation = table("gpu_memory.tsv")
            .records()
            .map(|r| {
                let (first, last) = release_range(&r);
                Preallocation {
                    framework: r.get("framework"),
                    first,
                    last,
                    variable: r.get("variable"),
                    value: r.get("value"),
                    source: r.get("source"),
                }
            })
            .collect();
        Self { requirements, drivers, brands, gpus, arch, preallocation }
    }

    /// The `NVIDIA_REQUIRE_CUDA` an nvidia/cuda tag of CUDA `cuda` on `os` carries today (its
    /// newest value).
    #[must_use]
    pub fn requirement(&self, cuda: &str, os: &str) -> Option<&Requirement> {
        self.requirements.iter().rfind(|r| r.cuda == cuda && r.os.iter().any(|o| o == os))
    }

    /// The CUDA (`major.minor`) a driver supports: that of the newest release whose driver it reaches.
    #[must_use]
    pub fn driver_cuda(&self, driver: &str) -> Option<(u64, u64)> {
        self.drivers
            .iter()
            .filter(|d| compare(driver, &d.min_driver).is_ge())
            .map(|d| crate::compat::major_minor(&d.cuda))
            .max()
    }

    /// The oldest driver that supports CUDA `major.minor`, from the table's releases of it.
    #[must_use]
    pub fn min_driver(&self, cuda: (u64, u64)) -> Option<&str> {
        self.drivers
            .iter()
            .filter(|d| crate::compat::major_minor(&d.cuda) == cuda)
            .map(|d| d.min_driver.as_str())
            .min_by(|a, b| compare(a, b))
    }

    /// The oldest driver that runs CUDA `major` through minor-version compatibility.
    #[must_use]
    pub fn minor_compat_driver(&self, major: u64) -> Option<&str> {
        self.drivers.iter().find(|d| crate::compat::major_minor(&d.cuda).0 == major).map(|d| d.minor_compat.as_str())
    }

    /// The facts of a brand class.
    #[must_use]
    pub fn brand(&self, class: BrandClass) -> Option<&Brand> {
        self.brands.iter().find(|b| b.class == class)
    }

    /// A GPU product by its `nvidia.com/gpu.product` label.
    #[must_use]
    pub fn gpu(&self, product: &str) -> Option<&Gpu> {
        self.gpus.iter().find(|g| g.product.as_deref() == Some(product))
    }

    /// The row that describes a framework build: `framework` release `version`, build `variant`.
    #[must_use]
    pub fn arch(&self, framework: &str, version: &str, variant: &str) -> Option<&ArchBuild> {
        self.arch.iter().find(|a| {
            a.framework == framework
                && in_range(version, &a.first, &a.last)
                && a.variants.iter().any(|v| v == variant || v == "*")
        })
    }

    /// How a framework release stops taking a GPU's memory at start, when it takes it.
    #[must_use]
    pub fn preallocation(&self, framework: &str, version: &str) -> Option<&Preallocation> {
        self.preallocation.iter().find(|p| p.framework == framework && in_range(version, &p.first, &p.last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(text: &str) -> Compute {
        Compute::parse(text).unwrap()
    }

    #[test]
    fn compute_capabilities_parse_and_order() {
        assert_eq!(cc("8.9"), Compute { major: 8, minor: 9 });
        assert_eq!(cc("12.0").to_string(), "12.0");
        assert!(cc("9.0") < cc("10.0") && cc("8.6") < cc("8.9"));
        for bad in ["8", "8.", ".9", "8.9.1", "x.y", "123.0", "8.-1"] {
            assert_eq!(Compute::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn sass_runs_within_its_major_and_ptx_beyond_it() {
        let kernels =
            Kernels { sass: vec![cc("6.0"), cc("7.0"), cc("8.0"), cc("8.9")], ptx: vec![cc("9.0")], inferred: false };
        assert_eq!(kernels.runs_on(cc("8.6"), true), Some(Runs::Sass(cc("8.0"))));
        assert_eq!(kernels.runs_on(cc("8.9"), true), Some(Runs::Sass(cc("8.9"))));
        assert_eq!(kernels.runs_on(cc("7.5"), true), Some(Runs::Sass(cc("7.0"))));
        // No SASS of major 9 and up: only PTX, and only where the driver compiles it.
        assert_eq!(kernels.runs_on(cc("12.0"), true), Some(Runs::Ptx(cc("9.0"))));
        assert_eq!(kernels.runs_on(cc("12.0"), false), None);
        // SASS never runs on an older minor or another major; PTX never on an older GPU.
        assert_eq!(kernels.runs_on(cc("5.2"), true), None);
        let no_ptx = Kernels { sass: vec![cc("8.6")], ptx: Vec::new(), inferred: false };
        assert_eq!(no_ptx.runs_on(cc("8.0"), true), None);
    }

    #[test]
    fn releases_match_by_prefix() {
        assert!(in_range("2.1.2", "2.1", "2.1"));
        assert!(!in_range("2.10.0", "2.1", "2.1"));
        assert!(in_range("2.13.0", "2.12", "2.14"));
        assert!(in_range("0.4.26", "0.4.21", "0.4.31"));
        assert!(!in_range("0.4.32", "0.4.21", "0.4.31"));
        assert!(in_range("0.5.1", "0.4.32", "0.5.3"));
    }

    #[test]
    fn the_tables_know_the_issue_s_cases() {
        let facts = &crate::compat::get().gpu;
        // A 12.6 base needs CUDA 12.6; its exceptions hold for data-center branches 535 and 550, not GeForce.
        let requirement = facts.requirement("12.6.3", "ubuntu22.04").unwrap();
        assert_eq!(requirement.require.as_deref(), Some("12.6"));
        let datacenter = facts.brand(BrandClass::Datacenter).unwrap();
        let geforce = facts.brand(BrandClass::Geforce).unwrap();
        assert!(requirement.excepts(535, datacenter) && requirement.excepts(550, datacenter));
        assert!(!requirement.excepts(550, geforce) && !requirement.excepts(545, datacenter));
        // 12.4 and older list GeForce; their 18.04 bases kept an older value.
        assert!(facts.requirement("12.4.1", "ubuntu22.04").unwrap().excepts(535, geforce));
        assert_eq!(facts.requirement("13.0.2", "ubuntu24.04").map(|r| r.require.clone()), None);
        // Driver 550.127.05 supports CUDA 12.4; 560.28.03 is the first of CUDA 12.6.
        assert_eq!(facts.driver_cuda("550.127.05"), Some((12, 4)));
        assert_eq!(facts.driver_cuda("535.183.01"), Some((12, 2)));
        assert_eq!(facts.min_driver((12, 6)), Some("560.28.03"));
        assert_eq!(facts.minor_compat_driver(12), Some("525"));
        // torch 2.8 cu128 has no Pascal kernels, its cu126 wheels have; 2.5 cu124 stops at 9.0.
        let kernels = |version, variant| facts.arch("pytorch", version, variant).unwrap().kernels.clone().unwrap();
        assert_eq!(kernels("2.8.0", "cu128").runs_on(cc("6.0"), true), None);
        assert_eq!(kernels("2.8.0", "cu126").runs_on(cc("6.1"), true), Some(Runs::Sass(cc("6.0"))));
        assert_eq!(kernels("2.5.1", "cu124").runs_on(cc("12.0"), true), None);
        assert!(!kernels("2.5.1", "cu124").inferred && kernels("2.7.1", "cu126").inferred);
        assert!(facts.arch("pytorch", "2.7.1", "cu118").is_some_and(|row| row.kernels.is_none()));
        assert_eq!(facts.gpu("NVIDIA-A100-SXM4-80GB").unwrap().compute, cc("8.0"));
        assert!(facts.preallocation("jax", "0.6.2").is_some() && facts.preallocation("pytorch", "2.5.1").is_none());
    }
}
