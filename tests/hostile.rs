//! Hostile inputs: values that would inject code into a generated file, and inputs that would
//! crash, hang or exhaust the compiler. Each is refused with a message, or rendered as data, as the
//! real tools of each generated language read it.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use camino::{Utf8Path, Utf8PathBuf};
use dlspec::source::SourceMap;

/// Pieces of attack on each language the generated files are written in.
const PAYLOADS: &[&str] = &[
    "\n touch /tmp/pwned #",
    "\r__import__('os').system('id')\r",
    "\u{2028}--- {kind: Pod}\u{2029}",
    "\u{85}NEL",
    "\u{7f}\u{1b}[31m\u{0}",
    "'\"`id`$(id)${HOME}",
    "%(here)s%{x}",
    "{{ image }}{% if %}",
    "# -->\\",
    "東京 ünï \u{202e}txt",
];

/// A spec that produces every file: SSH with a literal password (the Secret), JupyterLab,
/// TensorBoard and extra packages.
fn spec(password: &str) -> String {
    format!(
        "image \"hostile\" {{\n    pytorch \"2.3.0\"\n    python \"3.10\"\n    cpu\n    apt \"htop\"\n    pip \"pandas\"\n    \
         ssh password={}\n}}\n",
        common::kdl_string(password)
    )
}

/// Every file the spec generates when read from a file of the given relative name.
fn generate(relative: &str, text: &str) -> BTreeMap<Utf8PathBuf, Vec<u8>> {
    let mut sources = SourceMap::default();
    sources.add(Utf8PathBuf::from(format!("specs/{relative}")), relative.to_owned(), text);
    let (images, diags) = dlspec::pipeline::analyze(&sources);
    assert!(!diags.has_errors(), "{relative:?}: {:?}", diags.into_vec());
    let templates = dlspec::render::Templates::load(None).unwrap();
    let plan = dlspec::plan::plan(&images, &templates).unwrap();
    plan.files.into_iter().map(|(path, file)| (path, file.bytes)).collect()
}

fn write_tree(dir: &Utf8Path, files: &BTreeMap<Utf8PathBuf, Vec<u8>>) {
    for (path, bytes) in files {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, bytes).unwrap();
    }
}

/// Undoes the escapes of generated comments: `\u{…}`, as the `comment` and `html_comment` filters
/// write them.
fn unescape_comment(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("\\u{") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find('}').unwrap() + at;
        let code = u32::from_str_radix(&rest[at + 3..end], 16).unwrap();
        out.push(char::from_u32(code).unwrap());
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The hostile file has the benign file's lines, but where the benign one names its spec, the
/// hostile one names its own, escaped on that one line, reading back as the hostile name.
fn assert_named_as_data(path: &Utf8Path, benign: &str, hostile: &str, name: &str) {
    let (benign_lines, hostile_lines): (Vec<&str>, Vec<&str>) =
        (benign.split('\n').collect(), hostile.split('\n').collect());
    assert_eq!(benign_lines.len(), hostile_lines.len(), "{path}: the name {name:?} added lines:\n{hostile}");
    for (b, h) in benign_lines.iter().zip(&hostile_lines) {
        if b == h {
            continue;
        }
        let at =
            b.find("benign.kdl").unwrap_or_else(|| panic!("{path}: a line changed that does not name the spec: {h:?}"));
        let (prefix, suffix) = (&b[..at], &b[at + "benign.kdl".len()..]);
        assert!(h.starts_with(prefix) && h.ends_with(suffix), "{path}: {h:?} is not {b:?} with another name");
        let written = &h[prefix.len()..h.len() - suffix.len()];
        assert!(!written.chars().any(dlspec::source::unsafe_char), "{path}: {written:?} is not escaped");
        assert!(!(prefix.starts_with("<!--") && written.contains("--")), "{path}: {written:?} can close the comment");
        assert_eq!(unescape_comment(written), name, "{path}: the name does not read back");
    }
}

/// `.venv/bin/NAME` of the repository, else NAME on `PATH`; `None` (with a notice) outside CI.
fn tool(name: &str) -> Option<PathBuf> {
    let venv = common::root().join(".venv/bin").join(name).into_std_path_buf();
    let found = if venv.is_file() {
        Some(venv)
    } else {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).map(|d| d.join(name)).find(|p| p.is_file())
    };
    assert!(found.is_some() || !common::in_ci(), "{name} is missing (run .ci/run)");
    if found.is_none() {
        eprintln!("note: skipping {name}: not found in .venv/bin or PATH");
    }
    found
}

fn run(program: &Path, args: &[&std::ffi::OsStr]) -> Output {
    Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One generated tree to validate: the tree of the benign name it must parse like, the password
/// its Secret must hold, and the value its `env "GREETING"` must have.
struct Tree {
    dir: Utf8PathBuf,
    benign: Utf8PathBuf,
    password: String,
    greeting: Option<String>,
}

/// Every generated file of every tree passes the tools of its language (one run of each tool over
/// all trees), and parses as its benign tree does.
fn validate(trees: &[Tree]) {
    let files: Vec<Utf8PathBuf> =
        trees.iter().flat_map(|t| common::files_under(&t.dir).into_iter().map(|p| t.dir.join(p))).collect();
    let of = |test: fn(&Utf8Path) -> bool| files.iter().filter(|p| test(p)).map(|p| p.as_os_str()).collect::<Vec<_>>();
    let shell = of(|p| p.extension() == Some("sh") || p.ends_with("init/bin/shutdown"));
    if let Some(bash) = tool("bash") {
        for script in &shell {
            assert_success(&format!("bash -n {script:?}"), &run(&bash, &["-n".as_ref(), script]));
        }
    }
    if let Some(shellcheck) = tool("shellcheck") {
        assert_success("shellcheck", &run(&shellcheck, &shell));
    }
    if let Some(hadolint) = tool("hadolint") {
        let mut args: Vec<&std::ffi::OsStr> =
            vec!["--no-color".as_ref(), "--failure-threshold".as_ref(), "warning".as_ref()];
        args.extend(of(|p| p.file_name() == Some("Dockerfile")));
        assert_success("hadolint", &run(&hadolint, &args));
    }
    if let Some(yamllint) = tool("yamllint") {
        let config = common::root().join("tests/validators/yamllint.yaml");
        let mut args: Vec<&std::ffi::OsStr> = vec!["--strict".as_ref(), "--config-file".as_ref(), config.as_os_str()];
        args.extend(of(|p| p.extension() == Some("yaml")));
        assert_success("yamllint", &run(&yamllint, &args));
    }
    let Some(python) = tool("python3") else { return };
    let checks = common::root().join("tests/validators/checks.py");
    for (check, test) in [
        ("python", (|p: &Utf8Path| p.extension() == Some("py")) as fn(&Utf8Path) -> bool),
        ("supervisor", |p| p.file_name() == Some("supervisor.ini")),
        ("kubernetes", |p| p.extension() == Some("yaml")),
        ("bake", |p| p.file_name() == Some("docker-bake.hcl")),
    ] {
        let mut args: Vec<&std::ffi::OsStr> = vec![checks.as_os_str(), check.as_ref()];
        args.extend(of(test));
        assert_success(&format!("checks.py {check}"), &run(&python, &args));
    }
    let roundtrip = common::root().join("tests/validators/roundtrip.py");
    for tree in trees {
        let (dir, benign) = (tree.dir.as_os_str(), tree.benign.as_os_str());
        assert_success("roundtrip.py same", &run(&python, &[roundtrip.as_os_str(), "same".as_ref(), benign, dir]));
        let password = tree.password.as_ref();
        assert_success(
            "roundtrip.py password",
            &run(&python, &[roundtrip.as_os_str(), "password".as_ref(), dir, password]),
        );
        if let Some(greeting) = &tree.greeting {
            let args = [roundtrip.as_os_str(), "env".as_ref(), dir, "GREETING".as_ref(), greeting.as_ref()];
            assert_success("roundtrip.py env", &run(&python, &args));
        }
    }
}

/// Spec file names that `discover` refuses reach the templates here anyway, straight through a
/// `SourceMap`: the escaping alone must keep them comments. Passwords of every printable
/// character reach shell and YAML quoted.
#[test]
fn hostile_spec_names_and_passwords_render_as_data() {
    let scratch = tempfile::tempdir().unwrap();
    let scratch = Utf8Path::from_path(scratch.path()).unwrap();
    let benign_password = "hunter2";
    let benign = generate("benign.kdl", &spec(benign_password));
    let benign_dir = scratch.join("benign");
    write_tree(&benign_dir, &benign);
    let mut trees = Vec::new();
    for (i, payload) in PAYLOADS.iter().enumerate() {
        let name = format!("team/x{payload}y.kdl");
        let files = generate(&name, &spec(benign_password));
        assert_eq!(files.keys().collect::<Vec<_>>(), benign.keys().collect::<Vec<_>>());
        for (path, bytes) in &files {
            let (b, h) = (std::str::from_utf8(&benign[path]).unwrap(), std::str::from_utf8(bytes).unwrap());
            assert_named_as_data(path, b, h, &name);
        }
        let dir = scratch.join(format!("name-{i}"));
        write_tree(&dir, &files);
        trees.push(Tree { dir, benign: benign_dir.clone(), password: benign_password.to_owned(), greeting: None });
    }
    // The password is checked to be printable ASCII on one line: every such payload is data.
    let printable = PAYLOADS.iter().filter(|p| p.chars().all(|c| c.is_ascii_graphic() || c == ' '));
    for (i, payload) in printable.enumerate() {
        let password = format!("pw{payload}");
        let dir = scratch.join(format!("password-{i}"));
        write_tree(&dir, &generate("benign.kdl", &spec(&password)));
        trees.push(Tree { benign: dir.clone(), dir, password, greeting: None });
    }
    validate(&trees);
}

/// Every string property that reaches a generated file refuses every payload: they are validated
/// for the languages they reach, so none of them gets to a template.
#[test]
fn hostile_property_values_are_refused() {
    let properties = [
        "image \"pytorch{}\" {\n  python \"3.10\"\n  cpu\n}",
        "image \"pytorch\" {\n  python \"3.10\"\n  cpu\n  tag \"2.3{}\"\n}",
        "image \"pytorch\" {\n  python \"3.10\"\n  base \"ubuntu:22.04{}\"\n}",
        "image \"pytorch\" {\n  python \"3.10\"\n  cpu\n  timezone \"Asia/Shanghai{}\"\n}",
        "image \"pytorch\" {\n  python \"3.10\"\n  cpu\n  locale \"en_US.UTF-8{}\"\n}",
        "image \"pytorch\" {\n  python \"3.10\"\n  cpu\n  apt \"htop{}\"\n}",
        "image \"pytorch\" {\n  python \"3.10\"\n  cpu\n  pip \"pandas{}\"\n}",
        "image \"pytorch\" {\n  python \"3.10\"\n  cpu\n  mirrors pip=\"https://mirrors.example.com/simple{}\"\n}",
        "image \"pytorch\" {\n  python \"3.10\"\n  cpu\n  ssh password-file=\"/sync/root-passwd{}\"\n}",
        "image \"pytorch\" {\n  python \"3.10\"\n  cpu\n  jupyter base-url=\"/lab{}\"\n}",
        "image \"pytorch\" {\n  python \"3.10\"\n  cpu\n  jupyter root-dir=\"/workspace{}\"\n}",
        "image \"pytorch\" {\n  python \"3.10\"\n  cpu\n  jupyter token-file=\"/run/secrets/token{}\"\n}",
        "image \"pytorch\" {\n  python \"3.10\"\n  cpu\n  tensorboard logdir=\"/data/tb{}\"\n}",
        "image \"pytorch\" {\n  python \"3.10\"\n  cpu\n  tensorboard path-prefix=\"/tb{}\"\n}",
        "image \"pytorch\" {\n  python \"3.10\"\n  cpu\n  docker-run name=\"dev{}\"\n}",
        "image \"pytorch\" {\n  python \"3.10\"\n  cpu\n  kubernetes shm-size=\"1Gi{}\"\n}",
        "image \"pytorch\" {\n  python \"3.10\"\n  cpu\n  kubernetes {\n    requests cpu=\"1{}\"\n  }\n}",
        "image \"pytorch\" {\n  python \"3.10\"\n  cpu\n  env \"HF_TOKEN\" secret=\"hf-token{}\"\n}",
        "image \"pytorch\" {\n  python \"3.10\"\n  cpu\n  env \"HF_TOKEN\" secret=\"hf-token\" key=\"token{}\"\n}",
    ];
    for property in properties {
        let benign = property.replace("{}", "");
        let (files, codes) = common::generate(&benign);
        assert!(!files.is_empty(), "the benign form of the case does not compile: {benign}\n{codes:?}");
        for payload in PAYLOADS {
            let quoted = common::kdl_string(payload);
            let spec = property.replace("{}", &quoted[1..quoted.len() - 1]);
            let (files, codes) = common::generate(&spec);
            assert!(files.is_empty(), "accepted {payload:?} in:\n{spec}");
            assert!(!codes.is_empty() && !codes.contains(&"dlspec::syntax"), "{spec}: {codes:?}");
        }
    }
}

/// An `env` value reaches the Dockerfile's `ENV`, the shell that writes /etc/environment and the
/// Deployment: each payload is refused by `check`, on the value, or every tool reads it back as it
/// was written in the spec.
#[test]
fn hostile_env_values_are_refused_or_read_back_as_written() {
    let scratch = tempfile::tempdir().unwrap();
    let scratch = Utf8Path::from_path(scratch.path()).unwrap();
    let spec = |value: &str| {
        format!(
            "image \"hostile\" {{\n    pytorch \"2.3.0\"\n    python \"3.10\"\n    cpu\n    env \"GREETING\" {}\n}}\n",
            common::kdl_string(value)
        )
    };
    let quoting = ["it's a 'quote'", "a;b&c|d>e<f #x", "~*?[a]{b} %s 東京"];
    let mut trees = Vec::new();
    for (i, payload) in PAYLOADS.iter().chain(&quoting).enumerate() {
        let value = format!("hi{payload}");
        let text = spec(&value);
        let (files, codes) = common::generate(&text);
        if files.is_empty() {
            assert_eq!(codes, ["dlspec::value::env"], "{value:?} is refused, but not on its value alone");
            continue;
        }
        let dir = scratch.join(format!("env-{i}"));
        write_tree(&dir, &generate("benign.kdl", &text));
        trees.push(Tree { benign: dir.clone(), dir, password: String::new(), greeting: Some(value) });
    }
    assert!(trees.len() > quoting.len(), "some payloads of PAYLOADS are plain data to `env`");
    validate(&trees);
}

/// Runs the binary in `dir`; a run that has not finished after a minute is killed and fails the
/// test, so that a hang is a failure and not a stuck test run.
fn dlspec(dir: &Utf8Path, args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dlspec"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("dlspec runs");
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("dlspec {args:?} did not finish within a minute");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let code =
        output.status.code().unwrap_or_else(|| panic!("dlspec {args:?} was killed by a signal: {:?}", output.status));
    (code, String::from_utf8_lossy(&output.stderr).into_owned())
}

/// A scratch directory with `specs/` holding the given files.
fn catalog(files: &[(&str, &str)]) -> (tempfile::TempDir, Utf8PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let dir = Utf8PathBuf::try_from(temp.path().to_path_buf()).unwrap();
    std::fs::create_dir(dir.join("specs")).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join("specs").join(name), text).unwrap();
    }
    (temp, dir)
}

const SPEC: &str = "image \"pytorch\" {\n    pytorch \"2.3.0\"\n    python \"3.10\"\n    cpu\n}\n";

#[test]
fn spec_names_that_cannot_be_written_safely_are_refused() {
    for name in ["a\nrm -rf ~.kdl", "a\rb.kdl", "a\u{2028}b.kdl", "a\u{85}b.kdl", "a\u{202e}b.kdl"] {
        let (_temp, dir) = catalog(&[(name, SPEC)]);
        let (code, stderr) = dlspec(&dir, &["compile"]);
        assert_eq!(code, 2, "{name:?}: {stderr}");
        assert!(stderr.contains(&format!("{name:?}")) && stderr.contains("rename the file"), "{stderr}");
        assert!(!dir.join("out").exists(), "{name:?}: something was written");
    }
}

#[test]
fn only_regular_files_of_bounded_size_are_read() {
    let (_temp, dir) = catalog(&[]);
    let fifo = dir.join("specs/fifo.kdl");
    let made = Command::new("mkfifo").arg(fifo.as_str()).status().expect("mkfifo runs");
    assert!(made.success());
    // The directory walk skips it; one swapped in behind the walk is refused on the opened file.
    let (code, stderr) = dlspec(&dir, &["check"]);
    assert_eq!(code, 0, "{stderr}");
    for path in [fifo.as_path(), Utf8Path::new("/dev/zero")] {
        let refused = dlspec::files::read_text_file(path, dlspec::source::MAX_SPEC_BYTES).unwrap_err();
        assert!(matches!(&refused, dlspec::error::Error::NotRegular { path: p } if p == path), "{refused}");
        assert!(refused.to_string().contains("not a regular file"), "{refused}");
    }

    let limit = usize::try_from(dlspec::source::MAX_SPEC_BYTES).unwrap();
    let huge = format!("{SPEC}{}", "// padding\n".repeat(limit / 11 + 1));
    std::fs::write(dir.join("specs/huge.kdl"), huge).unwrap();
    let (code, stderr) = dlspec(&dir, &["check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("huge.kdl") && stderr.contains("larger than 1 MiB"), "{stderr}");
}

/// The cap on one spec file does not bound a catalog of many: the specs of a catalog are at most
/// `MAX_CATALOG_BYTES` together, refused before one is parsed.
#[test]
fn a_catalog_of_many_capped_files_is_refused_before_it_is_parsed() {
    let profiles: String = (0..24_000).map(|n| format!("profile \"p{n:05}\" {{\n    timezone \"UTC\"\n}}\n")).collect();
    assert!(profiles.len() as u64 <= dlspec::source::MAX_SPEC_BYTES);
    let files: Vec<(String, String)> = (0..12)
        .map(|n| (format!("team{n:02}.kdl"), profiles.replace("profile \"p", &format!("profile \"t{n:02}p"))))
        .collect();
    let mut named: Vec<(&str, &str)> = files.iter().map(|(name, text)| (name.as_str(), text.as_str())).collect();
    named.push(("pytorch.kdl", SPEC));
    let (_temp, dir) = catalog(&named);
    for command in [&["check"][..], &["compile"], &["lock", "--check"], &["list"]] {
        let started = std::time::Instant::now();
        let (code, stderr) = dlspec(&dir, command);
        assert_eq!(code, 2, "{command:?}: {stderr}");
        assert!(
            stderr.contains("the spec files of `specs` hold") && stderr.contains("more than the 8 MiB"),
            "{stderr}"
        );
        assert!(stderr.contains("split the catalog"), "{stderr}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{command:?}: parsed before it was refused");
    }
    assert!(!dir.join("out").exists());
}

#[test]
fn thousands_of_unused_profiles_make_a_hundred_and_one_warnings() {
    let profiles: String = (0..3_000).map(|n| format!("profile \"p{n:04}\" {{\n    timezone \"UTC\"\n}}\n")).collect();
    let (_temp, dir) = catalog(&[("profiles.kdl", &profiles), ("pytorch.kdl", SPEC)]);
    let (code, stderr) = dlspec(&dir, &["check"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("101 warnings emitted"), "{}", &stderr[stderr.len().saturating_sub(300)..]);
    assert!(
        stderr.contains("profile `p0099` is used by no image") && !stderr.contains("profile `p0100` is used"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2900 more profiles, this one and those after it by name, are used by no image"),
        "{stderr}"
    );
}

#[test]
fn deep_nesting_is_a_diagnostic_not_a_crash() {
    let nodes = format!("image \"pytorch\" {{\n{}{}\n}}\n", "a {".repeat(2_000), "}".repeat(2_000));
    let comments = format!("{}\n{SPEC}{}", "/*".repeat(5_000), "*/".repeat(5_000));
    for text in [nodes, comments] {
        let (_temp, dir) = catalog(&[("deep.kdl", &text)]);
        let (code, stderr) = dlspec(&dir, &["check"]);
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("dlspec::syntax") && stderr.contains("nested more than 32 levels"), "{stderr}");
    }
}

/// One-line overrides that would take gigabytes of memory or of output, each stopped by the
/// template's budget with an error that names it; `out/` stays as the last compile left it.
#[test]
fn template_overrides_cannot_take_unbounded_memory_or_output() {
    const PAYLOADS: &[&str] = &[
        r#"{{ ("a\n" * 1000)|indent(100000000, true) }}"#,
        r#"{% set ns = namespace(s="xx") %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}"#,
        r#"{% set ns = namespace(s="xx") %}{% for i in range(64) %}{% set ns.s = ns.s|replace("x", "xx") %}{% endfor %}{{ ns.s }}"#,
        r#"{% macro m(s, n) %}{% if n > 0 %}{{ m(s ~ s, n - 1) }}{% else %}{{ s }}{% endif %}{% endmacro %}{{ m("ab", 60) }}"#,
        r#"{% for i in range(100000) %}{{ "x" * 20000 }}{% endfor %}"#,
        r#"{{ "%999999999s"|format("x") }}"#,
        r#"{{ range(100000)|join("x" * 10000) }}"#,
        r#"{{ ["x" * 1000] * 100000 }}"#,
        r#"{{ "\n" * 90000000 }}x"#,
        r#"{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"#,
    ];
    let (_temp, dir) = catalog(&[("pytorch.kdl", SPEC)]);
    assert_eq!(dlspec(&dir, &["compile"]).0, 0);
    let before = common::files_under(&dir.join("out"));
    let readme = std::fs::read(dir.join("out/README.md")).unwrap();
    for template in ["image/Dockerfile.j2", "image/README.md.j2", "catalog/README.md.j2", "catalog/docker-bake.hcl.j2"]
    {
        for payload in PAYLOADS {
            let overrides = dir.join("templates");
            let _ = std::fs::remove_dir_all(&overrides);
            std::fs::create_dir_all(overrides.join(template).parent().unwrap()).unwrap();
            std::fs::write(overrides.join(template), format!("{payload}\n")).unwrap();
            let started = std::time::Instant::now();
            let (code, stderr) = dlspec(&dir, &["compile", "--templates", "templates"]);
            assert_eq!(code, 2, "{template}: {payload}: {stderr}");
            assert!(stderr.contains(&format!("template `{template}`")), "{template}: {payload}: {stderr}");
            assert!(stderr.contains("ran out of fuel") || stderr.contains("wrote more than"), "{stderr}");
            assert!(started.elapsed() < std::time::Duration::from_secs(20), "{template}: {payload}: slow");
            assert_eq!(common::files_under(&dir.join("out")), before, "{template}: {payload}: out/ changed");
            assert_eq!(std::fs::read(dir.join("out/README.md")).unwrap(), readme);
            let (code, _) = dlspec(&dir, &["compile", "--check", "--templates", "templates"]);
            assert_eq!(code, 2, "{template}: {payload}: --check stops too");
        }
    }
}

/// The catalog templates' budget grows with the catalog: the catalog files of 50,000 images of
/// the example catalog's kind (the README is 23 MB) fit it with room to spare, and an image's
/// budget fits an image of 80,000 pip packages; a one-image catalog's budget is a few MiB.
#[test]
fn the_budget_of_the_catalog_templates_grows_with_the_catalog() {
    use dlspec::render::{Budget, data_size};
    let sources = common::repo_specs();
    let (images, _) = dlspec::pipeline::analyze(&sources);
    let entries: Vec<dlspec::model::Entry> = images.iter().map(dlspec::model::Entry::of).collect();
    let per_image = entries.iter().map(data_size).sum::<u64>() / entries.len() as u64;
    let budget = Budget::catalog(per_image * 50_000);
    assert!(budget.output > 3 * 31_000_000, "{budget:?}: the bake file of 50,000 images is 31 MB");
    assert!(budget.fuel > 4 * 132 * 50_000, "{budget:?}: the README takes 132 units per image");
    assert!(Budget::catalog(per_image).output < 2 << 20, "one image: {:?}", Budget::catalog(per_image));
    let pip = SPEC.replace(
        "    cpu\n",
        &format!("    cpu\n    pip {}\n", (0..80_000).map(|n| format!("\"pkg{n:05}\"")).collect::<Vec<_>>().join(" ")),
    );
    let (files, codes) = common::generate(&pip);
    assert!(files.keys().any(|p| p.ends_with("Dockerfile")), "{codes:?}");
}

#[test]
fn a_runaway_template_stops() {
    let (_temp, dir) = catalog(&[("pytorch.kdl", SPEC)]);
    let templates = dir.join("templates/image");
    std::fs::create_dir_all(&templates).unwrap();
    let runaway = "{% for a in range(100000) %}{% for b in range(100000) %}{{ a }}{% endfor %}{% endfor %}\n";
    std::fs::write(templates.join("Dockerfile.j2"), runaway).unwrap();
    let (code, stderr) = dlspec(&dir, &["compile", "--templates", "templates"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("out of fuel"), "{stderr}");
}
