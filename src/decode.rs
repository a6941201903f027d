//! Decode: KDL documents → spanned declarations ([`crate::ast`]), checking node names, arity,
//! property names and value types. Every problem is reported; decoding goes on after each.

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};

use crate::ast::{
    Axis, BasePart, BindVolumePart, CatalogPart, CpuPart, CudaPart, CustomBasePart, Decl, DeclKind, DockerRunPart,
    EnvPart, FrameworkPart, JupyterPart, KubernetesPart, Matrix, MirrorsPart, Part, PythonPart, Spanned, SshPart,
    TensorBoardPart, TolerationPart, VolumePart,
};
use crate::diag::{Code, Diag, Diagnostics, did_you_mean};
use crate::framework::{self, Rules};
use crate::source::{FileId, Span};

const TOP_LEVEL: &[&str] = &["image", "profile", "catalog"];

/// The children an `image` or `profile` takes besides `use` and the frameworks' nodes.
const OTHER_CHILDREN: &[&str] = &[
    "python",
    "cuda",
    "cpu",
    "base",
    "apt",
    "pip",
    "timezone",
    "locale",
    "ssh",
    "jupyter",
    "tensorboard",
    "mirrors",
    "tag",
    "docker-run",
    "kubernetes",
    "matrix",
    "env",
];

/// The children an `image` or `profile` takes: `use`, the frameworks, then the others.
#[must_use]
pub fn image_children() -> Vec<&'static str> {
    std::iter::once("use")
        .chain(framework::FRAMEWORKS.iter().map(|f| f.keyword()))
        .chain(OTHER_CHILDREN.iter().copied())
        .collect()
}

/// What one file declares: images and profiles, and the `catalog` settings if it has them.
#[derive(Debug, Default)]
pub struct Decoded {
    /// `image` and `profile` declarations, in order.
    pub decls: Vec<Decl>,
    /// Every `catalog` node of the file (more than one across all files is an error).
    pub catalogs: Vec<CatalogPart>,
}

/// Decodes the declarations of one parsed file.
pub fn decode(file: FileId, doc: &KdlDocument, diags: &mut Diagnostics) -> Decoded {
    let mut decoder = Decoder { file, diags };
    let mut decoded = Decoded::default();
    for node in doc.nodes() {
        if node.name().value() == "catalog" {
            decoded.catalogs.push(decoder.catalog(node));
        } else if let Some(decl) = decoder.decl(node) {
            decoded.decls.push(decl);
        }
    }
    decoded
}

struct Decoder<'d> {
    file: FileId,
    diags: &'d mut Diagnostics,
}

impl Decoder<'_> {
    fn span(&self, span: miette::SourceSpan) -> Span {
        Span::from_miette(self.file, span)
    }

    fn name_span(&self, node: &KdlNode) -> Span {
        self.span(node.name().span())
    }

    fn error(&mut self, diag: Diag) {
        self.diags.push(diag);
    }

    fn decl(&mut self, node: &KdlNode) -> Option<Decl> {
        let name = node.name().value();
        let kind = match name {
            "image" => DeclKind::Image,
            "profile" => DeclKind::Profile,
            other => {
                let help = if image_children().contains(&other) {
                    format!("`{other}` belongs inside an `image \"NAME\" {{ … }}` or `profile \"NAME\" {{ … }}` block")
                } else {
                    did_you_mean(other, TOP_LEVEL, "a spec file holds only")
                };
                let span = self.name_span(node);
                self.error(
                    Diag::error(Code::UnknownNode, span, format!("unknown top-level node `{other}`"), "unknown node")
                        .with_help(help),
                );
                return None;
            }
        };
        self.check_entries(node, 1, 1, &[]);
        let decl_name = self.string_arg(node, 0, "a name like \"pytorch\"")?;
        let body = match node.children() {
            Some(children) => self.part(children),
            None => Part::default(),
        };
        Some(Decl { kind, name: decl_name, body })
    }

    fn part(&mut self, doc: &KdlDocument) -> Part {
        let mut part = Part::default();
        let mut seen: Vec<(&str, Span)> = Vec::new();
        let children = image_children();
        for node in doc.nodes() {
            let name = node.name().value();
            let span = self.name_span(node);
            if !children.contains(&name) {
                let help = did_you_mean(name, &children, "an image takes");
                self.error(
                    Diag::error(Code::UnknownNode, span, format!("unknown node `{name}`"), "unknown node")
                        .with_help(help),
                );
                continue;
            }
            let repeatable = matches!(name, "use" | "apt" | "pip" | "env");
            if !repeatable && !self.first_of_its_name(&mut seen, name, span) {
                continue;
            }
            if let Some(rules) = framework::by_keyword(name) {
                let framework = self.framework(rules, node);
                if let Some(existing) = &part.framework {
                    let first = existing.node_span();
                    self.error(
                        Diag::error(
                            Code::TwoFrameworks,
                            span,
                            format!("an image has one framework, but this one also names `{}`", existing.keyword()),
                            "second framework",
                        )
                        .with_label(first, "first framework")
                        .with_help(format!(
                            "keep one of `{}` and `{name}`; make a second image for the other",
                            existing.keyword()
                        )),
                    );
                } else {
                    part.framework = Some(framework);
                }
                continue;
            }
            match name {
                "use" => {
                    self.check_entries(node, 1, usize::MAX, &[]);
                    self.no_children(node);
                    part.uses.extend(self.string_args(node, "a profile name"));
                }
                "python" => part.python = self.python(node),
                "cuda" | "cpu" | "base" => {
                    let base = match name {
                        "cuda" => self.cuda(node).map(BasePart::Cuda),
                        "cpu" => Some(BasePart::Cpu(self.cpu(node))),
                        _ => self.custom_base(node).map(BasePart::Custom),
                    };
                    if let Some(base) = base {
                        if let Some(existing) = &part.base {
                            let first = existing.node_span();
                            self.error(
                                Diag::error(
                                    Code::TwoBases,
                                    span,
                                    "an image has one base: `cuda`, `cpu` or `base`",
                                    "second base",
                                )
                                .with_label(first, "first base")
                                .with_help("keep one of `cuda`, `cpu` and `base`"),
                            );
                        } else {
                            part.base = Some(base);
                        }
                    }
                }
                "apt" | "pip" => {
                    self.check_entries(node, 1, usize::MAX, &[]);
                    self.no_children(node);
                    let what = if name == "apt" { "a Debian package name" } else { "a pip requirement" };
                    let values = self.string_args(node, what);
                    if name == "apt" { part.apt.extend(values) } else { part.pip.extend(values) }
                }
                "timezone" => part.timezone = self.single_string(node, "a time zone like \"Asia/Shanghai\""),
                "locale" => part.locale = self.single_string(node, "a locale like \"zh_CN.UTF-8\""),
                "tag" => part.tag = self.single_string(node, "a tag template like \"{version}-python{python}\""),
                "ssh" => part.ssh = Some(self.ssh(node)),
                "jupyter" => part.jupyter = Some(self.jupyter(node)),
                "tensorboard" => part.tensorboard = Some(self.tensorboard(node)),
                "mirrors" => part.mirrors = Some(self.mirrors(node)),
                "docker-run" => part.docker_run = Some(self.docker_run(node)),
                "kubernetes" => part.kubernetes = Some(self.kubernetes(node)),
                "matrix" => part.matrix = Some(self.matrix(node)),
                "env" => {
                    self.check_entries(node, 2, 2, &[]);
                    self.no_children(node);
                    let name = self.string_arg(node, 0, "a variable name like \"HF_ENDPOINT\"");
                    let value = self.string_arg(node, 1, "the variable's value");
                    if let (Some(name), Some(value)) = (name, value) {
                        part.env.push(EnvPart { name, value });
                    }
                }
                _ => unreachable!("every name of image_children() is handled"),
            }
        }
        part
    }

    fn catalog(&mut self, node: &KdlNode) -> CatalogPart {
        self.check_entries(node, 0, 0, &[]);
        let mut catalog = CatalogPart {
            node: self.name_span(node),
            registry: None,
            base_registry: None,
            templates: None,
            node_ports: None,
        };
        let Some(children) = node.children() else { return catalog };
        const CHILDREN: &[&str] = &["registry", "base-registry", "templates", "node-ports"];
        let mut seen: Vec<(&str, Span)> = Vec::new();
        for child in children.nodes() {
            let name = child.name().value();
            let span = self.name_span(child);
            if !CHILDREN.contains(&name) {
                let help = did_you_mean(name, CHILDREN, "`catalog` takes");
                self.error(
                    Diag::error(Code::UnknownNode, span, format!("unknown node `{name}` in `catalog`"), "unknown node")
                        .with_help(help),
                );
                continue;
            }
            if !self.first_of_its_name(&mut seen, name, span) {
                continue;
            }
            match name {
                "registry" => {
                    catalog.registry = self.single_string(child, "a registry like \"harbor.example.edu:5000/ai\"");
                }
                "base-registry" => {
                    catalog.base_registry =
                        self.single_string(child, "a registry like \"harbor.example.edu:5000/proxy\"");
                }
                "templates" => catalog.templates = self.single_string(child, "a directory like \"templates\""),
                _ => {
                    self.check_entries(child, 2, 2, &[]);
                    self.no_children(child);
                    let mut bounds = Self::args(child).map(|e| self.integer(e, "a port number")).collect::<Vec<_>>();
                    if let (Some(Some(high)), Some(Some(low))) = (bounds.pop(), bounds.pop()) {
                        catalog.node_ports = Some((low, high));
                    }
                }
            }
        }
        catalog
    }

    fn framework(&mut self, rules: &'static dyn Rules, node: &KdlNode) -> FrameworkPart {
        let properties = rules.properties();
        let names: Vec<&str> = properties.iter().map(|p| p.name).collect();
        self.check_entries(node, 0, 1, &names);
        self.no_children(node);
        let version_expect = format!("a {} version like \"{}\"", rules.noun(), rules.example());
        let mut part = FrameworkPart::new(rules, self.name_span(node));
        part.version = self.string_arg(node, 0, &version_expect);
        for property in properties {
            let Some(entry) = self.prop(node, property.name) else { continue };
            let value = if property.nullable && entry.value().is_null() {
                Some(Spanned::new(None, self.span(entry.span())))
            } else {
                self.string(entry, property.expect).map(|s| Spanned::new(Some(s.value), s.span))
            };
            if let Some(value) = value {
                part.properties.push((property.name, value));
            }
        }
        part
    }

    fn python(&mut self, node: &KdlNode) -> Option<PythonPart> {
        self.check_entries(node, 0, 1, &["miniconda", "sha256", "accept-tos"]);
        self.no_children(node);
        Some(PythonPart {
            node: self.name_span(node),
            version: self.string_arg(node, 0, "a Python version like \"3.10\""),
            miniconda: self.string_prop(node, "miniconda", "an installer file name"),
            sha256: self.string_prop(node, "sha256", "the installer's sha256 in hex"),
            accept_tos: self.bool_prop(node, "accept-tos"),
        })
    }

    fn cuda(&mut self, node: &KdlNode) -> Option<CudaPart> {
        self.check_entries(node, 0, 1, &["cudnn", "flavor", "os"]);
        self.no_children(node);
        Some(CudaPart {
            node: self.name_span(node),
            version: self.string_arg(node, 0, "a CUDA version like \"12.1.0\""),
            cudnn: self.string_prop(node, "cudnn", "a cuDNN major version like \"8\""),
            flavor: self.string_prop(node, "flavor", "`devel`, `runtime` or `base`"),
            os: self.string_prop(node, "os", "an OS release like \"ubuntu22.04\""),
        })
    }

    fn cpu(&mut self, node: &KdlNode) -> CpuPart {
        self.check_entries(node, 0, 0, &["os"]);
        self.no_children(node);
        CpuPart { node: self.name_span(node), os: self.string_prop(node, "os", "an OS release like \"ubuntu22.04\"") }
    }

    fn custom_base(&mut self, node: &KdlNode) -> Option<CustomBasePart> {
        self.check_entries(node, 1, 1, &["gpu"]);
        self.no_children(node);
        Some(CustomBasePart {
            node: self.name_span(node),
            image: self.string_arg(node, 0, "an image reference like \"ubuntu:22.04\"")?,
            gpu: self.bool_prop(node, "gpu"),
        })
    }

    fn ssh(&mut self, node: &KdlNode) -> SshPart {
        self.check_entries(node, 0, 1, &["port", "password-file", "motd", "password", "host-keys"]);
        self.no_children(node);
        SshPart {
            node: self.name_span(node),
            enabled: self.bool_arg(node),
            port: self.port_prop(node, "port"),
            password_file: self.string_prop(node, "password-file", "an absolute path"),
            motd: self.bool_prop(node, "motd"),
            password: self.string_prop(node, "password", "a password"),
            host_keys: self.string_prop(node, "host-keys", "an absolute directory path"),
        }
    }

    fn jupyter(&mut self, node: &KdlNode) -> JupyterPart {
        self.check_entries(
            node,
            0,
            1,
            &["port", "base-url", "root-dir", "language", "token-file", "open", "terminal-theme", "frame-ancestors"],
        );
        self.no_children(node);
        JupyterPart {
            node: self.name_span(node),
            enabled: self.bool_arg(node),
            port: self.port_prop(node, "port"),
            base_url: self.string_prop(node, "base-url", "a URL path like \"/jupyter/\""),
            root_dir: self.string_prop(node, "root-dir", "an absolute path"),
            language: self.string_prop(node, "language", "a language like \"zh-CN\""),
            token_file: self.string_prop(node, "token-file", "an absolute path"),
            open: self.bool_prop(node, "open"),
            terminal_theme: self.string_prop(node, "terminal-theme", "`dark`, `light` or `inherit`"),
            frame_ancestors: self.string_prop(node, "frame-ancestors", "an origin like \"https://portal.example.edu\""),
        }
    }

    fn tensorboard(&mut self, node: &KdlNode) -> TensorBoardPart {
        self.check_entries(node, 0, 1, &["port", "path-prefix", "logdir", "bind"]);
        self.no_children(node);
        TensorBoardPart {
            node: self.name_span(node),
            enabled: self.bool_arg(node),
            port: self.port_prop(node, "port"),
            path_prefix: self.string_prop(node, "path-prefix", "a URL path like \"/monitor\""),
            logdir: self.string_prop(node, "logdir", "an absolute path"),
            bind: self.string_prop(node, "bind", "an address like \"0.0.0.0\""),
        }
    }

    fn mirrors(&mut self, node: &KdlNode) -> MirrorsPart {
        self.check_entries(node, 0, 0, &["pip", "conda", "build-pip", "miniconda", "apt"]);
        self.no_children(node);
        MirrorsPart {
            apt: self.string_prop(node, "apt", "an archive mirror URL"),
            pip: self.string_prop(node, "pip", "a pip index URL"),
            conda: self.string_prop(node, "conda", "a conda mirror URL"),
            build_pip: self.string_prop(node, "build-pip", "a pip index URL"),
            miniconda: self.string_prop(node, "miniconda", "a Miniconda download URL"),
        }
    }

    fn docker_run(&mut self, node: &KdlNode) -> DockerRunPart {
        self.check_entries(node, 0, 0, &["name", "restart", "ssh", "jupyter", "tensorboard"]);
        let mut part = DockerRunPart {
            name: self.string_prop(node, "name", "a container name"),
            restart: self.string_prop(node, "restart", "a restart policy like \"always\""),
            ssh: self.port_prop(node, "ssh"),
            jupyter: self.port_prop(node, "jupyter"),
            tensorboard: self.port_prop(node, "tensorboard"),
            volumes: Vec::new(),
        };
        let Some(children) = node.children() else { return part };
        for child in children.nodes() {
            let name = child.name().value();
            let span = self.name_span(child);
            if name != "volume" {
                let help = did_you_mean(name, &["volume"], "`docker-run` takes");
                self.error(
                    Diag::error(
                        Code::UnknownNode,
                        span,
                        format!("unknown node `{name}` in `docker-run`"),
                        "unknown node",
                    )
                    .with_help(help),
                );
                continue;
            }
            self.check_entries(child, 2, 2, &["read-only"]);
            self.no_children(child);
            let host = self.string_arg(child, 0, "a host path like \"/data/datasets\"");
            let container = self.string_arg(child, 1, "a container path like \"/root/datasets\"");
            if let (Some(host), Some(container)) = (host, container) {
                part.volumes.push(BindVolumePart { host, container, read_only: self.bool_prop(child, "read-only") });
            }
        }
        part
    }

    fn kubernetes(&mut self, node: &KdlNode) -> KubernetesPart {
        self.check_entries(node, 0, 0, &["replicas", "gpus", "service", "shm-size", "host-keys-secret"]);
        let mut part = KubernetesPart {
            replicas: self.uint_prop(node, "replicas"),
            gpus: self.uint_prop(node, "gpus"),
            service: self.string_prop(node, "service", "`NodePort` or `ClusterIP`"),
            shm_size: self.string_prop(node, "shm-size", "a quantity like \"2Gi\""),
            host_keys_secret: self.string_prop(node, "host-keys-secret", "a Secret name"),
            ..KubernetesPart::default()
        };
        let Some(children) = node.children() else { return part };
        const CHILDREN: &[&str] = &[
            "requests",
            "limits",
            "node-port",
            "namespace",
            "image-pull-secret",
            "node-selector",
            "toleration",
            "volume",
        ];
        let mut seen: Vec<(&str, Span)> = Vec::new();
        for child in children.nodes() {
            let name = child.name().value();
            let span = self.name_span(child);
            if !CHILDREN.contains(&name) {
                let help = did_you_mean(name, CHILDREN, "`kubernetes` takes");
                self.error(
                    Diag::error(
                        Code::UnknownNode,
                        span,
                        format!("unknown node `{name}` in `kubernetes`"),
                        "unknown node",
                    )
                    .with_help(help),
                );
                continue;
            }
            let repeatable = matches!(name, "node-selector" | "toleration" | "volume");
            if !repeatable && !self.first_of_its_name(&mut seen, name, span) {
                continue;
            }
            self.no_children(child);
            match name {
                "namespace" => part.namespace = self.single_string(child, "a namespace like \"ai-platform\""),
                "image-pull-secret" => {
                    part.image_pull_secret = self.single_string(child, "a Secret name like \"harbor-cred\"");
                }
                "node-selector" => {
                    self.check_entries(child, 2, 2, &[]);
                    let key = self.string_arg(child, 0, "a label key like \"nvidia.com/gpu.product\"");
                    let value = self.string_arg(child, 1, "a label value");
                    if let (Some(key), Some(value)) = (key, value) {
                        part.node_selector.push((key, value));
                    }
                }
                "toleration" => {
                    self.check_entries(child, 0, 0, &["key", "operator", "value", "effect"]);
                    part.tolerations.push(TolerationPart {
                        node: span,
                        key: self.string_prop(child, "key", "a taint key like \"nvidia.com/gpu\""),
                        operator: self.string_prop(child, "operator", "`Exists` or `Equal`"),
                        value: self.string_prop(child, "value", "a taint value"),
                        effect: self.string_prop(child, "effect", "`NoSchedule`, `PreferNoSchedule` or `NoExecute`"),
                    });
                }
                "volume" => {
                    self.check_entries(child, 1, 1, &["mount", "claim", "host-path", "empty-dir", "read-only"]);
                    if let Some(volume_name) = self.string_arg(child, 0, "a volume name like \"datasets\"") {
                        part.volumes.push(VolumePart {
                            node: span,
                            name: volume_name,
                            mount: self.string_prop(child, "mount", "an absolute path"),
                            claim: self.string_prop(child, "claim", "a PersistentVolumeClaim name"),
                            host_path: self.string_prop(child, "host-path", "an absolute path on the node"),
                            empty_dir: self.bool_prop(child, "empty-dir"),
                            read_only: self.bool_prop(child, "read-only"),
                        });
                    }
                }
                "requests" | "limits" => {
                    self.check_entries(child, 0, 0, &["cpu", "memory"]);
                    let cpu = self.string_prop(child, "cpu", "a CPU quantity like \"2\" or \"500m\"");
                    let memory = self.string_prop(child, "memory", "a memory quantity like \"4Gi\"");
                    if name == "requests" {
                        part.requests_cpu = cpu;
                        part.requests_memory = memory;
                    } else {
                        part.limits_cpu = cpu;
                        part.limits_memory = memory;
                    }
                }
                _ => {
                    self.check_entries(child, 0, 0, &["ssh", "jupyter", "tensorboard"]);
                    part.node_port_ssh = self.port_prop(child, "ssh");
                    part.node_port_jupyter = self.port_prop(child, "jupyter");
                    part.node_port_tensorboard = self.port_prop(child, "tensorboard");
                }
            }
        }
        part
    }

    fn matrix(&mut self, node: &KdlNode) -> Matrix {
        self.check_entries(node, 0, 0, &[]);
        let axis_names = Axis::names();
        let mut matrix = Matrix { node: self.name_span(node), axes: Vec::new(), excludes: Vec::new() };
        let Some(children) = node.children() else { return matrix };
        for child in children.nodes() {
            let name = child.name().value();
            let span = self.name_span(child);
            self.no_children(child);
            if name == "exclude" {
                self.check_entries(child, 0, 0, &axis_names);
                let mut combination = Vec::new();
                for entry in child.entries() {
                    let Some(key) = entry.name() else { continue };
                    let Some(axis) = Axis::parse(key.value()) else {
                        continue;
                    };
                    if let Some(value) = self.string(entry, "an axis value") {
                        combination.push((Spanned::new(axis, self.span(key.span())), value));
                    }
                }
                if combination.is_empty() {
                    self.error(
                        Diag::error(Code::Arity, span, "`exclude` names no combination", "empty exclude").with_help(
                            "write the axis values to leave out, like `exclude python=\"3.12\" cuda=\"11.8.0\"`",
                        ),
                    );
                } else {
                    matrix.excludes.push(combination);
                }
                continue;
            }
            let Some(axis) = Axis::parse(name) else {
                let mut names = axis_names.clone();
                names.push("exclude");
                let help = did_you_mean(name, &names, "a matrix axis is one of");
                self.error(
                    Diag::error(Code::UnknownNode, span, format!("unknown matrix axis `{name}`"), "unknown axis")
                        .with_help(help),
                );
                continue;
            };
            if let Some((first, _)) = matrix.axes.iter().find(|(a, _)| a.value == axis) {
                let first = first.span;
                self.error(
                    Diag::error(
                        Code::Duplicate,
                        span,
                        format!("matrix axis `{name}` is given twice"),
                        "given again here",
                    )
                    .with_label(first, "first given here")
                    .with_help(format!("list every value of `{name}` on one line")),
                );
                continue;
            }
            self.check_entries(child, 1, usize::MAX, &[]);
            let mut values: Vec<Spanned<String>> = Vec::new();
            for value in self.string_args(child, "an axis value") {
                if let Some(first) = values.iter().find(|v| v.value == value.value) {
                    let first = first.span;
                    self.error(
                        Diag::error(
                            Code::Duplicate,
                            value.span,
                            format!("`{}` is listed twice", value.value),
                            "listed again here",
                        )
                        .with_label(first, "first listed here")
                        .with_help("list each value once"),
                    );
                    continue;
                }
                values.push(value);
            }
            if !values.is_empty() {
                matrix.axes.push((Spanned::new(axis, span), values));
            }
        }
        matrix
    }

    /// Records a node that may appear once; reports it and returns false when it came before.
    fn first_of_its_name<'n>(&mut self, seen: &mut Vec<(&'n str, Span)>, name: &'n str, span: Span) -> bool {
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            let first = *first;
            self.error(
                Diag::error(Code::Duplicate, span, format!("`{name}` is given twice"), "given again here")
                    .with_label(first, "first given here")
                    .with_help(format!("keep one `{name}` node")),
            );
            return false;
        }
        seen.push((name, span));
        true
    }

    // ----- entries -----

    /// Reports extra or missing arguments, unknown and duplicate properties.
    fn check_entries(&mut self, node: &KdlNode, min_args: usize, max_args: usize, props: &[&str]) {
        let node_name = node.name().value().to_owned();
        let mut args = 0;
        let mut seen: Vec<(&str, Span)> = Vec::new();
        for entry in node.entries() {
            let span = self.span(entry.span());
            match entry.name() {
                None => {
                    args += 1;
                    if args > max_args {
                        let help = match max_args {
                            0 => format!("`{node_name}` takes only properties, like `key=\"value\"`"),
                            1 => format!("`{node_name}` takes one value; remove this one"),
                            n => format!("`{node_name}` takes at most {n} values"),
                        };
                        self.error(
                            Diag::error(
                                Code::Arity,
                                span,
                                format!("too many values for `{node_name}`"),
                                "unexpected value",
                            )
                            .with_help(help),
                        );
                    }
                }
                Some(key) => {
                    let key_name = key.value();
                    let key_span = self.span(key.span());
                    if !props.contains(&key_name) {
                        let help = if props.is_empty() {
                            format!("`{node_name}` takes no properties")
                        } else {
                            did_you_mean(key_name, props, &format!("`{node_name}` takes"))
                        };
                        self.error(
                            Diag::error(
                                Code::UnknownProperty,
                                key_span,
                                format!("unknown property `{key_name}` of `{node_name}`"),
                                "unknown property",
                            )
                            .with_help(help),
                        );
                    } else if let Some((_, first)) = seen.iter().find(|(n, _)| *n == key_name) {
                        let first = *first;
                        self.error(
                            Diag::error(
                                Code::Duplicate,
                                key_span,
                                format!("property `{key_name}` is given twice"),
                                "given again here",
                            )
                            .with_label(first, "first given here")
                            .with_help(format!("keep one `{key_name}=`")),
                        );
                    } else {
                        seen.push((key_name, key_span));
                    }
                }
            }
        }
        if args < min_args {
            let span = self.name_span(node);
            let what = if node_name == "image" || node_name == "profile" {
                format!("a name: `{node_name} \"NAME\" {{ … }}`")
            } else {
                "a value".to_owned()
            };
            self.error(
                Diag::error(Code::Arity, span, format!("`{node_name}` needs a value"), "value missing")
                    .with_help(format!("give `{node_name}` {what}")),
            );
        }
    }

    fn no_children(&mut self, node: &KdlNode) {
        if let Some(children) = node.children() {
            let span = self.span(children.span());
            let name = node.name().value();
            self.error(
                Diag::error(Code::Children, span, format!("`{name}` takes no children block"), "unexpected block")
                    .with_help(format!(
                        "write the settings of `{name}` as properties on its line, like `{name} key=\"value\"`"
                    )),
            );
        }
    }

    fn args(node: &KdlNode) -> impl Iterator<Item = &KdlEntry> {
        node.entries().iter().filter(|e| e.name().is_none())
    }

    fn prop<'n>(&self, node: &'n KdlNode, key: &str) -> Option<&'n KdlEntry> {
        node.entries().iter().find(|e| e.name().is_some_and(|n| n.value() == key))
    }

    fn string_arg(&mut self, node: &KdlNode, index: usize, what: &str) -> Option<Spanned<String>> {
        let entry = Self::args(node).nth(index)?;
        self.string(entry, what)
    }

    fn string_args(&mut self, node: &KdlNode, what: &str) -> Vec<Spanned<String>> {
        Self::args(node).filter_map(|e| self.string(e, what)).collect()
    }

    fn single_string(&mut self, node: &KdlNode, what: &str) -> Option<Spanned<String>> {
        self.check_entries(node, 1, 1, &[]);
        self.no_children(node);
        self.string_arg(node, 0, what)
    }

    fn string_prop(&mut self, node: &KdlNode, key: &str, what: &str) -> Option<Spanned<String>> {
        let entry = self.prop(node, key)?;
        self.string(entry, what)
    }

    fn bool_prop(&mut self, node: &KdlNode, key: &str) -> Option<Spanned<bool>> {
        let entry = self.prop(node, key)?;
        self.boolean(entry)
    }

    fn bool_arg(&mut self, node: &KdlNode) -> Option<Spanned<bool>> {
        let entry = Self::args(node).next()?;
        self.boolean(entry)
    }

    fn port_prop(&mut self, node: &KdlNode, key: &str) -> Option<Spanned<u16>> {
        let entry = self.prop(node, key)?;
        let value = self.integer(entry, "a port number")?;
        match u16::try_from(value.value) {
            Ok(port) if port > 0 => Some(Spanned::new(port, value.span)),
            _ => {
                self.error(
                    Diag::error(
                        Code::Type,
                        value.span,
                        format!("`{}` is not a port number", value.value),
                        "not a port",
                    )
                    .with_help("use a port between 1 and 65535"),
                );
                None
            }
        }
    }

    fn uint_prop(&mut self, node: &KdlNode, key: &str) -> Option<Spanned<u32>> {
        let entry = self.prop(node, key)?;
        let value = self.integer(entry, "a whole number")?;
        match u32::try_from(value.value) {
            Ok(n) => Some(Spanned::new(n, value.span)),
            Err(_) => {
                self.error(
                    Diag::error(Code::Type, value.span, format!("`{}` is out of range", value.value), "out of range")
                        .with_help("use a whole number from 0 to 4294967295"),
                );
                None
            }
        }
    }

    /// The value's span: for a property, only the value after `=`.
    fn value_span(&self, entry: &KdlEntry) -> Span {
        let span = self.span(entry.span());
        match entry.name() {
            Some(key) => {
                let key_end = key.span().offset() + key.span().len();
                let start = (key_end + 1).min(span.end).max(span.start);
                Span { start, ..span }
            }
            None => span,
        }
    }

    fn string(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<String>> {
        let span = self.value_span(entry);
        match entry.value() {
            KdlValue::String(s) => Some(Spanned::new(s.clone(), span)),
            other => {
                let written = written(entry, other);
                let help = match other {
                    KdlValue::Integer(_) | KdlValue::Float(_) => {
                        format!("quote it: write \"{written}\" (versions and names are strings)")
                    }
                    _ => format!("write {what}, in quotes"),
                };
                self.error(
                    Diag::error(
                        Code::Type,
                        span,
                        format!("expected {what}, found {} `{written}`", kind(other)),
                        "expected a string".to_string(),
                    )
                    .with_help(help),
                );
                None
            }
        }
    }

    fn boolean(&mut self, entry: &KdlEntry) -> Option<Spanned<bool>> {
        let span = self.value_span(entry);
        match entry.value() {
            KdlValue::Bool(b) => Some(Spanned::new(*b, span)),
            other => {
                let written = written(entry, other);
                let help = match other {
                    KdlValue::String(s) if s == "true" || s == "false" || s == "on" || s == "off" => {
                        let b = s == "true" || s == "on";
                        format!("write #{b} (KDL booleans have a `#`)")
                    }
                    _ => "write #true or #false".to_owned(),
                };
                self.error(
                    Diag::error(
                        Code::Type,
                        span,
                        format!("expected a boolean, found {} `{written}`", kind(other)),
                        "expected #true or #false",
                    )
                    .with_help(help),
                );
                None
            }
        }
    }

    fn integer(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<i128>> {
        let span = self.value_span(entry);
        match entry.value() {
            KdlValue::Integer(i) => Some(Spanned::new(*i, span)),
            other => {
                let written = written(entry, other);
                let help = match other {
                    KdlValue::String(s) if s.parse::<i128>().is_ok() => format!("drop the quotes: write {s}"),
                    _ => format!("write {what} without quotes, like 8888"),
                };
                self.error(
                    Diag::error(
                        Code::Type,
                        span,
                        format!("expected {what}, found {} `{written}`", kind(other)),
                        "expected a number",
                    )
                    .with_help(help),
                );
                None
            }
        }
    }
}

fn kind(value: &KdlValue) -> &'static str {
    match value {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "a number",
        KdlValue::Float(_) => "a number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}

/// The value as the user wrote it (`3.10`, not the parsed `3.1`).
fn written(entry: &KdlEntry, value: &KdlValue) -> String {
    entry
        .format()
        .map(|f| f.value_repr.trim().to_owned())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| value.to_string())
}
