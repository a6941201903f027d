//! JupyterLab: its URL path, working directory, language pack, token and framing.

use serde::Serialize;

use super::{Checked, Cx, Finished, Pod, SecretFile, Service, ServiceFile, service_node};
use crate::diag::{Code, Diag, did_you_mean};
use crate::lang::{Node, Spanned};
use crate::model::{LabelValue, Probe, Program};
use crate::source::Span;
use crate::values;

/// JupyterLab.
#[derive(Debug)]
pub struct Jupyter;

const NODE: &Node = service_node!("jupyter", "JupyterLab.", [
    "base-url": String = ("a URL path like \"/jupyter/\"", "Base URL path."),
    "root-dir": String = ("an absolute path", "The file browser's root and the working directory."),
    "language": String = ("a language like \"zh-CN\"", "UI language, `ll` or `ll-CC`."),
    "token-file": String = ("an absolute path", "Absolute path of the access-token file."),
    "open": Boolean = ("a boolean", "The seed guides' open setup: no token, any origin."),
    "terminal-theme": String = ("`dark`, `light` or `inherit`", "`dark`, `light` or `inherit`."),
    "frame-ancestors": String = ("an origin like \"https://portal.example.edu\"", "Web origins that may embed JupyterLab in a frame."),
]);

const TEMPLATES: &[(&str, &str)] = &[
    (
        "image/services/jupyter/jupyter_config.py.j2",
        include_str!("../../templates/image/services/jupyter/jupyter_config.py.j2"),
    ),
    (
        "image/services/jupyter/init.py.imports.j2",
        include_str!("../../templates/image/services/jupyter/init.py.imports.j2"),
    ),
    (
        "image/services/jupyter/init.py.settings.j2",
        include_str!("../../templates/image/services/jupyter/init.py.settings.j2"),
    ),
    ("image/services/jupyter/init.py.main.j2", include_str!("../../templates/image/services/jupyter/init.py.main.j2")),
    ("image/services/jupyter/motd.sh.line.j2", include_str!("../../templates/image/services/jupyter/motd.sh.line.j2")),
    (
        "image/services/jupyter/docker-run.sh.usage.j2",
        include_str!("../../templates/image/services/jupyter/docker-run.sh.usage.j2"),
    ),
    (
        "image/services/jupyter/docker-run.sh.args.j2",
        include_str!("../../templates/image/services/jupyter/docker-run.sh.args.j2"),
    ),
    (
        "image/services/jupyter/README.md.ports.j2",
        include_str!("../../templates/image/services/jupyter/README.md.ports.j2"),
    ),
    (
        "image/services/jupyter/README.md.docker-run.j2",
        include_str!("../../templates/image/services/jupyter/README.md.docker-run.j2"),
    ),
    (
        "image/services/jupyter/README.md.kubectl.j2",
        include_str!("../../templates/image/services/jupyter/README.md.kubectl.j2"),
    ),
    (
        "image/services/jupyter/README.md.kubernetes.j2",
        include_str!("../../templates/image/services/jupyter/README.md.kubernetes.j2"),
    ),
    (
        "image/services/jupyter/README.md.access.j2",
        include_str!("../../templates/image/services/jupyter/README.md.access.j2"),
    ),
    (
        "image/services/jupyter/README.md.curl.j2",
        include_str!("../../templates/image/services/jupyter/README.md.curl.j2"),
    ),
    (
        "image/services/jupyter/README.md.browser.j2",
        include_str!("../../templates/image/services/jupyter/README.md.browser.j2"),
    ),
];

const FILES: &[ServiceFile] = &[ServiceFile {
    template: "image/services/jupyter/jupyter_config.py.j2",
    path: "init/jupyter/jupyter_config.py",
    executable: false,
}];

const THEMES: &[&str] = &["dark", "light", "inherit"];

const TOKEN_FILE: &str = "/sync/jupyter-token";

/// What the templates of JupyterLab see (`service.settings`).
#[derive(Debug, Serialize)]
struct Settings {
    /// `/jupyter/`, always with leading and trailing slash.
    base_url: String,
    /// The home of whoever it runs as: `/root`.
    root_dir: String,
    /// UI language as JupyterLab names it: `zh_CN`; none for English.
    locale: Option<String>,
    /// The language pack pip package: `jupyterlab-language-pack-zh-CN`.
    language_pack: Option<String>,
    /// File read at start for the access token.
    token_file: String,
    /// The seed guides' open, embeddable setup: no token, any origin, any frame ancestor.
    open: bool,
    /// Origins that may frame JupyterLab (and call it), with the token kept on.
    frame_ancestors: Vec<String>,
    /// Terminal theme written to the user settings: `dark`.
    terminal_theme: String,
    /// Who it runs as, for people: `root`, or the image's user.
    runs_as: String,
    /// The Secret of the token: `<slug>-jupyter-token`.
    token_secret: String,
}

impl Service for Jupyter {
    fn keyword(&self) -> &'static str {
        "jupyter"
    }

    fn title(&self) -> &'static str {
        "JupyterLab"
    }

    fn node(&self) -> &'static Node {
        NODE
    }

    fn port_name(&self) -> &'static str {
        "jupyterlab"
    }

    fn default_port(&self) -> u16 {
        8888
    }

    fn templates(&self) -> &'static [(&'static str, &'static str)] {
        TEMPLATES
    }

    fn files(&self) -> &'static [ServiceFile] {
        FILES
    }

    fn reserved_env(&self) -> &'static [(&'static str, &'static str)] {
        &[("JUPYTER_TOKEN", "give the token at run time, or in `jupyter token-file=`")]
    }

    fn check(&self, cx: &mut Cx<'_>) -> Option<Box<dyn Checked>> {
        let mut jupyter = Settings {
            base_url: "/jupyter/".to_owned(),
            root_dir: cx.home.to_owned(),
            locale: Some("zh_CN".to_owned()),
            language_pack: Some("jupyterlab-language-pack-zh-CN".to_owned()),
            token_file: TOKEN_FILE.to_owned(),
            open: false,
            frame_ancestors: Vec::new(),
            terminal_theme: "dark".to_owned(),
            runs_as: cx.user.map_or_else(|| "root".to_owned(), |u| u.name.clone()),
            token_secret: String::new(),
        };
        let mut token_span = None;
        if let Some(url) = cx.string("base-url") {
            cx.valid(&url, Code::Unsafe, "URL path", values::url_path)?;
            jupyter.base_url = format!("/{}/", url.value.trim_matches('/')).replace("//", "/");
        }
        if let Some(dir) = cx.string("root-dir") {
            cx.valid(&dir, Code::Unsafe, "path", values::absolute_path)?;
            jupyter.root_dir.clone_from(&dir.value);
        }
        if let Some(file) = cx.string("token-file") {
            cx.secret_file(&file, "token file", TOKEN_FILE)?;
            jupyter.token_file.clone_from(&file.value);
            token_span = Some(file.span);
        }
        if let Some(language) = cx.string("language") {
            let (locale, pack) = cx.valid(&language, Code::InvalidValue, "JupyterLab language", parse_language)?;
            jupyter.locale = locale;
            jupyter.language_pack = pack;
        }
        if let Some(theme) = cx.string("terminal-theme") {
            if !THEMES.contains(&theme.value.as_str()) {
                let help = did_you_mean(&theme.value, THEMES, "terminal themes are");
                cx.push(
                    Diag::error(
                        Code::InvalidValue,
                        theme.span,
                        format!("`{}` is not a terminal theme", theme.value),
                        "unknown theme",
                    )
                    .with_help(help),
                );
                return None;
            }
            jupyter.terminal_theme.clone_from(&theme.value);
        }
        let open = cx.boolean("open");
        if let Some(ancestors) = cx.string("frame-ancestors") {
            jupyter.frame_ancestors = frame_ancestors(cx, &ancestors)?;
            if let Some(open) = open.as_ref().filter(|o| o.value) {
                cx.push(
                    Diag::error(
                        Code::Origin,
                        ancestors.span,
                        "`frame-ancestors` and `open=#true` contradict each other",
                        "only these origins",
                    )
                    .with_label(open.span, "any origin, no token")
                    .with_help("keep `frame-ancestors` and remove `open=#true`: the portal frames JupyterLab and the token stays on"),
                );
                return None;
            }
        }
        if let Some(open) = open {
            if open.value && cx.on {
                cx.push(
                    Diag::warning(
                        Code::OpenJupyter,
                        open.span,
                        "JupyterLab runs without a token, accepts any origin and can be framed by any site",
                        "open JupyterLab",
                    )
                    .with_help(
                        "only do this behind a proxy that authenticates users; leave `open` out to require a token",
                    ),
                );
            }
            jupyter.open = open.value;
        }
        Some(Box::new(Valid { port: cx.port, settings: jupyter, token_span }))
    }
}

/// JupyterLab's settings, checked.
struct Valid {
    port: u16,
    settings: Settings,
    /// Where the spec writes the token file, if it does.
    token_span: Option<Span>,
}

/// The token Secret's name, hashed by the whole name when cut, so that it differs from the others.
fn token_secret(slug: &str) -> String {
    let name = format!("{slug}-jupyter-token");
    values::truncate_name(&name, &name)
}

impl Checked for Valid {
    fn secret_files(&self, slug: &str) -> Vec<SecretFile> {
        if self.settings.open {
            return Vec::new();
        }
        vec![SecretFile {
            what: "JupyterLab's token",
            path: self.settings.token_file.clone(),
            span: self.token_span,
            secret: token_secret(slug),
            key: "jupyter-token",
        }]
    }

    fn finish(self: Box<Self>, pod: &Pod<'_>) -> Finished {
        let Valid { port, mut settings, token_span: _ } = *self;
        settings.token_secret = token_secret(pod.slug);
        let labels = vec![
            ("jupyter.port", LabelValue::Port(port)),
            ("jupyter.base-url", LabelValue::Text(settings.base_url.clone())),
            ("jupyter.token-file", LabelValue::Text(settings.token_file.clone())),
            ("jupyter.open", LabelValue::Flag(settings.open)),
            ("jupyter.locale", LabelValue::Text(settings.locale.clone().unwrap_or_default())),
        ];
        let mut pip = vec!["jupyterlab".to_owned()];
        pip.extend(settings.language_pack.clone());
        pip.push("jupyterlab_pygments".to_owned());
        Finished {
            program: Program {
                name: "jupyterlab",
                command: std::iter::once(format!("{}/bin/jupyter-lab", pod.prefix))
                    .chain(pod.user.is_none().then(|| "--allow-root".to_owned()))
                    .chain(["--config=/init/jupyter/jupyter_config.py".to_owned()])
                    .collect(),
                directory: Some(settings.root_dir.clone()),
            },
            probe: Probe::http(format!("http://127.0.0.1:{port}{}api", settings.base_url)),
            login: false,
            labels,
            directories: vec![settings.root_dir.clone()],
            pip,
            files: vec![FILES[0].path],
            settings: minijinja::Value::from(minijinja::value::Serde(settings)),
        }
    }
}

/// `jupyter frame-ancestors="ORIGIN …"`: origins separated by spaces.
fn frame_ancestors(cx: &mut Cx<'_>, value: &Spanned<String>) -> Option<Vec<String>> {
    let origins: Vec<String> = value.value.split_whitespace().map(str::to_owned).collect();
    if origins.is_empty() {
        cx.push(
            Diag::error(Code::Origin, value.span, "`frame-ancestors` names no origin", "no origin")
                .with_help("write the portal's origin, like \"https://portal.example.edu\""),
        );
        return None;
    }
    for origin in &origins {
        if let Err(reason) = values::origin(origin) {
            cx.push(
                Diag::error(Code::Origin, value.span, format!("`{origin}` is not a web origin"), "not an origin")
                    .with_help(reason),
            );
            return None;
        }
    }
    Some(origins)
}

/// `zh-CN` → (`zh_CN`, `jupyterlab-language-pack-zh-CN`); `en`/`en-US` → English, no pack.
fn parse_language(language: &str) -> Result<(Option<String>, Option<String>), String> {
    let (lang, territory) = language.split_once('-').map_or((language, None), |(l, t)| (l, Some(t)));
    let ok = (2..=3).contains(&lang.len())
        && lang.chars().all(|c| c.is_ascii_lowercase())
        && territory.is_none_or(|t| t.len() == 2 && t.chars().all(|c| c.is_ascii_uppercase()));
    if !ok {
        return Err("write a language like \"zh-CN\", \"ja-JP\" or \"en\"".to_owned());
    }
    if lang == "en" {
        return Ok((None, None));
    }
    let locale = territory.map_or_else(|| lang.to_owned(), |t| format!("{lang}_{t}"));
    Ok((Some(locale), Some(format!("jupyterlab-language-pack-{language}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages() {
        assert_eq!(parse_language("zh-CN").unwrap().0.as_deref(), Some("zh_CN"));
        assert_eq!(parse_language("en-US").unwrap(), (None, None));
        assert!(parse_language("zh_CN").is_err());
    }
}
