//! The platform's services: `ssh`, `jupyter`, `tensorboard`, their ports and whether two of them
//! would share one.

use super::Checker;
use crate::diag::{Code, Diag, did_you_mean};
use crate::lang::{DockerRunPart, KubernetesPart, Part, Spanned};
use crate::model::{Jupyter, ServicePort, Ssh, TensorBoard};
use crate::source::Span;
use crate::values;

const HOST_KEYS_DIR: &str = "/var/lib/dlspec/ssh-host-keys";

/// A service of the platform: its names, its default ports, and where the spec sets them.
pub(super) struct Service {
    /// Its node, and its key in `docker-run` and `node-port`: `jupyter`.
    pub keyword: &'static str,
    /// The name of its port in the Kubernetes Service and in docker-run.sh: `jupyterlab`.
    pub port_name: &'static str,
    /// The port it listens on in the container unless the spec says `port=`.
    pub container_port: u16,
    /// The host port docker-run.sh publishes it at unless `docker-run` names one; `None`: its
    /// container port.
    pub host_port: Option<u16>,
    /// Its node's `#true`/`#false`.
    pub enabled: fn(&Part) -> Option<&Spanned<bool>>,
    /// Its node's `port=`.
    pub port: fn(&Part) -> Option<&Spanned<u16>>,
    /// Its key in `docker-run`: the host port.
    pub host: fn(&DockerRunPart) -> Option<&Spanned<u16>>,
    /// Its key in `kubernetes { node-port }`.
    pub node_port: fn(&KubernetesPart) -> Option<&Spanned<u16>>,
}

const SSH: Service = Service {
    keyword: "ssh",
    port_name: "ssh",
    container_port: 22,
    // Port 22 of the host is usually its own sshd's.
    host_port: Some(2222),
    enabled: |p| p.ssh.as_ref()?.enabled.as_ref(),
    port: |p| p.ssh.as_ref()?.port.as_ref(),
    host: |r| r.ssh.as_ref(),
    node_port: |k| k.node_port.as_ref()?.ssh.as_ref(),
};

const JUPYTER: Service = Service {
    keyword: "jupyter",
    port_name: "jupyterlab",
    container_port: 8888,
    host_port: None,
    enabled: |p| p.jupyter.as_ref()?.enabled.as_ref(),
    port: |p| p.jupyter.as_ref()?.port.as_ref(),
    host: |r| r.jupyter.as_ref(),
    node_port: |k| k.node_port.as_ref()?.jupyter.as_ref(),
};

const TENSORBOARD: Service = Service {
    keyword: "tensorboard",
    port_name: "tensorboard",
    container_port: 6006,
    host_port: None,
    enabled: |p| p.tensorboard.as_ref()?.enabled.as_ref(),
    port: |p| p.tensorboard.as_ref()?.port.as_ref(),
    host: |r| r.tensorboard.as_ref(),
    node_port: |k| k.node_port.as_ref()?.tensorboard.as_ref(),
};

/// Every service, in service order: the order of the image's ports everywhere they are listed.
pub(super) const SERVICES: [Service; 3] = [SSH, JUPYTER, TENSORBOARD];

impl Service {
    /// Whether the spec leaves it switched on.
    fn is_on(&self, part: &Part) -> bool {
        (self.enabled)(part).is_none_or(|e| e.value)
    }

    /// The container port it listens on.
    fn container_port(&self, part: &Part) -> u16 {
        (self.port)(part).map_or(self.container_port, |p| p.value)
    }
}

/// A switched-on service and the container port it listens on.
pub(super) struct Listening {
    /// The service.
    pub service: &'static Service,
    /// Its container port.
    pub port: u16,
    /// Where the spec sets the port, unless it is the default.
    pub span: Option<Span>,
}

impl Listening {
    /// The image's port.
    pub fn port(&self) -> ServicePort {
        ServicePort { name: self.service.port_name.to_owned(), port: self.port }
    }

    /// The host port docker-run.sh publishes it at, and where the spec sets that port (its
    /// container port's span when the host port is the container port).
    pub fn host(&self, run: &DockerRunPart) -> (u16, Option<Span>) {
        match ((self.service.host)(run), self.service.host_port) {
            (Some(host), _) => (host.value, Some(host.span)),
            (None, Some(default)) => (default, None),
            (None, None) => (self.port, self.span),
        }
    }
}

/// The switched-on services of `part`, in service order.
pub(super) fn listening(part: &Part) -> Vec<Listening> {
    SERVICES
        .iter()
        .filter(|service| service.is_on(part))
        .map(|service| {
            let port = (service.port)(part);
            Listening { service, port: service.container_port(part), span: port.map(|p| p.span) }
        })
        .collect()
}

impl Checker<'_> {
    pub(super) fn ssh(&mut self) -> Option<Option<Ssh>> {
        let part = self.part().ssh.clone();
        // A switched-off service's settings are still checked: they may be switched on later.
        let enabled = SSH.is_on(self.part());
        let mut password_file = "/sync/root-passwd".to_owned();
        let mut password = None;
        let mut host_keys = HOST_KEYS_DIR.to_owned();
        if let Some(p) = &part {
            if let Some(file) = &p.password_file {
                self.valid(file, Code::Unsafe, "path", values::absolute_path)?;
                self.valid(file, Code::InvalidValue, "password file", values::password_file)?;
                // Kubernetes mounts the password Secret as the file's directory.
                if file.value.rfind('/') == Some(0) || file.value.ends_with('/') {
                    self.push(
                        Diag::error(
                            Code::Unsafe,
                            file.span,
                            format!("`{}` is not a file in a directory of its own", file.value),
                            "needs a directory",
                        )
                        .with_help("put the password file in a directory, like \"/sync/root-passwd\": Kubernetes mounts the Secret there"),
                    );
                    return None;
                }
                password_file.clone_from(&file.value);
            }
            if let Some(dir) = &p.host_keys {
                self.valid(dir, Code::Unsafe, "path", values::absolute_path)?;
                host_keys = dir.value.trim_end_matches('/').to_owned();
                if password_file.rsplit_once('/').is_some_and(|(d, _)| d == host_keys) || host_keys.is_empty() {
                    self.push(
                        Diag::error(
                            Code::Unsafe,
                            dir.span,
                            format!("`{}` cannot hold the host keys", dir.value),
                            "host-key directory",
                        )
                        .with_help("use a directory of its own, like \"/var/lib/dlspec/ssh-host-keys\" (not `/`, not the password file's directory)"),
                    );
                    return None;
                }
            }
            if let Some(literal) = &p.password {
                self.valid(literal, Code::Unsafe, "password", values::password)?;
                if enabled {
                    self.push(
                    Diag::warning(Code::Password, literal.span, "a literal root password is written in clear text into docker-run.sh and k8s/secret.yaml", "password in the spec")
                        .with_help(format!("leave `password` out and provide it at run time: a file at `{password_file}` or the ROOT_PASSWORD variable")),
                    );
                }
                password = Some(literal.value.clone());
            }
        }
        if !enabled {
            return Some(None);
        }
        let (password_dir, password_file_name) =
            password_file.rsplit_once('/').map(|(d, f)| (d.to_owned(), f.to_owned())).unwrap_or_default();
        Some(Some(Ssh {
            password_dir,
            password_file_name,
            port: SSH.container_port(self.part()),
            password_file,
            motd: part.as_ref().and_then(|p| p.motd.as_ref()).is_none_or(|m| m.value),
            password,
            host_keys,
        }))
    }

    pub(super) fn jupyter(&mut self) -> Option<Option<Jupyter>> {
        let part = self.part().jupyter.clone();
        let enabled = JUPYTER.is_on(self.part());
        let mut jupyter = Jupyter {
            port: JUPYTER.container_port(self.part()),
            base_url: "/jupyter/".to_owned(),
            root_dir: "/root".to_owned(),
            locale: Some("zh_CN".to_owned()),
            language_pack: Some("jupyterlab-language-pack-zh-CN".to_owned()),
            token_file: "/sync/jupyter-token".to_owned(),
            open: false,
            frame_ancestors: Vec::new(),
            terminal_theme: "dark".to_owned(),
        };
        let Some(p) = part else { return Some(Some(jupyter)) };
        if let Some(url) = &p.base_url {
            self.valid(url, Code::Unsafe, "URL path", values::url_path)?;
            jupyter.base_url = format!("/{}/", url.value.trim_matches('/')).replace("//", "/");
        }
        if let Some(dir) = &p.root_dir {
            self.valid(dir, Code::Unsafe, "path", values::absolute_path)?;
            jupyter.root_dir.clone_from(&dir.value);
        }
        if let Some(file) = &p.token_file {
            self.valid(file, Code::Unsafe, "path", values::absolute_path)?;
            jupyter.token_file.clone_from(&file.value);
        }
        if let Some(language) = &p.language {
            let (locale, pack) = self.valid(language, Code::InvalidValue, "JupyterLab language", parse_language)?;
            jupyter.locale = locale;
            jupyter.language_pack = pack;
        }
        if let Some(theme) = &p.terminal_theme {
            const THEMES: &[&str] = &["dark", "light", "inherit"];
            if !THEMES.contains(&theme.value.as_str()) {
                let help = did_you_mean(&theme.value, THEMES, "terminal themes are");
                self.push(
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
        if let Some(ancestors) = &p.frame_ancestors {
            jupyter.frame_ancestors = self.frame_ancestors(ancestors)?;
            if let Some(open) = p.open.as_ref().filter(|o| o.value) {
                self.push(
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
        if let Some(open) = &p.open {
            if open.value && enabled {
                self.push(
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
        Some(enabled.then_some(jupyter))
    }

    pub(super) fn tensorboard(&mut self) -> Option<Option<TensorBoard>> {
        let part = self.part().tensorboard.clone();
        let enabled = TENSORBOARD.is_on(self.part());
        let mut tb = TensorBoard {
            port: TENSORBOARD.container_port(self.part()),
            path_prefix: "/monitor".to_owned(),
            logdir: "/root/tensorboard-logs".to_owned(),
            bind: "0.0.0.0".to_owned(),
        };
        let Some(p) = part else { return Some(Some(tb)) };
        if let Some(prefix) = &p.path_prefix {
            self.valid(prefix, Code::Unsafe, "URL path", values::url_path)?;
            tb.path_prefix = format!("/{}", prefix.value.trim_matches('/'));
        }
        if let Some(logdir) = &p.logdir {
            self.valid(logdir, Code::Unsafe, "path", values::absolute_path)?;
            tb.logdir.clone_from(&logdir.value);
        }
        if let Some(bind) = &p.bind {
            self.valid(bind, Code::InvalidValue, "bind address", |b| {
                b.parse::<std::net::IpAddr>()
                    .map(|_| ())
                    .map_err(|_| "write an IP address like \"0.0.0.0\" or \"127.0.0.1\"".to_owned())
            })?;
            tb.bind.clone_from(&bind.value);
        }
        Some(enabled.then_some(tb))
    }

    /// Two enabled services on one container port, or two services on one host port.
    pub(super) fn port_conflicts(&mut self) {
        let listening = listening(self.part());
        let container: Vec<(&str, u16, Option<Span>)> =
            listening.iter().map(|l| (l.service.keyword, l.port, l.span)).collect();
        let container_clash = self.report_port_clash(&container, "in the container");
        // docker-run.sh publishes every port, at the port `docker-run` names or at its default
        // (2222 for ssh, the container port otherwise), so defaults can clash too.
        let run = self.part().docker_run.clone().unwrap_or_default();
        let host: Vec<(&str, u16, Option<Span>)> = listening
            .iter()
            .map(|l| {
                let (port, span) = l.host(&run);
                (l.service.keyword, port, span)
            })
            .collect();
        if !container_clash {
            self.report_port_clash(&host, "on the host (docker-run.sh)");
        }
    }

    /// Reports every service whose port an earlier one already has; true when any two share one.
    fn report_port_clash(&mut self, ports: &[(&str, u16, Option<Span>)], place: &str) -> bool {
        let mut clash = false;
        for (i, (name, port, span)) in ports.iter().enumerate() {
            if let Some((other, _, other_span)) = ports[..i].iter().find(|(_, p, _)| p == port) {
                clash = true;
                // The label names the service whose port is written there: `name`'s own, or, when
                // `name` keeps its default port, `other`'s.
                let (primary, label, moved) = match (span, other_span) {
                    (Some(span), _) => (*span, format!("port of `{name}`"), *name),
                    (None, Some(span)) => {
                        (*span, format!("port of `{other}`, the default port of `{name}` too"), *other)
                    }
                    (None, None) => continue,
                };
                let mut diag = Diag::error(
                    Code::PortConflict,
                    primary,
                    format!("`{name}` and `{other}` both use port {port} {place}"),
                    label,
                )
                .with_help(if place.contains("host") {
                    format!("publish `{moved}` on another host port with `docker-run {moved}=PORT`")
                } else {
                    format!("give `{moved}` another port")
                });
                if let (Some(o), Some(_)) = (other_span, span) {
                    diag = diag.with_label(*o, format!("port of `{other}`"));
                }
                self.push(diag);
            }
        }
        clash
    }

    /// `jupyter frame-ancestors="ORIGIN …"`: origins separated by spaces.
    fn frame_ancestors(&mut self, value: &Spanned<String>) -> Option<Vec<String>> {
        let origins: Vec<String> = value.value.split_whitespace().map(str::to_owned).collect();
        if origins.is_empty() {
            self.push(
                Diag::error(Code::Origin, value.span, "`frame-ancestors` names no origin", "no origin")
                    .with_help("write the portal's origin, like \"https://portal.example.edu\""),
            );
            return None;
        }
        for origin in &origins {
            if let Err(reason) = values::origin(origin) {
                self.push(
                    Diag::error(Code::Origin, value.span, format!("`{origin}` is not a web origin"), "not an origin")
                        .with_help(reason),
                );
                return None;
            }
        }
        Some(origins)
    }
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
    }
}
