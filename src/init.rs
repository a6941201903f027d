//! `dlspec init`: the files of a new catalog repository (an example spec, the pre-commit config,
//! a CI workflow, `.gitignore`), rendered from `templates/init/`.
//!
//! The pre-commit hooks run the installed dlspec (`repo: local`, `language: system`): they need
//! no tag, no download and no build, so they work in any clone from the first commit. CI installs
//! dlspec from its repository at a commit that exists: the one this dlspec was built from (see
//! `build.rs`), or `--rev`.

use camino::{Utf8Path, Utf8PathBuf};
use minijinja::{Environment, UndefinedBehavior, context, syntax::SyntaxConfig};

use crate::error::Error;
use crate::render::SCAFFOLD_TEMPLATES;

/// Each file of the scaffold: its path in the new repository and its template (one of
/// [`SCAFFOLD_TEMPLATES`]).
const FILES: &[(&str, &str)] = &[
    ("specs/example.kdl", "init/example.kdl.j2"),
    (".pre-commit-config.yaml", "init/pre-commit-config.yaml.j2"),
    (".github/workflows/dlspec.yml", "init/ci.yml.j2"),
    (".gitignore", "init/gitignore.j2"),
];

/// The git commit this dlspec was built from, when it was built from a checkout of its own
/// repository (`build.rs`); `None` for a build from a package or a source tarball.
pub const BUILT_FROM: Option<&str> = option_env!("DLSPEC_COMMIT");

/// Whether the sources it was built from differed from [`BUILT_FROM`] (uncommitted changes).
pub const BUILT_DIRTY: bool = option_env!("DLSPEC_COMMIT_DIRTY").is_some();

/// Where the catalog's CI gets dlspec from.
#[derive(Debug, Clone)]
pub struct Source {
    /// A git URL (or path) of the dlspec repository.
    pub repo: String,
    /// The commit (or tag) of it to install; `None`: its default branch, unpinned.
    pub rev: Option<String>,
}

/// The scaffold's files, by path relative to the new repository, rendered.
///
/// # Errors
/// When the repository or revision holds characters that YAML or a shell would read otherwise.
pub fn render(source: &Source) -> Result<Vec<(Utf8PathBuf, String)>, Error> {
    no_credentials(&source.repo)?;
    plain("--hooks-repo", &source.repo)?;
    if let Some(rev) = &source.rev {
        plain("--rev", rev)?;
    }
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        SyntaxConfig::builder().keep_trailing_newline(true).build().expect("the default delimiters are valid"),
    );
    for (name, text) in SCAFFOLD_TEMPLATES {
        env.add_template(name, text).expect("the embedded init templates parse");
    }
    let ctx = context! { hooks_repo => &source.repo, rev => &source.rev };
    Ok(FILES
        .iter()
        .map(|(path, name)| {
            let text = env.get_template(name).and_then(|t| t.render(&ctx)).expect("the init templates render");
            (Utf8PathBuf::from(path), text)
        })
        .collect())
}

/// Refuses a repository URL that carries credentials: a password (`https://user:token@host/…`),
/// or any user name but SSH's (GitHub takes a token as the user name of `https://TOKEN@github.com`).
/// The URL is written into the files the user commits next. The error does not repeat them.
fn no_credentials(repo: &str) -> Result<(), Error> {
    let (scheme, userinfo, host_and_path) = match repo.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..authority_end].rsplit_once('@') {
                Some((userinfo, _)) => (scheme, userinfo, &rest[userinfo.len() + 1..]),
                None => return Ok(()),
            }
        }
        // scp-like `user@host:path`: SSH, which takes no password in it.
        None => return Ok(()),
    };
    let ssh = matches!(scheme.to_ascii_lowercase().as_str(), "ssh" | "git+ssh" | "ssh+git");
    if ssh && !userinfo.contains(':') {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "--hooks-repo `{scheme}://…@{host_and_path}` holds credentials (the part before `@`): `dlspec init` writes \
         the URL into `.pre-commit-config.yaml` and `.github/workflows/dlspec.yml`, which are committed; give it \
         without them (`{scheme}://{host_and_path}`), and let git's credential helper or an SSH key authenticate"
    )))
}

/// Refuses a value that would need quoting in YAML or a shell: URLs, paths, tags and commits
/// never do.
fn plain(flag: &str, value: &str) -> Result<(), Error> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._~:/@+=-%".contains(c);
    if value.is_empty() || value.starts_with('-') || !value.chars().all(allowed) {
        return Err(Error::Usage(format!(
            "{flag} `{value}` is not a plain git URL, path or revision (letters, digits and ._~:/@+=-% only)"
        )));
    }
    Ok(())
}

/// Writes `files` below `dir` (created when missing). Refuses, writing nothing, when any of them
/// exists already.
///
/// # Errors
/// When a file exists, or on any I/O error.
pub fn write(dir: &Utf8Path, files: &[(Utf8PathBuf, String)]) -> Result<(), Error> {
    // A symlinked folder on the way is refused before any file is written.
    for (path, _) in files {
        crate::files::path_below(dir, path)?;
    }
    let existing: Vec<Utf8PathBuf> =
        files.iter().map(|(path, _)| dir.join(path)).filter(|p| p.symlink_metadata().is_ok()).collect();
    if !existing.is_empty() {
        return Err(Error::InitExists { paths: existing });
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::create(dir, e))?;
    for (path, text) in files {
        crate::files::write_file_below(dir, path, text.as_bytes(), crate::files::Existing::Refuse)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Source {
        Source {
            repo: "https://example.com/platform/dlspec.git".into(),
            rev: Some("0123456789abcdef0123456789abcdef01234567".into()),
        }
    }

    #[test]
    fn the_example_spec_compiles() {
        let files = render(&source()).unwrap();
        let (_, example) = files.iter().find(|(p, _)| p == "specs/example.kdl").unwrap();
        let mut sources = crate::source::SourceMap::default();
        sources.add("specs/example.kdl".into(), "example.kdl".into(), example.as_str());
        let (images, diags) = crate::pipeline::analyze(&sources);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(images.len(), 1);
    }

    /// Each hook of a pre-commit YAML file (`- id:` and the `key: value` lines after it), by id.
    fn hooks(yaml: &str) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> {
        let mut hooks = std::collections::BTreeMap::new();
        let mut current: Option<(String, std::collections::BTreeMap<String, String>)> = None;
        for line in yaml.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
            if let Some(id) = line.strip_prefix("- id: ") {
                hooks.extend(current.take());
                current = Some((id.to_owned(), std::collections::BTreeMap::new()));
            } else if let (Some((_, fields)), Some((key, value))) = (current.as_mut(), line.split_once(": ")) {
                fields.insert(key.to_owned(), value.to_owned());
            }
        }
        hooks.extend(current);
        hooks
    }

    #[test]
    fn the_hooks_run_the_installed_dlspec_and_need_nothing_to_resolve() {
        let files = render(&source()).unwrap();
        let (_, config) = files.iter().find(|(p, _)| p == ".pre-commit-config.yaml").unwrap();
        assert!(config.contains("  - repo: local\n"), "{config}");
        assert!(!config.contains("rev:"), "nothing to check out, no tag to find: {config}");
        let hooks = hooks(config);
        assert_eq!(hooks.len(), 3, "{config}");
        assert!(hooks.values().all(|h| h["language"] == "system"), "{config}");
    }

    /// The hooks `init` writes are those of `.pre-commit-hooks.yaml` (what a catalog pins as a
    /// remote repository), run by the installed dlspec instead of one pre-commit builds.
    #[test]
    fn the_local_hooks_are_the_hooks_this_repository_ships() {
        let files = render(&source()).unwrap();
        let (_, config) = files.iter().find(|(p, _)| p == ".pre-commit-config.yaml").unwrap();
        let shipped = hooks(include_str!("../.pre-commit-hooks.yaml"));
        let local = hooks(config);
        assert_eq!(local.keys().collect::<Vec<_>>(), shipped.keys().collect::<Vec<_>>());
        for (id, hook) in &local {
            for field in ["name", "entry", "pass_filenames", "files"] {
                assert_eq!(hook.get(field), shipped[id].get(field), "{id}: {field}");
            }
        }
    }

    #[test]
    fn each_hook_runs_when_what_it_reads_changes() {
        let hooks = hooks(include_str!("../.pre-commit-hooks.yaml"));
        // The specs, a templates folder in specs/ or beside it, the locks, out/, and the config.
        let compile = &hooks["dlspec-compile-check"]["files"];
        for read in ["specs/", "templates/", "out/", ".pre-commit-config"] {
            assert!(compile.contains(&read.replace('.', "\\.")), "{compile} misses {read}");
        }
        assert!(hooks["dlspec-lock-check"]["files"].contains("dlspec-lock/"));
        assert!(hooks["dlspec-check"]["files"].contains("specs/.*\\.kdl"));
    }

    #[test]
    fn ci_installs_the_pinned_commit_or_says_it_is_unpinned() {
        let files = render(&source()).unwrap();
        let (_, ci) = files.iter().find(|(p, _)| p == ".github/workflows/dlspec.yml").unwrap();
        assert!(ci.contains("--rev 0123456789abcdef0123456789abcdef01234567"), "{ci}");
        let unpinned = render(&Source { rev: None, ..source() }).unwrap();
        let (_, ci) = unpinned.iter().find(|(p, _)| p == ".github/workflows/dlspec.yml").unwrap();
        assert!(!ci.lines().any(|l| l.trim().starts_with("--rev")), "{ci}");
    }

    #[test]
    fn values_that_need_quoting_are_refused() {
        for (repo, rev) in [("https://x/y z", "v1"), ("https://x/y", "v1\n  - id: evil"), ("", "v1"), ("-x", "v1")] {
            let error = render(&Source { repo: repo.into(), rev: Some(rev.into()) }).unwrap_err();
            assert!(error.to_string().contains("is not a plain git URL"), "{error}");
        }
    }

    #[test]
    fn credentials_in_the_hooks_url_are_refused_without_repeating_them() {
        for repo in [
            "https://user:s3cret@example.com/platform/dlspec.git",
            "https://s3cret@github.com/platform/dlspec.git",
            "http://user:s3cret@example.com:8080/dlspec.git",
            "ssh://git:s3cret@example.com/dlspec.git",
            "git://s3cret@example.com/dlspec.git",
        ] {
            let error = render(&Source { repo: repo.into(), rev: Some("v1".into()) }).unwrap_err();
            assert!(
                error.to_string().contains("holds credentials") && !error.to_string().contains("s3cret"),
                "{repo}: {error}"
            );
            assert!(error.to_string().contains("example.com") || error.to_string().contains("github.com"), "{error}");
        }
        for repo in [
            "https://example.com/platform/dlspec.git",
            "git@github.com:platform/dlspec.git",
            "ssh://git@example.com/platform/dlspec.git",
            "https://example.com/platform/dlspec.git@v1",
            "../dlspec",
        ] {
            assert!(render(&Source { repo: repo.into(), rev: Some("v1".into()) }).is_ok(), "{repo}");
        }
    }

    #[test]
    fn nothing_is_written_through_a_symlinked_folder() {
        let temp = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::try_from(temp.path().to_path_buf()).unwrap();
        let (dir, outside) = (root.join("catalog"), root.join("outside"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, dir.join(".github")).unwrap();
        let error = write(&dir, &render(&source()).unwrap()).unwrap_err();
        assert!(error.to_string().contains(".github` is a symlink"), "{error}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        assert!(!dir.join("specs").exists() && !dir.join(".gitignore").exists(), "nothing is written");
    }

    #[test]
    fn existing_files_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8PathBuf::try_from(dir.path().to_path_buf()).unwrap();
        std::fs::write(dir.join(".gitignore"), "mine\n").unwrap();
        let error = write(&dir, &render(&source()).unwrap()).unwrap_err();
        assert!(error.to_string().contains(".gitignore` already exists"), "{error}");
        assert_eq!(std::fs::read_to_string(dir.join(".gitignore")).unwrap(), "mine\n");
        assert!(!dir.join("specs").exists(), "nothing is written when one file exists");
    }
}
