//! The Dockerfile's layers go from the slowest-changing to the fastest, so that a change to the
//! extra pip packages or to init/ never reinstalls the framework, and no layer keeps a cache.

mod common;

use common::generate_image;

/// One Dockerfile instruction, continuation lines joined, comments dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Instruction {
    keyword: String,
    text: String,
}

fn instructions(dockerfile: &str) -> Vec<Instruction> {
    let mut all = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                let (keyword, text) = current.split_once(' ').unwrap_or((&current, ""));
                all.push(Instruction { keyword: keyword.to_owned(), text: text.trim().to_owned() });
                current.clear();
            }
        }
    }
    all
}

/// What a layer-making instruction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Apt,
    Miniconda,
    PipConstraints,
    PlatformPip,
    Framework,
    CopyConstraints,
    ExtraPip,
    BuildsAgainstFramework,
    CopyInit,
    PlatformSetup,
}

fn layer(instruction: &Instruction) -> Option<Layer> {
    let text = &instruction.text;
    match instruction.keyword.as_str() {
        "RUN" if text.contains("apt-get install") => Some(Layer::Apt),
        "RUN" if text.contains("/tmp/miniconda.sh") => Some(Layer::Miniconda),
        "RUN" if text.contains("pip-constraints.txt") && !text.contains("pip install") => Some(Layer::PipConstraints),
        "RUN" if text.contains("--no-build-isolation") => Some(Layer::BuildsAgainstFramework),
        "RUN" if text.contains("torch==") || text.contains("tensorflow==") => Some(Layer::Framework),
        "RUN" if text.contains("jupyterlab") || text.contains("tensorboard") => Some(Layer::PlatformPip),
        "RUN" if text.contains("pip install") => Some(Layer::ExtraPip),
        "COPY" if text == "pip/constraints.txt /etc/dlspec/pip-constraints.txt" => Some(Layer::CopyConstraints),
        "COPY" if text == "init/ /init/" => Some(Layer::CopyInit),
        "RUN" if text == "bash /init/setup/platform.sh" => Some(Layer::PlatformSetup),
        "RUN" | "COPY" | "ADD" => panic!("unexpected layer: {instruction:?}"),
        _ => None,
    }
}

fn layers(dockerfile: &str) -> Vec<Layer> {
    instructions(dockerfile).iter().filter_map(layer).collect()
}

const TORCH: &str = r#"image "torch" {
    pytorch "2.3.0"
    python "3.10"
    cuda "12.1.1"
    pip "pandas"
}"#;

const TENSORFLOW: &str = r#"image "tf" {
    tensorflow "2.15.0"
    python "3.11"
    cpu
    pip "seaborn"
}"#;

#[test]
fn layers_go_from_apt_to_init() {
    use Layer::*;
    for spec in [TORCH, TENSORFLOW] {
        let dockerfile = &generate_image(spec)["Dockerfile"];
        assert_eq!(
            layers(dockerfile),
            [
                Apt,
                Miniconda,
                PipConstraints,
                PlatformPip,
                Framework,
                CopyConstraints,
                ExtraPip,
                CopyInit,
                PlatformSetup
            ],
            "{dockerfile}"
        );
    }
    let flash = generate_image(
        &TORCH
            .replace(r#"pip "pandas""#, "pip \"flash-attn==2.7.4.post1\" no-build-isolation=#true\n    pip \"pandas\""),
    );
    assert_eq!(
        layers(&flash["Dockerfile"]),
        [
            Apt,
            Miniconda,
            PipConstraints,
            PlatformPip,
            Framework,
            CopyConstraints,
            ExtraPip,
            BuildsAgainstFramework,
            CopyInit,
            PlatformSetup
        ],
        "packages that build against the framework come last, after the extras they may import"
    );
    // Without a framework, extras or a constraint, the order of what remains holds.
    let bare = generate_image(
        r#"image "bare" {
    python "3.13" accept-tos=#true
    cpu
    jupyter #false
    tensorboard #false
}"#,
    );
    assert_eq!(layers(&bare["Dockerfile"]), [Apt, Miniconda, CopyInit, PlatformSetup]);
}

/// The instructions two Dockerfiles share from the start.
fn shared_prefix(a: &str, b: &str) -> Vec<Instruction> {
    instructions(a).into_iter().zip(instructions(b)).take_while(|(x, y)| x == y).map(|(x, _)| x).collect()
}

#[test]
fn a_changed_pip_extra_rebuilds_nothing_up_to_the_framework() {
    let before = &generate_image(TORCH)["Dockerfile"];
    let after = &generate_image(&TORCH.replace(r#"pip "pandas""#, r#"pip "pandas" "polars""#))["Dockerfile"];
    assert_ne!(before, after);
    let shared: Vec<Layer> = shared_prefix(before, after).iter().filter_map(layer).collect();
    assert_eq!(
        shared.last(),
        Some(&Layer::CopyConstraints),
        "the first change must come after the framework and its constraints"
    );
}

#[test]
fn packages_that_build_against_the_framework_install_last_without_build_isolation() {
    let spec = TORCH
        .replace(r#"pip "pandas""#, "pip \"pandas\"\n    pip \"flash-attn==2.7.4.post1\" no-build-isolation=#true");
    let dockerfile = &generate_image(&spec)["Dockerfile"];
    let built: Vec<Instruction> =
        instructions(dockerfile).into_iter().filter(|i| layer(i) == Some(Layer::BuildsAgainstFramework)).collect();
    assert_eq!(built.len(), 1, "{dockerfile}");
    let (tools, packages) = built[0].text.rsplit_once(" && pip install ").expect("build tools, then the packages");
    assert!(
        tools.ends_with("--constraint /etc/dlspec/pip-constraints.txt setuptools wheel packaging ninja"),
        "{tools}"
    );
    assert_eq!(
        packages,
        "--no-cache-dir --no-build-isolation --constraint /etc/dlspec/pip-constraints.txt flash-attn==2.7.4.post1"
    );
    // Only there: the extras keep their own layer, built in isolation.
    let extras: Vec<Instruction> =
        instructions(dockerfile).into_iter().filter(|i| layer(i) == Some(Layer::ExtraPip)).collect();
    assert!(extras[0].text.ends_with("pandas") && !extras[0].text.contains("flash-attn"), "{extras:?}");
    // A change to them rebuilds nothing before their own layer.
    let changed = generate_image(&spec.replace("2.7.4.post1", "2.7.3"));
    let shared: Vec<Layer> = shared_prefix(dockerfile, &changed["Dockerfile"]).iter().filter_map(layer).collect();
    assert_eq!(shared.last(), Some(&Layer::ExtraPip), "{shared:?}");
}

#[test]
fn a_changed_init_file_rebuilds_nothing_before_copying_init() {
    let base = generate_image(TORCH);
    for (what, changed) in [
        ("the SSH port", TORCH.replace(r#"pip "pandas""#, "pip \"pandas\"\n    ssh port=2200")),
        ("the banner", TORCH.replace(r#"pip "pandas""#, "pip \"pandas\"\n    ssh motd=#false")),
        ("the JupyterLab port", TORCH.replace(r#"pip "pandas""#, "pip \"pandas\"\n    jupyter port=8080")),
    ] {
        let changed = generate_image(&changed);
        let init_changed = base.iter().any(|(path, text)| path.starts_with("init/") && changed.get(path) != Some(text));
        assert!(init_changed, "{what}: init/ should change");
        let shared: Vec<Layer> =
            shared_prefix(&base["Dockerfile"], &changed["Dockerfile"]).iter().filter_map(layer).collect();
        assert!(
            shared.ends_with(&[Layer::ExtraPip, Layer::CopyInit, Layer::PlatformSetup]),
            "{what}: every instruction through `RUN bash /init/setup/platform.sh` should stay the same, got {shared:?}"
        );
    }
}

#[test]
fn no_layer_keeps_a_cache() {
    for spec in [TORCH, TENSORFLOW] {
        let dockerfile = &generate_image(spec)["Dockerfile"];
        for instruction in instructions(dockerfile) {
            let text = &instruction.text;
            if text.contains("apt-get install") {
                assert!(text.ends_with("&& rm -rf /var/lib/apt/lists/*"), "{text}");
            }
            if text.contains("/tmp/miniconda.sh") {
                assert!(text.contains("rm -f /tmp/miniconda.sh") && text.ends_with("conda clean -afy"), "{text}");
            }
            if text.contains("pip install") {
                assert!(text.contains("pip install --no-cache-dir"), "{text}");
            }
        }
    }
}

#[test]
fn the_framework_layer_imports_what_it_installed() {
    for (spec, module, version) in [(TORCH, "torch", "2.3.0"), (TENSORFLOW, "tensorflow", "2.15.0")] {
        let dockerfile = &generate_image(spec)["Dockerfile"];
        let framework: Vec<Instruction> =
            instructions(dockerfile).into_iter().filter(|i| layer(i) == Some(Layer::Framework)).collect();
        assert_eq!(framework.len(), 1, "{dockerfile}");
        // In the same RUN as the install, so a broken install leaves no layer; nothing from init/,
        // so a change there does not rebuild the framework.
        let (install, check) = framework[0].text.split_once(" && python -c ").expect("an import check");
        assert!(install.contains("pip install"), "{install}");
        assert!(check.starts_with(&format!("'import sys, {module}; ")), "{check}");
        assert!(check.contains(&format!("found == \"{version}\"")), "{check}");
        assert!(!check.contains("/init"), "{check}");
    }
}

#[test]
fn no_syntax_line_pulls_a_frontend() {
    for spec in [TORCH, TENSORFLOW] {
        let dockerfile = &generate_image(spec)["Dockerfile"];
        assert!(!dockerfile.lines().any(|l| l.trim_start().starts_with("# syntax=")), "{dockerfile}");
        // BuildKit's built-in frontend reads the secret mounts.
        assert!(dockerfile.contains("RUN --mount=type=secret,id=pipca"), "{dockerfile}");
    }
}

#[test]
fn every_pip_layer_keeps_numpy_below_2() {
    let dockerfile = &generate_image(TORCH)["Dockerfile"];
    let constraints = "--constraint /etc/dlspec/pip-constraints.txt";
    assert!(
        dockerfile.contains("RUN mkdir -p /etc/dlspec && printf '%s\\n' 'numpy<2' >/etc/dlspec/pip-constraints.txt")
    );
    let pip_layers: Vec<String> =
        instructions(dockerfile).into_iter().map(|i| i.text).filter(|t| t.contains("pip install")).collect();
    assert_eq!(pip_layers.len(), 3);
    assert!(pip_layers.iter().all(|t| t.contains(constraints)), "{pip_layers:#?}");
    // After the framework, the file also pins the framework's packages: the extras cannot move it.
    let files = generate_image(TORCH);
    assert_eq!(
        files["pip/constraints.txt"].lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>(),
        ["numpy<2", "torch==2.3.0", "torchvision==0.18.0", "torchaudio==2.3.0"]
    );
    // Python 3.13 has no numpy 1.x wheels: no constraint.
    let python313 = generate_image(
        r#"image "a" {
    python "3.13" accept-tos=#true
    cpu
}"#,
    );
    assert!(!python313["Dockerfile"].contains("pip-constraints"));
}
