//! Compatibility facts: the tables under `src/compat/data/`, embedded in the binary and parsed once.
//!
//! Each table is a TSV file whose comment header names its sources and the date it was last
//! checked; every row keeps its own `source` column. Update them with `scripts/update-compat.sh`.

pub mod gpu;

use std::cmp::Ordering;
use std::sync::OnceLock;

use self::gpu::GpuFacts;

/// A dotted version (`2.3.0`, `3.10`, `23.11.0-2`) compared numerically, part by part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(Vec<u64>);

impl Version {
    /// Parses the numeric parts of `text`, split at `.` and `-`; `None` if any part is not a number.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let parts: Option<Vec<u64>> = text.split(['.', '-']).map(|p| p.parse().ok()).collect();
        parts.filter(|p| !p.is_empty()).map(Self)
    }

    /// The first `n` parts.
    #[must_use]
    pub fn prefix(&self, n: usize) -> &[u64] {
        &self.0[..n.min(self.0.len())]
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

/// `(12, 1)` for `12.1.0`.
#[must_use]
pub fn major_minor(version: &str) -> (u64, u64) {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Compares two version strings numerically; unparsable ones sort first, by text.
#[must_use]
pub fn compare(a: &str, b: &str) -> Ordering {
    match (Version::parse(a), Version::parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// One embedded table.
#[derive(Debug)]
pub struct Table {
    /// File name under `src/compat/data/`.
    pub file: &'static str,
    /// `# checked:` date.
    pub checked: String,
    /// `# source:` lines.
    pub sources: Vec<String>,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn parse(file: &'static str, text: &str) -> Self {
        let mut checked = String::new();
        let mut sources = Vec::new();
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next_if(|l| l.starts_with('#')) {
            if let Some(date) = line.strip_prefix("# checked: ") {
                checked = date.trim().to_owned();
            } else if let Some(source) = line.strip_prefix("# source: ") {
                sources.push(source.trim().to_owned());
            }
        }
        let columns: Vec<String> = lines.next().unwrap_or_default().split('\t').map(str::to_owned).collect();
        let rows =
            lines.filter(|l| !l.is_empty()).map(|l| l.split('\t').map(str::to_owned).collect::<Vec<_>>()).collect();
        Self { file, checked, sources, columns, rows }
    }

    fn column(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("embedded table {} has no column {name}", self.file))
    }

    /// Rows as maps from column to cell.
    pub fn records(&self) -> impl Iterator<Item = Record<'_>> {
        self.rows.iter().map(move |row| Record { table: self, row })
    }

    /// Column names, in file order.
    #[must_use]
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Data rows, cells in column order.
    #[must_use]
    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    /// Number of data rows.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// A row of a table, read by column name.
pub struct Record<'a> {
    table: &'a Table,
    row: &'a [String],
}

impl Record<'_> {
    /// The cell of `column` (empty when the row is short).
    #[must_use]
    pub fn get(&self, column: &str) -> String {
        self.row.get(self.table.column(column)).cloned().unwrap_or_default()
    }

    /// The cell of `column` as a comma-separated list.
    #[must_use]
    pub fn list(&self, column: &str) -> Vec<String> {
        self.get(column).split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
    }

    /// Whether the cell of `column` is `yes`.
    #[must_use]
    pub fn yes(&self, column: &str) -> bool {
        self.get(column) == "yes"
    }
}

/// A torch release and its companions.
#[derive(Debug, Clone)]
pub struct TorchRelease {
    /// torch version.
    pub torch: String,
    /// Matching torchvision.
    pub torchvision: String,
    /// Matching torchaudio.
    pub torchaudio: String,
    /// Wheel variants published: `cpu`, `cu121`, `rocm6.0`.
    pub variants: Vec<String>,
    /// Oldest supported Python minor.
    pub python_min: String,
    /// Newest supported Python minor.
    pub python_max: String,
    /// CUDA variant of the plain PyPI wheel.
    pub pypi_default_cuda: String,
    /// Where the row comes from.
    pub source: String,
}

/// A TensorFlow release.
#[derive(Debug, Clone)]
pub struct TensorflowRelease {
    /// Version.
    pub version: String,
    /// The package a GPU image installs.
    pub gpu_package: String,
    /// Oldest Python minor with wheels.
    pub python_min: String,
    /// Newest Python minor with wheels.
    pub python_max: String,
    /// Tested CUDA major.minor.
    pub cuda: String,
    /// Tested cuDNN major.minor.
    pub cudnn: String,
    /// Whether `tensorflow[and-cuda]` exists.
    pub and_cuda: bool,
    /// Where the row comes from.
    pub source: String,
}

/// A Miniconda installer.
#[derive(Debug, Clone)]
pub struct MinicondaInstaller {
    /// Python minor it brings.
    pub python: String,
    /// File name.
    pub installer: String,
    /// sha256, when published.
    pub sha256: Option<String>,
    /// conda version.
    pub conda_version: String,
    /// Needs Anaconda's terms accepted for non-interactive use of the default channels.
    pub tos: bool,
    /// `x86_64`, `aarch64`.
    pub arch: String,
    /// Where the row comes from.
    pub source: String,
}

/// A Miniforge installer: one a release, with one Python in its base environment.
#[derive(Debug, Clone)]
pub struct MiniforgeInstaller {
    /// Python minor of its base environment.
    pub python: String,
    /// File name: `Miniforge3-26.3.2-3-Linux-x86_64.sh`.
    pub installer: String,
    /// The release tag: `26.3.2-3`.
    pub tag: String,
    /// sha256.
    pub sha256: String,
    /// conda version.
    pub conda_version: String,
    /// The machine it installs on: `x86_64`.
    pub arch: String,
    /// Where conda-forge publishes it.
    pub url: String,
    /// Where the row comes from.
    pub source: String,
}

/// An nvidia/cuda tag family: one CUDA version on one OS.
#[derive(Debug, Clone)]
pub struct CudaTag {
    /// `12.1.0`.
    pub cuda: String,
    /// `ubuntu22.04`.
    pub os: String,
    /// The cuDNN part of the tag: `cudnn8`, `cudnn9`, `cudnn`, or empty.
    pub cudnn: String,
    /// Flavors without cuDNN: `base`, `runtime`, `devel`.
    pub flavors: Vec<String>,
    /// `supported` or `archived`.
    pub status: String,
}

impl CudaTag {
    /// The cuDNN major version the tag's cuDNN part stands for (`cudnn` from CUDA 12.4 on is cuDNN 9).
    #[must_use]
    pub fn cudnn_major(&self) -> Option<&str> {
        match self.cudnn.as_str() {
            "" => None,
            "cudnn" => Some("9"),
            other => other.strip_prefix("cudnn"),
        }
    }
}

/// A base OS release.
#[derive(Debug, Clone)]
pub struct OsRelease {
    /// `ubuntu22.04`.
    pub os: String,
    /// `ubuntu:22.04`.
    pub image: String,
    /// glibc version of the release: `2.35`.
    pub glibc: String,
    /// OpenSSH version of the release's openssh-server: `8.9p1`.
    pub openssh: String,
    /// End of standard support, `YYYY-MM`.
    pub eol: String,
    /// `eol` or `supported`.
    pub status: String,
}

/// The cuDNN and NCCL inside one nvidia/cuda cuDNN tag family, as NVIDIA builds it today.
#[derive(Debug, Clone)]
pub struct CudnnInTag {
    /// `11.8.0`.
    pub cuda: String,
    /// `ubuntu22.04`.
    pub os: String,
    /// Full cuDNN version: `8.9.6.50`.
    pub cudnn: String,
    /// NCCL version, when the runtime image installs it: `2.15.5`.
    pub nccl: Option<String>,
    /// Earlier values of the same tag, with the commit and date that set them; `-` when none.
    pub history: String,
    /// Where the row comes from.
    pub source: String,
}

/// A framework release's wheel: the glibc it needs and the CUDA libraries it installs through pip.
#[derive(Debug, Clone)]
pub struct Wheel {
    /// `torch` or `tensorflow`.
    pub framework: String,
    /// `2.3.0`.
    pub version: String,
    /// Platform tag of the wheel: `manylinux_2_28_x86_64`.
    pub manylinux: String,
    /// The glibc that tag needs: `2.28`.
    pub glibc: String,
    /// CUDA of the libraries it installs through pip: `cu121`; empty when it installs none.
    pub pip_variant: String,
    /// cuDNN it installs through pip: `8.9.2.26`, or a range (`>=9.3.0.75,<10.0`).
    pub pip_cudnn: String,
    /// NCCL it installs through pip.
    pub pip_nccl: String,
    /// The newest glibc those pip libraries need.
    pub pip_glibc: String,
    /// Python minors on which the pip CUDA libraries install: `all`, `none` or `3.9,3.10`.
    pub pip_pythons: String,
    /// Where the row comes from.
    pub source: String,
}

impl Wheel {
    /// Whether the CUDA libraries this release installs through pip resolve on Python `python`.
    #[must_use]
    pub fn pip_cuda_installs(&self, python: &str) -> bool {
        match self.pip_pythons.as_str() {
            "" | "none" => false,
            "all" => true,
            list => list.split(',').any(|p| p.trim() == python),
        }
    }
}

/// A family of image tags removed from a registry.
#[derive(Debug, Clone)]
pub struct RemovedTag {
    /// Repository on Docker Hub: `nvidia/cuda`.
    pub image: String,
    /// The start of every removed tag: `10.`.
    pub prefix: String,
    /// When it was removed.
    pub removed: String,
    /// Where the fact comes from.
    pub source: String,
}

/// Every table, parsed.
#[derive(Debug)]
pub struct Compat {
    /// The raw tables, for `dlspec compat`.
    pub tables: Vec<Table>,
    /// torch releases, oldest first.
    pub torch: Vec<TorchRelease>,
    /// TensorFlow releases, oldest first.
    pub tensorflow: Vec<TensorflowRelease>,
    /// Miniconda installers.
    pub miniconda: Vec<MinicondaInstaller>,
    /// Miniforge installers for x86_64, newest release first.
    pub miniforge: Vec<MiniforgeInstaller>,
    /// nvidia/cuda tags.
    pub cuda_tags: Vec<CudaTag>,
    /// Base OS releases.
    pub os: Vec<OsRelease>,
    /// cuDNN and NCCL inside the nvidia/cuda cuDNN tags.
    pub cudnn_in_tags: Vec<CudnnInTag>,
    /// Framework wheels: glibc floor and pip CUDA libraries.
    pub wheels: Vec<Wheel>,
    /// Image tags removed from Docker Hub.
    pub removed_tags: Vec<RemovedTag>,
    /// IANA time zone names, sorted.
    pub timezones: Vec<String>,
    /// Drivers, GPUs and the kernels of framework builds.
    pub gpu: GpuFacts,
}

/// The tables: each framework's (its module names it) and those every framework shares.
const DATA: [(&str, &str); 12] = [
    ("pytorch.tsv", include_str!("data/pytorch.tsv")),
    ("tensorflow.tsv", include_str!("data/tensorflow.tsv")),
    ("jax.tsv", include_str!("data/jax.tsv")),
    ("paddle.tsv", include_str!("data/paddle.tsv")),
    ("miniconda.tsv", include_str!("data/miniconda.tsv")),
    ("miniforge.tsv", include_str!("data/miniforge.tsv")),
    ("cuda_tags.tsv", include_str!("data/cuda_tags.tsv")),
    ("os.tsv", include_str!("data/os.tsv")),
    ("cudnn_tags.tsv", include_str!("data/cudnn_tags.tsv")),
    ("wheels.tsv", include_str!("data/wheels.tsv")),
    ("removed_tags.tsv", include_str!("data/removed_tags.tsv")),
    ("timezones.txt", include_str!("data/timezones.txt")),
];

/// The embedded tables.
#[must_use]
pub fn get() -> &'static Compat {
    static COMPAT: OnceLock<Compat> = OnceLock::new();
    COMPAT.get_or_init(Compat::load)
}

impl Compat {
    fn load() -> Self {
        let tables: Vec<Table> =
            DATA.into_iter().chain(gpu::DATA).map(|(file, text)| Table::parse(file, text)).collect();
        let table = |name: &str| tables.iter().find(|t| t.file == name).expect("every data file is listed");
        let mut torch: Vec<TorchRelease> = rows(table("pytorch.tsv"));
        torch.sort_by(|a, b| compare(&a.torch, &b.torch));
        let mut tensorflow: Vec<TensorflowRelease> = rows(table("tensorflow.tsv"));
        tensorflow.sort_by(|a, b| compare(&a.version, &b.version));
        let mut miniforge: Vec<MiniforgeInstaller> = rows(table("miniforge.tsv"));
        miniforge.retain(|m| m.arch == "x86_64");
        miniforge.sort_by(|a, b| compare(&b.tag, &a.tag));
        let mut timezones: Vec<String> = table("timezones.txt").records().map(|r| r.get("name")).collect();
        timezones.sort();
        let gpu = GpuFacts::load(table);
        Self {
            torch,
            tensorflow,
            miniconda: rows(table("miniconda.tsv")),
            miniforge,
            cuda_tags: rows(table("cuda_tags.tsv")),
            os: rows(table("os.tsv")),
            cudnn_in_tags: rows(table("cudnn_tags.tsv")),
            wheels: rows(table("wheels.tsv")),
            removed_tags: rows(table("removed_tags.tsv")),
            timezones,
            gpu,
            tables,
        }
    }

    /// The date the tables were last checked (the oldest `# checked:` of all tables).
    #[must_use]
    pub fn checked(&self) -> &str {
        self.tables.iter().map(|t| t.checked.as_str()).min().unwrap_or("unknown")
    }

    /// The embedded table `file` (`jax.tsv`), for the frameworks that read their own.
    #[must_use]
    pub fn table(&self, file: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.file == file)
    }

    /// A torch release by version.
    #[must_use]
    pub fn torch(&self, version: &str) -> Option<&TorchRelease> {
        self.torch.iter().find(|r| r.torch == version)
    }

    /// A TensorFlow release by version.
    #[must_use]
    pub fn tensorflow(&self, version: &str) -> Option<&TensorflowRelease> {
        self.tensorflow.iter().find(|r| r.version == version)
    }

    /// The tag family of a CUDA version on an OS.
    #[must_use]
    pub fn cuda_tag(&self, cuda: &str, os: &str) -> Option<&CudaTag> {
        self.cuda_tags.iter().find(|t| t.cuda == cuda && t.os == os)
    }

    /// The cuDNN inside the nvidia/cuda cuDNN tag of a CUDA version on an OS.
    #[must_use]
    pub fn cudnn_in_tag(&self, cuda: &str, os: &str) -> Option<&CudnnInTag> {
        self.cudnn_in_tags.iter().find(|t| t.cuda == cuda && t.os == os)
    }

    /// The wheel facts of a framework release (`torch`, `tensorflow`): for torch, the row of the
    /// plain PyPI wheel (listed first for its release).
    #[must_use]
    pub fn wheel(&self, framework: &str, version: &str) -> Option<&Wheel> {
        self.wheels.iter().find(|w| w.framework == framework && w.version == version)
    }

    /// The wheel facts of one CUDA variant of a release (`cu118`): torch publishes one wheel per
    /// variant, each pinning its own nvidia-* libraries; `None` when no row describes that variant.
    #[must_use]
    pub fn wheel_variant(&self, framework: &str, version: &str, variant: &str) -> Option<&Wheel> {
        self.wheels.iter().find(|w| w.framework == framework && w.version == version && w.pip_variant == variant)
    }

    /// The removal that covers an image reference pulled from Docker Hub; `None` for references
    /// that name another registry, which may still serve the tag.
    #[must_use]
    pub fn removed_tag(&self, reference: &str) -> Option<&RemovedTag> {
        let (first, rest) = reference.split_once('/')?;
        let on_docker_hub = !(first.contains('.') || first.contains(':') || first == "localhost");
        let path = match first {
            "docker.io" | "index.docker.io" | "registry-1.docker.io" => rest,
            _ if on_docker_hub => reference,
            _ => return None,
        };
        let (repository, tag) = path.split_once(':')?;
        self.removed_tags.iter().find(|r| r.image == repository && tag.starts_with(&r.prefix))
    }

    /// A base OS release.
    #[must_use]
    pub fn os(&self, os: &str) -> Option<&OsRelease> {
        self.os.iter().find(|o| o.os == os)
    }

    /// Whether a time zone name is known.
    #[must_use]
    pub fn is_timezone(&self, name: &str) -> bool {
        self.timezones.binary_search_by(|t| t.as_str().cmp(name)).is_ok()
    }

    /// x86_64 installers for a Python minor, newest conda first.
    #[must_use]
    pub fn installers(&self, python: &str) -> Vec<&MinicondaInstaller> {
        let mut found: Vec<&MinicondaInstaller> =
            self.miniconda.iter().filter(|m| m.python == python && m.arch == "x86_64").collect();
        found.sort_by(|a, b| compare(&b.conda_version, &a.conda_version));
        found
    }

    /// An installer by file name.
    #[must_use]
    pub fn installer(&self, file: &str) -> Option<&MinicondaInstaller> {
        self.miniconda.iter().find(|m| m.installer == file)
    }

    /// A Miniforge installer by file name.
    #[must_use]
    pub fn miniforge_installer(&self, file: &str) -> Option<&MiniforgeInstaller> {
        self.miniforge.iter().find(|m| m.installer == file)
    }
}

/// The release tag in a Miniforge installer's file name (`26.3.2-3` in
/// `Miniforge3-26.3.2-3-Linux-x86_64.sh`); `None` for any other name.
#[must_use]
pub fn miniforge_tag(file: &str) -> Option<&str> {
    let tag = file.strip_prefix("Miniforge3-")?.strip_suffix(".sh")?.split("-Linux-").next()?;
    let (release, build) = tag.split_once('-')?;
    let numeric = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    (release.split('.').count() == 3 && release.split('.').all(numeric) && numeric(build)).then_some(tag)
}

/// The release of `versions` nearest to `wanted`: the same prefix as long as possible, then the
/// numerically closest; ties go to the newer release.
#[must_use]
pub fn nearest<'a>(wanted: &str, versions: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted_v = Version::parse(wanted);
    versions.into_iter().max_by(|a, b| {
        let score = |v: &str| -> (usize, i64) {
            let common = wanted.chars().zip(v.chars()).take_while(|(x, y)| x == y).count();
            let distance = match (&wanted_v, Version::parse(v)) {
                (Some(w), Some(v)) => {
                    let flat = |x: &Version| {
                        let mut parts = x.0.clone();
                        parts.resize(3, 0);
                        parts.iter().take(3).fold(0i64, |acc, p| acc * 1000 + i64::try_from(*p).unwrap_or(0))
                    };
                    -(flat(w) - flat(&v)).abs()
                }
                _ => i64::MIN,
            };
            (common, distance)
        };
        score(a).cmp(&score(b)).then_with(|| compare(a, b))
    })
}

/// A row of a table, read from its record.
trait Row {
    fn read(record: &Record<'_>) -> Self;
}

/// Every row of `table`, in its order.
fn rows<T: Row>(table: &Table) -> Vec<T> {
    table.records().map(|r| T::read(&r)).collect()
}

fn non_empty(s: String) -> Option<String> {
    if s.is_empty() { None } else { Some(s) }
}

impl Row for TorchRelease {
    fn read(r: &Record<'_>) -> Self {
        Self {
            torch: r.get("torch"),
            torchvision: r.get("torchvision"),
            torchaudio: r.get("torchaudio"),
            variants: r.list("variants"),
            python_min: r.get("python_min"),
            python_max: r.get("python_max"),
            pypi_default_cuda: r.get("pypi_default_cuda"),
            source: r.get("source"),
        }
    }
}

impl Row for TensorflowRelease {
    fn read(r: &Record<'_>) -> Self {
        Self {
            version: r.get("version"),
            gpu_package: r.get("gpu_package"),
            python_min: r.get("python_min"),
            python_max: r.get("python_max"),
            cuda: r.get("cuda"),
            cudnn: r.get("cudnn"),
            and_cuda: r.yes("and_cuda"),
            source: r.get("source"),
        }
    }
}

impl Row for MinicondaInstaller {
    fn read(r: &Record<'_>) -> Self {
        Self {
            python: r.get("python"),
            installer: r.get("installer"),
            sha256: non_empty(r.get("sha256")),
            conda_version: r.get("conda_version"),
            tos: r.yes("tos"),
            arch: r.get("arch"),
            source: r.get("source"),
        }
    }
}

impl Row for MiniforgeInstaller {
    fn read(r: &Record<'_>) -> Self {
        let installer = r.get("installer");
        Self {
            python: r.get("python"),
            tag: miniforge_tag(&installer).unwrap_or_default().to_owned(),
            installer,
            sha256: r.get("sha256"),
            conda_version: r.get("conda_version"),
            arch: r.get("arch"),
            url: r.get("url"),
            source: r.get("source"),
        }
    }
}

impl Row for CudaTag {
    fn read(r: &Record<'_>) -> Self {
        Self {
            cuda: r.get("cuda"),
            os: r.get("os"),
            cudnn: r.get("cudnn"),
            flavors: r.list("flavors"),
            status: r.get("status"),
        }
    }
}

impl Row for OsRelease {
    fn read(r: &Record<'_>) -> Self {
        Self {
            os: r.get("os"),
            image: r.get("image"),
            glibc: r.get("glibc"),
            openssh: r.get("openssh"),
            eol: r.get("eol"),
            status: r.get("status"),
        }
    }
}

impl Row for CudnnInTag {
    fn read(r: &Record<'_>) -> Self {
        Self {
            cuda: r.get("cuda"),
            os: r.get("os"),
            cudnn: r.get("cudnn"),
            nccl: Some(r.get("nccl")).filter(|n| n != "-"),
            history: r.get("history"),
            source: r.get("source"),
        }
    }
}

impl Row for Wheel {
    fn read(r: &Record<'_>) -> Self {
        Self {
            framework: r.get("framework"),
            version: r.get("version"),
            manylinux: r.get("manylinux"),
            glibc: r.get("glibc"),
            pip_variant: r.get("pip_variant"),
            pip_cudnn: r.get("pip_cudnn"),
            pip_nccl: r.get("pip_nccl"),
            pip_glibc: r.get("pip_glibc"),
            pip_pythons: r.get("pip_pythons"),
            source: r.get("source"),
        }
    }
}

impl Row for RemovedTag {
    fn read(r: &Record<'_>) -> Self {
        Self { image: r.get("image"), prefix: r.get("prefix"), removed: r.get("removed"), source: r.get("source") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_parses_with_rows_and_a_date() {
        let compat = get();
        for table in &compat.tables {
            assert!(!table.is_empty(), "{} has rows", table.file);
            assert_eq!(table.checked.len(), 10, "{} has a checked date", table.file);
            assert!(!table.sources.is_empty(), "{} names its sources", table.file);
            for row in &table.rows {
                assert_eq!(row.len(), table.columns.len(), "{}: {row:?}", table.file);
            }
        }
    }

    #[test]
    fn seed_facts_are_known() {
        let compat = get();
        let torch = compat.torch("2.3.0").unwrap();
        assert_eq!((torch.torchvision.as_str(), torch.torchaudio.as_str()), ("0.18.0", "2.3.0"));
        assert!(torch.variants.contains(&"cu121".to_owned()));
        assert!(compat.tensorflow("2.15.1").is_some());
        assert!(compat.tensorflow("1.15.5").is_some());
        assert!(compat.tensorflow("2.15.7").is_none());
        assert_eq!(compat.cuda_tag("12.1.0", "ubuntu22.04").unwrap().cudnn_major(), Some("8"));
        assert_eq!(compat.cuda_tag("12.4.1", "ubuntu22.04").unwrap().cudnn_major(), Some("9"));
        assert_eq!(compat.cuda_tag("12.4.0", "ubuntu22.04").unwrap().cudnn_major(), None, "12.4.0 has no cuDNN tags");
        assert_eq!(compat.cuda_tag("11.7.0", "ubuntu22.04").unwrap().status, "eol");
        assert!(compat.is_timezone("Asia/Shanghai"));
        // sshd_config's `Include` needs OpenSSH 8.2: Ubuntu 20.04 has it, 18.04 does not.
        assert_eq!(compat.os("ubuntu18.04").unwrap().openssh, "7.6p1");
        assert_eq!(compat.os("ubuntu20.04").unwrap().openssh, "8.2p1");
    }

    #[test]
    fn runtime_facts_are_known() {
        let compat = get();
        assert_eq!(compat.cudnn_in_tag("11.8.0", "ubuntu22.04").unwrap().cudnn, "8.9.6.50");
        assert_eq!(compat.cudnn_in_tag("11.8.0", "ubuntu18.04").unwrap().cudnn, "8.6.0.163");
        assert_eq!(compat.cudnn_in_tag("12.5.1", "ubuntu22.04").unwrap().cudnn, "9.2.1.18");
        assert_eq!(compat.os("ubuntu18.04").unwrap().glibc, "2.27");
        let tf = compat.wheel("tensorflow", "2.14.1").unwrap();
        assert!(tf.pip_cuda_installs("3.10") && !tf.pip_cuda_installs("3.11"));
        assert!(!compat.wheel("tensorflow", "2.15.0").unwrap().pip_cuda_installs("3.10"));
        assert!(compat.wheel("tensorflow", "2.15.0.post1").unwrap().pip_cuda_installs("3.11"));
        assert_eq!(compat.wheel("torch", "2.7.1").unwrap().glibc, "2.28");
    }

    #[test]
    fn torch_wheels_are_keyed_by_variant() {
        let compat = get();
        assert_eq!(compat.wheel_variant("torch", "2.6.0", "cu124").unwrap().pip_cudnn, "9.1.0.70");
        assert_eq!(compat.wheel_variant("torch", "2.7.1", "cu126").unwrap().pip_cudnn, "9.5.1.17");
        assert_eq!(compat.wheel_variant("torch", "2.7.1", "cu126").unwrap().pip_nccl, "2.26.2");
        assert_eq!(compat.wheel_variant("torch", "2.4.0", "cu121").unwrap().pip_cudnn, "9.1.0.70");
        assert_eq!(compat.wheel_variant("torch", "2.7.0", "cu126").unwrap().glibc, "2.28");
        // download.pytorch.org variants read from release-branch build matrices.
        assert_eq!(compat.wheel_variant("torch", "2.7.0", "cu128").unwrap().pip_cudnn, "9.7.1.26");
        assert_eq!(compat.wheel_variant("torch", "2.7.1", "cu118").unwrap().pip_cudnn, "9.1.0.70");
        assert_eq!(compat.wheel_variant("torch", "2.11.0", "cu128").unwrap().pip_nccl, "2.28.9");
        // 2.10.0's variants, from the config that repacks its wheels as wheel variants.
        assert_eq!(compat.wheel_variant("torch", "2.10.0", "cu126").unwrap().pip_cudnn, "9.10.2.21");
        assert_eq!(compat.wheel_variant("torch", "2.10.0", "cu130").unwrap().pip_cudnn, "9.15.1.9");
        // The PyPI wheel's row stays the first of its release.
        assert_eq!(compat.wheel("torch", "2.7.0").unwrap().pip_variant, "cu126");
        assert_eq!(compat.wheel("torch", "2.9.0").unwrap().pip_variant, "cu128");
        assert_eq!(compat.wheel("torch", "2.10.0").unwrap().pip_variant, "cu128");
        assert_eq!(compat.wheel("torch", "2.12.0").unwrap().pip_cudnn, "9.20.0.48");
        assert_eq!(compat.wheel("torch", "2.14.0").unwrap().pip_cudnn, "9.24.0.43");
        // No row describes download.pytorch.org's cu118 build of 2.3.0: no cuDNN is claimed for it.
        assert!(compat.wheel_variant("torch", "2.3.0", "cu118").is_none());
    }

    #[test]
    fn torch_wheel_rows_agree_with_the_release_table() {
        let compat = get();
        for w in compat.wheels.iter().filter(|w| w.framework == "torch") {
            let Some(release) = compat.torch(&w.version) else { continue };
            assert!(
                release.variants.contains(&w.pip_variant),
                "torch {}: {} is not a listed variant",
                w.version,
                w.pip_variant
            );
            // A release's first row is its plain PyPI wheel, the build pytorch.tsv calls pypi_default_cuda.
            if std::ptr::eq(compat.wheel("torch", &w.version).unwrap(), w) {
                assert_eq!(release.pypi_default_cuda, w.pip_variant, "torch {}: PyPI wheel", w.version);
            }
        }
        // The PyPI wheel of 2.11.0 is the CUDA 13.0 build (its METADATA pins nvidia-*-cu13).
        assert_eq!(compat.torch("2.11.0").unwrap().pypi_default_cuda, "cu130");
    }

    #[test]
    fn removed_tags_match_docker_hub_references_only() {
        let compat = get();
        assert!(compat.removed_tag("nvidia/cuda:10.0-cudnn7-devel-ubuntu18.04").is_some());
        assert!(compat.removed_tag("docker.io/nvidia/cuda:10.2-devel-ubuntu18.04").is_some());
        assert!(compat.removed_tag("registry.example.com/nvidia/cuda:10.0-cudnn7-devel-ubuntu18.04").is_none());
        assert!(compat.removed_tag("nvidia/cuda:11.8.0-devel-ubuntu22.04").is_none());
        assert!(compat.removed_tag("nvidia/cuda:1.0-x").is_none());
    }

    #[test]
    fn miniforge_rows_agree_with_their_file_names() {
        let compat = get();
        assert_eq!(compat.miniforge.first().unwrap().tag, "26.3.2-3", "newest release first");
        for m in &compat.miniforge {
            assert_eq!(
                m.conda_version,
                m.tag.split('-').next().unwrap(),
                "{}: conda is the tag's release",
                m.installer
            );
            assert_eq!(
                m.url,
                format!("https://github.com/conda-forge/miniforge/releases/download/{}/{}", m.tag, m.installer)
            );
            assert_eq!(m.sha256.len(), 64, "{} has its sha256", m.installer);
        }
        // The check gives Miniforge no terms-of-service step: a row that needs one needs code first.
        assert!(compat.table("miniforge.tsv").unwrap().records().all(|r| r.get("tos") == "no"));
        assert_eq!(compat.miniforge_installer("Miniforge3-25.11.0-1-Linux-x86_64.sh").unwrap().python, "3.12");
        assert_eq!(miniforge_tag("Miniforge3-24.3.0-0-Linux-aarch64.sh"), Some("24.3.0-0"));
        assert_eq!(miniforge_tag("Miniforge3-Linux-x86_64.sh"), None, "the unversioned copy floats");
        assert_eq!(miniforge_tag("Miniconda3-py311_24.11.1-0-Linux-x86_64.sh"), None);
    }

    #[test]
    fn nearest_prefers_the_same_series() {
        let versions = ["2.2.2", "2.3.0", "2.3.1", "2.4.0"];
        assert_eq!(nearest("2.3.5", versions), Some("2.3.1"));
        assert_eq!(nearest("2.3", versions), Some("2.3.0"));
        assert_eq!(nearest("2.15.7", ["2.15.0", "2.15.1", "2.16.1"]), Some("2.15.1"));
    }
}
