//! Templates: the minijinja templates of every artifact, embedded in the binary, optionally
//! overridden file by file from a directory (`--templates DIR`).

use camino::Utf8Path;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, syntax::SyntaxConfig};

use crate::source::InputError;

/// Every template, by name (its path under `templates/`).
pub const TEMPLATES: &[(&str, &str)] = &[
    ("image/Dockerfile.j2", include_str!("../templates/image/Dockerfile.j2")),
    ("image/build-scripts.sh.j2", include_str!("../templates/image/build-scripts.sh.j2")),
    ("image/docker-run.sh.j2", include_str!("../templates/image/docker-run.sh.j2")),
    ("image/init/boot/boot.sh.j2", include_str!("../templates/image/init/boot/boot.sh.j2")),
    ("image/init/boot/init.py.j2", include_str!("../templates/image/init/boot/init.py.j2")),
    ("image/init/boot/healthcheck.sh.j2", include_str!("../templates/image/init/boot/healthcheck.sh.j2")),
    ("image/init/setup/platform.sh.j2", include_str!("../templates/image/init/setup/platform.sh.j2")),
    ("image/init/ssh/sshd_config.j2", include_str!("../templates/image/init/ssh/sshd_config.j2")),
    ("image/init/motd/motd.sh.j2", include_str!("../templates/image/init/motd/motd.sh.j2")),
    ("image/init/bin/shutdown.j2", include_str!("../templates/image/init/bin/shutdown.j2")),
    ("image/init/bin/selftest.j2", include_str!("../templates/image/init/bin/selftest.j2")),
    ("image/init/supervisor/supervisor.ini.j2", include_str!("../templates/image/init/supervisor/supervisor.ini.j2")),
    ("image/init/jupyter/jupyter_config.py.j2", include_str!("../templates/image/init/jupyter/jupyter_config.py.j2")),
    ("image/k8s/deployment.yaml.j2", include_str!("../templates/image/k8s/deployment.yaml.j2")),
    ("image/k8s/service.yaml.j2", include_str!("../templates/image/k8s/service.yaml.j2")),
    ("image/k8s/selftest-job.yaml.j2", include_str!("../templates/image/k8s/selftest-job.yaml.j2")),
    ("image/k8s/secret.yaml.j2", include_str!("../templates/image/k8s/secret.yaml.j2")),
    ("image/README.md.j2", include_str!("../templates/image/README.md.j2")),
    ("catalog/README.md.j2", include_str!("../templates/catalog/README.md.j2")),
    ("catalog/docker-bake.hcl.j2", include_str!("../templates/catalog/docker-bake.hcl.j2")),
];

/// The template environment.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The embedded templates, with those found in `overrides` (same relative names) replacing them.
    ///
    /// # Errors
    /// When an override cannot be read, names no known template, or does not parse.
    pub fn load(overrides: Option<&Utf8Path>) -> Result<Self, InputError> {
        let mut env = Environment::new();
        env.set_syntax(
            SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .keep_trailing_newline(true)
                .build()
                .expect("the default delimiters are valid"),
        );
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.add_filter("sh", shell_quote);
        env.add_filter("yaml", json_string);
        env.add_filter("py", json_string);
        env.add_filter("hcl", hcl_string);
        env.add_filter("supervisor", supervisor_escape);
        env.add_filter("json", |v: Value| serde_json::to_string(&v).unwrap_or_default());
        for (name, source) in TEMPLATES {
            env.add_template(name, source).map_err(|e| template_error(name, &e))?;
        }
        if let Some(dir) = overrides {
            for entry in walkdir::WalkDir::new(dir).follow_links(false).sort_by_file_name() {
                let entry = entry.map_err(|e| InputError(format!("cannot read templates directory `{dir}`: {e}")))?;
                if !entry.file_type().is_file() {
                    continue;
                }
                let relative = entry.path().strip_prefix(dir).unwrap_or(entry.path());
                let name = relative.to_string_lossy().replace('\\', "/");
                let Some((known, _)) = TEMPLATES.iter().find(|(n, _)| *n == name) else {
                    let names: Vec<&str> = TEMPLATES.iter().map(|(n, _)| *n).collect();
                    return Err(InputError(format!(
                        "`{}` overrides no template; {}",
                        entry.path().display(),
                        crate::diag::did_you_mean(&name, &names, "the templates are")
                    )));
                };
                let source = std::fs::read_to_string(entry.path())
                    .map_err(|e| InputError(format!("cannot read `{}`: {e}", entry.path().display())))?;
                env.add_template_owned(*known, source).map_err(|e| template_error(known, &e))?;
            }
        }
        Ok(Self { env })
    }

    /// Renders a template with a context; the result has LF endings and one trailing newline.
    ///
    /// # Errors
    /// When the template fails (an override using a variable that does not exist, say).
    pub fn render(&self, name: &str, context: &Value) -> Result<String, InputError> {
        let template = self.env.get_template(name).map_err(|e| template_error(name, &e))?;
        let text = template.render(context).map_err(|e| template_error(name, &e))?;
        // No copy unless there is something to replace.
        let mut text = if text.contains('\r') { text.replace("\r\n", "\n") } else { text };
        while text.ends_with("\n\n") {
            text.pop();
        }
        if !text.ends_with('\n') {
            text.push('\n');
        }
        // The plan holds every file at once: no spare capacity.
        text.shrink_to_fit();
        Ok(text)
    }
}

fn template_error(name: &str, error: &minijinja::Error) -> InputError {
    let line = error.line().map_or(String::new(), |l| format!(":{l}"));
    InputError(format!("template `{name}{line}`: {}", error.detail().unwrap_or(&error.to_string())))
}

/// POSIX shell quoting: bare when every character is safe, else single quotes.
fn shell_quote(value: Value) -> String {
    let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
    let safe = !text.is_empty()
        && text.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | ':' | '=' | '@' | '%' | '+' | ',' | '-')
        });
    if safe { text } else { format!("'{}'", text.replace('\'', "'\\''")) }
}

/// A JSON string literal: valid as a YAML double-quoted scalar, a Python literal and an HCL string.
fn json_string(value: Value) -> String {
    let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
    serde_json::to_string(&text).expect("strings serialize")
}

/// An HCL string literal: a JSON string whose `${` and `%{` (HCL's interpolation and directive
/// openers) are escaped as `$${` and `%%{`. The values reaching HCL are validated names and paths,
/// so none has a control character that JSON and HCL would escape differently.
fn hcl_string(value: Value) -> String {
    json_string(value).replace("${", "$${").replace("%{", "%%{")
}

/// A value for supervisord's configuration, where `%(name)s` expands: every `%` doubled.
fn supervisor_escape(value: Value) -> String {
    let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
    text.replace('%', "%%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_template_parses() {
        assert!(Templates::load(None).is_ok());
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote(Value::from("pytorch:2.3.0")), "pytorch:2.3.0");
        assert_eq!(shell_quote(Value::from("numpy<2")), "'numpy<2'");
        assert_eq!(shell_quote(Value::from("it's")), "'it'\\''s'");
        assert_eq!(shell_quote(Value::from("")), "''");
    }

    #[test]
    fn hcl_strings_never_interpolate() {
        assert_eq!(hcl_string(Value::from("pytorch")), r#""pytorch""#);
        assert_eq!(hcl_string(Value::from("a${b}%{c}")), r#""a$${b}%%{c}""#);
        assert_eq!(hcl_string(Value::from(r#"say "hi""#)), r#""say \"hi\"""#);
    }

    #[test]
    fn supervisor_values_never_expand() {
        assert_eq!(supervisor_escape(Value::from("/root")), "/root");
        assert_eq!(supervisor_escape(Value::from("%(here)s 100%")), "%%(here)s 100%%");
    }

    /// `{#` opens a template comment: a shell `${#var}` in a template would silently eat text.
    #[test]
    fn no_template_holds_a_shell_length_expansion() {
        for (name, source) in TEMPLATES {
            assert!(!source.contains("${#"), "{name} contains `${{#`: write the length another way");
        }
    }
}
