//! The install dlspec chooses from the runtime facts: which TensorFlow package goes into the
//! Dockerfile, which cuDNN each framework loads, and that the contract examples stay error-free.

mod common;

use dlspec::diag::Severity;
use dlspec::model::{Framework, Image};

fn analyze(spec: &str) -> (Vec<Image>, Vec<dlspec::diag::Diag>) {
    let (images, diags) = dlspec::analyze(&common::sources("spec.kdl", spec));
    (images, diags.into_vec())
}

fn tensorflow(image: &Image) -> &dlspec::model::Tensorflow {
    match image.framework.as_ref() {
        Some(Framework::Tensorflow(t)) => t,
        other => panic!("not TensorFlow: {other:?}"),
    }
}

#[test]
fn an_old_base_cudnn_gets_tensorflow_and_cuda_where_it_installs() {
    let (images, diags) =
        analyze("image \"tf\" {\n    tensorflow \"2.18.1\"\n    python \"3.11\"\n    cuda \"12.5.1\"\n}\n");
    let tf = tensorflow(&images[0]);
    assert_eq!(tf.requirement, "tensorflow[and-cuda]==2.18.1");
    assert!(tf.pip_cuda);
    assert_eq!(tf.cudnn.as_deref(), Some("9.3.0.75"), "the pip cuDNN is the one it loads");
    assert_eq!(images[0].base.cudnn_version.as_deref(), Some("9.2.1.18"));
    assert!(diags.iter().all(|d| d.severity == Severity::Note), "{diags:?}");
    let (images, _) =
        analyze("image \"tf\" {\n    tensorflow \"2.20.0\"\n    python \"3.11\"\n    cuda \"12.5.1\"\n}\n");
    assert!(tensorflow(&images[0]).pip_cuda);
    assert_eq!(tensorflow(&images[0]).cudnn, None, "2.20's extra pins a cuDNN range, resolved at build time");
}

#[test]
fn where_the_extra_does_not_install_the_old_cudnn_is_an_error() {
    let spec =
        "image \"tf\" {\n    tensorflow \"2.14.1\"\n    python \"3.11\"\n    cuda \"11.8.0\" os=\"ubuntu18.04\"\n}\n";
    let (images, diags) = analyze(spec);
    assert!(images.is_empty());
    let error = diags.iter().find(|d| d.severity == Severity::Error).unwrap();
    assert_eq!(error.code, "dlspec::compat::cudnn-too-old");
    assert!(error.help.as_deref().unwrap().contains("python \"3.10\""), "{error:?}");
    // The same tag on Ubuntu 22.04 was rebuilt with cuDNN 8.9.6: TensorFlow loads the base's.
    let (images, _) = analyze(&spec.replace("ubuntu18.04", "ubuntu22.04"));
    assert_eq!(tensorflow(&images[0]).requirement, "tensorflow==2.14.1");
    assert_eq!(tensorflow(&images[0]).cudnn.as_deref(), Some("8.9.6.50"));
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
    assert_eq!(tf.requirement, "tensorflow==2.15.0", "cuDNN 8.9.0 in 12.1.0 satisfies the 8.9 build");
    assert_eq!(tf.cudnn.as_deref(), Some("8.9.0.131"));
}

#[test]
fn torch_reports_the_cudnn_its_wheels_bring() {
    let (images, diags) =
        analyze("image \"pt\" {\n    pytorch \"2.3.0\"\n    python \"3.10\"\n    cuda \"12.1.1\" cudnn=\"none\"\n}\n");
    let Some(Framework::Pytorch(torch)) = images[0].framework.as_ref() else { panic!("{diags:?}") };
    assert_eq!(torch.cudnn.as_deref(), Some("8.9.2.26"));
    assert!(diags.is_empty(), "no duplicate cuDNN on a base without it: {diags:?}");
}

fn torch_of(spec: &str) -> dlspec::model::Pytorch {
    let (images, diags) = analyze(spec);
    match images.first().and_then(|i| i.framework.clone()) {
        Some(Framework::Pytorch(torch)) => torch,
        other => panic!("not torch: {other:?} {diags:?}"),
    }
}

#[test]
fn torch_cudnn_follows_the_chosen_wheel_variant() {
    let pypi =
        torch_of("image \"pt\" {\n    pytorch \"2.7.0\"\n    python \"3.11\"\n    cuda \"12.6.3\" cudnn=\"none\"\n}\n");
    assert_eq!(pypi.variant.as_deref(), Some("cu126"));
    assert_eq!(pypi.cudnn.as_deref(), Some("9.5.1.17"), "2.7.0's PyPI wheel is the cu126 build");
    let other =
        torch_of("image \"pt\" {\n    pytorch \"2.3.0\"\n    python \"3.10\"\n    cuda \"11.8.0\" cudnn=\"none\"\n}\n");
    assert_eq!(other.variant.as_deref(), Some("cu118"));
    assert_eq!(other.cudnn, None, "no row describes the cu118 build: its cuDNN is not claimed");
    let variant =
        torch_of("image \"pt\" {\n    pytorch \"2.7.1\"\n    python \"3.11\"\n    cuda \"11.8.0\" cudnn=\"none\"\n}\n");
    assert_eq!(variant.variant.as_deref(), Some("cu118"));
    assert_eq!(variant.cudnn.as_deref(), Some("9.1.0.70"), "release/2.7 pins nvidia-cudnn-cu11==9.1.0.70 for cu118");
}
