//! TensorBoard: its URL path prefix, log directory and bind address.

use serde::Serialize;

use super::{Checked, Cx, Finished, Pod, Service, service_node};
use crate::diag::Code;
use crate::lang::Node;
use crate::model::{LabelValue, Probe, Program};
use crate::values;

/// TensorBoard.
#[derive(Debug)]
pub struct TensorBoard;

const NODE: &Node = service_node!("tensorboard", "TensorBoard.", [
    "path-prefix": String = ("a URL path like \"/monitor\"", "URL path prefix."),
    "logdir": String = ("an absolute path", "Log directory."),
    "bind": String = ("an address like \"0.0.0.0\"", "IP address TensorBoard listens on."),
]);

const TEMPLATES: &[(&str, &str)] = &[
    (
        "image/services/tensorboard/motd.sh.line.j2",
        include_str!("../../templates/image/services/tensorboard/motd.sh.line.j2"),
    ),
    (
        "image/services/tensorboard/README.md.ports.j2",
        include_str!("../../templates/image/services/tensorboard/README.md.ports.j2"),
    ),
    (
        "image/services/tensorboard/README.md.curl.j2",
        include_str!("../../templates/image/services/tensorboard/README.md.curl.j2"),
    ),
    (
        "image/services/tensorboard/README.md.browser.j2",
        include_str!("../../templates/image/services/tensorboard/README.md.browser.j2"),
    ),
];

/// What the templates of TensorBoard see (`service.settings`).
#[derive(Debug, Serialize)]
struct Settings {
    /// `/monitor`, leading slash, no trailing slash.
    path_prefix: String,
    /// `/root/tensorboard-logs`.
    logdir: String,
    /// Address TensorBoard binds: `0.0.0.0`.
    bind: String,
    /// Whether it listens on every address, so that a published port reaches it.
    everywhere: bool,
}

impl Service for TensorBoard {
    fn keyword(&self) -> &'static str {
        "tensorboard"
    }

    fn title(&self) -> &'static str {
        "TensorBoard"
    }

    fn node(&self) -> &'static Node {
        NODE
    }

    fn port_name(&self) -> &'static str {
        "tensorboard"
    }

    fn default_port(&self) -> u16 {
        6006
    }

    fn templates(&self) -> &'static [(&'static str, &'static str)] {
        TEMPLATES
    }

    fn check(&self, cx: &mut Cx<'_>) -> Option<Box<dyn Checked>> {
        let mut settings = Settings {
            path_prefix: "/monitor".to_owned(),
            logdir: format!("{}/tensorboard-logs", cx.home),
            bind: "0.0.0.0".to_owned(),
            everywhere: true,
        };
        if let Some(prefix) = cx.string("path-prefix") {
            cx.valid(&prefix, Code::Unsafe, "URL path", values::url_path)?;
            settings.path_prefix = format!("/{}", prefix.value.trim_matches('/'));
        }
        if let Some(logdir) = cx.string("logdir") {
            cx.valid(&logdir, Code::Unsafe, "path", values::absolute_path)?;
            settings.logdir.clone_from(&logdir.value);
        }
        if let Some(bind) = cx.string("bind") {
            let address = cx.valid(&bind, Code::InvalidValue, "bind address", |b| {
                b.parse::<std::net::IpAddr>()
                    .map_err(|_| "write an IP address like \"0.0.0.0\" or \"127.0.0.1\"".to_owned())
            })?;
            settings.everywhere = address.is_unspecified();
            settings.bind.clone_from(&bind.value);
        }
        Some(Box::new(Valid { port: cx.port, settings }))
    }
}

/// TensorBoard's settings, checked.
struct Valid {
    port: u16,
    settings: Settings,
}

impl Checked for Valid {
    fn finish(self: Box<Self>, pod: &Pod<'_>) -> Finished {
        let Valid { port, settings } = *self;
        // The address the health check and the self-test reach it at, from inside the container.
        let host = match settings.bind.as_str() {
            _ if settings.everywhere => "127.0.0.1".to_owned(),
            bind if bind.contains(':') => format!("[{bind}]"),
            bind => bind.to_owned(),
        };
        let labels = vec![
            ("tensorboard.port", LabelValue::Port(port)),
            ("tensorboard.path-prefix", LabelValue::Text(settings.path_prefix.clone())),
        ];
        Finished {
            program: Program {
                name: "tensorboard",
                command: vec![
                    format!("{}/bin/tensorboard", pod.prefix),
                    "--host".to_owned(),
                    settings.bind.clone(),
                    "--port".to_owned(),
                    port.to_string(),
                    "--logdir".to_owned(),
                    settings.logdir.clone(),
                    "--path_prefix".to_owned(),
                    settings.path_prefix.clone(),
                ],
                directory: Some(pod.home.to_owned()),
            },
            probe: Probe::http(format!("http://{host}:{port}{}/", settings.path_prefix)),
            login: false,
            labels,
            directories: vec![settings.logdir.clone()],
            pip: vec!["tensorboard".to_owned()],
            files: Vec::new(),
            settings: minijinja::Value::from(minijinja::value::Serde(settings)),
        }
    }
}
