//! `dlspec compat [TABLE]`: what the compatibility tables know. The tables are listed once, here:
//! each framework's (from the registry), then [`TABLES`]; the command line's help, the check of
//! `TABLE`, the JSON output and the README's usage line (a test) all take them from
//! [`table_names`].

use std::io::{self, Write};

use serde::Serialize;
use serde::ser::SerializeMap as _;

use super::args::CompatArgs;
use super::output::{count, print_json};
use crate::compat::Compat;
use crate::compat::gpu::ForwardCompat;
use crate::diag::Format;
use crate::error::Error;
use crate::framework::FRAMEWORKS;

/// A table that is no framework's: the name `dlspec compat` knows it by, its file under
/// `src/compat/data/`, and how it prints for people.
struct Table {
    name: &'static str,
    file: &'static str,
    print: fn(&Compat, &mut dyn Write) -> io::Result<()>,
}

/// The tables that are no framework's, in the order they print.
const TABLES: &[Table] = &[
    Table { name: "miniconda", file: "miniconda.tsv", print: miniconda },
    Table { name: "miniforge", file: "miniforge.tsv", print: miniforge },
    Table { name: "cuda", file: "cuda_tags.tsv", print: cuda },
    Table { name: "cudnn", file: "cudnn_tags.tsv", print: cudnn },
    Table { name: "wheels", file: "wheels.tsv", print: wheels },
    Table { name: "removed", file: "removed_tags.tsv", print: removed },
    Table { name: "os", file: "os.tsv", print: os },
    Table { name: "nvidia_require", file: "nvidia_require.tsv", print: nvidia_require },
    Table { name: "cuda_drivers", file: "cuda_drivers.tsv", print: cuda_drivers },
    Table { name: "gpu_brands", file: "gpu_brands.tsv", print: gpu_brands },
    Table { name: "gpus", file: "gpus.tsv", print: gpus },
    Table { name: "gpu_arch", file: "gpu_arch.tsv", print: gpu_arch },
    Table { name: "gpu_memory", file: "gpu_memory.tsv", print: gpu_memory },
    Table { name: "timezones", file: "timezones.txt", print: timezones },
];

/// The table shown only when asked for by name: hundreds of lines of time zone names.
const ON_REQUEST: &str = "timezones";

/// Every table `dlspec compat TABLE` knows, by name: each framework's, then the others.
#[must_use]
pub fn table_names() -> Vec<&'static str> {
    FRAMEWORKS.iter().map(|f| f.keyword()).chain(TABLES.iter().map(|t| t.name)).collect()
}

/// The file of the table `name`.
fn file_of(name: &str) -> Option<&'static str> {
    FRAMEWORKS
        .iter()
        .find(|f| f.keyword() == name)
        .map(|f| f.table())
        .or_else(|| TABLES.iter().find(|t| t.name == name).map(|t| t.file))
}

/// `compat --format json`: the tables as they are embedded.
#[derive(Serialize)]
struct Tables<'a> {
    command: &'static str,
    ok: bool,
    checked: &'a str,
    tables: Vec<TableRows<'a>>,
}

/// One table of `compat --format json`: every row as an object from column to cell.
#[derive(Serialize)]
struct TableRows<'a> {
    file: &'a str,
    name: &'a str,
    checked: &'a str,
    sources: &'a [String],
    rows: Vec<Row<'a>>,
}

/// A row as an object from the table's columns to its cells.
struct Row<'a> {
    columns: &'a [String],
    cells: &'a [String],
}

impl Serialize for Row<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.columns.len()))?;
        for (column, cell) in self.columns.iter().zip(self.cells) {
            map.serialize_entry(column, cell)?;
        }
        map.end()
    }
}

pub(super) fn run(args: &CompatArgs) -> Result<u8, Error> {
    let compat = crate::compat::get();
    let names = table_names();
    let table = args.table.as_deref();
    if let Some(t) = table
        && !names.contains(&t)
    {
        return Err(Error::Usage(format!(
            "unknown table `{t}`; {}",
            crate::diag::did_you_mean(t, &names, "the tables are")
        )));
    }
    if args.format == Format::Json {
        print_json(&as_json(compat, table));
        return Ok(0);
    }
    // Write errors (a closed pipe, say) end the listing; the exit code is still 0.
    let _ = print_tables(compat, table, &mut std::io::stdout().lock());
    Ok(0)
}

/// The tables of `compat --format json`: `table`, or every one but those shown on request.
fn as_json<'a>(compat: &'a Compat, table: Option<&str>) -> Tables<'a> {
    let chosen = table.and_then(file_of);
    let tables = names_by_file()
        .into_iter()
        .filter(|(name, file)| match chosen {
            Some(chosen) => *file == chosen,
            None => *name != ON_REQUEST,
        })
        .filter_map(|(name, file)| compat.table(file).map(|t| (name, t)))
        .map(|(name, t)| TableRows {
            file: t.file,
            name,
            checked: &t.checked,
            sources: &t.sources,
            rows: t.rows().iter().map(|cells| Row { columns: t.columns(), cells }).collect(),
        })
        .collect();
    Tables { command: "compat", ok: true, checked: compat.checked(), tables }
}

/// Every table's name and file, in the order of the embedded tables.
fn names_by_file() -> Vec<(&'static str, &'static str)> {
    let compat = crate::compat::get();
    let known: Vec<(&str, &str)> = table_names().into_iter().filter_map(|n| file_of(n).map(|f| (n, f))).collect();
    compat.tables.iter().filter_map(|t| known.iter().find(|(_, file)| *file == t.file).copied()).collect()
}

/// `compat [TABLE]` for people: the sources of every table, then `table` (or every one but those
/// shown on request).
fn print_tables(compat: &'static Compat, table: Option<&str>, out: &mut dyn Write) -> io::Result<()> {
    let show = |name: &str| match table {
        Some(t) => t == name,
        None => name != ON_REQUEST,
    };
    writeln!(out, "compatibility tables, checked {}", compat.checked())?;
    for t in &compat.tables {
        writeln!(out, "  {} ({}): {}", t.file, count(t.len(), "row"), t.sources.first().map_or("", String::as_str))?;
    }
    for framework in FRAMEWORKS.iter().filter(|f| show(f.keyword())) {
        writeln!(out)?;
        for line in framework.describe(compat) {
            writeln!(out, "{line}")?;
        }
    }
    for t in TABLES.iter().filter(|t| show(t.name)) {
        (t.print)(compat, out)?;
    }
    Ok(())
}

fn miniconda(compat: &Compat, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "\nminiconda: python  installer  sha256  terms")?;
    for r in compat.miniconda.iter().filter(|m| m.arch == "x86_64") {
        let sha = if r.sha256.is_some() { "sha256" } else { "-" };
        let tos = if r.tos { "accept-tos" } else { "-" };
        writeln!(out, "  {:<5} {:<45} {sha:<6} {tos}", r.python, r.installer)?;
    }
    Ok(())
}

fn miniforge(compat: &Compat, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "\nminiforge: python  installer  conda (newest release first; one Python a release)")?;
    for r in &compat.miniforge {
        writeln!(out, "  {:<5} {:<45} {}", r.python, r.installer, r.conda_version)?;
    }
    Ok(())
}

fn cuda(compat: &Compat, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "\ncuda: version  os  cudnn  flavors  status")?;
    for r in &compat.cuda_tags {
        let cudnn = if r.cudnn.is_empty() { "-" } else { &r.cudnn };
        writeln!(out, "  {:<7} {:<12} {cudnn:<7} {:<18} {}", r.cuda, r.os, r.flavors.join(","), r.status)?;
    }
    Ok(())
}

fn cudnn(compat: &Compat, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "\ncudnn: cuda  os  cudnn  nccl  (earlier cuDNN of the same tag)")?;
    for r in &compat.cudnn_in_tags {
        let nccl = r.nccl.as_deref().unwrap_or("-");
        let history = if r.history == "-" { String::new() } else { format!("  (was {})", r.history) };
        writeln!(out, "  {:<7} {:<12} {:<11} {nccl:<8}{history}", r.cuda, r.os, r.cudnn)?;
    }
    Ok(())
}

fn wheels(compat: &Compat, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "\nwheels: framework  version  manylinux (glibc)  pip CUDA libraries: variant cudnn nccl (glibc) pythons"
    )?;
    for r in &compat.wheels {
        let pip = if r.pip_variant.is_empty() {
            "-".to_owned()
        } else {
            format!(
                "{} cudnn {} nccl {} ({}) on {}",
                r.pip_variant, r.pip_cudnn, r.pip_nccl, r.pip_glibc, r.pip_pythons
            )
        };
        writeln!(out, "  {:<10} {:<12} {} ({})  {pip}", r.framework, r.version, r.manylinux, r.glibc)?;
    }
    Ok(())
}

fn removed(compat: &Compat, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "\nremoved: tags Docker Hub no longer serves")?;
    for r in &compat.removed_tags {
        writeln!(out, "  {}:{}*  removed {}  ({})", r.image, r.prefix, r.removed, r.source)?;
    }
    Ok(())
}

fn os(compat: &Compat, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "\nos: release  image  glibc  openssh  end of standard support")?;
    for r in &compat.os {
        writeln!(out, "  {:<12} {:<14} {:<5} {:<8} {} ({})", r.os, r.image, r.glibc, r.openssh, r.eol, r.status)?;
    }
    Ok(())
}

fn nvidia_require(compat: &Compat, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "\nnvidia_require: cuda  os  NVIDIA_REQUIRE_CUDA  forward-compatibility exceptions  (since)")?;
    for r in &compat.gpu.requirements {
        let require = r.require.as_deref().map_or_else(|| "unknown".to_owned(), |c| format!("cuda>={c}"));
        let clauses: Vec<String> =
            r.clauses.iter().map(|(branch, brands)| format!("R{branch}:{}", brands.join(","))).collect();
        let any = r.any_driver.as_deref().map(|d| format!(" or any brand from {d}")).unwrap_or_default();
        writeln!(
            out,
            "  {:<7} {:<36} {require:<11} {}{any}  ({})",
            r.cuda,
            r.os.join(","),
            clauses.join(" "),
            r.since
        )?;
    }
    Ok(())
}

fn cuda_drivers(compat: &Compat, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "\ncuda_drivers: cuda  oldest driver  minor-version compatibility from")?;
    for d in &compat.gpu.drivers {
        writeln!(out, "  {:<7} {:<13} {}", d.cuda, d.min_driver, d.minor_compat)?;
    }
    Ok(())
}

fn gpu_brands(compat: &Compat, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "\ngpu_brands: class  driver brands  forward compatibility")?;
    for b in &compat.gpu.brands {
        let fc = match b.forward_compat {
            ForwardCompat::Yes => "yes",
            ForwardCompat::No => "no",
            ForwardCompat::Select => "select products",
        };
        writeln!(out, "  {:<12} {:<36} {fc}", b.class.name(), b.brands.join(","))?;
    }
    Ok(())
}

fn gpus(compat: &Compat, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "\ngpus: nvidia.com/gpu.product  compute  architecture  class")?;
    for g in &compat.gpu.gpus {
        let product = g.product.as_deref().unwrap_or("-");
        writeln!(out, "  {product:<56} {:<7} {:<13} {}", g.compute.to_string(), g.architecture, g.class.name())?;
    }
    Ok(())
}

fn gpu_arch(compat: &Compat, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "\ngpu_arch: framework  releases  build  kernels")?;
    for a in &compat.gpu.arch {
        let releases = if a.first == a.last { a.first.clone() } else { format!("{}-{}", a.first, a.last) };
        let kernels = a.kernels.as_ref().map_or_else(
            || "unknown".to_owned(),
            |k| if k.inferred { format!("{} (inferred)", k.describe()) } else { k.describe() },
        );
        writeln!(out, "  {:<10} {:<14} {:<8} {kernels}", a.framework, releases, a.variants.join(","))?;
    }
    Ok(())
}

fn gpu_memory(compat: &Compat, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "\ngpu_memory: framework  releases  what stops it taking the GPU's memory at start")?;
    for p in &compat.gpu.preallocation {
        writeln!(out, "  {:<10} {}-{:<10} {}={}", p.framework, p.first, p.last, p.variable, p.value)?;
    }
    Ok(())
}

fn timezones(compat: &Compat, out: &mut dyn Write) -> io::Result<()> {
    for tz in &compat.timezones {
        writeln!(out, "{tz}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_embedded_and_every_embedded_table_is_known() {
        let compat = crate::compat::get();
        for name in table_names() {
            let file = file_of(name).expect("a known table has a file");
            assert!(compat.table(file).is_some(), "`{name}`: `{file}` is not embedded");
        }
        let known: Vec<&str> = table_names().into_iter().filter_map(file_of).collect();
        for t in &compat.tables {
            assert!(known.contains(&t.file), "`{}` is embedded, but `dlspec compat` knows no table of it", t.file);
        }
    }

    #[test]
    fn each_table_alone_prints_only_itself() {
        let compat = crate::compat::get();
        for name in table_names() {
            let mut out = Vec::new();
            print_tables(compat, Some(name), &mut out).unwrap();
            assert!(!out.is_empty(), "`{name}` printed nothing");
            assert_eq!(as_json(compat, Some(name)).tables.len(), 1, "`{name}` in JSON");
        }
    }
}
