//! Templates: the minijinja templates of every artifact, embedded in the binary, optionally
//! overridden file by file from a directory (`--templates DIR`).

use camino::{Utf8Path, Utf8PathBuf};
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, syntax::SyntaxConfig};

use crate::error::Error;
use crate::source::unsafe_char;

/// Every template, by name (its path under `templates/`): the platform's, then the services'.
pub fn templates() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    PLATFORM_TEMPLATES.iter().chain(crate::service::templates())
}

/// The templates of the platform (the services' are in their modules).
const PLATFORM_TEMPLATES: &[(&str, &str)] = &[
    ("image/Dockerfile.j2", include_str!("../templates/image/Dockerfile.j2")),
    ("image/build-scripts.sh.j2", include_str!("../templates/image/build-scripts.sh.j2")),
    ("image/docker-run.sh.j2", include_str!("../templates/image/docker-run.sh.j2")),
    ("image/init/boot/boot.sh.j2", include_str!("../templates/image/init/boot/boot.sh.j2")),
    ("image/init/boot/init.py.j2", include_str!("../templates/image/init/boot/init.py.j2")),
    ("image/init/boot/healthcheck.sh.j2", include_str!("../templates/image/init/boot/healthcheck.sh.j2")),
    ("image/init/setup/platform.sh.j2", include_str!("../templates/image/init/setup/platform.sh.j2")),
    ("image/init/bin/shutdown.j2", include_str!("../templates/image/init/bin/shutdown.j2")),
    ("image/init/bin/selftest.j2", include_str!("../templates/image/init/bin/selftest.j2")),
    ("image/init/supervisor/supervisor.ini.j2", include_str!("../templates/image/init/supervisor/supervisor.ini.j2")),
    ("image/k8s/pod-spec.yaml.j2", include_str!("../templates/image/k8s/pod-spec.yaml.j2")),
    ("image/k8s/container-security.yaml.j2", include_str!("../templates/image/k8s/container-security.yaml.j2")),
    ("image/k8s/resources.yaml.j2", include_str!("../templates/image/k8s/resources.yaml.j2")),
    ("image/k8s/deployment.yaml.j2", include_str!("../templates/image/k8s/deployment.yaml.j2")),
    ("image/k8s/service.yaml.j2", include_str!("../templates/image/k8s/service.yaml.j2")),
    ("image/k8s/selftest-job.yaml.j2", include_str!("../templates/image/k8s/selftest-job.yaml.j2")),
    ("image/README.md.j2", include_str!("../templates/image/README.md.j2")),
    ("image/pip/constraints.txt.j2", include_str!("../templates/image/pip/constraints.txt.j2")),
    ("catalog/README.md.j2", include_str!("../templates/catalog/README.md.j2")),
    ("catalog/docker-bake.hcl.j2", include_str!("../templates/catalog/docker-bake.hcl.j2")),
];

/// The templates of the scaffold `dlspec init` writes (see `crate::init`), by name. They are no
/// artifacts of an image: a templates directory that copies dlspec's whole `templates/` holds
/// them, and they are skipped there.
pub const SCAFFOLD_TEMPLATES: &[(&str, &str)] = &[
    ("init/example.kdl.j2", include_str!("../templates/init/example.kdl.j2")),
    ("init/pre-commit-config.yaml.j2", include_str!("../templates/init/pre-commit-config.yaml.j2")),
    ("init/ci.yml.j2", include_str!("../templates/init/ci.yml.j2")),
    ("init/gitignore.j2", include_str!("../templates/init/gitignore.j2")),
];

/// What one rendering of a template may do, from the size of the data it is given (its context as
/// JSON): minijinja's fuel (one unit per instruction, and one per 64 bytes of text and list slots
/// it makes, so that it also bounds the memory a template can take), and the bytes of its output.
/// The built-in templates need at most 1,600 units and 13 KB of output for an image of the
/// example catalog, 1.4 units and 1.7 bytes per byte of data for an image of 80,000 pip packages,
/// and 132 units and 600 bytes per image for a catalog file; the budget leaves room for overrides
/// many times that, and stops a runaway one (a loop, a string doubled, an `indent` a billion wide)
/// before it takes more than a few times what the catalog needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// minijinja's fuel.
    pub fuel: u64,
    /// Bytes of output.
    pub output: u64,
}

/// Fuel of any rendering, before what its data adds.
const BASE_FUEL: u64 = 100_000;
/// Output of any rendering, before what its data adds.
const BASE_OUTPUT: u64 = 1 << 20;

impl Budget {
    /// The budget of an image's template, whose image is `data` bytes of JSON.
    #[must_use]
    pub fn image(data: u64) -> Self {
        Self {
            fuel: BASE_FUEL.saturating_add(data.saturating_mul(4)),
            output: BASE_OUTPUT.saturating_add(data.saturating_mul(4)),
        }
    }

    /// The budget of a catalog template, whose catalog entries are `data` bytes of JSON together:
    /// it grows with the catalog (the README of 50,000 images is 23 MB).
    #[must_use]
    pub fn catalog(data: u64) -> Self {
        Self { fuel: BASE_FUEL.saturating_add(data), output: BASE_OUTPUT.saturating_add(data.saturating_mul(4)) }
    }
}

/// The size of `value` as JSON: what a [`Budget`] grows with.
#[must_use]
pub fn data_size(value: &impl serde::Serialize) -> u64 {
    let mut counter = Counter(0);
    // Counting cannot fail; a value that does not serialize counts as what it wrote so far.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// A writer that only counts.
struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The template environments: one without fuel to clone from, and one for each fuel budget (a
/// power of two), made on first use.
pub struct Templates {
    env: Environment<'static>,
    fueled: [std::sync::OnceLock<Environment<'static>>; 64],
}

impl Templates {
    /// The embedded templates, with those found in `overrides` (same relative names) replacing them.
    ///
    /// # Errors
    /// When an override cannot be read, names no known template, or does not parse.
    pub fn load(overrides: Option<&Utf8Path>) -> Result<Self, Error> {
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
        env.add_filter("yaml", quoted_string);
        env.add_filter("py", quoted_string);
        env.add_filter("json", quoted_string);
        env.add_filter("to_json", |v: Value| serde_json::to_string(&v).unwrap_or_default());
        env.add_filter("hcl", hcl_string);
        env.add_filter("dockerfile", dockerfile_string);
        env.add_filter("supervisor", supervisor_escape);
        env.add_filter("comment", comment_text);
        env.add_filter("html_comment", html_comment_text);
        env.add_function("kv", yaml_pair);
        for (name, source) in templates() {
            env.add_template(name, source).map_err(|e| template_error(name, &e))?;
        }
        if let Some(dir) = overrides {
            for entry in walkdir::WalkDir::new(dir).follow_links(false).sort_by_file_name() {
                let entry = entry.map_err(|e| Error::TemplatesDir { dir: dir.to_owned(), source: e.into() })?;
                if entry.file_type().is_dir() {
                    continue;
                }
                let relative = entry.path().strip_prefix(dir).unwrap_or(entry.path());
                let name = relative.to_string_lossy().replace('\\', "/");
                // A catalog's templates directory may be a copy of dlspec's whole `templates/`,
                // whose `init/` holds the scaffold of `dlspec init`, not artifacts of an image.
                if SCAFFOLD_TEMPLATES.iter().any(|(scaffold, _)| *scaffold == name) {
                    continue;
                }
                if !entry.file_type().is_file() {
                    return Err(Error::TemplateNotRegular { path: utf8(entry.path())? });
                }
                let Some((known, _)) = templates().find(|(n, _)| *n == name) else {
                    let names: Vec<&str> = templates().map(|(n, _)| *n).collect();
                    return Err(Error::UnknownTemplate {
                        path: entry.path().display().to_string(),
                        suggestion: crate::diag::did_you_mean(&name, &names, "the templates are"),
                    });
                };
                let path = utf8(entry.path())?;
                let source = crate::files::read_text_file(&path, crate::source::MAX_SPEC_BYTES)?;
                env.add_template_owned(*known, source).map_err(|e| template_error(known, &e))?;
            }
        }
        Ok(Self { env, fueled: std::array::from_fn(|_| std::sync::OnceLock::new()) })
    }

    /// The environment whose fuel is `fuel` rounded up to a power of two.
    fn with_fuel(&self, fuel: u64) -> &Environment<'static> {
        let bucket = fuel.checked_next_power_of_two().map_or(63, u64::trailing_zeros) as usize;
        self.fueled[bucket.min(63)].get_or_init(|| {
            let mut env = self.env.clone();
            env.set_fuel(Some(1 << bucket.min(63)));
            env
        })
    }

    /// Renders a template as [`Self::render`] does, into `out` a piece at a time: for the catalog
    /// files, which grow with the catalog (30 MB at 50,000 images).
    ///
    /// # Errors
    /// When the template fails or goes past its budget, or writing to `out` does.
    pub fn render_to(
        &self,
        name: &str,
        context: &Value,
        budget: Budget,
        out: &mut dyn std::io::Write,
    ) -> Result<(), Error> {
        let template = self.with_fuel(budget.fuel).get_template(name).map_err(|e| template_error(name, &e))?;
        let mut capped = Capped { out, left: budget.output, over: false };
        let mut normalized = Normalized { out: &mut capped, pending_cr: false, newlines: 0 };
        let rendered = template.render_captured_to(context.clone(), &mut normalized).map(drop);
        let finished = rendered.and_then(|()| {
            normalized.finish().map_err(|e| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string()))
        });
        match finished {
            Ok(()) => Ok(()),
            Err(_) if capped.over => Err(too_much_output(name, budget)),
            Err(e) => Err(budget_error(name, budget, &e)),
        }
    }

    /// Renders a template with a context and a budget; the result has LF endings and one
    /// trailing newline.
    ///
    /// # Errors
    /// When the template fails (an override using a variable that does not exist, say) or goes
    /// past its budget.
    pub fn render(&self, name: &str, context: &Value, budget: Budget) -> Result<String, Error> {
        let template = self.with_fuel(budget.fuel).get_template(name).map_err(|e| template_error(name, &e))?;
        // In memory the output cannot pass what the fuel pays for (a unit per 64 bytes): its own
        // limit is checked once it is rendered.
        let text = template.render(context).map_err(|e| budget_error(name, budget, &e))?;
        if text.len() as u64 > budget.output {
            return Err(too_much_output(name, budget));
        }
        Ok(normalize(text))
    }
}

/// The error of a template that failed, saying so when it ran out of fuel.
fn budget_error(name: &str, budget: Budget, error: &minijinja::Error) -> Error {
    if error.kind() != minijinja::ErrorKind::OutOfFuel {
        return template_error(name, error);
    }
    Error::OutOfFuel {
        name: name.to_owned(),
        steps: budget.fuel.checked_next_power_of_two().unwrap_or(u64::MAX),
        base: BASE_FUEL,
    }
}

/// The error of a template whose output passed its budget.
fn too_much_output(name: &str, budget: Budget) -> Error {
    Error::TooMuchOutput { name: name.to_owned(), limit: budget.output, base: BASE_OUTPUT }
}

/// LF endings and exactly one trailing newline, as [`Normalized`] makes them as it streams.
fn normalize(text: String) -> String {
    // No copy unless there is something to replace.
    let mut text = if text.contains('\r') { text.replace("\r\n", "\n") } else { text };
    while text.ends_with("\n\n") {
        text.pop();
    }
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// A writer that refuses to write more than `left` bytes into `out`.
struct Capped<'a> {
    out: &'a mut dyn std::io::Write,
    left: u64,
    over: bool,
}

impl std::io::Write for Capped<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() as u64 > self.left {
            self.over = true;
            return Err(std::io::Error::other("the template's output is larger than its limit"));
        }
        self.left -= buf.len() as u64;
        self.out.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The most memory dlspec may hold while it renders: 12 times what rendering 50,000 images takes
/// (80 MiB). Fuel bounds what a template makes, but minijinja 3.1 charges none for joining lists:
/// `l + l` is lazy, and copied whole into one list past 32 levels, so an override that doubles a
/// list in a loop would take all the memory there is without this guard.
pub const RENDER_MEMORY: u64 = 1 << 30;

/// Watches the process's memory while it renders, on a thread of its own, and when it passes a
/// limit calls `stop` (which reports and ends the process: the rendering thread cannot be
/// interrupted). Nothing in `out/` is renamed while templates render, so `out/` is as before.
pub struct MemoryGuard {
    /// Dropping it stops the watch.
    _watch: crate::parallel::Watch,
}

impl MemoryGuard {
    /// Starts watching, every 10 ms, until the guard is dropped.
    pub fn arm(limit: u64, stop: impl FnOnce(u64) + Send + 'static) -> Self {
        let mut stop = Some(stop);
        let watch = crate::parallel::watch(std::time::Duration::from_millis(10), move || match resident_bytes() {
            Some(resident) if resident > limit => {
                if let Some(stop) = stop.take() {
                    stop(resident);
                }
                false
            }
            _ => true,
        });
        Self { _watch: watch }
    }
}

/// The process's resident memory, from `/proc/self/status` (`None` where there is no `/proc`).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib * 1024)
}

/// A path found in a templates directory, as UTF-8.
fn utf8(path: &std::path::Path) -> Result<Utf8PathBuf, Error> {
    Utf8PathBuf::from_path_buf(path.to_path_buf()).map_err(|_| Error::NotUtf8Path { path: path.display().to_string() })
}

fn template_error(name: &str, error: &minijinja::Error) -> Error {
    Error::Template {
        name: name.to_owned(),
        line: error.line(),
        detail: error.detail().map_or_else(|| error.to_string(), str::to_owned),
    }
}

/// POSIX shell quoting: bare when every character is safe, else single quotes.
fn shell_quote(value: Value) -> String {
    let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
    let safe = !text.is_empty()
        && text.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | ':' | '=' | '@' | '%' | '+' | ',' | '-')
        });
    // A quote or a backslash is written outside the single quotes: inside, a backslash before the
    // closing quote reads to people (and shellcheck) as an escape that it is not.
    if safe {
        return text;
    }
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('\'');
    for c in text.chars() {
        match c {
            '\'' => quoted.push_str(r"'\''"),
            '\\' => quoted.push_str(r"'\\'"),
            c => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

/// The text of a filter's argument: strings as they are, anything else as it prints.
fn text_of(value: &Value) -> std::borrow::Cow<'_, str> {
    value.as_str().map_or_else(|| value.to_string().into(), Into::into)
}

/// A double-quoted string literal that YAML, Python, HCL and JSON all read back as the same text:
/// `"` and `\` escaped, tab, newline and carriage return as `\t`, `\n`, `\r`, and every other
/// character that is a control character, a line break to one of them (NEL, U+2028, U+2029), a
/// direction override or not printable in YAML as `\uXXXX` (all of them are in the BMP).
fn quoted_string(value: Value) -> String {
    let text = text_of(&value);
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `key: "value"` at column `indent`, or the key alone and the value on the next line, indented
/// two more, when the pair would pass yamllint's 80 columns (a line without blanks may be longer).
/// A function, not a template macro: Kubernetes files call it a few dozen times each. The key is
/// written as it is: the templates pass literals, dlspec's own label keys, or keys already quoted
/// with `yaml` (node selectors).
fn yaml_pair(key: &str, value: Value, indent: usize) -> String {
    let value = quoted_string(value);
    let fits = indent + key.chars().count() + 2 + value.chars().count() <= 80;
    let mut pair = String::with_capacity(key.len() + indent + value.len() + 4);
    pair.push_str(key);
    if fits {
        pair.push_str(": ");
    } else {
        pair.push_str(":\n");
        pair.extend(std::iter::repeat_n(' ', indent + 2));
    }
    pair.push_str(&value);
    pair
}

/// An HCL string literal: a quoted string whose `${` and `%{` (HCL's interpolation and directive
/// openers) are escaped as `$${` and `%%{`.
fn hcl_string(value: Value) -> String {
    quoted_string(value).replace("${", "$${").replace("%{", "%%{")
}

/// A Dockerfile double-quoted word (`ENV`, `LABEL`): `\`, `"` and `$` (which would expand)
/// escaped. A Dockerfile has no escape for a line break, so a value holding one is an error.
fn dockerfile_string(value: Value) -> Result<String, minijinja::Error> {
    let text = single_line(&value, "a Dockerfile")?;
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if matches!(c, '\\' | '"' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Ok(out)
}

/// The value's text, or an error when it has a character no single-line format can carry.
fn single_line(value: &Value, format: &str) -> Result<String, minijinja::Error> {
    let text = text_of(value);
    match text.chars().find(|c| unsafe_char(*c)) {
        None => Ok(text.into_owned()),
        Some(c) => Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("{text:?} has the character U+{:04X}, which {format} value cannot hold", u32::from(c)),
        )),
    }
}

/// A value for supervisord's configuration, where `%(name)s` expands: every `%` doubled. An INI
/// value has no escape for a line break, so a value holding one is an error.
fn supervisor_escape(value: Value) -> Result<String, minijinja::Error> {
    Ok(single_line(&value, "a supervisord")?.replace('%', "%%"))
}

/// Text for a line comment of any of the generated languages: every character that could end the
/// line (for Python a carriage return, for YAML NEL or U+2028) or hide text is written as `\u{…}`.
fn comment_text(value: Value) -> String {
    let text = text_of(&value);
    if !text.chars().any(unsafe_char) {
        return text.into_owned();
    }
    text.chars().map(|c| if unsafe_char(c) { format!("\\u{{{:04x}}}", u32::from(c)) } else { c.to_string() }).collect()
}

/// Text for an HTML comment (`<!-- … -->`): as [`comment_text`], and no `--`, which could close it.
fn html_comment_text(value: Value) -> String {
    comment_text(value).replace("--", "-\\u{2d}")
}

/// A rendered text made regular as it streams: CR LF becomes LF, and the text ends with exactly
/// one newline. Newlines are held back until text follows them.
struct Normalized<'a> {
    out: &'a mut dyn std::io::Write,
    pending_cr: bool,
    newlines: usize,
}

impl Normalized<'_> {
    fn flush_newlines(&mut self) -> std::io::Result<()> {
        const NEWLINES: [u8; 64] = [b'\n'; 64];
        while self.newlines > 0 {
            let run = self.newlines.min(NEWLINES.len());
            self.out.write_all(&NEWLINES[..run])?;
            self.newlines -= run;
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<()> {
        if std::mem::take(&mut self.pending_cr) {
            self.flush_newlines()?;
            self.out.write_all(b"\r")?;
        }
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

impl std::io::Write for Normalized<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut start = 0;
        for (at, &byte) in buf.iter().enumerate() {
            if self.pending_cr {
                self.pending_cr = false;
                if byte == b'\n' {
                    self.newlines += 1;
                    start = at + 1;
                    continue;
                }
                self.flush_newlines()?;
                self.out.write_all(b"\r")?;
            }
            match byte {
                b'\r' | b'\n' => {
                    // The text before it goes out as it is; the line break waits.
                    if start < at {
                        self.flush_newlines()?;
                        self.out.write_all(&buf[start..at])?;
                    }
                    if byte == b'\r' {
                        self.pending_cr = true;
                    } else {
                        self.newlines += 1;
                    }
                    start = at + 1;
                }
                _ => {}
            }
        }
        if start < buf.len() {
            self.flush_newlines()?;
            self.out.write_all(&buf[start..])?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn the_memory_guard_stops_a_process_past_its_limit() {
        let (sender, receiver) = std::sync::mpsc::channel();
        let limit = resident_bytes().expect("Linux has /proc") + (64 << 20);
        let guard = MemoryGuard::arm(limit, move |resident| sender.send(resident).unwrap());
        let taken: Vec<u8> = vec![1; 128 << 20];
        let resident = receiver.recv_timeout(std::time::Duration::from_secs(10)).expect("the guard saw it");
        assert!(resident > limit && taken.iter().all(|b| *b == 1));
        drop(guard);
    }

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
        assert_eq!(shell_quote(Value::from("a\\")), "'a'\\\\''");
        assert_eq!(shell_quote(Value::from(r"\'")), r"''\\''\'''");
    }

    #[test]
    fn hcl_strings_never_interpolate() {
        assert_eq!(hcl_string(Value::from("pytorch")), r#""pytorch""#);
        assert_eq!(hcl_string(Value::from("a${b}%{c}")), r#""a$${b}%%{c}""#);
        assert_eq!(hcl_string(Value::from(r#"say "hi""#)), r#""say \"hi\"""#);
    }

    #[test]
    fn supervisor_values_never_expand() {
        assert_eq!(supervisor_escape(Value::from("/root")).unwrap(), "/root");
        assert_eq!(supervisor_escape(Value::from("%(here)s 100%")).unwrap(), "%%(here)s 100%%");
        assert!(supervisor_escape(Value::from("a\nb=c")).is_err());
    }

    #[test]
    fn quoted_strings_escape_every_line_break() {
        assert_eq!(quoted_string(Value::from("a\"b\\c")), r#""a\"b\\c""#);
        assert_eq!(
            quoted_string(Value::from("a\nb\rc\u{85}d\u{2028}e\u{2029}f\u{7f}")),
            r#""a\nb\rc\u0085d\u2028e\u2029f\u007f""#
        );
        assert_eq!(quoted_string(Value::from("Zürich 東京")), r#""Zürich 東京""#);
        assert_eq!(hcl_string(Value::from("\u{1}${x}")), r#""\u0001$${x}""#);
    }

    #[test]
    fn yaml_pairs_move_their_value_to_the_next_line_past_80_columns() {
        assert_eq!(yaml_pair("name", Value::from("a\"b"), 2), r#"name: "a\"b""#);
        let long = "x".repeat(70);
        assert_eq!(yaml_pair("image", Value::from(long.as_str()), 4), format!("image:\n      \"{long}\""));
        // 80 columns exactly still fit: `  key: "…"` is 2 + 5 + 73.
        let fits = "y".repeat(71);
        assert_eq!(yaml_pair("key", Value::from(fits.as_str()), 2), format!("key: \"{fits}\""));
        assert_eq!(yaml_pair("gpus", Value::from(2), 6), r#"gpus: "2""#);
    }

    #[test]
    fn dockerfile_words_never_expand() {
        assert_eq!(dockerfile_string(Value::from(r#"a$b"c\d"#)).unwrap(), r#""a\$b\"c\\d""#);
        assert!(dockerfile_string(Value::from("a\nRUN x")).is_err());
    }

    #[test]
    fn comments_stay_on_one_line() {
        assert_eq!(comment_text(Value::from("pytorch.kdl")), "pytorch.kdl");
        assert_eq!(comment_text(Value::from("a\nb\rc\u{2028}d")), "a\\u{000a}b\\u{000d}c\\u{2028}d");
        assert_eq!(html_comment_text(Value::from("x-->y")), "x-\\u{2d}>y");
    }

    /// `{#` opens a template comment: a shell `${#var}` in a template would silently eat text.
    #[test]
    fn no_template_holds_a_shell_length_expansion() {
        for (name, source) in templates() {
            assert!(!source.contains("${#"), "{name} contains `${{#`: write the length another way");
        }
    }

    #[test]
    fn streamed_output_is_normalized_as_rendered_output_is() {
        let texts = [
            "",
            "a",
            "a\n",
            "a\n\n\n",
            "\n\n",
            "a\r\nb\r\n\r\n",
            "a\rb",
            "a\r",
            "a\r\r\n",
            "a\n\rb\n\n",
            "\r\n",
            "x\n\n\ny\r\n\r\nz",
        ];
        for text in texts {
            for piece in 1..=3 {
                let mut out = Vec::new();
                let mut normalized = Normalized { out: &mut out, pending_cr: false, newlines: 0 };
                for chunk in text.as_bytes().chunks(piece) {
                    normalized.write_all(chunk).unwrap();
                }
                normalized.finish().unwrap();
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    normalize(text.to_owned()),
                    "{text:?} in pieces of {piece}"
                );
            }
        }
    }
}
