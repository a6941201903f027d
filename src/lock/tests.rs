//! The unit tests of `lock`: uv's output split into layers, the seal, the well-formed body.

use super::file::{HEADER, INPUT};
use super::*;

/// uv 0.13.9's output for platform `jupyterlab`, `jupyterlab-language-pack-zh-CN`,
/// `tensorboard`; framework `tensorflow==2.15.0`; extras `pandas` (cut to the packages that
/// matter, hashes shortened).
const RESOLVED: &str = "\
jupyterlab==4.6.6 \\
    --hash=sha256:aa
    # via -r platform.in
jupyterlab-language-pack-zh-cn==4.5.post3 \\
    --hash=sha256:bb
    # via -r platform.in
numpy==1.26.4 \\
    --hash=sha256:cc
    # via
    #   -r platform.in
    #   pandas
    #   tensorboard
    #   tensorflow
pandas==2.3.3 \\
    --hash=sha256:dd
    # via -r extras.in
tensorboard==2.15.2 \\
    --hash=sha256:ee
    # via
    #   -r platform.in
    #   tensorflow
tensorflow==2.15.0 \\
    --hash=sha256:ff
    # via -r framework.in
wrapt==1.14.2 \\
    --hash=sha256:11
    # via tensorflow
";

#[test]
fn pins_are_read_with_what_asked_for_them() {
    let pins = parse_pins(RESOLVED);
    assert_eq!(pins.len(), 7);
    assert_eq!(pins[1].name, "jupyterlab-language-pack-zh-cn");
    assert_eq!(pins[1].version, "4.5.post3");
    assert_eq!(pins[2].via, ["-r platform.in", "pandas", "tensorboard", "tensorflow"]);
    assert!(pins[6].text.starts_with("wrapt==1.14.2 \\\n    --hash=sha256:11\n"));
}

#[test]
fn a_package_the_framework_also_needs_is_installed_once_by_the_platform_layer() {
    // TensorFlow depends on TensorBoard: one resolution, TensorBoard 2.15.2 in the platform
    // layer only, so the framework layer cannot downgrade it.
    let layers = layers(RESOLVED, "tf:1", "specs/.dlspec-lock/tf/1.txt");
    let names: Vec<_> = layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["platform", "framework", "extras"]);
    assert!(layers[0].text.contains("tensorboard==2.15.2"));
    assert!(layers[0].text.contains("numpy==1.26.4"));
    assert!(!layers[1].text.contains("tensorboard=="));
    assert!(layers[1].text.contains("tensorflow==2.15.0") && layers[1].text.contains("wrapt==1.14.2"));
    assert!(!layers[2].text.contains("numpy=="));
    for pin in parse_pins(RESOLVED) {
        let count = layers.iter().filter(|l| l.text.contains(&format!("\n{}==", pin.name))).count();
        assert_eq!(count, 1, "{} is in {count} layers", pin.name);
    }
}

#[test]
fn a_dependency_reached_only_through_a_later_layer_stays_in_that_layer() {
    let body = "a==1 \\\n    --hash=sha256:aa\n    # via b\nb==1 \\\n    --hash=sha256:bb\n    # via -r extras.in\n";
    let pins = parse_pins(body);
    assert_eq!(assign_layers(&pins), [2, 2]);
    assert_eq!(layers(body, "x:1", "l.txt").len(), 1);
}

#[test]
fn a_language_pack_for_another_jupyterlab_is_fixed_by_a_constraint() {
    let fixes = language_pack_fixes(&parse_pins(RESOLVED)).expect("4.6 and 4.5 differ");
    assert_eq!(fixes, ["jupyterlab==4.5.*", "jupyterlab-language-pack-zh-cn==4.6.*"]);
    // Python 3.7: JupyterLab 3.6.8 with the 4.5 pack.
    let old = "jupyterlab==3.6.8 \\\n    # via -r platform.in\njupyterlab-language-pack-zh-cn==4.5.post3\n";
    assert_eq!(
        language_pack_fixes(&parse_pins(old)).expect("3.6 and 4.5 differ"),
        ["jupyterlab==4.5.*", "jupyterlab-language-pack-zh-cn==3.6.*"]
    );
    let coherent = "jupyterlab==4.5.2\njupyterlab-language-pack-zh-cn==4.5.post3\n";
    assert_eq!(language_pack_fixes(&parse_pins(coherent)), None);
    assert_eq!(language_pack_fixes(&parse_pins("jupyterlab==4.5.2\n")), None);
}

#[test]
fn tensorboard_keeps_a_setuptools_with_pkg_resources() {
    assert_eq!(platform_constraints(&["numpy<2".to_owned(), "tensorboard".to_owned()]), ["setuptools<81"]);
    assert!(platform_constraints(&["jupyterlab".to_owned()]).is_empty());
}

#[test]
fn the_platform_follows_the_os_glibc() {
    assert_eq!(python_platform(Some("ubuntu18.04")), "x86_64-manylinux_2_27");
    assert_eq!(python_platform(Some("ubuntu20.04")), "x86_64-manylinux_2_31");
    assert_eq!(python_platform(Some("ubuntu22.04")), "x86_64-manylinux_2_35");
    assert_eq!(python_platform(Some("ubuntu24.04")), "x86_64-manylinux_2_39");
    assert_eq!(python_platform(None), "x86_64-manylinux_2_17");
}

/// RESOLVED with hashes of 64 hex digits, as uv writes them.
fn resolved() -> String {
    RESOLVED
        .lines()
        .map(|line| match line.split_once("--hash=sha256:") {
            Some((indent, hash)) => format!("{indent}--hash=sha256:{}\n", hash[..2].repeat(32)),
            None => format!("{line}\n"),
        })
        .collect()
}

#[test]
fn a_lock_file_reads_back_what_it_wrote() {
    let lock = LockFile {
        input_hash: "ab".repeat(32),
        base_digest: Some(format!("ubuntu:22.04@sha256:{}", "cd".repeat(32))),
        body: resolved(),
    };
    assert_eq!(LockFile::parse(&lock.render("x:1")), Ok((lock.clone(), Header::Sealed)));
    let plain = LockFile { base_digest: None, ..lock };
    assert_eq!(LockFile::parse(&plain.render("x:1")), Ok((plain.clone(), Header::Sealed)));
    assert!(LockFile::parse("numpy==1\n").is_err());
    // The header of earlier versions: read, but not sealed.
    let old =
        format!("{HEADER}x:1: written by `dlspec lock`, do not edit.\n{INPUT}{}\n{}", plain.input_hash, plain.body);
    assert_eq!(LockFile::parse(&old), Ok((plain, Header::Old)));
}

#[test]
fn a_pin_or_hash_edited_by_hand_breaks_the_seal() {
    let lock = LockFile { input_hash: "ab".repeat(32), base_digest: None, body: resolved() };
    let text = lock.render("x:1");
    for (from, to) in
        [("pandas==2.3.3", "pandas==2.3.4"), ("sha256:dddd", "sha256:eddd"), ("# via -r extras.in", "# via")]
    {
        let edited = text.replacen(from, to, 1);
        assert_ne!(edited, text, "{from}");
        let error = LockFile::parse(&edited).unwrap_err();
        assert!(error.contains("edited by hand"), "{from}: {error}");
    }
}

#[test]
fn only_requirements_hashes_and_plain_comments_are_a_lock() {
    let hash = format!("    --hash=sha256:{}", "ab".repeat(32));
    assert_eq!(well_formed(&format!("numpy==1.26.4 \\\n{hash} \\\n{hash}\n    # via -r x.in\n\nsix==1.0\n")), Ok(()));
    for body in [
        "--extra-index-url http://evil.example/simple\n".to_owned(),
        "numpy==1.26.4 \\\n--index-url http://evil.example\n".to_owned(),
        format!("numpy==1.26.4 \\\n{hash} \\\nsix==1.0\n"),
        format!("numpy==1.26.4 \\\n{hash} \\\n"),
        "numpy>=1\n".to_owned(),
        "numpy==1.0 ; python_version<'3'\n".to_owned(),
        format!("{hash}\n"),
    ] {
        assert!(well_formed(&body).is_err(), "{body:?}");
    }
    // A comment with a line break to pip (form feed, U+2028, …) is refused with the whole lock.
    for separator in ['\u{c}', '\u{2028}', '\u{85}', '\r', '\u{b}', '\u{1c}'] {
        let body = format!("# via x{separator}--extra-index-url http://evil.example/simple\nsix==1.0\n");
        let lock = LockFile { input_hash: "ab".repeat(32), base_digest: None, body };
        let error = LockFile::parse(&lock.render("x:1")).unwrap_err();
        assert!(error.contains(&format!("U+{:04X}", u32::from(separator))), "{error}");
    }
}

/// A layer's pins are the packages of its text, in order: what `PIP_CONSTRAINT` pins.
#[test]
fn a_layers_pins_are_the_packages_of_its_text() {
    for layer in layers(RESOLVED, "tf:1", "specs/.dlspec-lock/tf/1.txt") {
        let parsed: Vec<String> =
            parse_pins(&layer.text).iter().map(|p| format!("{}=={}", p.name, p.version)).collect();
        assert_eq!(layer.pins, parsed, "{}", layer.name);
        assert!(!layer.pins.is_empty());
    }
}
