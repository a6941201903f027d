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
        image("pytorch \"2.7.0\" index=\"cu118\"", "cuda \"12.8.1\" cudnn=\"none\""),
        on("https://m.example.edu/whl/cu118"),
        "a written variant comes from the mirror too"
    );
    assert_eq!(
        image("pytorch \"2.7.0\" index=\"cu126\"", "cuda \"12.8.1\" cudnn=\"none\""),
        None,
        "the variant of PyPI's own torch comes from PyPI, mirror or not"
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

/// The nvidia/cuda tag an image builds on.
fn base_of(node: &str, base: &str) -> String {
    let spec = format!("image \"i\" {{\n    {node}\n    python \"3.11\"\n    {base}\n}}\n");
    images(&spec).remove(0).base.upstream
}

#[test]
fn a_framework_that_brings_its_cuda_libraries_gets_a_base_without_a_second_copy() {
    let tag = |t: &str| format!("nvidia/cuda:{t}-ubuntu22.04");
    // CUDA, cuDNN and NCCL from pip: the `base` flavor, without cuDNN.
    assert_eq!(base_of("pytorch \"2.5.1\"", "cuda \"12.4.1\""), tag("12.4.1-base"));
    assert_eq!(base_of("jax \"0.6.2\"", "cuda \"12.6.3\""), tag("12.6.3-base"));
    assert_eq!(base_of("paddle \"3.0.0\"", "cuda \"12.6.3\""), tag("12.6.3-base"));
    assert_eq!(
        base_of("tensorflow \"2.16.1\" package=\"tensorflow[and-cuda]\"", "cuda \"12.3.2\""),
        tag("12.3.2-base")
    );
    // TensorFlow refuses the tag's cuDNN 9.2, so it installs `[and-cuda]`: the base leaves cuDNN out.
    assert_eq!(base_of("tensorflow \"2.18.1\"", "cuda \"12.5.1\""), tag("12.5.1-base"));
    // The base's libraries loaded, or no framework: v1's `devel` with cuDNN.
    assert_eq!(base_of("tensorflow \"2.18.1\"", "cuda \"12.6.3\""), tag("12.6.3-cudnn-devel"));
    assert_eq!(base_of("paddle \"2.6.2\"", "cuda \"11.8.0\""), tag("11.8.0-cudnn8-devel"));
    assert_eq!(base_of("", "cuda \"12.4.1\""), tag("12.4.1-cudnn-devel"));
    // What is written stays; a written cuDNN is there to compile against, so `devel`.
    assert_eq!(base_of("pytorch \"2.5.1\"", "cuda \"12.4.1\" cudnn=\"9\""), tag("12.4.1-cudnn-devel"));
    assert_eq!(base_of("pytorch \"2.5.1\"", "cuda \"12.4.1\" cudnn=\"none\""), tag("12.4.1-base"));
    assert_eq!(base_of("pytorch \"2.5.1\"", "cuda \"12.4.1\" flavor=\"runtime\""), tag("12.4.1-runtime"));
    assert_eq!(base_of("pytorch \"2.5.1\"", "cuda \"12.4.1\" flavor=\"devel\""), tag("12.4.1-devel"));
    assert_eq!(base_of("tensorflow \"2.18.1\"", "cuda \"12.6.3\" flavor=\"runtime\""), tag("12.6.3-cudnn-runtime"));
}

#[test]
fn packages_that_build_against_the_framework_get_nvcc_and_compilers() {
    let built = "\n    pip \"flash-attn==2.7.4.post1\" no-build-isolation=#true";
    assert_eq!(
        base_of(&format!("pytorch \"2.5.1\"{built}"), "cuda \"12.4.1\""),
        "nvidia/cuda:12.4.1-devel-ubuntu22.04"
    );
    assert_eq!(
        base_of(&format!("pytorch \"2.5.1\"{built}"), "cuda \"12.4.1\" cudnn=\"9\""),
        "nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04",
        "the contract's v3 example"
    );
    let spec =
        format!("image \"i\" {{\n    pytorch \"2.5.1\"{built}\n    pip \"einops\"\n    python \"3.11\"\n    cpu\n}}\n");
    let image = images(&spec).remove(0);
    assert!(image.apt.iter().any(|p| p == "build-essential"), "{:?}", image.apt);
    assert_eq!(image.extra_pip, ["einops"]);
    assert_eq!(image.pip_no_build_isolation, ["flash-attn==2.7.4.post1"]);
    // Without such packages, no compilers are added.
    let plain = images(&spec.replace(built, "")).remove(0);
    assert!(!plain.apt.iter().any(|p| p == "build-essential"), "{:?}", plain.apt);
}

#[test]
fn pytorch_comes_from_pypi_when_pypi_serves_its_variant() {
    let index = |node: &str, base: &str| {
        let spec = format!("image \"i\" {{\n    {node}\n    python \"3.11\"\n    {base}\n}}\n");
        framework(&spec).install.index_url
    };
    let whl = |variant: &str| Some(format!("https://download.pytorch.org/whl/{variant}"));
    // PyPI's torch 2.5.1 is the cu124 build, 2.7.1's the cu126 one.
    assert_eq!(index("pytorch \"2.5.1\"", "cuda \"12.4.1\""), None);
    assert_eq!(index("pytorch \"2.7.1\"", "cuda \"12.6.3\""), None);
    assert_eq!(index("pytorch \"2.3.0\" index=\"cu121\"", "cuda \"12.1.1\""), None, "a written variant too");
    // The others: PyTorch's own index.
    assert_eq!(index("pytorch \"2.7.1\"", "cuda \"12.8.1\""), whl("cu128"));
    assert_eq!(index("pytorch \"2.5.1\"", "cuda \"11.8.0\""), whl("cu118"));
    assert_eq!(index("pytorch \"2.5.1\"", "cpu"), whl("cpu"), "the +cpu builds are not on PyPI");
    // An index URL wins.
    assert_eq!(
        index("pytorch \"2.5.1\" index=\"https://mirror.example.edu/whl/cu124\"", "cuda \"12.4.1\""),
        Some("https://mirror.example.edu/whl/cu124".to_owned())
    );
    // Through the build's PyPI mirror, said so in the README's summary.
    let mirrored = framework(
        "image \"i\" {\n    pytorch \"2.5.1\"\n    python \"3.11\"\n    cuda \"12.4.1\"\n    mirrors build-pip=\"https://pypi.example.edu/simple\" pytorch=\"https://m.example.edu/whl/{variant}\"\n}\n",
    );
    assert_eq!(mirrored.install.index_url, None);
    assert!(
        mirrored.summary.ends_with("from PyPI (through `https://pypi.example.edu/simple`)"),
        "{}",
        mirrored.summary
    );
}

#[test]
fn the_lean_base_keeps_the_driver_facts_of_its_tag() {
    // NVIDIA_REQUIRE_CUDA is set by the `base` Dockerfile that `runtime` and `devel` build on: the
    // pool checks read it by CUDA version and OS, whatever the flavor.
    let catalog = "catalog {\n    node-pool \"a100\" {\n        gpu \"NVIDIA-A100-SXM4-80GB\" compute=\"8.0\" brand=\"datacenter\"\n        driver \"535.230.02\"\n    }\n    node-pool \"rtx4090\" {\n        gpu \"NVIDIA-GeForce-RTX-4090\" compute=\"8.9\" brand=\"geforce\"\n        driver \"550.127.05\"\n    }\n}\n";
    let image = |base: &str| {
        let spec = format!("{catalog}image \"i\" {{\n    pytorch \"2.7.1\"\n    python \"3.11\"\n    {base}\n}}\n");
        images(&spec).remove(0)
    };
    let lean = image("cuda \"12.6.3\"");
    let devel = image("cuda \"12.6.3\" cudnn=\"9\" flavor=\"devel\"");
    assert_eq!(lean.base.flavor.as_deref(), Some("base"));
    assert_eq!(lean.gpu_needs, devel.gpu_needs);
    assert_eq!(lean.gpu_needs.as_ref().and_then(|n| n.cuda.as_deref()), Some("12.6"));
    let verdicts = |i: &Image| i.pool_verdicts.iter().map(|v| (v.pool.clone(), v.runs)).collect::<Vec<_>>();
    assert_eq!(verdicts(&lean), verdicts(&devel));
    assert_eq!(verdicts(&lean), [("a100".to_owned(), true), ("rtx4090".to_owned(), false)]);
}
