//! Snapshots of every generated file of the seed images, the CPU image and an image of each
//! framework the registry added since (JAX, PaddlePaddle).

mod common;

use dlspec::{plan, render::Templates};

fn snapshot_image(dir: &str) {
    snapshot_image_as(dir.split('/').next().unwrap(), dir);
}

fn snapshot_image_as(name: &str, dir: &str) {
    let sources = common::repo_specs();
    let (mut images, diags) = dlspec::pipeline::analyze(&sources);
    dlspec::lock::attach(&common::root().join("specs"), &mut images);
    assert!(!diags.has_errors());
    let plan = plan::plan(&images, &Templates::load(None).unwrap()).unwrap();
    let mut text = String::new();
    for (path, file) in plan.files.iter().filter(|(p, _)| p.starts_with(dir)) {
        let mode = if file.executable { "0755" } else { "0644" };
        text.push_str(&format!("================ {} ({mode}) ================\n", path.strip_prefix(dir).unwrap()));
        text.push_str(&String::from_utf8(file.bytes.clone()).unwrap());
    }
    assert!(!text.is_empty(), "no files for {dir}");
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_path("snapshots/images");
    settings.bind(|| insta::assert_snapshot!(name, text));
}

#[test]
fn pytorch_seed_image() {
    snapshot_image("pytorch/2.3.0-python3.8-cuda12.1.0-cudnn8-devel-ubuntu22.04");
}

#[test]
fn tensorflow_seed_image() {
    snapshot_image("tensorflow/2.15.0-python3.10-cuda12.1.0-cudnn8-devel-ubuntu22.04");
}

#[test]
fn cpu_image() {
    snapshot_image("pytorch-cpu/2.3.0-python3.10-cpu-ubuntu22.04");
}

#[test]
fn jax_image() {
    snapshot_image_as("jax", "platform/jax/0.6.2-python3.11-cuda12.6.3-base-ubuntu22.04");
}

#[test]
fn paddle_images() {
    snapshot_image_as("paddle", "platform/paddle/2.6.2-python3.10-cuda11.8.0-cudnn8-devel-ubuntu22.04");
    snapshot_image_as("paddle3", "platform/paddle3/3.0.0-python3.11-cuda12.6.3-base-ubuntu22.04");
}

#[test]
fn catalog_files() {
    let sources = common::repo_specs();
    let (mut images, _) = dlspec::pipeline::analyze(&sources);
    dlspec::lock::attach(&common::root().join("specs"), &mut images);
    let plan = plan::plan(&images, &Templates::load(None).unwrap()).unwrap();
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_path("snapshots/images");
    for name in ["README.md", "docker-bake.hcl"] {
        let text = String::from_utf8(plan.files[&camino::Utf8PathBuf::from(name)].bytes.clone()).unwrap();
        settings.bind(|| insta::assert_snapshot!(format!("catalog-{name}"), text));
    }
}
