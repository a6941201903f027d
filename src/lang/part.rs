//! The top of the language: `image` and `profile` declarations with their bodies ([`Part`]), the
//! `matrix`, the registries' nodes ([`RegisteredPart`]), and the reading of a whole file.

use kdl::{KdlDocument, KdlEntry, KdlNode};

use super::nodes::{
    AptPart, CatalogPart, CpuPart, CudaPart, CustomBasePart, DockerRunPart, EnvPart, KubernetesPart, LocalePart,
    MirrorsPart, PipPart, PythonPart, TagPart, TimezonePart, UsePart, UserPart,
};
use super::schema::{Children, Kind, Node, Value};
use super::{FromEntry, Merge, Reader, Spanned};
use crate::diag::{Code, Diag, Diagnostics, did_you_mean};
use crate::source::{FileId, Span};

/// What the registries add to the language: the frameworks' nodes, each a node of an image whose
/// argument is the framework's version, and the services' nodes, whose argument switches the
/// service off or on.
#[derive(Debug, Clone, Default)]
pub struct Language {
    /// The frameworks' nodes, in the registry's order.
    pub frameworks: Vec<&'static Node>,
    /// The services, in the registry's order.
    pub services: Vec<ServiceNode>,
}

/// A service's node, and its name for people (for the docs of the properties it adds to other
/// nodes, like `docker-run`'s host ports).
#[derive(Debug, Clone, Copy)]
pub struct ServiceNode {
    /// Its node.
    pub node: &'static Node,
    /// `JupyterLab`.
    pub title: &'static str,
}

/// The top-level `image` node.
pub const IMAGE: &Node = &Node {
    name: "image",
    doc: "An image: its settings as children.",
    args: &[NAME],
    required_args: 1,
    variadic: false,
    props: &[],
    per_service: None,
    repeats: true,
    children: Children::Image,
};

/// The top-level `profile` node.
pub const PROFILE: &Node = &Node {
    name: "profile",
    doc: "Settings that images apply with `use`.",
    args: &[NAME],
    required_args: 1,
    variadic: false,
    props: &[],
    per_service: None,
    repeats: true,
    children: Children::Image,
};

const NAME: Value = Value {
    name: "NAME",
    kind: Kind::String,
    expect: "a name like \"pytorch\"",
    doc: "The image's name, `[registry/]path`.",
};

/// The nodes a spec file holds.
pub const TOP_LEVEL: [&Node; 3] = [IMAGE, PROFILE, CatalogPart::NODE];

/// The base nodes: an image has one of them.
const BASES: [&Node; 3] = [CudaPart::NODE, CpuPart::NODE, CustomBasePart::NODE];

impl Language {
    /// The children an `image` or `profile` takes, in the order the reference lists them: `use`,
    /// the frameworks, the base and the packages, the services, then the others.
    #[must_use]
    pub fn image_children(&self) -> Vec<&'static Node> {
        let before = [UsePart::NODE];
        let middle = [
            PythonPart::NODE,
            CudaPart::NODE,
            CpuPart::NODE,
            CustomBasePart::NODE,
            AptPart::NODE,
            PipPart::NODE,
            TimezonePart::NODE,
            LocalePart::NODE,
        ];
        let after = [
            UserPart::NODE,
            MirrorsPart::NODE,
            TagPart::NODE,
            DockerRunPart::NODE,
            KubernetesPart::NODE,
            MATRIX,
            EnvPart::NODE,
        ];
        before
            .into_iter()
            .chain(self.frameworks.iter().copied())
            .chain(middle)
            .chain(self.services.iter().map(|s| s.node))
            .chain(after)
            .collect()
    }

    /// The services' keywords.
    #[must_use]
    pub fn service_names(&self) -> Vec<&'static str> {
        self.services.iter().map(|s| s.node.name).collect()
    }

    /// The names of [`Self::image_children`].
    #[must_use]
    pub fn image_child_names(&self) -> Vec<&'static str> {
        self.image_children().iter().map(|n| n.name).collect()
    }

    /// The names of the matrix's axes: the frameworks, then the others.
    #[must_use]
    pub fn axis_names(&self) -> Vec<&'static str> {
        self.frameworks.iter().map(|f| f.name).chain(Axis::OTHERS.iter().map(|(n, _)| *n)).collect()
    }

    /// The axis named `name`.
    #[must_use]
    pub fn axis(&self, name: &str) -> Option<Axis> {
        if let Some(framework) = self.frameworks.iter().find(|f| f.name == name) {
            return Some(Axis::Framework(framework.name));
        }
        Axis::OTHERS.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
    }
}

/// A value of a registry's node: what its schema's kind reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    /// A string (or a choice).
    Str(String),
    /// A boolean.
    Bool(bool),
    /// An integer (a port, a whole number).
    Int(i128),
    /// `#null`: left out.
    Null,
}

/// A node a registry declares (a framework's, a service's): its argument and properties read by
/// the kinds of its schema, kept by name.
#[derive(Debug, Clone)]
pub struct RegisteredPart {
    /// The node's name: the framework's or service's keyword.
    pub keyword: &'static str,
    /// The node's name, where it is written.
    pub node: Span,
    /// Its argument: a framework's version, a service's `#true`/`#false`.
    pub arg: Option<Spanned<Scalar>>,
    /// Its properties, by name.
    pub props: Vec<(&'static str, Spanned<Scalar>)>,
}

impl RegisteredPart {
    /// Reads `node` as `spec` declares it.
    fn decode(r: &mut Reader<'_>, node: &KdlNode, spec: &'static Node) -> Self {
        r.check_node(node, spec);
        r.no_children(node);
        let arg = spec.args.first().and_then(|value| Reader::args(node).next().and_then(|e| scalar(r, e, value)));
        let props = spec
            .props
            .iter()
            .filter_map(|value| {
                let entry = Reader::prop_entry(node, value.name)?;
                Some((value.name, scalar(r, entry, value)?))
            })
            .collect();
        Self { keyword: spec.name, node: r.name_span(node), arg, props }
    }

    /// Its argument as a string: a framework's version.
    #[must_use]
    pub fn version(&self) -> Option<Spanned<String>> {
        match &self.arg {
            Some(Spanned { value: Scalar::Str(s), span }) => Some(Spanned::new(s.clone(), *span)),
            _ => None,
        }
    }

    /// The property `name`, as written: a string, or `None` for `#null`.
    #[must_use]
    pub fn property(&self, name: &str) -> Option<Spanned<Option<String>>> {
        let (_, value) = self.props.iter().find(|(n, _)| *n == name)?;
        match &value.value {
            Scalar::Str(s) => Some(Spanned::new(Some(s.clone()), value.span)),
            Scalar::Null => Some(Spanned::new(None, value.span)),
            Scalar::Bool(_) | Scalar::Int(_) => None,
        }
    }

    /// The property `name` when it is a string.
    #[must_use]
    pub fn string(&self, name: &str) -> Option<Spanned<String>> {
        let value = self.property(name)?;
        Some(Spanned::new(value.value?, value.span))
    }

    /// Its argument when it is a boolean: a service's `#true`/`#false`.
    #[must_use]
    pub fn switch(&self) -> Option<Spanned<bool>> {
        match &self.arg {
            Some(Spanned { value: Scalar::Bool(on), span }) => Some(Spanned::new(*on, *span)),
            _ => None,
        }
    }

    /// The property `name` when it is a boolean.
    #[must_use]
    pub fn boolean(&self, name: &str) -> Option<Spanned<bool>> {
        match self.props.iter().find(|(n, _)| *n == name) {
            Some((_, Spanned { value: Scalar::Bool(b), span })) => Some(Spanned::new(*b, *span)),
            _ => None,
        }
    }

    /// The property `name` when it is a port.
    #[must_use]
    pub fn port(&self, name: &str) -> Option<Spanned<u16>> {
        match self.props.iter().find(|(n, _)| *n == name) {
            Some((_, Spanned { value: Scalar::Int(n), span })) => Some(Spanned::new(u16::try_from(*n).ok()?, *span)),
            _ => None,
        }
    }
}

/// Reads an entry as `value`'s kind says.
fn scalar(r: &mut Reader<'_>, entry: &KdlEntry, value: &Value) -> Option<Spanned<Scalar>> {
    fn wrap<T>(read: Option<Spanned<T>>, as_scalar: impl Fn(T) -> Scalar) -> Option<Spanned<Scalar>> {
        read.map(|s| Spanned::new(as_scalar(s.value), s.span))
    }
    match value.kind {
        Kind::String | Kind::Choice(_) => wrap(String::read(r, entry, value), Scalar::Str),
        Kind::Boolean => wrap(bool::read(r, entry, value), Scalar::Bool),
        Kind::Integer => wrap(i128::read(r, entry, value), Scalar::Int),
        Kind::WholeNumber => wrap(u32::read(r, entry, value), |n| Scalar::Int(n.into())),
        Kind::Port => wrap(u16::read(r, entry, value), |n| Scalar::Int(n.into())),
        Kind::StringOrNull => wrap(<Option<String>>::read(r, entry, value), |s| s.map_or(Scalar::Null, Scalar::Str)),
    }
}

impl Merge for RegisteredPart {
    fn merge(&mut self, later: &Self) {
        let Self { keyword: _, node, arg, props } = later;
        self.node = *node;
        self.arg.merge(arg);
        for (name, value) in props {
            match self.props.iter_mut().find(|(n, _)| n == name) {
                Some((_, earlier)) => earlier.clone_from(value),
                None => self.props.push((name, value.clone())),
            }
        }
    }
}

/// Whether a declaration is an image or a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclKind {
    /// `image NAME { … }`.
    Image,
    /// `profile NAME { … }`.
    Profile,
}

impl DeclKind {
    /// The node's name.
    #[must_use]
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Image => IMAGE.name,
            Self::Profile => PROFILE.name,
        }
    }
}

/// An `image` or `profile` declaration.
#[derive(Debug, Clone)]
pub struct Decl {
    /// Image or profile.
    pub kind: DeclKind,
    /// Its name.
    pub name: Spanned<String>,
    /// Its own children.
    pub body: Part,
}

/// The base of an image: one of `cuda`, `cpu`, `base`.
#[derive(Debug, Clone)]
pub enum BasePart {
    /// `cuda VERSION …`.
    Cuda(CudaPart),
    /// `cpu …`.
    Cpu(CpuPart),
    /// `base IMAGE …`.
    Custom(CustomBasePart),
}

impl BasePart {
    /// The base node's name.
    #[must_use]
    pub fn node_span(&self) -> Span {
        match self {
            Self::Cuda(c) => c.node,
            Self::Cpu(c) => c.node,
            Self::Custom(c) => c.node,
        }
    }
}

/// One layer of settings: a profile's or an image's own children. Large parts that most layers
/// leave out are boxed, so that a layer without them stays small.
#[derive(Debug, Clone, Default)]
pub struct Part {
    /// `use PROFILE…`, in order.
    pub uses: Vec<UsePart>,
    /// The framework node.
    pub framework: Option<Box<RegisteredPart>>,
    /// `python`.
    pub python: Option<Box<PythonPart>>,
    /// `cuda`, `cpu` or `base`.
    pub base: Option<Box<BasePart>>,
    /// `apt` nodes.
    pub apt: Vec<AptPart>,
    /// `pip` nodes.
    pub pip: Vec<PipPart>,
    /// `timezone`.
    pub timezone: Option<TimezonePart>,
    /// `locale`.
    pub locale: Option<LocalePart>,
    /// The services' nodes, one per service at most, in the order written.
    pub services: Vec<RegisteredPart>,
    /// `user`.
    pub user: Option<UserPart>,
    /// `mirrors`.
    pub mirrors: Option<Box<MirrorsPart>>,
    /// `tag`.
    pub tag: Option<TagPart>,
    /// `docker-run`.
    pub docker_run: Option<Box<DockerRunPart>>,
    /// `kubernetes`.
    pub kubernetes: Option<Box<KubernetesPart>>,
    /// `matrix`.
    pub matrix: Option<Box<Matrix>>,
    /// `env` nodes.
    pub env: Vec<EnvPart>,
}

/// Two layers that name different frameworks.
#[derive(Debug, Clone, Copy)]
pub struct FrameworkConflict {
    /// The earlier layer's framework node.
    pub earlier: Span,
    /// The later layer's.
    pub later: Span,
}

impl Part {
    /// Applies `later` on top of `self`: later scalars win, lists accumulate, `use` is left to
    /// the resolver. Different frameworks do not merge: the conflict is returned.
    pub fn merge(&mut self, later: &Part) -> Option<FrameworkConflict> {
        let Part {
            uses: _,
            framework,
            python,
            base,
            apt,
            pip,
            timezone,
            locale,
            services,
            user,
            mirrors,
            tag,
            docker_run,
            kubernetes,
            matrix,
            env,
        } = later;
        let mut conflict = None;
        match (self.framework.as_mut(), framework) {
            (Some(e), Some(l)) if e.keyword == l.keyword => e.merge(l),
            (Some(e), Some(l)) => conflict = Some(FrameworkConflict { earlier: e.node, later: l.node }),
            (None, Some(l)) => self.framework = Some(l.clone()),
            (_, None) => {}
        }
        match (self.base.as_deref_mut(), base.as_deref()) {
            (Some(BasePart::Cuda(e)), Some(BasePart::Cuda(l))) => e.merge(l),
            (_, Some(l)) => self.base = Some(Box::new(l.clone())),
            (_, None) => {}
        }
        self.python.merge(python);
        self.apt.merge(apt);
        self.pip.merge(pip);
        self.env.merge(env);
        self.timezone.merge(timezone);
        self.locale.merge(locale);
        self.tag.merge(tag);
        self.user.merge(user);
        if matrix.is_some() {
            self.matrix.clone_from(matrix);
        }
        for service in services {
            match self.services.iter_mut().find(|s| s.keyword == service.keyword) {
                Some(earlier) => earlier.merge(service),
                None => self.services.push(service.clone()),
            }
        }
        self.mirrors.merge(mirrors);
        self.docker_run.merge(docker_run);
        self.kubernetes.merge(kubernetes);
        conflict
    }

    /// Reads the children of an `image` or `profile` block.
    fn decode(r: &mut Reader<'_>, doc: &KdlDocument, language: &Language) -> Part {
        let mut part = Part::default();
        let mut seen: Vec<(&str, Span)> = Vec::new();
        let children = language.image_children();
        for node in doc.nodes() {
            let name = node.name().value();
            let span = r.name_span(node);
            let Some(spec) = children.iter().copied().find(|c| c.name == name) else {
                let help = did_you_mean(name, &language.image_child_names(), "an image takes");
                r.error(
                    Diag::error(Code::UnknownNode, span, format!("unknown node `{name}`"), "unknown node")
                        .with_help(help),
                );
                continue;
            };
            if !spec.repeats && !r.first_of_its_name(&mut seen, spec.name, span) {
                continue;
            }
            if language.frameworks.iter().any(|f| f.name == name) {
                let framework = RegisteredPart::decode(r, node, spec);
                part.framework_child(r, framework, span);
                continue;
            }
            if language.services.iter().any(|s| s.node.name == name) {
                part.services.push(RegisteredPart::decode(r, node, spec));
                continue;
            }
            if BASES.iter().any(|b| b.name == name) {
                let base = match name {
                    _ if name == CudaPart::NODE.name => CudaPart::decode(r, node).map(BasePart::Cuda),
                    _ if name == CpuPart::NODE.name => CpuPart::decode(r, node).map(BasePart::Cpu),
                    _ => CustomBasePart::decode(r, node).map(BasePart::Custom),
                };
                part.base_child(r, base, span);
                continue;
            }
            part.child(r, node, spec, language);
        }
        part
    }

    /// Reads one child that is neither a framework nor a base.
    fn child(&mut self, r: &mut Reader<'_>, node: &KdlNode, spec: &'static Node, language: &Language) {
        let name = spec.name;
        match name {
            _ if name == UsePart::NODE.name => self.uses.extend(UsePart::decode(r, node)),
            _ if name == PythonPart::NODE.name => self.python = boxed(PythonPart::decode(r, node)),
            _ if name == AptPart::NODE.name => self.apt.extend(AptPart::decode(r, node)),
            _ if name == PipPart::NODE.name => self.pip.extend(PipPart::decode(r, node)),
            _ if name == TimezonePart::NODE.name => self.timezone = TimezonePart::decode(r, node),
            _ if name == LocalePart::NODE.name => self.locale = LocalePart::decode(r, node),
            _ if name == UserPart::NODE.name => self.user = UserPart::decode(r, node),
            _ if name == MirrorsPart::NODE.name => self.mirrors = boxed(MirrorsPart::decode(r, node)),
            _ if name == TagPart::NODE.name => self.tag = TagPart::decode(r, node),
            _ if name == DockerRunPart::NODE.name => self.docker_run = boxed(DockerRunPart::decode(r, node)),
            _ if name == KubernetesPart::NODE.name => self.kubernetes = boxed(KubernetesPart::decode(r, node)),
            _ if name == MATRIX.name => self.matrix = Some(Box::new(Matrix::decode(r, node, language))),
            _ if name == EnvPart::NODE.name => {
                // A value of the wrong type was reported; the node is not checked further.
                let errors = r.error_count();
                let env = EnvPart::decode(r, node);
                if r.error_count() == errors {
                    self.env.extend(env);
                }
            }
            other => unreachable!("`{other}` of the image's children has no reader"),
        }
    }

    fn framework_child(&mut self, r: &mut Reader<'_>, framework: RegisteredPart, span: Span) {
        if let Some(existing) = &self.framework {
            let (first, existing, name) = (existing.node, existing.keyword, framework.keyword);
            r.error(
                Diag::error(
                    Code::TwoFrameworks,
                    span,
                    format!("an image has one framework, but this one also names `{existing}`"),
                    "second framework",
                )
                .with_label(first, "first framework")
                .with_help(format!("keep one of `{existing}` and `{name}`; make a second image for the other")),
            );
        } else {
            self.framework = Some(Box::new(framework));
        }
    }

    fn base_child(&mut self, r: &mut Reader<'_>, base: Option<BasePart>, span: Span) {
        let Some(base) = base else { return };
        if let Some(existing) = &self.base {
            let first = existing.node_span();
            let [cuda, cpu, custom] = BASES.map(|b| b.name);
            r.error(
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
            self.base = Some(Box::new(base));
        }
    }
}

/// An axis of a matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Axis {
    /// A framework's version, by its keyword.
    Framework(&'static str),
    /// The Python version.
    Python,
    /// The CUDA version.
    Cuda,
    /// The cuDNN major.
    Cudnn,
    /// The OS release.
    Os,
}

impl Axis {
    const OTHERS: [(&'static str, Axis); 4] =
        [("python", Axis::Python), ("cuda", Axis::Cuda), ("cudnn", Axis::Cudnn), ("os", Axis::Os)];

    /// The axis's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Framework(keyword) => keyword,
            other => Self::OTHERS.iter().find(|(_, a)| *a == other).map_or("", |(n, _)| n),
        }
    }
}

/// `matrix { AXIS VALUE…; exclude AXIS=VALUE… }`.
#[derive(Debug, Clone)]
pub struct Matrix {
    /// The node's name, where it is written.
    pub node: Span,
    /// Each axis with its values, in order.
    pub axes: Vec<(Spanned<Axis>, Vec<Spanned<String>>)>,
    /// The combinations left out: each axis and value of one `exclude`.
    pub excludes: Vec<Vec<(Spanned<Axis>, Spanned<String>)>>,
}

/// The `matrix` node.
pub const MATRIX: &Node = &Node {
    name: "matrix",
    doc: "One image per combination of the axis values.",
    args: &[],
    required_args: 0,
    variadic: false,
    props: &[],
    per_service: None,
    repeats: false,
    children: Children::Matrix,
};

/// `matrix { exclude AXIS=VALUE… }`: its properties are the axes.
pub const EXCLUDE: &Node = &Node {
    name: "exclude",
    doc: "Removes every combination that matches all the pairs given.",
    args: &[],
    required_args: 0,
    variadic: false,
    props: &[],
    per_service: None,
    repeats: true,
    children: Children::None,
};

/// `matrix { AXIS VALUE… }`: the node's name is the axis.
pub const AXIS: &Node = &Node {
    name: "AXIS",
    doc: "An axis: a framework, `python`, `cuda`, `cudnn` or `os`.",
    args: &[AXIS_VALUE],
    required_args: 1,
    variadic: true,
    props: &[],
    per_service: None,
    repeats: false,
    children: Children::None,
};

const AXIS_VALUE: Value =
    Value { name: "VALUE…", kind: Kind::String, expect: "an axis value", doc: "Distinct values, one or more." };

impl Matrix {
    fn decode(r: &mut Reader<'_>, node: &KdlNode, language: &Language) -> Matrix {
        r.check_node(node, MATRIX);
        let axis_names = language.axis_names();
        let mut matrix = Matrix { node: r.name_span(node), axes: Vec::new(), excludes: Vec::new() };
        let Some(children) = node.children() else { return matrix };
        for child in children.nodes() {
            let name = child.name().value();
            let span = r.name_span(child);
            r.no_children(child);
            if name == EXCLUDE.name {
                if let Some(combination) = Self::exclude(r, child, language, &axis_names) {
                    matrix.excludes.push(combination);
                }
                continue;
            }
            let Some(axis) = language.axis(name) else {
                let mut names = axis_names.clone();
                names.push(EXCLUDE.name);
                let help = did_you_mean(name, &names, "a matrix axis is one of");
                r.error(
                    Diag::error(Code::UnknownNode, span, format!("unknown matrix axis `{name}`"), "unknown axis")
                        .with_help(help),
                );
                continue;
            };
            if let Some((first, _)) = matrix.axes.iter().find(|(a, _)| a.value == axis) {
                r.error(
                    Diag::error(
                        Code::Duplicate,
                        span,
                        format!("matrix axis `{name}` is given twice"),
                        "given again here",
                    )
                    .with_label(first.span, "first given here")
                    .with_help(format!("list every value of `{name}` on one line")),
                );
                continue;
            }
            r.check_node(child, AXIS);
            let mut values: Vec<Spanned<String>> = Vec::new();
            for value in r.rest::<String>(child, 0, &AXIS_VALUE) {
                if let Some(first) = values.iter().find(|v| v.value == value.value) {
                    r.error(
                        Diag::error(
                            Code::Duplicate,
                            value.span,
                            format!("`{}` is listed twice", value.value),
                            "listed again here",
                        )
                        .with_label(first.span, "first listed here")
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

    /// One `exclude`: its axis values, or `None` (reported) when it names none.
    fn exclude(
        r: &mut Reader<'_>,
        node: &KdlNode,
        language: &Language,
        axis_names: &[&str],
    ) -> Option<Vec<(Spanned<Axis>, Spanned<String>)>> {
        r.check_entries(node, EXCLUDE.required_args, EXCLUDE.max_args(), axis_names);
        let mut combination = Vec::new();
        for entry in node.entries() {
            let Some(key) = entry.name() else { continue };
            let Some(axis) = language.axis(key.value()) else { continue };
            if let Some(value) = r.string(entry, AXIS_VALUE.expect) {
                combination.push((Spanned::new(axis, r.span(key.span())), value));
            }
        }
        if combination.is_empty() {
            r.error(
                Diag::error(Code::Arity, r.name_span(node), "`exclude` names no combination", "empty exclude")
                    .with_help("write the axis values to leave out, like `exclude python=\"3.12\" cuda=\"11.8.0\"`"),
            );
            return None;
        }
        Some(combination)
    }
}

/// What one file declares: images and profiles, and the `catalog` settings if it has them.
#[derive(Debug, Default)]
pub struct Decoded {
    /// `image` and `profile` declarations, in order.
    pub decls: Vec<Decl>,
    /// Every `catalog` node of the file (more than one across all files is an error).
    pub catalogs: Vec<CatalogPart>,
}

/// Reads the declarations of one parsed file, reporting every problem.
pub fn decode(file: FileId, doc: &KdlDocument, language: &Language, diags: &mut Diagnostics) -> Decoded {
    let mut r = Reader::new(file, diags, language.service_names());
    let mut decoded = Decoded::default();
    for node in doc.nodes() {
        let name = node.name().value();
        if name == CatalogPart::NODE.name {
            decoded.catalogs.extend(CatalogPart::decode(&mut r, node));
            continue;
        }
        let (kind, spec) = match name {
            _ if name == IMAGE.name => (DeclKind::Image, IMAGE),
            _ if name == PROFILE.name => (DeclKind::Profile, PROFILE),
            other => {
                let help = if language.image_child_names().contains(&other) {
                    format!(
                        "`{other}` belongs inside an `{} \"NAME\" {{ … }}` or `{} \"NAME\" {{ … }}` block",
                        IMAGE.name, PROFILE.name
                    )
                } else {
                    let top_level: Vec<&str> = TOP_LEVEL.iter().map(|n| n.name).collect();
                    did_you_mean(other, &top_level, "a spec file holds only")
                };
                let span = r.name_span(node);
                r.error(
                    Diag::error(Code::UnknownNode, span, format!("unknown top-level node `{other}`"), "unknown node")
                        .with_help(help),
                );
                continue;
            }
        };
        r.check_node(node, spec);
        let Some(name) = r.arg::<String>(node, 0, &NAME) else { continue };
        let body = match node.children() {
            Some(children) => Part::decode(&mut r, children, language),
            None => Part::default(),
        };
        decoded.decls.push(Decl { kind, name, body });
    }
    decoded
}

fn boxed<T>(value: Option<T>) -> Option<Box<T>> {
    value.map(Box::new)
}
