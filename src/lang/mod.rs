//! The language, declared once: each node is one [`declare!`] that gives its parsed type (a struct
//! of spanned values), its schema ([`Node`]: what the reader checks, what the reference doc shows),
//! its decoder and its merge. The frameworks' and services' nodes come from their registries, as
//! [`Language`], and are read generically into [`RegisteredPart`]s.
//!
//! A `Part` is one layer of settings (a profile or an image's own children); every field is
//! optional so that layers can be merged: later layers win field by field, lists accumulate.

mod nodes;
mod part;
mod reader;
mod reference;
mod schema;

pub use self::nodes::*;
pub use self::part::{
    Axis, BasePart, Decl, DeclKind, Decoded, FrameworkConflict, Language, Matrix, Part, RegisteredPart, Scalar,
    ServiceNode, decode,
};
pub use self::reader::{FromEntry, Reader, UnknownChoice};
pub use self::reference::reference_tables;
pub use self::schema::{Children, Kind, Node, Value};
use crate::source::Span;

/// A value with the place it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// A value and its place.
    pub fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }
}

impl Spanned<String> {
    /// Validates the value with `validate`; reports a `code` error at its span.
    pub fn validate<T>(
        &self,
        diags: &mut crate::diag::Diagnostics,
        code: crate::diag::Code,
        what: &str,
        validate: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        match validate(&self.value) {
            Ok(t) => Some(t),
            Err(reason) => {
                diags.push(
                    crate::diag::Diag::error(
                        code,
                        self.span,
                        format!("`{}` is not a valid {what}", self.value),
                        format!("invalid {what}"),
                    )
                    .with_help(reason),
                );
                None
            }
        }
    }
}

/// Layers settings: `later` on top of `self`.
pub trait Merge {
    /// Applies `later` on top of `self`.
    fn merge(&mut self, later: &Self);
}

/// A written value: the later one wins.
impl<T: Clone> Merge for Spanned<T> {
    fn merge(&mut self, later: &Self) {
        self.clone_from(later);
    }
}

/// An optional setting: a later one merges into an earlier one, or takes its place.
impl<T: Merge + Clone> Merge for Option<T> {
    fn merge(&mut self, later: &Self) {
        match (self.as_mut(), later) {
            (Some(earlier), Some(later)) => earlier.merge(later),
            (None, Some(later)) => *self = Some(later.clone()),
            (_, None) => {}
        }
    }
}

/// A repeatable node: the layers' nodes accumulate.
impl<T: Clone> Merge for Vec<T> {
    fn merge(&mut self, later: &Self) {
        self.extend(later.iter().cloned());
    }
}

/// Large parts that most layers leave out are boxed, so that a layer without them stays small.
impl<T: Merge> Merge for Box<T> {
    fn merge(&mut self, later: &Self) {
        (**self).merge(later);
    }
}

/// Declares a node of the language: its parsed type, its schema (`NODE`), its decoder and its
/// merge, from one list of its arguments (`required` or `optional`, in order; `rest` repeats the
/// last), its properties and its children (`one` or `many`). Each value names its Rust type, whose
/// [`FromEntry`] gives its kind, and its name, expectation and doc line.
macro_rules! declare {
    (
        $(#[$meta:meta])*
        pub struct $Part:ident = $name:literal {
            doc: $doc:literal,
            repeats: $repeats:literal,
            args: [$($arg:ident: $aty:ty, $areq:ident = ($aname:literal, $aexpect:literal, $adoc:literal)),* $(,)?],
            rest: [$($var:ident: $vty:ty, $vreq:ident = ($vname:literal, $vexpect:literal, $vdoc:literal))?],
            props: [$($prop:ident: $pty:ty = ($pname:literal, $pexpect:literal, $pdoc:literal)),* $(,)?],
            $(per_service: [$each:ident: $ety:ty = ($eexpect:literal, $edoc:literal)],)?
            children: [$($child:ident: $how:ident $Child:ty),* $(,)?] $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $Part {
            /// The node's name, where it is written.
            pub node: $crate::source::Span,
            $(#[doc = $adoc] pub $arg: $crate::lang::declare!(@arg_ty $areq $aty),)*
            $(#[doc = $vdoc] pub $var: Vec<$crate::lang::Spanned<$vty>>,)?
            $(#[doc = $pdoc] pub $prop: Option<$crate::lang::Spanned<$pty>>,)*
            $(#[doc = concat!("One per service, by its keyword: ", $edoc)] pub $each: Vec<(&'static str, $crate::lang::Spanned<$ety>)>,)?
            $(#[doc = concat!("Its `", stringify!($child), "`.")] pub $child: $crate::lang::declare!(@child_ty $how $Child),)*
        }

        impl $Part {
            /// Its schema.
            pub const NODE: &'static $crate::lang::Node = &$crate::lang::Node {
                name: $name,
                doc: $doc,
                args: &[
                    $($crate::lang::Value {
                        name: $aname,
                        kind: <$aty as $crate::lang::FromEntry>::KIND,
                        expect: $aexpect,
                        doc: $adoc,
                    },)*
                    $($crate::lang::Value {
                        name: $vname,
                        kind: <$vty as $crate::lang::FromEntry>::KIND,
                        expect: $vexpect,
                        doc: $vdoc,
                    },)?
                ],
                required_args: 0 $(+ $crate::lang::declare!(@count $areq))* $(+ $crate::lang::declare!(@count $vreq))?,
                variadic: $crate::lang::declare!(@any $($var)?),
                props: &[$($crate::lang::Value {
                    name: $pname,
                    kind: <$pty as $crate::lang::FromEntry>::KIND,
                    expect: $pexpect,
                    doc: $pdoc,
                },)*],
                per_service: $crate::lang::declare!(@per_service $(($ety, $eexpect, $edoc))?),
                repeats: $repeats,
                children: $crate::lang::declare!(@children $($Child),*),
            };

            /// Reads the node, reporting every problem; `None` when a required argument is missing.
            #[allow(unused_mut, unused_variables, unused_assignments)]
            pub fn decode(r: &mut $crate::lang::Reader<'_>, node: &kdl::KdlNode) -> Option<Self> {
                let spec = Self::NODE;
                r.check_node(node, spec);
                let mut index = 0_usize;
                $(let $arg = r.arg::<$aty>(node, index, &spec.args[index]); index += 1;)*
                $(let $var = r.rest::<$vty>(node, index, &spec.args[index]);)?
                let mut property = 0_usize;
                $(let $prop = r.prop::<$pty>(node, &spec.props[property]); property += 1;)*
                $(let $each = match &spec.per_service {
                    Some(value) => r.per_service::<$ety>(node, value),
                    None => Vec::new(),
                };)?
                $(let mut $child: $crate::lang::declare!(@child_ty $how $Child) = Default::default();)*
                $crate::lang::declare!(@read_children r node spec [$($child $how $Child),*]);
                Some(Self {
                    node: r.name_span(node),
                    $($arg: $crate::lang::declare!(@finish $areq $arg),)*
                    $($var: $crate::lang::declare!(@finish_rest $vreq $var),)?
                    $($prop,)*
                    $($each,)?
                    $($child,)*
                })
            }
        }

        impl $crate::lang::Merge for $Part {
            // `later` is destructured without `..`: a field the macro did not merge fails to compile.
            #[allow(unused_variables)]
            fn merge(&mut self, later: &Self) {
                let Self { node, $($arg,)* $($var,)? $($prop,)* $($each,)? $($child,)* } = later;
                self.node = *node;
                $($crate::lang::Merge::merge(&mut self.$arg, $arg);)*
                $(if !$var.is_empty() {
                    self.$var.clone_from($var);
                })?
                $($crate::lang::Merge::merge(&mut self.$prop, $prop);)*
                $(for (keyword, value) in $each {
                    match self.$each.iter_mut().find(|(k, _)| k == keyword) {
                        Some((_, earlier)) => earlier.clone_from(value),
                        None => self.$each.push((keyword, value.clone())),
                    }
                })?
                $($crate::lang::Merge::merge(&mut self.$child, $child);)*
            }
        }
    };
    (@arg_ty required $t:ty) => { $crate::lang::Spanned<$t> };
    (@arg_ty optional $t:ty) => { Option<$crate::lang::Spanned<$t>> };
    (@child_ty one $t:ty) => { Option<$t> };
    (@child_ty many $t:ty) => { Vec<$t> };
    (@count required) => { 1 };
    (@count optional) => { 0 };
    (@any) => { false };
    (@any $var:ident) => { true };
    (@per_service) => { None };
    (@per_service ($ety:ty, $expect:literal, $doc:literal)) => {
        Some($crate::lang::Value { name: "SERVICE", kind: <$ety as $crate::lang::FromEntry>::KIND, expect: $expect, doc: $doc })
    };
    (@children) => { $crate::lang::Children::None };
    (@children $($Child:ty),+) => { $crate::lang::Children::Nodes(&[$(<$Child>::NODE),+]) };
    (@finish required $arg:ident) => { $arg? };
    (@finish optional $arg:ident) => { $arg };
    (@finish_rest required $var:ident) => {{
        if $var.is_empty() {
            return None;
        }
        $var
    }};
    (@finish_rest optional $var:ident) => { $var };
    (@put one $child:ident $value:ident) => { $child = Some($value) };
    (@put many $child:ident $value:ident) => { $child.push($value) };
    (@read_children $r:ident $node:ident $spec:ident []) => { $r.no_children($node) };
    (@read_children $r:ident $node:ident $spec:ident [$($child:ident $how:ident $Child:ty),+]) => {
        if let Some(children) = $node.children() {
            let mut seen = Vec::new();
            for child in children.nodes() {
                let Some(child_spec) = $r.child_spec($spec, child) else { continue };
                let span = $r.name_span(child);
                if !child_spec.repeats && !$r.first_of_its_name(&mut seen, child_spec.name, span) {
                    continue;
                }
                $(if child_spec.name == <$Child>::NODE.name {
                    if let Some(value) = <$Child>::decode($r, child) {
                        $crate::lang::declare!(@put $how $child value);
                    }
                    continue;
                })+
            }
        }
    };
}
pub(crate) use declare;
