//! The install dlspec chooses from the runtime facts: which TensorFlow package goes into the
//! Dockerfile, which cuDNN each framework loads, and that the contract examples stay error-free.

mod common;

use dlspec::diag::{Code, Severity};
use dlspec::model::{CudnnSource, Framework, Image};

fn analyze(spec: &str) -> (Vec<Image>, Vec<dlspec::diag::Diag>) {
    let (images, diags) = dlspec::pipeline::analyze(&common::sources("spec.kdl", spec));
    (images, diags.into_vec())
}

fn tensorflow(image: &Image) -> &Framework {
    match image.framework.as_ref() {
        Some(framework) if framework.kind == "tensorflow" => framework,
        other => panic!("not TensorFlow: {other:?}"),
    }
}

/// The one requirement TensorFlow's layer installs.
fn requirement(framework: &Framework) -> &str {
    &framework.install.requirements[0]
}

/// The full cuDNN version the framework of `image` loads, when the tables know it.
fn loaded_cudnn(image: &Image) -> Option<&str> {
    match &image.framework.as_ref()?.cudnn {
        CudnnSource::Pip(version) => version.as_deref(),
        CudnnSource::Base => image.base.cudnn_version.as_deref(),
    }
}

fn pip_cuda(framework: &Framework) -> bool {
    matches!(framework.cudnn, CudnnSource::Pip(_))
}

#[test]
fn an_old_base_cudnn_gets_tensorflow_and_cuda_where_it_installs() {
    let (images, diags) =
        analyze("image \"tf\" {\n    tensorflow \"2.18.1\"\n    python \"3.11\"\n    cuda \"12.5.1\"\n}\n");
    let tf = tensorflow(&images[0]);
    assert_eq!(requirement(tf), "tensorflow[and-cuda]==2.18.1");
    assert!(pip_cuda(tf));
    assert_eq!(loaded_cudnn(&images[0]), Some("9.3.0.75"), "the pip cuDNN is the one it loads");
    // The base then carries no cuDNN (`cudnn` left out): the tag's own is too old to be of use.
    assert_eq!(images[0].base.cudnn, None);
    assert_eq!(images[0].base.flavor.as_deref(), Some("base"));
    assert!(diags.iter().all(|d| d.severity == Severity::Note), "{diags:?}");
    assert!(diags.iter().any(|d| d.message.contains("cuDNN 9.2.1.18 is older than the cuDNN 9.3")), "{diags:?}");
    let (images, _) =
        analyze("image \"tf\" {\n    tensorflow \"2.20.0\"\n    python \"3.11\"\n    cuda \"12.5.1\"\n}\n");
    assert!(pip_cuda(tensorflow(&images[0])));
    assert_eq!(loaded_cudnn(&images[0]), None, "2.20's extra pins a cuDNN range, resolved at build time");
}

#[test]
fn where_the_extra_does_not_install_the_old_cudnn_is_an_error() {
    let spec =
        "image \"tf\" {\n    tensorflow \"2.14.1\"\n    python \"3.11\"\n    cuda \"11.8.0\" os=\"ubuntu18.04\"\n}\n";
    let (images, diags) = analyze(spec);
    assert!(images.is_empty());
    let error = diags.iter().find(|d| d.severity == Severity::Error).unwrap();
    assert_eq!(error.code, Code::CudnnTooOld);
    assert!(error.help.as_deref().unwrap().contains("python \"3.10\""), "{error:?}");
    // The same tag on Ubuntu 22.04 was rebuilt with cuDNN 8.9.6: TensorFlow loads the base's.
    let (images, _) = analyze(&spec.replace("ubuntu18.04", "ubuntu22.04"));
    assert_eq!(requirement(tensorflow(&images[0])), "tensorflow==2.14.1");
    assert_eq!(loaded_cudnn(&images[0]), Some("8.9.6.50"));
}

#[test]
fn the_contract_examples_compile_without_errors() {
    for file in ["specs/tensorflow.kdl", "specs/pytorch.kdl"] {
        let text = std::fs::read_to_string(common::root().join(file)).unwrap();
        let (images, diags) = analyze(&text);
        assert_eq!(images.len(), 1, "{file}: {diags:?}");
        assert!(diags.iter().all(|d| d.severity != Severity::Error), "{file}: {diags:?}");
    }
    let text = std::fs::read_to_string(common::root().join("specs/tensorflow.kdl")).unwrap();
    let (images, _) = analyze(&text);
    let tf = tensorflow(&images[0]);
    assert_eq!(requirement(tf), "tensorflow==2.15.0", "cuDNN 8.9.0 in 12.1.0 satisfies the 8.9 build");
    assert_eq!(loaded_cudnn(&images[0]), Some("8.9.0.131"));
}

#[test]
fn torch_reports_the_cudnn_its_wheels_bring() {
    let (images, diags) =
        analyze("image \"pt\" {\n    pytorch \"2.3.0\"\n    python \"3.10\"\n    cuda \"12.1.1\" cudnn=\"none\"\n}\n");
    assert_eq!(images[0].framework.as_ref().map(|f| f.kind), Some("pytorch"), "{diags:?}");
    assert_eq!(loaded_cudnn(&images[0]), Some("8.9.2.26"));
    assert!(diags.is_empty(), "no duplicate cuDNN on a base without it: {diags:?}");
}

/// The wheel variant torch installs, where from (`PyPI`, or the last part of its index URL), and
/// the cuDNN it loads.
fn torch_of(spec: &str) -> (String, String, Option<String>) {
    let (images, diags) = analyze(spec);
    let Some(image) = images.first().filter(|i| i.framework.as_ref().is_some_and(|f| f.kind == "pytorch")) else {
        panic!("not torch: {diags:?}")
    };
    let framework = image.framework.as_ref().expect("torch");
    let variant = framework.gpu_build.as_ref().map(|b| b.variant.clone()).unwrap_or_default();
    let index = framework.install.index_url.as_deref().map_or("PyPI", |url| url.rsplit('/').next().unwrap_or_default());
    (variant, index.to_owned(), loaded_cudnn(image).map(str::to_owned))
}

#[test]
fn torch_cudnn_follows_the_chosen_wheel_variant() {
    let pypi =
        torch_of("image \"pt\" {\n    pytorch \"2.7.0\"\n    python \"3.11\"\n    cuda \"12.6.3\" cudnn=\"none\"\n}\n");
    assert_eq!(
        pypi,
        ("cu126".to_owned(), "PyPI".to_owned(), Some("9.5.1.17".to_owned())),
        "2.7.0's PyPI wheel is the cu126 build, installed from PyPI"
    );
    let other =
        torch_of("image \"pt\" {\n    pytorch \"2.3.0\"\n    python \"3.10\"\n    cuda \"11.8.0\" cudnn=\"none\"\n}\n");
    assert_eq!(
        other,
        ("cu118".to_owned(), "cu118".to_owned(), None),
        "no row describes the cu118 build: its cuDNN is not claimed"
    );
    let variant =
        torch_of("image \"pt\" {\n    pytorch \"2.7.1\"\n    python \"3.11\"\n    cuda \"11.8.0\" cudnn=\"none\"\n}\n");
    assert_eq!(
        variant,
        ("cu118".to_owned(), "cu118".to_owned(), Some("9.1.0.70".to_owned())),
        "release/2.7 pins nvidia-cudnn-cu11==9.1.0.70 for cu118"
    );
}
