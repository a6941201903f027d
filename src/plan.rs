//! Plan: resolved images → output files (path under `out/`, bytes, mode), step by step: one
//! image's files, or one catalog file, at a time.

use std::collections::BTreeMap;
use std::sync::Arc;

use camino::Utf8PathBuf;
use minijinja::value::{Enumerator, Object, ObjectRepr, Serde};
use minijinja::{Value, context};
use serde::Serialize;

use crate::model::Image;
use crate::render::Templates;
use crate::source::InputError;

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
    wanted: fn(&Image) -> bool,
}

const fn always(_: &Image) -> bool {
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
    Output {
        template: "image/init/ssh/sshd_config.j2",
        path: "init/ssh/sshd_config",
        executable: false,
        wanted: |i| i.ssh.is_some(),
    },
    Output {
        template: "image/init/motd/motd.sh.j2",
        path: "init/motd/motd.sh",
        executable: false,
        wanted: |i| i.ssh.as_ref().is_some_and(|s| s.motd),
    },
    Output { template: "image/init/bin/shutdown.j2", path: "init/bin/shutdown", executable: true, wanted: always },
    Output { template: "image/init/bin/selftest.j2", path: "init/bin/selftest", executable: true, wanted: always },
    Output {
        template: "image/init/supervisor/supervisor.ini.j2",
        path: "init/supervisor/supervisor.ini",
        executable: false,
        wanted: always,
    },
    Output {
        template: "image/init/jupyter/jupyter_config.py.j2",
        path: "init/jupyter/jupyter_config.py",
        executable: false,
        wanted: |i| i.jupyter.is_some(),
    },
    Output { template: "image/k8s/deployment.yaml.j2", path: "k8s/deployment.yaml", executable: false, wanted: always },
    Output {
        template: "image/k8s/selftest-job.yaml.j2",
        path: "k8s/selftest-job.yaml",
        executable: false,
        wanted: always,
    },
    Output {
        template: "image/k8s/service.yaml.j2",
        path: "k8s/service.yaml",
        executable: false,
        // A Service without ports is invalid.
        wanted: |i| !i.ports.is_empty(),
    },
    Output {
        template: "image/k8s/secret.yaml.j2",
        path: "k8s/secret.yaml",
        executable: false,
        wanted: |i| i.ssh.as_ref().is_some_and(|s| s.password.is_some()),
    },
    Output { template: "image/README.md.j2", path: "README.md", executable: false, wanted: always },
];

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
pub fn steps(images: &[Image]) -> Vec<Step> {
    let mut steps: Vec<(String, Step)> =
        images.iter().enumerate().map(|(i, image)| (path_key(image.dir.as_str()), Step::Image(i))).collect();
    steps.extend(CATALOG_OUTPUTS.iter().enumerate().map(|(i, (_, path))| (path_key(path), Step::Catalog(i))));
    steps.sort_by(|a, b| a.0.cmp(&b.0));
    steps.into_iter().map(|(_, step)| step).collect()
}

/// The paths a step produces, in path order, without rendering anything.
#[must_use]
pub fn step_paths(step: Step, images: &[Image]) -> Vec<Utf8PathBuf> {
    match step {
        Step::Image(i) => {
            let image = &images[i];
            let mut paths: Vec<Utf8PathBuf> =
                IMAGE_OUTPUTS.iter().filter(|o| (o.wanted)(image)).map(|o| image.dir.join(o.path)).collect();
            paths.extend(locked_layers(image).map(|layer| image.dir.join("pip").join(&layer.file)));
            paths.sort_by_cached_key(|p| path_key(p.as_str()));
            paths
        }
        Step::Catalog(i) => vec![Utf8PathBuf::from(CATALOG_OUTPUTS[i].1)],
    }
}

/// The pip layers of the image's `dlspec lock`, each written to `pip/` for the Dockerfile to mount.
fn locked_layers(image: &Image) -> impl Iterator<Item = &crate::lock::LockedLayer> {
    image.lock.iter().flat_map(|lock| &lock.layers)
}

/// What the catalog templates see: every image and the bake groups.
pub struct Catalog {
    images: Value,
    groups: Value,
}

/// A bake group: every image of one name.
#[derive(Debug, Serialize)]
struct Group {
    name: String,
    slug: String,
    targets: Vec<String>,
}

impl Catalog {
    /// The catalog of `images`, each converted for the templates only when a template reaches it,
    /// so that no copy of the whole catalog is held while the catalog files render.
    #[must_use]
    pub fn new(images: &Arc<[Image]>) -> Self {
        Self::with(Value::from_object(LazyImages(Arc::clone(images))), images)
    }

    fn with(listed: Value, images: &[Image]) -> Self {
        let mut groups: BTreeMap<&str, Group> = BTreeMap::new();
        for image in images {
            let group = groups.entry(&image.name).or_insert_with(|| Group {
                name: image.name.clone(),
                slug: crate::model::bake_group(&image.name),
                targets: Vec::new(),
            });
            group.targets.push(image.slug.clone());
        }
        let groups: Vec<Group> = groups.into_values().collect();
        Self { images: listed, groups: Value::from(Serde(&groups)) }
    }
}

/// The images as a template sequence that converts an image when the template reads it.
#[derive(Debug)]
struct LazyImages(Arc<[Image]>);

impl Object for LazyImages {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.get(key.as_usize()?).map(|image| Value::from(Serde(image)))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.len())
    }
}

/// Renders the files of one step, in path order.
///
/// # Errors
/// When a template fails to render.
pub fn render_step(
    step: Step,
    images: &[Image],
    catalog: &Catalog,
    templates: &Templates,
) -> Result<Vec<(Utf8PathBuf, PlannedFile)>, InputError> {
    match step {
        Step::Image(i) => {
            let image = &images[i];
            let context = context! { image => Serde(image), labels => Serde(image.kubernetes_labels()) };
            let mut files = Vec::new();
            for output in IMAGE_OUTPUTS.iter().filter(|o| (o.wanted)(image)) {
                let text = templates.render(output.template, &context)?;
                files.push((
                    image.dir.join(output.path),
                    PlannedFile { bytes: text.into_bytes(), executable: output.executable },
                ));
            }
            for layer in locked_layers(image) {
                files.push((
                    image.dir.join("pip").join(&layer.file),
                    PlannedFile { bytes: layer.text.clone().into_bytes(), executable: false },
                ));
            }
            files.sort_by_cached_key(|(path, _)| path_key(path.as_str()));
            Ok(files)
        }
        Step::Catalog(i) => {
            let (template, path) = CATALOG_OUTPUTS[i];
            let context = context! { images => catalog.images.clone(), groups => catalog.groups.clone() };
            let text = templates.render(template, &context)?;
            Ok(vec![(Utf8PathBuf::from(path), PlannedFile { bytes: text.into_bytes(), executable: false })])
        }
    }
}

/// Renders every file of every image and the catalog, all in memory (for tests and tools; `compile`
/// renders step by step through [`crate::sync_out`]).
///
/// # Errors
/// When a template fails to render.
pub fn plan(images: &[Image], templates: &Templates) -> Result<Plan, InputError> {
    let catalog = Catalog::with(Value::from(Serde(images)), images);
    let steps = steps(images);
    let rendered = crate::in_parallel(&steps, 8, |chunk| {
        let mut files = Vec::new();
        for step in chunk {
            files.extend(render_step(*step, images, &catalog, templates)?);
        }
        Ok::<_, InputError>(files)
    });
    let mut files = Vec::new();
    for chunk in rendered {
        files.extend(chunk?);
    }
    Ok(Plan { files: files.into_iter().collect(), images: images.len() })
}
