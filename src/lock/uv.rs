//! uv, run once per image: `uv pip compile --generate-hashes` of the whole Python set.

use std::process::Command;

use camino::{Utf8Path, Utf8PathBuf};

use super::{LAYERS, MAX_LOCK_BYTES, Request, language_pack_fixes, parse_pins};

/// How to run uv.
#[derive(Debug, Clone)]
pub struct Uv {
    /// The `uv` program.
    pub program: Utf8PathBuf,
    /// `--upgrade`: re-resolve every package.
    pub upgrade_all: bool,
    /// `--upgrade-package`: re-resolve these only.
    pub upgrade: Vec<String>,
    /// Extra `--find-links` locations (a local wheel directory).
    pub find_links: Vec<String>,
}

/// Why an image could not be locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// uv did not run at all.
    Tool(String),
    /// uv found no set that satisfies the requirements: its explanation.
    Unresolvable(String),
}

impl Uv {
    /// Resolves `request`, preferring the pins of `previous` (uv keeps them unless told to upgrade),
    /// and applies the language-pack rule.
    ///
    /// # Errors
    /// When uv fails or no coherent set exists.
    pub fn resolve(&self, request: &Request, previous: Option<&str>) -> Result<String, Failure> {
        let body = self.compile(request, previous, None)?;
        let Some(fixes) = language_pack_fixes(&parse_pins(&body)) else { return Ok(body) };
        let mut reasons = Vec::new();
        for fix in &fixes {
            match self.compile(request, previous, Some(fix)) {
                Ok(fixed) if language_pack_fixes(&parse_pins(&fixed)).is_none() => return Ok(fixed),
                Ok(_) => reasons.push(format!("with `{fix}` the pack and JupyterLab still differ")),
                Err(Failure::Unresolvable(reason)) => reasons.push(format!("with `{fix}`: {reason}")),
                Err(tool) => return Err(tool),
            }
        }
        Err(Failure::Unresolvable(format!(
            "the JupyterLab language pack is for another JupyterLab major.minor, and neither fix resolves ({})",
            reasons.join("; ")
        )))
    }

    fn compile(&self, request: &Request, previous: Option<&str>, constraint: Option<&str>) -> Result<String, Failure> {
        let dir =
            tempfile::tempdir().map_err(|e| Failure::Tool(format!("cannot create a temporary directory: {e}")))?;
        let folder = Utf8Path::from_path(dir.path())
            .ok_or_else(|| Failure::Tool(format!("the temporary directory `{}` is not UTF-8", dir.path().display())))?;
        let write = |name: &str, text: &str| {
            crate::files::write_file_below(
                folder,
                Utf8Path::new(name),
                text.as_bytes(),
                crate::files::Existing::Replace,
            )
            .map_err(|e| Failure::Tool(e.to_string()))
        };
        let mut command = Command::new(self.program.as_str());
        command.current_dir(dir.path()).args(["pip", "compile", "--quiet", "--no-header", "--generate-hashes"]);
        command.args(["--python-version", &request.python, "--python-platform", &request.platform]);
        command.args(["--index-url", &request.index_url]);
        if let Some(index) = &request.framework_index {
            // uv searches extra indexes first and takes a package from the first index that has
            // it: the framework's wheels (and what its index mirrors) come from there, as at build time.
            command.args(["--extra-index-url", index]);
        }
        for location in self.find_links.iter().chain(&request.framework_find_links) {
            command.args(["--find-links", location]);
        }
        for ((_, file), requirements) in LAYERS.iter().zip(&request.layers) {
            if !requirements.is_empty() {
                write(file, &(requirements.join("\n") + "\n"))?;
                command.arg(file);
            }
        }
        let constraints: Vec<&str> = request.constraints.iter().map(String::as_str).chain(constraint).collect();
        if !constraints.is_empty() {
            write("constraints.txt", &(constraints.join("\n") + "\n"))?;
            command.args(["--constraint", "constraints.txt"]);
        }
        if let Some(previous) = previous {
            write("lock.txt", previous)?;
        }
        command.args(["--output-file", "lock.txt"]);
        if self.upgrade_all {
            command.arg("--upgrade");
        }
        for package in &self.upgrade {
            command.args(["--upgrade-package", package]);
        }
        let output = command.output().map_err(|e| {
            Failure::Tool(format!(
                "cannot run `{}`: {e} (install it: pip install -r .ci/requirements.txt)",
                self.program
            ))
        })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            return Err(if stderr.contains("No solution found") || stderr.contains("unsatisfiable") {
                Failure::Unresolvable(stderr)
            } else {
                Failure::Tool(stderr)
            });
        }
        match crate::files::read_text_below(folder, Utf8Path::new("lock.txt"), MAX_LOCK_BYTES) {
            Ok(Some(text)) => Ok(text),
            Ok(None) => Err(Failure::Tool("uv wrote no lock.txt".to_owned())),
            Err(e) => Err(Failure::Tool(e.to_string())),
        }
    }
}
