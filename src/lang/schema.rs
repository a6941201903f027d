//! The schema of a node: its arguments, properties and children, and what each value must be. The
//! reader takes names, arity, value kinds and the expectations of type errors from here, and the
//! reference doc's tables are rendered from it ([`super::reference`]).

/// What a value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    String,
    /// `#true` or `#false`.
    Boolean,
    /// Any integer.
    Integer,
    /// An integer from 0 to 4294967295.
    WholeNumber,
    /// An integer from 1 to 65535.
    Port,
    /// A string, or `#null` to leave something out.
    StringOrNull,
    /// One of these strings.
    Choice(&'static [&'static str]),
}

impl Kind {
    /// The kind as the reference doc names it.
    #[must_use]
    pub fn doc(self) -> String {
        match self {
            Self::String => "string".to_owned(),
            Self::Boolean => "boolean".to_owned(),
            Self::Integer => "integer".to_owned(),
            Self::WholeNumber => "whole number".to_owned(),
            Self::Port => "port".to_owned(),
            Self::StringOrNull => "string or `#null`".to_owned(),
            Self::Choice(choices) => {
                let quoted: Vec<String> = choices.iter().map(|c| format!("`{c}`")).collect();
                format!("one of {}", quoted.join(", "))
            }
        }
    }
}

/// An argument or a property.
#[derive(Debug, Clone, Copy)]
pub struct Value {
    /// The property's name, or the argument's placeholder (`VERSION`).
    pub name: &'static str,
    /// What it must be.
    pub kind: Kind,
    /// What it must be, for type errors: `a Python version like "3.10"`.
    pub expect: &'static str,
    /// One line for the reference doc.
    pub doc: &'static str,
}

/// What a node takes as children.
#[derive(Debug, Clone, Copy)]
pub enum Children {
    /// No children block.
    None,
    /// These nodes.
    Nodes(&'static [&'static Node]),
    /// An image's or profile's: `use`, the frameworks, the services and the others
    /// ([`super::Language::image_children`]).
    Image,
    /// A matrix's: one node per axis, and `exclude`.
    Matrix,
}

/// A node of the language.
#[derive(Debug)]
pub struct Node {
    /// Its name.
    pub name: &'static str,
    /// One line for the reference doc.
    pub doc: &'static str,
    /// Its arguments, in order.
    pub args: &'static [Value],
    /// How many arguments it needs.
    pub required_args: usize,
    /// The last argument repeats (`apt "a" "b" …`).
    pub variadic: bool,
    /// Its properties, in the order the help lines list them.
    pub props: &'static [Value],
    /// One more property per service of the registry, named by the service's keyword (its
    /// `name` is unused; `{service}` in its doc becomes the service's title).
    pub per_service: Option<Value>,
    /// It may be given more than once where it appears.
    pub repeats: bool,
    /// What it takes as children.
    pub children: Children,
}

impl Node {
    /// The most arguments it takes.
    #[must_use]
    pub fn max_args(&self) -> usize {
        if self.variadic { usize::MAX } else { self.args.len() }
    }

    /// The names of its properties, with `services`' keywords when it takes one per service.
    #[must_use]
    pub fn prop_names(&self, services: &[&'static str]) -> Vec<&'static str> {
        let per_service = if self.per_service.is_some() { services } else { &[] };
        self.props.iter().map(|p| p.name).chain(per_service.iter().copied()).collect()
    }

    /// The property named `name`.
    #[must_use]
    pub fn prop(&self, name: &str) -> Option<&'static Value> {
        self.props.iter().find(|p| p.name == name)
    }

    /// The names of its child nodes (none for [`Children::Image`] and [`Children::Matrix`]).
    #[must_use]
    pub fn child_names(&self) -> Vec<&'static str> {
        match self.children {
            Children::Nodes(nodes) => nodes.iter().map(|n| n.name).collect(),
            _ => Vec::new(),
        }
    }
}
