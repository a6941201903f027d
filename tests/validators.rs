//! Every generated file passes the tools of its format, for every image of `specs/` and of the
//! test corpus `tests/corpus/`: hadolint, shellcheck, `bash -n`, `py_compile`, yamllint,
//! kubernetes-validate, supervisord's own parser, name and label rules of Kubernetes, and
//! python-hcl2 on `docker-bake.hcl`.
//!
//! The tools are looked up in `.venv/bin` (made by `.ci/run`), then on `PATH`. A missing tool
//! fails the test in CI (`CI=true`); elsewhere it is skipped with a `SKIPPED` line on stderr that
//! `cargo test` shows even though the test passes.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use camino::{Utf8Path, Utf8PathBuf};

/// Files given to one tool invocation: enough to keep the command line short.
const BATCH: usize = 64;

const INSTALL_HINT: &str = "run .ci/run, or: python3 -m venv .venv && .venv/bin/pip install -r .ci/requirements.txt";

/// What each tool checks, by the generated file's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Dockerfile,
    Shell,
    Python,
    Kubernetes,
    Supervisor,
    Bake,
}

impl Kind {
    fn of(path: &Utf8Path) -> Option<Self> {
        let name = path.file_name()?;
        let in_k8s = path.parent().and_then(Utf8Path::file_name) == Some("k8s");
        match () {
            () if name == "Dockerfile" => Some(Self::Dockerfile),
            () if name.ends_with(".sh") || path.ends_with("init/bin/shutdown") => Some(Self::Shell),
            () if name.ends_with(".py") || path.ends_with("init/bin/selftest") => Some(Self::Python),
            () if in_k8s && name.ends_with(".yaml") => Some(Self::Kubernetes),
            () if name == "supervisor.ini" => Some(Self::Supervisor),
            () if name == "docker-bake.hcl" => Some(Self::Bake),
            () => None,
        }
    }
}

/// Findings of every check, and the tools that could not run.
#[derive(Default)]
struct Report {
    findings: Vec<String>,
    missing: Vec<(String, String)>,
}

impl Report {
    fn finding(&mut self, tool: &str, file: &Path, output: &str) {
        self.findings.push(format!("{tool}: {}\n{}", file.display(), indent(output)));
    }

    /// The tool's path, or records it as missing.
    fn tool(&mut self, name: &str) -> Option<PathBuf> {
        let found = find_tool(name);
        if found.is_none() {
            self.missing(name, &format!("not found in .venv/bin or PATH; {INSTALL_HINT}"));
        }
        found
    }

    fn missing(&mut self, name: &str, why: &str) {
        self.missing.push((name.to_owned(), why.to_owned()));
    }
}

fn indent(text: &str) -> String {
    text.trim_end().lines().map(|l| format!("    {l}\n")).collect()
}

/// `.venv/bin/NAME` of the repository, else NAME on `PATH`.
fn find_tool(name: &str) -> Option<PathBuf> {
    let venv = common::root().join(".venv/bin").join(name).into_std_path_buf();
    if venv.is_file() {
        return Some(venv);
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|p| p.is_file())
}

fn run(program: &Path, args: &[&std::ffi::OsStr]) -> Output {
    Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn text_of(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Compiles a specs directory with the real binary into a fresh directory.
fn compile(specs: &Utf8Path, scratch: &Path) -> Utf8PathBuf {
    let out = Utf8PathBuf::try_from(scratch.join(specs.file_name().unwrap())).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_dlspec"))
        .args(["compile", specs.as_str(), "--out", out.as_str()])
        .output()
        .expect("the dlspec binary runs");
    assert!(output.status.success(), "dlspec compile {specs} failed:\n{}", text_of(&output));
    out
}

/// The generated files to check, one per distinct content (many images share files).
fn distinct_files(outs: &[Utf8PathBuf]) -> BTreeMap<Kind, Vec<PathBuf>> {
    let mut seen: HashSet<(Kind, Vec<u8>)> = HashSet::new();
    let mut files: BTreeMap<Kind, Vec<PathBuf>> = BTreeMap::new();
    for out in outs {
        for relative in common::files_under(out) {
            let Some(kind) = Kind::of(&relative) else { continue };
            let path = out.join(&relative).into_std_path_buf();
            let content = std::fs::read(&path).unwrap();
            if seen.insert((kind, content)) {
                files.entry(kind).or_default().push(path);
            }
        }
    }
    files
}

/// Runs a tool over the files in batches; a batch that fails is run again file by file, so that
/// every finding names its file.
fn each_file(report: &mut Report, tool: &str, program: &Path, args: &[&str], files: &[PathBuf]) {
    let with = |paths: &[PathBuf]| {
        let mut all: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        all.extend(paths.iter().map(|p| p.as_os_str()));
        run(program, &all)
    };
    for batch in files.chunks(BATCH) {
        if with(batch).status.success() {
            continue;
        }
        for file in batch {
            let output = with(std::slice::from_ref(file));
            if !output.status.success() {
                report.finding(tool, file, &text_of(&output));
            }
        }
    }
}

/// Runs `tests/validators/checks.py CHECK FILES…`, which names the file in each finding.
fn python_check(report: &mut Report, python: &Path, check: &str, files: &[PathBuf]) {
    let script = common::root().join("tests/validators/checks.py");
    for batch in files.chunks(BATCH) {
        let mut args: Vec<&std::ffi::OsStr> = vec![script.as_os_str(), std::ffi::OsStr::new(check)];
        args.extend(batch.iter().map(|p| p.as_os_str()));
        let output = run(python, &args);
        match output.status.code() {
            Some(0) => {}
            Some(3) => {
                report.missing(&format!("{check} check"), &format!("{} ({INSTALL_HINT})", text_of(&output).trim()));
                return;
            }
            _ => report.findings.push(format!("{check} check:\n{}", indent(&text_of(&output)))),
        }
    }
}

/// Generated text is plain: LF endings, one trailing newline, no tabs or trailing blanks, and no
/// runs of blank lines (Python, whose style wants two before a function, excepted).
fn layout_findings(out: &Utf8Path, report: &mut Report) {
    for relative in common::files_under(out) {
        if relative.file_name() == Some(".dlspec-manifest") {
            continue;
        }
        let path = out.join(&relative);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut problems = Vec::new();
        if !text.ends_with('\n') || text.ends_with("\n\n") {
            problems.push("does not end with exactly one newline".to_owned());
        }
        if text.contains('\r') {
            problems.push("contains a CR".to_owned());
        }
        if text.contains("\n\n\n") && Kind::of(&relative) != Some(Kind::Python) {
            problems.push("two blank lines in a row".to_owned());
        }
        for (number, line) in text.lines().enumerate() {
            if line.contains('\t') || line != line.trim_end() {
                problems.push(format!("line {}: a tab or trailing blank", number + 1));
            }
        }
        if !problems.is_empty() {
            report.finding("layout", path.as_std_path(), &problems.join("\n"));
        }
    }
}

#[test]
fn generated_files_pass_their_validators() {
    let root = common::root();
    let scratch = tempfile::tempdir().unwrap();
    let outs = [compile(&root.join("specs"), scratch.path()), compile(&root.join("tests/corpus"), scratch.path())];
    let mut report = Report::default();
    for out in &outs {
        layout_findings(out, &mut report);
    }
    let files = distinct_files(&outs);
    let of = |kind: Kind| files.get(&kind).map_or(&[][..], Vec::as_slice);
    let yamllint_config = root.join("tests/validators/yamllint.yaml");

    // Each validator is a job with its own report; they run side by side.
    type Job<'a> = Box<dyn FnOnce(&mut Report) + Send + 'a>;
    let jobs: Vec<Job> = vec![
        Box::new(|report| {
            if let Some(hadolint) = report.tool("hadolint") {
                // Warnings and errors fail; the inline ignores in the template say why they are there.
                let args = ["--no-color", "--failure-threshold", "warning"];
                each_file(report, "hadolint", &hadolint, &args, of(Kind::Dockerfile));
            }
        }),
        Box::new(|report| {
            if let Some(shellcheck) = report.tool("shellcheck") {
                each_file(report, "shellcheck", &shellcheck, &["--format=gcc"], of(Kind::Shell));
            }
        }),
        Box::new(|report| {
            if let Some(bash) = report.tool("bash") {
                // bash -n reads one script per run.
                for script in of(Kind::Shell) {
                    let output = run(&bash, &["-n".as_ref(), script.as_os_str()]);
                    if !output.status.success() {
                        report.finding("bash -n", script, &text_of(&output));
                    }
                }
            }
        }),
        Box::new(|report| {
            if let Some(yamllint) = report.tool("yamllint") {
                let args = ["--strict", "--format", "parsable", "--config-file", yamllint_config.as_str()];
                each_file(report, "yamllint", &yamllint, &args, of(Kind::Kubernetes));
            }
        }),
        Box::new(|report| {
            if let Some(validate) = report.tool("kubernetes-validate") {
                let args = ["--strict", "--quiet"];
                each_file(report, "kubernetes-validate --strict", &validate, &args, of(Kind::Kubernetes));
            }
        }),
        Box::new(|report| {
            if let Some(python) = find_tool("python").or_else(|| report.tool("python3")) {
                python_check(report, &python, "python", of(Kind::Python));
                python_check(report, &python, "supervisor", of(Kind::Supervisor));
                python_check(report, &python, "kubernetes", of(Kind::Kubernetes));
                python_check(report, &python, "bake", of(Kind::Bake));
            }
        }),
    ];
    let reports: Vec<Report> = std::thread::scope(|scope| {
        let running: Vec<_> = jobs
            .into_iter()
            .map(|job| {
                scope.spawn(move || {
                    let mut report = Report::default();
                    job(&mut report);
                    report
                })
            })
            .collect();
        running.into_iter().map(|r| r.join().expect("a validator job panicked")).collect()
    });
    for done in reports {
        report.findings.extend(done.findings);
        report.missing.extend(done.missing);
    }

    let checked: usize = files.values().map(Vec::len).sum();
    assert!(checked > 0, "no generated files found");
    // Missing tools are reported on the real stderr (a failure in CI) whatever the findings are.
    common::skipped(&report.missing.iter().map(|(name, why)| format!("validator {name}: {why}")).collect::<Vec<_>>());
    let failures = report.findings;
    assert!(failures.is_empty(), "generated files with problems:\n\n{}", failures.join("\n"));
}

/// The YAML files `dlspec init` writes (the pre-commit config, the CI workflow), pinned at a
/// 40-character commit and unpinned, written into `scratch`.
fn init_yaml(scratch: &Path) -> Vec<PathBuf> {
    let mut yaml = Vec::new();
    for (n, rev) in [Some("0123456789abcdef0123456789abcdef01234567".to_owned()), None].into_iter().enumerate() {
        let source = dlspec::init::Source { repo: "https://github.com/example-platform/dlspec".to_owned(), rev };
        for (path, text) in dlspec::init::render(&source).unwrap() {
            if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                let full = scratch.join(format!("{n}-{}", path.file_name().unwrap()));
                std::fs::write(&full, text).unwrap();
                yaml.push(full);
            }
        }
    }
    yaml
}

/// The CI workflow `dlspec init` writes is a GitHub Actions workflow (GitHub's schema, as
/// check-jsonschema ships it), and each of its scripts passes shellcheck and splices in no
/// expression.
#[test]
fn init_workflow_is_a_github_workflow_with_sound_scripts() {
    let scratch = tempfile::tempdir().unwrap();
    let workflows: Vec<PathBuf> =
        init_yaml(scratch.path()).into_iter().filter(|p| p.extension().is_some_and(|e| e == "yml")).collect();
    assert_eq!(workflows.len(), 2);
    let mut report = Report::default();
    if let Some(python) = find_tool("python").or_else(|| report.tool("python3")) {
        python_check(&mut report, &python, "workflow", &workflows);
    }
    common::skipped(&report.missing.iter().map(|(name, why)| format!("validator {name}: {why}")).collect::<Vec<_>>());
    assert!(report.findings.is_empty(), "{}", report.findings.join("\n"));
}

/// The YAML files `dlspec init` writes pass yamllint's defaults, strict.
#[test]
fn init_scaffold_passes_yamllint() {
    let Some(yamllint) = find_tool("yamllint") else {
        common::skipped(&[format!("validator yamllint: not found in .venv/bin or PATH; {INSTALL_HINT}")]);
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let yaml = init_yaml(scratch.path());
    assert_eq!(yaml.len(), 4, "the pre-commit config and the CI workflow, pinned and not");
    let mut args: Vec<&std::ffi::OsStr> = vec!["--strict".as_ref(), "--format".as_ref(), "parsable".as_ref()];
    args.extend(yaml.iter().map(|p| p.as_os_str()));
    let output = run(&yamllint, &args);
    assert!(output.status.success(), "yamllint:\n{}", text_of(&output));
}
