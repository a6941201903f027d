//! Plan: resolved images → output files (path under `out/`, bytes, mode), step by step: one
//! image's files, or one catalog file, at a time.

use std::collections::BTreeMap;
use std::sync::Arc;

use camino::Utf8PathBuf;
use minijinja::value::{Enumerator, Object, ObjectRepr, Serde};
use minijinja::{Value, context};
use serde::Serialize;

use crate::error::Error;
use crate::model::{Entry, Image, Shape};
use crate::render::{Budget, Templates};
use crate::service;

/// One file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// Content.
    pub bytes: Vec<u8>,
    /// Mode 0755 instead of 0644.
    pub executable: bool,
}

/// Every output file, by path relative to `out/`.
#[derive(Debug, Default)]
pub struct Plan {
    /// The files.
    pub files: BTreeMap<Utf8PathBuf, PlannedFile>,
    /// Number of images.
    pub images: usize,
}

/// Which per-image file comes from which template.
struct Output {
    template: &'static str,
    path: &'static str,
    executable: bool,
    wanted: fn(&Shape) -> bool,
}

const fn always(_: &Shape) -> bool {
    true
}

const IMAGE_OUTPUTS: &[Output] = &[
    Output { template: "image/Dockerfile.j2", path: "Dockerfile", executable: false, wanted: always },
    Output { template: "image/build-scripts.sh.j2", path: "build-scripts.sh", executable: true, wanted: always },
    Output { template: "image/docker-run.sh.j2", path: "docker-run.sh", executable: true, wanted: always },
    Output { template: "image/init/boot/boot.sh.j2", path: "init/boot/boot.sh", executable: true, wanted: always },
    Output { template: "image/init/boot/init.py.j2", path: "init/boot/init.py", executable: false, wanted: always },
    Output {
        template: "image/init/boot/healthcheck.sh.j2",
        path: "init/boot/healthcheck.sh",
        executable: true,
        wanted: always,
    },
    Output {
        template: "image/init/setup/platform.sh.j2",
        path: "init/setup/platform.sh",
        executable: true,
        wanted: always,
    },
    Output { template: "image/init/bin/shutdown.j2", path: "init/bin/shutdown", executable: true, wanted: always },
    Output { template: "image/init/bin/selftest.j2", path: "init/bin/selftest", executable: true, wanted: always },
    Output {
        template: "image/init/supervisor/supervisor.ini.j2",
        path: "init/supervisor/supervisor.ini",
        executable: false,
        wanted: always,
    },
    Output { template: POOL_OUTPUTS[0].0, path: "k8s/deployment.yaml", executable: false, wanted: |s| !s.pools },
    Output { template: POOL_OUTPUTS[1].0, path: "k8s/selftest-job.yaml", executable: false, wanted: |s| !s.pools },
    Output {
        template: "image/k8s/service.yaml.j2",
        path: "k8s/service.yaml",
        executable: false,
        // A Service without ports is invalid.
        wanted: |s| s.ports,
    },
    Output { template: "image/README.md.j2", path: "README.md", executable: false, wanted: always },
    Output {
        template: "image/pip/constraints.txt.j2",
        path: "pip/constraints.txt",
        executable: false,
        wanted: |s| s.constraints,
    },
];

/// The files of each node pool an image runs on: template and path under `k8s/<pool>/`. An image
/// on no pool has them in `k8s/` itself.
const POOL_OUTPUTS: [(&str, &str); 2] =
    [("image/k8s/deployment.yaml.j2", "deployment.yaml"), ("image/k8s/selftest-job.yaml.j2", "selftest-job.yaml")];

/// The catalog-wide files: template and path under `out/`.
const CATALOG_OUTPUTS: [(&str, &str); 2] =
    [("catalog/README.md.j2", "README.md"), ("catalog/docker-bake.hcl.j2", "docker-bake.hcl")];

/// A unit of output, rendered at once: one image's files, or one catalog file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Every file of the image at this index.
    Image(usize),
    /// The catalog file at this index of the catalog outputs.
    Catalog(usize),
}

/// A key that orders relative paths (no `.` or `..`) the way `Path` does, component by component,
/// and is cheaper to compare.
fn path_key(path: &str) -> String {
    path.replace('/', "\0")
}

/// Every step, in the order of the paths they produce: unless an image's directory is inside
/// another's, the files of all steps come out in path order.
#[must_use]
pub fn steps(entries: &[Entry]) -> Vec<Step> {
    let mut steps: Vec<(String, Step)> =
        entries.iter().enumerate().map(|(i, entry)| (path_key(entry.dir().as_str()), Step::Image(i))).collect();
    steps.extend(CATALOG_OUTPUTS.iter().enumerate().map(|(i, (_, path))| (path_key(path), Step::Catalog(i))));
    steps.sort_by(|a, b| a.0.cmp(&b.0));
    steps.into_iter().map(|(_, step)| step).collect()
}

/// The paths a step produces, in path order, without rendering anything.
#[must_use]
pub fn step_paths(step: Step, entries: &[Entry]) -> Vec<Utf8PathBuf> {
    match step {
        Step::Image(i) => {
            let entry = &entries[i];
            let mut paths: Vec<Utf8PathBuf> =
                IMAGE_OUTPUTS.iter().filter(|o| (o.wanted)(&entry.shape)).map(|o| entry.dir().join(o.path)).collect();
            paths.extend(
                service::files()
                    .enumerate()
                    .filter(|(index, _)| entry.shape.service_files & 1 << index != 0)
                    .map(|(_, file)| entry.dir().join(file.path)),
            );
            paths.extend(entry.locked_layers().map(|file| entry.dir().join("pip").join(file)));
            for pool in entry.pools() {
                paths.extend(POOL_OUTPUTS.iter().map(|(_, file)| entry.dir().join("k8s").join(pool).join(file)));
            }
            paths.sort_by_cached_key(|p| path_key(p.as_str()));
            paths
        }
        Step::Catalog(i) => vec![Utf8PathBuf::from(CATALOG_OUTPUTS[i].1)],
    }
}

/// What the catalog templates see: an entry per image (`images`) and the bake groups (`groups`),
/// each converted for the templates only when a template reaches it, so that no copy of the
/// whole catalog is held while the catalog files render.
pub struct Catalog {
    images: Value,
    groups: Value,
    pools: Value,
    /// The entries' size as JSON, which the catalog templates' budget grows with.
    data: u64,
}

/// A bake group: every image of one name.
#[derive(Debug, Serialize)]
struct Group<'a> {
    name: &'a str,
    slug: String,
    targets: Vec<&'a str>,
}

impl Catalog {
    /// The catalog of `entries`.
    #[must_use]
    pub fn new(entries: &Arc<Vec<Entry>>) -> Self {
        let mut by_name: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for (index, entry) in entries.iter().enumerate() {
            by_name.entry(entry.name()).or_default().push(u32::try_from(index).expect("fewer than 4 billion images"));
        }
        let groups = by_name.into_values().collect();
        // Every GPU image is checked against every pool of the catalog, in its order.
        let pools: Vec<String> = entries
            .iter()
            .map(Entry::pool_verdicts)
            .find(|verdicts| !verdicts.is_empty())
            .map(|verdicts| verdicts.iter().map(|v| v.pool.to_owned()).collect())
            .unwrap_or_default();
        let data = entries.iter().map(crate::render::data_size).sum();
        Self {
            pools: Value::from(pools),
            data,
            images: Value::from_object(LazyEntries(Arc::clone(entries))),
            groups: Value::from_object(LazyGroups { entries: Arc::clone(entries), groups }),
        }
    }
}

/// The entries as a template sequence that converts an entry when the template reads it.
#[derive(Debug)]
struct LazyEntries(Arc<Vec<Entry>>);

impl Object for LazyEntries {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.get(key.as_usize()?).map(|entry| Value::from(Serde(entry)))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.len())
    }
}

/// The bake groups by name, each the indexes of its entries, as a template sequence that makes a
/// group when the template reads it.
#[derive(Debug)]
struct LazyGroups {
    entries: Arc<Vec<Entry>>,
    groups: Vec<Vec<u32>>,
}

impl Object for LazyGroups {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let members = self.groups.get(key.as_usize()?)?;
        let first = &self.entries[*members.first()? as usize];
        let group = Group {
            name: first.name(),
            slug: crate::model::bake_group(first.name()),
            targets: members.iter().map(|&i| self.entries[i as usize].slug()).collect(),
        };
        Some(Value::from(Serde(group)))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.groups.len())
    }
}

/// Renders the files of one image, in path order.
///
/// # Errors
/// When a template fails to render.
pub fn render_image(image: &Image, templates: &Templates) -> Result<Vec<(Utf8PathBuf, PlannedFile)>, Error> {
    let context = context! {
        image => Serde(image),
        labels => Serde(image.kubernetes_labels()),
        pool => (),
        constraints => Serde(image.constraints()),
    };
    let budget = Budget::image(crate::render::data_size(image));
    let shape = image.shape();
    let mut files = Vec::new();
    for output in IMAGE_OUTPUTS.iter().filter(|o| (o.wanted)(&shape)) {
        let text = templates.render(output.template, &context, budget)?;
        files.push((
            image.dir.join(output.path),
            PlannedFile { bytes: text.into_bytes(), executable: output.executable },
        ));
    }
    for service in &image.services {
        let context = context! {
            image => Serde(image), labels => Serde(image.kubernetes_labels()), pool => (), service => Serde(service)
        };
        for file in &service.files {
            let output = service::files().nth(file.index.into()).expect("a service's file is in the registry");
            let text = templates.render(output.template, &context, budget)?;
            files.push((
                image.dir.join(output.path),
                PlannedFile { bytes: text.into_bytes(), executable: output.executable },
            ));
        }
    }
    for pool in &image.pools {
        let context =
            context! { image => Serde(image), labels => Serde(image.pool_labels(&pool.name)), pool => Serde(pool) };
        for (template, file) in POOL_OUTPUTS {
            let text = templates.render(template, &context, budget)?;
            files.push((
                image.dir.join("k8s").join(&pool.name).join(file),
                PlannedFile { bytes: text.into_bytes(), executable: false },
            ));
        }
    }
    for layer in image.lock.iter().flat_map(|lock| &lock.layers) {
        files.push((
            image.dir.join("pip").join(&layer.file),
            PlannedFile { bytes: layer.text.clone().into_bytes(), executable: false },
        ));
    }
    files.sort_by_cached_key(|(path, _)| path_key(path.as_str()));
    Ok(files)
}

/// Renders the catalog file at `index` of the catalog outputs.
///
/// # Errors
/// When a template fails to render.
pub fn render_catalog(
    index: usize,
    catalog: &Catalog,
    templates: &Templates,
) -> Result<Vec<(Utf8PathBuf, PlannedFile)>, Error> {
    let (path, template, context, budget) = catalog_output(index, catalog);
    let text = templates.render(template, &context, budget)?;
    Ok(vec![(path, PlannedFile { bytes: text.into_bytes(), executable: false })])
}

/// The catalog file at `index` of the catalog outputs, to render a piece at a time: its path, its
/// template, the template's context and its budget.
#[must_use]
pub fn catalog_output(index: usize, catalog: &Catalog) -> (Utf8PathBuf, &'static str, Value, Budget) {
    let (template, path) = CATALOG_OUTPUTS[index];
    let context = context! {
        images => catalog.images.clone(), groups => catalog.groups.clone(), pools => catalog.pools.clone()
    };
    (Utf8PathBuf::from(path), template, context, Budget::catalog(catalog.data))
}

/// Renders every file of every image and the catalog, all in memory (for tests and tools; `compile`
/// renders step by step through [`crate::pipeline::sync_out`]).
///
/// # Errors
/// When a template fails to render.
pub fn plan(images: &[Image], templates: &Templates) -> Result<Plan, Error> {
    let entries: Arc<Vec<Entry>> = Arc::new(images.iter().map(Entry::of).collect());
    let catalog = Catalog::new(&entries);
    let steps = steps(&entries);
    let rendered = crate::parallel::chunks(&steps, 8, |chunk| {
        let mut files = Vec::new();
        for step in chunk {
            files.extend(match *step {
                Step::Image(i) => render_image(&images[i], templates)?,
                Step::Catalog(i) => render_catalog(i, &catalog, templates)?,
            });
        }
        Ok::<_, Error>(files)
    });
    let mut files = Vec::new();
    for chunk in rendered {
        files.extend(chunk?);
    }
    Ok(Plan { files: files.into_iter().collect(), images: images.len() })
}
