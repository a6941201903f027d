//! Plan: resolved images → every output file in memory (path under `out/`, bytes, mode).

use std::collections::BTreeMap;

use camino::Utf8PathBuf;
use minijinja::{Value, context, value::Serde};
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

/// A bake group: every image of one name.
#[derive(Debug, Serialize)]
struct Group {
    name: String,
    slug: String,
    targets: Vec<String>,
}

/// Renders every file of every image and the catalog.
///
/// # Errors
/// When a template fails to render.
pub fn plan(images: &[Image], templates: &Templates) -> Result<Plan, InputError> {
    let mut plan = Plan { files: BTreeMap::new(), images: images.len() };
    // Images render independently, so in parallel; merged in image order, the first error is the
    // one a single pass would meet.
    let rendered = crate::in_parallel(images, 8, |chunk| {
        let mut files = Vec::new();
        for image in chunk {
            let context = context! { image => Serde(image), labels => Serde(image.kubernetes_labels()) };
            for output in IMAGE_OUTPUTS.iter().filter(|o| (o.wanted)(image)) {
                let text = templates.render(output.template, &context)?;
                files.push((
                    image.dir.join(output.path),
                    PlannedFile { bytes: text.into_bytes(), executable: output.executable },
                ));
            }
            for layer in image.lock.iter().flat_map(|lock| &lock.layers) {
                files.push((
                    image.dir.join("pip").join(&layer.file),
                    PlannedFile { bytes: layer.text.clone().into_bytes(), executable: false },
                ));
            }
        }
        Ok::<_, InputError>(files)
    });
    let mut files = Vec::new();
    for chunk in rendered {
        files.extend(chunk?);
    }
    // Collecting sorts by `Path` order, which is slow to compare. A cheap key that orders these
    // paths (relative, no `.` or `..`) the same way sorts them first, and collecting is linear.
    files.sort_by_cached_key(|(path, _)| path.as_str().replace('/', "\0"));
    plan.files = files.into_iter().collect();
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
    let catalog: Value = context! { images => Serde(images), groups => Serde(&groups) };
    for (template, path) in [("catalog/README.md.j2", "README.md"), ("catalog/docker-bake.hcl.j2", "docker-bake.hcl")] {
        let text = templates.render(template, &catalog)?;
        plan.files.insert(Utf8PathBuf::from(path), PlannedFile { bytes: text.into_bytes(), executable: false });
    }
    Ok(plan)
}
