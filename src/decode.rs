//! Decode: KDL documents → spanned declarations ([`crate::ast`]), checking node names, arity,
//! property names and value types against [`crate::schema`]. Every problem is reported; decoding
//! goes on after each.

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};

use crate::ast::{
    Axis, BasePart, BindVolumePart, CatalogPart, CpuPart, CudaPart, CustomBasePart, Decl, DeclKind, DockerRunPart,
    EnvPart, FrameworkPart, JupyterPart, KubernetesPart, Matrix, MirrorsPart, Part, PythonPart, Spanned, SshPart,
    TensorBoardPart, TolerationPart, VolumePart,
};
use crate::diag::{Code, Diag, Diagnostics, did_you_mean};
use crate::framework::Rules;
use crate::schema::{
    self, ImageChild, Kind, Node, Value, apt, axis, base, base_registry, bind_volume, catalog, cpu, cuda, docker_run,
    env, exclude, image, image_pull_secret, jupyter, kubernetes, limits, locale, matrix, mirrors, namespace, node_port,
    node_ports, node_selector, pip, profile, python, registry, requests, ssh, tag, templates, tensorboard, timezone,
    toleration, uses, volume,
};
use crate::source::{FileId, Span};

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
        if node.name().value() == catalog::NAME {
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
        let (kind, spec) = match name {
            image::NAME => (DeclKind::Image, &image::NODE),
            profile::NAME => (DeclKind::Profile, &profile::NODE),
            other => {
                let help = if schema::image_child_names().contains(&other) {
                    format!(
                        "`{other}` belongs inside an `{} \"NAME\" {{ … }}` or `{} \"NAME\" {{ … }}` block",
                        image::NAME,
                        profile::NAME
                    )
                } else {
                    let top_level: Vec<&str> = schema::TOP_LEVEL.iter().map(|n| n.name).collect();
                    did_you_mean(other, &top_level, "a spec file holds only")
                };
                let span = self.name_span(node);
                self.error(
                    Diag::error(Code::UnknownNode, span, format!("unknown top-level node `{other}`"), "unknown node")
                        .with_help(help),
                );
                return None;
            }
        };
        self.check_node(node, spec);
        let decl_name = self.string_arg(node, 0, &image::NAME_ARG)?;
        let body = match node.children() {
            Some(children) => self.part(children),
            None => Part::default(),
        };
        Some(Decl { kind, name: decl_name, body })
    }

    fn part(&mut self, doc: &KdlDocument) -> Part {
        let mut part = Part::default();
        let mut seen: Vec<(&str, Span)> = Vec::new();
        let children = schema::image_children();
        let names = schema::image_child_names();
        for node in doc.nodes() {
            let name = node.name().value();
            let span = self.name_span(node);
            let Some(child) = children.iter().find(|c| c.name() == name) else {
                let help = did_you_mean(name, &names, "an image takes");
                self.error(
                    Diag::error(Code::UnknownNode, span, format!("unknown node `{name}`"), "unknown node")
                        .with_help(help),
                );
                continue;
            };
            let spec = match *child {
                ImageChild::Framework(rules) => {
                    if self.first_of_its_name(&mut seen, name, span) {
                        self.framework_child(&mut part, rules, node, span);
                    }
                    continue;
                }
                ImageChild::Node(spec) => spec,
            };
            if !spec.repeats && !self.first_of_its_name(&mut seen, name, span) {
                continue;
            }
            match spec.name {
                uses::NAME => part.uses.extend(self.strings(node, spec)),
                python::NAME => part.python = self.python(node).map(Box::new),
                cuda::NAME => {
                    let cuda = self.cuda(node).map(BasePart::Cuda);
                    self.base_child(&mut part, cuda, span);
                }
                cpu::NAME => {
                    let cpu = self.cpu(node);
                    self.base_child(&mut part, Some(BasePart::Cpu(cpu)), span);
                }
                base::NAME => {
                    let custom = self.custom_base(node).map(BasePart::Custom);
                    self.base_child(&mut part, custom, span);
                }
                apt::NAME => part.apt.extend(self.strings(node, spec)),
                pip::NAME => part.pip.extend(self.strings(node, spec)),
                timezone::NAME => part.timezone = self.single_string(node, spec),
                locale::NAME => part.locale = self.single_string(node, spec),
                tag::NAME => part.tag = self.single_string(node, spec),
                ssh::NAME => part.ssh = Some(Box::new(self.ssh(node))),
                jupyter::NAME => part.jupyter = Some(Box::new(self.jupyter(node))),
                tensorboard::NAME => part.tensorboard = Some(Box::new(self.tensorboard(node))),
                mirrors::NAME => part.mirrors = Some(Box::new(self.mirrors(node))),
                docker_run::NAME => part.docker_run = Some(Box::new(self.docker_run(node))),
                kubernetes::NAME => part.kubernetes = Some(Box::new(self.kubernetes(node))),
                matrix::NAME => part.matrix = Some(Box::new(self.matrix(node))),
                env::NAME => {
                    self.check_node(node, spec);
                    self.no_children(node);
                    let name = self.string_arg(node, 0, &env::VARIABLE);
                    let value = self.string_arg(node, 1, &env::VALUE);
                    if let (Some(name), Some(value)) = (name, value) {
                        part.env.push(EnvPart { name, value });
                    }
                }
                other => unreachable!("`{other}` of schema::OTHER_CHILDREN has no decoder"),
            }
        }
        part
    }

    fn framework_child(&mut self, part: &mut Part, rules: &'static dyn Rules, node: &KdlNode, span: Span) {
        let framework = self.framework(rules, node);
        if let Some(existing) = &part.framework {
            let first = existing.node_span();
            let name = rules.keyword();
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
            part.framework = Some(Box::new(framework));
        }
    }

    fn base_child(&mut self, part: &mut Part, base: Option<BasePart>, span: Span) {
        let Some(base) = base else { return };
        if let Some(existing) = &part.base {
            let first = existing.node_span();
            let (cuda, cpu, custom) = (cuda::NAME, cpu::NAME, base::NAME);
            self.error(
                Diag::error(
                    Code::TwoBases,
                    span,
                    format!("an image has one base: `{cuda}`, `{cpu}` or `{custom}`"),
                    "second base",
                )
                .with_label(first, "first base")
                .with_help(format!("keep one of `{cuda}`, `{cpu}` and `{custom}`")),
            );
        } else {
            part.base = Some(Box::new(base));
        }
    }

    fn catalog(&mut self, node: &KdlNode) -> CatalogPart {
        let spec = &catalog::NODE;
        self.check_node(node, spec);
        let mut catalog = CatalogPart {
            node: self.name_span(node),
            registry: None,
            base_registry: None,
            templates: None,
            node_ports: None,
        };
        let Some(children) = node.children() else { return catalog };
        let mut seen: Vec<(&str, Span)> = Vec::new();
        for child in children.nodes() {
            let Some(child_spec) = self.child_spec(spec, child) else { continue };
            let span = self.name_span(child);
            if !child_spec.repeats && !self.first_of_its_name(&mut seen, child_spec.name, span) {
                continue;
            }
            match child_spec.name {
                registry::NAME => catalog.registry = self.single_string(child, child_spec),
                base_registry::NAME => catalog.base_registry = self.single_string(child, child_spec),
                templates::NAME => catalog.templates = self.single_string(child, child_spec),
                node_ports::NAME => {
                    self.check_node(child, child_spec);
                    self.no_children(child);
                    let mut bounds = Self::args(child)
                        .enumerate()
                        .map(|(index, entry)| {
                            let bound = &child_spec.args[index.min(child_spec.args.len() - 1)];
                            self.integer(entry, bound.expect)
                        })
                        .collect::<Vec<_>>();
                    if let (Some(Some(high)), Some(Some(low))) = (bounds.pop(), bounds.pop()) {
                        catalog.node_ports = Some((low, high));
                    }
                }
                other => unreachable!("`{other}` of `catalog` has no decoder"),
            }
        }
        catalog
    }

    /// The schema of `child` among the children of `parent`; reports an unknown node.
    fn child_spec(&mut self, parent: &'static Node, child: &KdlNode) -> Option<&'static Node> {
        let schema::Children::Nodes(children) = parent.children else {
            unreachable!("`{}` takes no child nodes", parent.name)
        };
        let name = child.name().value();
        if let Some(spec) = children.iter().find(|n| n.name == name) {
            return Some(spec);
        }
        let span = self.name_span(child);
        let help = did_you_mean(name, &parent.child_names(), &format!("`{}` takes", parent.name));
        self.error(
            Diag::error(Code::UnknownNode, span, format!("unknown node `{name}` in `{}`", parent.name), "unknown node")
                .with_help(help),
        );
        None
    }

    fn framework(&mut self, rules: &'static dyn Rules, node: &KdlNode) -> FrameworkPart {
        let properties = rules.properties();
        let names: Vec<&str> = properties.iter().map(|p| p.name).collect();
        self.check_entries(node, 0, 1, &names);
        self.no_children(node);
        let version_expect = format!("a {} version like \"{}\"", rules.noun(), rules.example());
        let mut part = FrameworkPart::new(rules, self.name_span(node));
        part.version = Self::args(node).next().and_then(|e| self.string(e, &version_expect));
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
        self.check_node(node, &python::NODE);
        self.no_children(node);
        Some(PythonPart {
            node: self.name_span(node),
            version: self.string_arg(node, 0, &python::VERSION),
            miniconda: self.string_prop(node, &python::MINICONDA),
            sha256: self.string_prop(node, &python::SHA256),
            accept_tos: self.bool_prop(node, &python::ACCEPT_TOS),
        })
    }

    fn cuda(&mut self, node: &KdlNode) -> Option<CudaPart> {
        self.check_node(node, &cuda::NODE);
        self.no_children(node);
        Some(CudaPart {
            node: self.name_span(node),
            version: self.string_arg(node, 0, &cuda::VERSION),
            cudnn: self.string_prop(node, &cuda::CUDNN),
            flavor: self.string_prop(node, &cuda::FLAVOR),
            os: self.string_prop(node, &cuda::OS),
        })
    }

    fn cpu(&mut self, node: &KdlNode) -> CpuPart {
        self.check_node(node, &cpu::NODE);
        self.no_children(node);
        CpuPart { node: self.name_span(node), os: self.string_prop(node, &cuda::OS) }
    }

    fn custom_base(&mut self, node: &KdlNode) -> Option<CustomBasePart> {
        self.check_node(node, &base::NODE);
        self.no_children(node);
        Some(CustomBasePart {
            node: self.name_span(node),
            image: self.string_arg(node, 0, &base::IMAGE)?,
            gpu: self.bool_prop(node, &base::GPU),
        })
    }

    fn ssh(&mut self, node: &KdlNode) -> SshPart {
        self.check_node(node, &ssh::NODE);
        self.no_children(node);
        SshPart {
            node: self.name_span(node),
            enabled: self.bool_arg(node),
            port: self.port_prop(node, &ssh::PORT),
            password_file: self.string_prop(node, &ssh::PASSWORD_FILE),
            motd: self.bool_prop(node, &ssh::MOTD),
            password: self.string_prop(node, &ssh::PASSWORD),
            host_keys: self.string_prop(node, &ssh::HOST_KEYS),
        }
    }

    fn jupyter(&mut self, node: &KdlNode) -> JupyterPart {
        self.check_node(node, &jupyter::NODE);
        self.no_children(node);
        JupyterPart {
            node: self.name_span(node),
            enabled: self.bool_arg(node),
            port: self.port_prop(node, &jupyter::PORT),
            base_url: self.string_prop(node, &jupyter::BASE_URL),
            root_dir: self.string_prop(node, &jupyter::ROOT_DIR),
            language: self.string_prop(node, &jupyter::LANGUAGE),
            token_file: self.string_prop(node, &jupyter::TOKEN_FILE),
            open: self.bool_prop(node, &jupyter::OPEN),
            terminal_theme: self.string_prop(node, &jupyter::TERMINAL_THEME),
            frame_ancestors: self.string_prop(node, &jupyter::FRAME_ANCESTORS),
        }
    }

    fn tensorboard(&mut self, node: &KdlNode) -> TensorBoardPart {
        self.check_node(node, &tensorboard::NODE);
        self.no_children(node);
        TensorBoardPart {
            node: self.name_span(node),
            enabled: self.bool_arg(node),
            port: self.port_prop(node, &tensorboard::PORT),
            path_prefix: self.string_prop(node, &tensorboard::PATH_PREFIX),
            logdir: self.string_prop(node, &tensorboard::LOGDIR),
            bind: self.string_prop(node, &tensorboard::BIND),
        }
    }

    fn mirrors(&mut self, node: &KdlNode) -> MirrorsPart {
        self.check_node(node, &mirrors::NODE);
        self.no_children(node);
        MirrorsPart {
            apt: self.string_prop(node, &mirrors::APT),
            pip: self.string_prop(node, &mirrors::PIP),
            conda: self.string_prop(node, &mirrors::CONDA),
            build_pip: self.string_prop(node, &mirrors::BUILD_PIP),
            miniconda: self.string_prop(node, &mirrors::MINICONDA),
        }
    }

    fn docker_run(&mut self, node: &KdlNode) -> DockerRunPart {
        let spec = &docker_run::NODE;
        self.check_node(node, spec);
        let mut part = DockerRunPart {
            name: self.string_prop(node, &docker_run::CONTAINER_NAME),
            restart: self.string_prop(node, &docker_run::RESTART),
            ssh: self.port_prop(node, &docker_run::SSH),
            jupyter: self.port_prop(node, &docker_run::JUPYTER),
            tensorboard: self.port_prop(node, &docker_run::TENSORBOARD),
            volumes: Vec::new(),
        };
        let Some(children) = node.children() else { return part };
        for child in children.nodes() {
            let Some(child_spec) = self.child_spec(spec, child) else { continue };
            self.check_node(child, child_spec);
            self.no_children(child);
            let host = self.string_arg(child, 0, &bind_volume::HOST);
            let container = self.string_arg(child, 1, &bind_volume::CONTAINER);
            if let (Some(host), Some(container)) = (host, container) {
                part.volumes.push(BindVolumePart {
                    host,
                    container,
                    read_only: self.bool_prop(child, &schema::READ_ONLY),
                });
            }
        }
        part
    }

    fn kubernetes(&mut self, node: &KdlNode) -> KubernetesPart {
        let spec = &kubernetes::NODE;
        self.check_node(node, spec);
        let mut part = KubernetesPart {
            replicas: self.uint_prop(node, &kubernetes::REPLICAS),
            gpus: self.uint_prop(node, &kubernetes::GPUS),
            service: self.string_prop(node, &kubernetes::SERVICE),
            shm_size: self.string_prop(node, &kubernetes::SHM_SIZE),
            host_keys_secret: self.string_prop(node, &kubernetes::HOST_KEYS_SECRET),
            ..KubernetesPart::default()
        };
        let Some(children) = node.children() else { return part };
        let mut seen: Vec<(&str, Span)> = Vec::new();
        for child in children.nodes() {
            let Some(child_spec) = self.child_spec(spec, child) else { continue };
            let span = self.name_span(child);
            if !child_spec.repeats && !self.first_of_its_name(&mut seen, child_spec.name, span) {
                continue;
            }
            self.no_children(child);
            match child_spec.name {
                namespace::NAME => part.namespace = self.single_string(child, child_spec),
                image_pull_secret::NAME => part.image_pull_secret = self.single_string(child, child_spec),
                node_selector::NAME => {
                    self.check_node(child, child_spec);
                    let key = self.string_arg(child, 0, &node_selector::KEY);
                    let value = self.string_arg(child, 1, &node_selector::VALUE);
                    if let (Some(key), Some(value)) = (key, value) {
                        part.node_selector.push((key, value));
                    }
                }
                toleration::NAME => {
                    self.check_node(child, child_spec);
                    part.tolerations.push(TolerationPart {
                        node: span,
                        key: self.string_prop(child, &toleration::KEY),
                        operator: self.string_prop(child, &toleration::OPERATOR),
                        value: self.string_prop(child, &toleration::VALUE),
                        effect: self.string_prop(child, &toleration::EFFECT),
                    });
                }
                volume::NAME => {
                    self.check_node(child, child_spec);
                    if let Some(volume_name) = self.string_arg(child, 0, &volume::VOLUME_NAME) {
                        part.volumes.push(VolumePart {
                            node: span,
                            name: volume_name,
                            mount: self.string_prop(child, &volume::MOUNT),
                            claim: self.string_prop(child, &volume::CLAIM),
                            host_path: self.string_prop(child, &volume::HOST_PATH),
                            empty_dir: self.bool_prop(child, &volume::EMPTY_DIR),
                            read_only: self.bool_prop(child, &schema::READ_ONLY),
                        });
                    }
                }
                requests::NAME | limits::NAME => {
                    self.check_node(child, child_spec);
                    let cpu = self.string_prop(child, &schema::CPU_QUANTITY);
                    let memory = self.string_prop(child, &schema::MEMORY_QUANTITY);
                    if child_spec.name == requests::NAME {
                        part.requests_cpu = cpu;
                        part.requests_memory = memory;
                    } else {
                        part.limits_cpu = cpu;
                        part.limits_memory = memory;
                    }
                }
                node_port::NAME => {
                    self.check_node(child, child_spec);
                    part.node_port_ssh = self.port_prop(child, &node_port::SSH);
                    part.node_port_jupyter = self.port_prop(child, &node_port::JUPYTER);
                    part.node_port_tensorboard = self.port_prop(child, &node_port::TENSORBOARD);
                }
                other => unreachable!("`{other}` of `kubernetes` has no decoder"),
            }
        }
        part
    }

    fn matrix(&mut self, node: &KdlNode) -> Matrix {
        self.check_node(node, &matrix::NODE);
        let axis_names = Axis::names();
        let mut matrix = Matrix { node: self.name_span(node), axes: Vec::new(), excludes: Vec::new() };
        let Some(children) = node.children() else { return matrix };
        for child in children.nodes() {
            let name = child.name().value();
            let span = self.name_span(child);
            self.no_children(child);
            if name == exclude::NAME {
                self.check_entries(child, exclude::NODE.required_args, exclude::NODE.max_args(), &axis_names);
                let mut combination = Vec::new();
                for entry in child.entries() {
                    let Some(key) = entry.name() else { continue };
                    let Some(axis) = Axis::parse(key.value()) else {
                        continue;
                    };
                    if let Some(value) = self.string(entry, axis::VALUE.expect) {
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
                names.push(exclude::NAME);
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
            self.check_node(child, &axis::NODE);
            let mut values: Vec<Spanned<String>> = Vec::new();
            for value in self.string_args(child, &axis::VALUE) {
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

    /// [`Self::check_entries`] with the arity and properties of `spec`.
    fn check_node(&mut self, node: &KdlNode, spec: &Node) {
        self.check_entries(node, spec.required_args, spec.max_args(), &spec.prop_names());
    }

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
            let what = if node_name == image::NAME || node_name == profile::NAME {
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

    fn string_arg(&mut self, node: &KdlNode, index: usize, arg: &Value) -> Option<Spanned<String>> {
        debug_assert_eq!(arg.kind, Kind::String, "`{}` is not a string", arg.name);
        let entry = Self::args(node).nth(index)?;
        self.string(entry, arg.expect)
    }

    fn string_args(&mut self, node: &KdlNode, arg: &Value) -> Vec<Spanned<String>> {
        debug_assert_eq!(arg.kind, Kind::String, "`{}` is not a string", arg.name);
        Self::args(node).filter_map(|e| self.string(e, arg.expect)).collect()
    }

    /// A node of one or more string arguments and nothing else (`apt "a" "b"`).
    fn strings(&mut self, node: &KdlNode, spec: &Node) -> Vec<Spanned<String>> {
        self.check_node(node, spec);
        self.no_children(node);
        self.string_args(node, &spec.args[0])
    }

    /// A node of one string argument and nothing else (`timezone "UTC"`).
    fn single_string(&mut self, node: &KdlNode, spec: &Node) -> Option<Spanned<String>> {
        self.check_node(node, spec);
        self.no_children(node);
        self.string_arg(node, 0, &spec.args[0])
    }

    fn string_prop(&mut self, node: &KdlNode, prop: &Value) -> Option<Spanned<String>> {
        debug_assert_eq!(prop.kind, Kind::String, "`{}` is not a string", prop.name);
        let entry = self.prop(node, prop.name)?;
        self.string(entry, prop.expect)
    }

    fn bool_prop(&mut self, node: &KdlNode, prop: &Value) -> Option<Spanned<bool>> {
        debug_assert_eq!(prop.kind, Kind::Boolean, "`{}` is not a boolean", prop.name);
        let entry = self.prop(node, prop.name)?;
        self.boolean(entry, prop.expect)
    }

    /// The on/off argument of a service.
    fn bool_arg(&mut self, node: &KdlNode) -> Option<Spanned<bool>> {
        let entry = Self::args(node).next()?;
        self.boolean(entry, schema::ENABLED.expect)
    }

    fn port_prop(&mut self, node: &KdlNode, prop: &Value) -> Option<Spanned<u16>> {
        debug_assert_eq!(prop.kind, Kind::Port, "`{}` is not a port", prop.name);
        let entry = self.prop(node, prop.name)?;
        let value = self.integer(entry, prop.expect)?;
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

    fn uint_prop(&mut self, node: &KdlNode, prop: &Value) -> Option<Spanned<u32>> {
        debug_assert_eq!(prop.kind, Kind::WholeNumber, "`{}` is not a whole number", prop.name);
        let entry = self.prop(node, prop.name)?;
        let value = self.integer(entry, prop.expect)?;
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
                let start = (key_end + 1).min(span.end()).max(span.start());
                Span::new(span.file, start, span.end())
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

    fn boolean(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<bool>> {
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
                        format!("expected {what}, found {} `{written}`", kind(other)),
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
