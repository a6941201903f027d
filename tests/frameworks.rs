//! The frameworks of the registry (`src/framework/`): what JAX and PaddlePaddle install for each
//! kind of base, and that every framework is a node, a matrix axis and a profile setting alike.

mod common;

use dlspec::model::{CudnnSource, Framework, Image};

fn images(spec: &str) -> Vec<Image> {
    let (images, diags) = dlspec::pipeline::analyze(&common::sources("spec.kdl", spec));
    assert!(!diags.has_errors(), "{:?}", diags.into_vec());
    images
}

fn framework(spec: &str) -> Framework {
    images(spec).remove(0).framework.expect("a framework")
}

fn install(framework: &Framework) -> (Vec<&str>, Option<&str>, Option<&str>) {
    let install = &framework.install;
    (
        install.requirements.iter().map(String::as_str).collect(),
        install.index_url.as_deref(),
        install.find_links.as_deref(),
    )
}

#[test]
fn jax_takes_the_cuda_extra_of_the_base_and_its_libraries_from_pip() {
    let jax =
        framework("image \"j\" {\n    jax \"0.4.30\"\n    python \"3.11\"\n    cuda \"12.4.1\" cudnn=\"none\"\n}\n");
    assert_eq!(install(&jax), (vec!["jax[cuda12]==0.4.30"], None, None));
    assert_eq!(jax.cudnn, CudnnSource::Pip(None), "the extra pins a cuDNN range, resolved at build time");
    assert_eq!(jax.expect.cuda.as_deref(), Some("12.3"), "the cuda12 wheels of 0.4.30 are built with CUDA 12.3");
    let cuda13 =
        framework("image \"j\" {\n    jax \"0.8.0\"\n    python \"3.12\"\n    cuda \"13.0.1\" cudnn=\"none\"\n}\n");
    assert_eq!(install(&cuda13).0, ["jax[cuda13]==0.8.0"]);
}

#[test]
fn jax_on_cpus_is_plain_jax_or_the_cpu_extra_before_0_4_30() {
    let cpu = |version: &str| {
        let spec = format!("image \"j\" {{\n    jax \"{version}\"\n    python \"3.11\"\n    cpu\n}}\n");
        framework(&spec).install.requirements.clone()
    };
    assert_eq!(cpu("0.4.30"), ["jax==0.4.30"]);
    assert_eq!(cpu("0.4.28"), ["jax[cpu]==0.4.28"], "jax depends on jaxlib itself from 0.4.30 on");
}

#[test]
fn paddle_2_6_installs_the_build_of_the_base_cuda_from_where_paddle_publishes_it() {
    let on_118 =
        framework("image \"p\" {\n    paddle \"2.6.1\"\n    python \"3.10\"\n    cuda \"11.8.0\" cudnn=\"8\"\n}\n");
    assert_eq!(install(&on_118), (vec!["paddlepaddle-gpu==2.6.1"], None, None), "PyPI's build is CUDA 11.8");
    assert_eq!(on_118.cudnn, CudnnSource::Base);
    assert_eq!(on_118.expect.min_cudnn.as_deref(), Some("8.6"));
    let on_121 = framework("image \"p\" {\n    paddle \"2.6.1\"\n    python \"3.10\"\n    cuda \"12.1.1\"\n}\n");
    assert_eq!(
        install(&on_121),
        (
            vec!["paddlepaddle-gpu==2.6.1.post120"],
            None,
            Some("https://www.paddlepaddle.org.cn/whl/linux/mkl/avx/stable.html")
        )
    );
}

#[test]
fn paddle_3_brings_its_cuda_libraries_from_its_own_index_unless_index_names_a_mirror() {
    let spec = "image \"p\" {\n    paddle \"3.0.0\"\n    python \"3.11\"\n    cuda \"12.6.3\" cudnn=\"none\"\n}\n";
    let paddle = framework(spec);
    assert_eq!(
        install(&paddle),
        (vec!["paddlepaddle-gpu==3.0.0"], Some("https://www.paddlepaddle.org.cn/packages/stable/cu126/"), None)
    );
    assert!(matches!(paddle.cudnn, CudnnSource::Pip(_)));
    let mirror = "https://mirrors.example.edu/paddle/cu126";
    let mirrored = framework(&spec.replace("paddle \"3.0.0\"", &format!("paddle \"3.0.0\" index=\"{mirror}\"")));
    assert_eq!(install(&mirrored), (vec!["paddlepaddle-gpu==3.0.0"], Some(mirror), None));
}

#[test]
fn the_mirrors_of_pytorch_and_paddle_serve_each_image_its_own_variant_and_an_index_url_still_wins() {
    let profile = "profile \"m\" {\n    mirrors pytorch=\"https://m.example.edu/whl/{variant}/\" paddle=\"https://m.example.edu/paddle/{build}\"\n}\n";
    let image = |node: &str, base: &str| {
        let spec = format!("{profile}image \"i\" {{\n    use \"m\"\n    {node}\n    python \"3.11\"\n    {base}\n}}\n");
        install(&framework(&spec)).1.map(str::to_owned)
    };
    let on = |url: &str| Some(url.to_owned());
    assert_eq!(image("pytorch \"2.7.0\"", "cuda \"12.8.1\" cudnn=\"none\""), on("https://m.example.edu/whl/cu128"));
    assert_eq!(image("pytorch \"2.7.0\"", "cpu"), on("https://m.example.edu/whl/cpu"));
    assert_eq!(
        image("pytorch \"2.7.0\" index=\"cu126\"", "cuda \"12.8.1\" cudnn=\"none\""),
        on("https://m.example.edu/whl/cu126"),
        "a written variant comes from the mirror too"
    );
    assert_eq!(
        image("pytorch \"2.7.0\" index=\"https://other.example.edu/cu128\"", "cuda \"12.8.1\" cudnn=\"none\""),
        on("https://other.example.edu/cu128")
    );
    assert_eq!(image("paddle \"3.0.0\"", "cuda \"12.6.3\" cudnn=\"none\""), on("https://m.example.edu/paddle/cu126"));
    assert_eq!(image("paddle \"3.0.0\"", "cpu"), None, "3.0.0's CPU build is on PyPI");
}

#[test]
fn an_index_url_of_the_image_variant_tells_the_checks_its_variant() {
    let spec = "image \"p\" {\n    pytorch \"2.7.0\" index=\"https://m.example.edu/whl/cu128\"\n    python \"3.11\"\n    cuda \"12.8.1\" cudnn=\"none\"\n}\n";
    let torch = framework(spec);
    assert_eq!(torch.gpu_build.map(|b| b.variant).as_deref(), Some("cu128"));
    let (_, diags) = dlspec::pipeline::analyze(&common::sources("spec.kdl", &spec.replace("cu128\"", "cu124\"")));
    let codes: Vec<&str> = diags.into_vec().iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["dlspec::compat::index-variant"]);
    // A custom base's CUDA is unknown: its index is taken as written.
    let custom = spec.replace("cuda \"12.8.1\" cudnn=\"none\"", "base \"registry.example.edu/cuda:12.4\" gpu=#true");
    assert_eq!(
        framework(&custom.replace("cu128\"", "cu126\"")).install.index_url.as_deref(),
        Some("https://m.example.edu/whl/cu126")
    );
}

#[test]
fn a_framework_profile_and_image_merge_and_every_framework_is_a_matrix_axis() {
    let spec = "profile \"j\" {\n    jax \"0.4.30\"\n}\n\nimage \"j\" {\n    use \"j\"\n    python \"3.11\"\n    cpu\n    matrix {\n        jax \"0.4.31\" \"0.5.0\"\n    }\n}\n\nimage \"p\" {\n    python \"3.10\"\n    cpu\n    matrix {\n        paddle \"2.6.2\" \"3.0.0\"\n    }\n}\n";
    let versions: Vec<(String, String)> =
        images(spec).into_iter().filter_map(|i| i.framework.map(|f| (f.kind.to_owned(), f.version))).collect();
    for expected in [("jax", "0.4.31"), ("jax", "0.5.0"), ("paddle", "2.6.2"), ("paddle", "3.0.0")] {
        assert!(versions.contains(&(expected.0.to_owned(), expected.1.to_owned())), "{expected:?} in {versions:?}");
    }
}

#[test]
fn no_template_names_a_framework_or_another_service() {
    let frameworks: Vec<&str> = dlspec::framework::FRAMEWORKS.iter().map(|f| f.keyword()).collect();
    let services: Vec<&str> = dlspec::service::SERVICES.iter().map(|s| s.keyword()).collect();
    for (name, text) in dlspec::render::templates() {
        // A service's own templates may name it; no other template names a registry's entry.
        let own = services.iter().find(|s| name.starts_with(&format!("image/services/{s}/")));
        for keyword in frameworks.iter().chain(&services).filter(|k| Some(*k) != own) {
            assert!(!text.contains(&format!("\"{keyword}\"")), "templates/{name} names {keyword}");
        }
    }
}
