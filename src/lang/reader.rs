//! Reading KDL nodes against their schema: arity, property names, value kinds, children, each
//! problem reported and the reading going on after it.

use kdl::{KdlEntry, KdlNode, KdlValue};

use super::Spanned;
use super::schema::{Kind, Node, Value};
use crate::diag::{Code, Diag, Diagnostics, did_you_mean};
use crate::source::{FileId, Span};

/// Reads the nodes of one file, reporting every problem.
pub struct Reader<'d> {
    file: FileId,
    diags: &'d mut Diagnostics,
    /// The services' keywords: the properties of a node that takes one per service.
    services: Vec<&'static str>,
}

/// How a string outside a closed set is reported.
#[derive(Debug, Clone, Copy)]
pub struct UnknownChoice {
    /// What the value must be: `a brand class`.
    pub what: &'static str,
    /// The label on the value: `unknown brand`.
    pub label: &'static str,
    /// What precedes the choices in the help: `the brand classes of the driver are`.
    pub list: &'static str,
    /// The diagnostic's code.
    pub code: Code,
}

/// A value that an argument or property holds, read from its KDL entry.
pub trait FromEntry: Sized + Clone {
    /// Its kind in the schema.
    const KIND: Kind;
    /// Reads it, or reports why not (`value` says what it must be).
    fn read(r: &mut Reader<'_>, entry: &KdlEntry, value: &Value) -> Option<Spanned<Self>>;
}

impl FromEntry for String {
    const KIND: Kind = Kind::String;
    fn read(r: &mut Reader<'_>, entry: &KdlEntry, value: &Value) -> Option<Spanned<Self>> {
        r.string(entry, value.expect)
    }
}

impl FromEntry for bool {
    const KIND: Kind = Kind::Boolean;
    fn read(r: &mut Reader<'_>, entry: &KdlEntry, value: &Value) -> Option<Spanned<Self>> {
        r.boolean(entry, value.expect)
    }
}

impl FromEntry for i128 {
    const KIND: Kind = Kind::Integer;
    fn read(r: &mut Reader<'_>, entry: &KdlEntry, value: &Value) -> Option<Spanned<Self>> {
        r.integer(entry, value.expect)
    }
}

impl FromEntry for u32 {
    const KIND: Kind = Kind::WholeNumber;
    fn read(r: &mut Reader<'_>, entry: &KdlEntry, value: &Value) -> Option<Spanned<Self>> {
        let number = r.integer(entry, value.expect)?;
        match u32::try_from(number.value) {
            Ok(n) => Some(Spanned::new(n, number.span)),
            Err(_) => {
                r.error(
                    Diag::error(Code::Type, number.span, format!("`{}` is out of range", number.value), "out of range")
                        .with_help("use a whole number from 0 to 4294967295"),
                );
                None
            }
        }
    }
}

impl FromEntry for u16 {
    const KIND: Kind = Kind::Port;
    fn read(r: &mut Reader<'_>, entry: &KdlEntry, value: &Value) -> Option<Spanned<Self>> {
        let number = r.integer(entry, value.expect)?;
        match u16::try_from(number.value) {
            Ok(port) if port > 0 => Some(Spanned::new(port, number.span)),
            _ => {
                r.error(
                    Diag::error(
                        Code::Type,
                        number.span,
                        format!("`{}` is not a port number", number.value),
                        "not a port",
                    )
                    .with_help("use a port between 1 and 65535"),
                );
                None
            }
        }
    }
}

/// `#null` leaves something out; otherwise a string.
impl FromEntry for Option<String> {
    const KIND: Kind = Kind::StringOrNull;
    fn read(r: &mut Reader<'_>, entry: &KdlEntry, value: &Value) -> Option<Spanned<Self>> {
        if entry.value().is_null() {
            return Some(Spanned::new(None, r.value_span(entry)));
        }
        r.string(entry, value.expect).map(|s| Spanned::new(Some(s.value), s.span))
    }
}

/// Declares an enum of a closed set of strings that a property takes: reading it reports any other
/// string with the nearest name.
macro_rules! choice {
    (
        $(#[$meta:meta])*
        pub enum $Choice:ident ($what:literal, $label:literal, $list:literal, $code:ident) {
            $($(#[$vmeta:meta])* $Variant:ident = $text:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
        pub enum $Choice {
            $($(#[$vmeta])* #[serde(rename = $text)] $Variant,)*
        }

        impl $Choice {
            /// Every choice, as the language spells it.
            pub const NAMES: &'static [&'static str] = &[$($text),*];

            /// As the language spells it.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$Variant => $text,)*
                }
            }

            /// The choice spelled `text`.
            #[must_use]
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$Variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $Choice {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::lang::FromEntry for $Choice {
            const KIND: $crate::lang::Kind = $crate::lang::Kind::Choice(Self::NAMES);
            fn read(
                r: &mut $crate::lang::Reader<'_>,
                entry: &kdl::KdlEntry,
                value: &$crate::lang::Value,
            ) -> Option<$crate::lang::Spanned<Self>> {
                let written = r.string(entry, value.expect)?;
                match Self::parse(&written.value) {
                    Some(choice) => Some($crate::lang::Spanned::new(choice, written.span)),
                    None => {
                        let unknown = $crate::lang::UnknownChoice {
                            what: $what,
                            label: $label,
                            list: $list,
                            code: $crate::diag::Code::$code,
                        };
                        r.unknown_choice(&written, &unknown, Self::NAMES);
                        None
                    }
                }
            }
        }
    };
}
pub(crate) use choice;

impl<'d> Reader<'d> {
    /// A reader of `file` that reports to `diags`.
    pub fn new(file: FileId, diags: &'d mut Diagnostics, services: Vec<&'static str>) -> Self {
        Self { file, diags, services }
    }

    /// The file's span of a parser span.
    #[must_use]
    pub fn span(&self, span: miette::SourceSpan) -> Span {
        Span::from_miette(self.file, span)
    }

    /// The span of a node's name.
    #[must_use]
    pub fn name_span(&self, node: &KdlNode) -> Span {
        self.span(node.name().span())
    }

    /// Reports a problem.
    pub fn error(&mut self, diag: Diag) {
        self.diags.push(diag);
    }

    /// The errors reported so far.
    #[must_use]
    pub fn error_count(&self) -> usize {
        self.diags.error_count()
    }

    /// Reports a string outside a closed set: `` `consumer` is not a brand class ``.
    pub fn unknown_choice(&mut self, written: &Spanned<String>, unknown: &UnknownChoice, names: &[&str]) {
        let help = did_you_mean(&written.value, names, unknown.list);
        self.error(
            Diag::error(
                unknown.code,
                written.span,
                format!("`{}` is not {}", written.value, unknown.what),
                unknown.label,
            )
            .with_help(help),
        );
    }

    /// Records a node that may appear once; reports it and returns false when it came before.
    pub fn first_of_its_name<'n>(&mut self, seen: &mut Vec<(&'n str, Span)>, name: &'n str, span: Span) -> bool {
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

    /// The schema of `child` among the nodes `parent` takes; reports an unknown node.
    pub fn child_spec(&mut self, parent: &'static Node, child: &KdlNode) -> Option<&'static Node> {
        let name = child.name().value();
        let children = match parent.children {
            super::schema::Children::Nodes(children) => children,
            _ => &[],
        };
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

    /// [`Self::check_entries`] with the arity and properties of `spec`.
    pub fn check_node(&mut self, node: &KdlNode, spec: &Node) {
        let props = spec.prop_names(&self.services);
        self.check_entries(node, spec.required_args, spec.max_args(), &props);
    }

    /// Reports extra or missing arguments, unknown and duplicate properties.
    pub fn check_entries(&mut self, node: &KdlNode, min_args: usize, max_args: usize, props: &[&str]) {
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

    /// Reports a children block on a node that takes none.
    pub fn no_children(&mut self, node: &KdlNode) {
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

    /// The node's arguments (its entries without a name).
    pub fn args(node: &KdlNode) -> impl Iterator<Item = &KdlEntry> {
        node.entries().iter().filter(|e| e.name().is_none())
    }

    /// The property `key` of `node`.
    #[must_use]
    pub fn prop_entry<'n>(node: &'n KdlNode, key: &str) -> Option<&'n KdlEntry> {
        node.entries().iter().find(|e| e.name().is_some_and(|n| n.value() == key))
    }

    /// The argument at `index`, read as `value` says.
    pub fn arg<T: FromEntry>(&mut self, node: &KdlNode, index: usize, value: &Value) -> Option<Spanned<T>> {
        let entry = Self::args(node).nth(index)?;
        T::read(self, entry, value)
    }

    /// Every argument from `index` on, each read as `value` says.
    pub fn rest<T: FromEntry>(&mut self, node: &KdlNode, index: usize, value: &Value) -> Vec<Spanned<T>> {
        Self::args(node).skip(index).filter_map(|e| T::read(self, e, value)).collect()
    }

    /// The property `value.name`, read as `value` says.
    pub fn prop<T: FromEntry>(&mut self, node: &KdlNode, value: &Value) -> Option<Spanned<T>> {
        let entry = Self::prop_entry(node, value.name)?;
        T::read(self, entry, value)
    }

    /// The properties named by the services' keywords, each read as `value` says.
    pub fn per_service<T: FromEntry>(&mut self, node: &KdlNode, value: &Value) -> Vec<(&'static str, Spanned<T>)> {
        let services = self.services.clone();
        services
            .into_iter()
            .filter_map(|keyword| {
                let entry = Self::prop_entry(node, keyword)?;
                Some((keyword, T::read(self, entry, value)?))
            })
            .collect()
    }

    /// The value's span: for a property, only the value after `=`.
    #[must_use]
    pub fn value_span(&self, entry: &KdlEntry) -> Span {
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

    /// A string entry, or a type error that says `what` it must be.
    pub fn string(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<String>> {
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

    /// A boolean entry, or a type error.
    pub fn boolean(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<bool>> {
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

    /// An integer entry, or a type error.
    pub fn integer(&mut self, entry: &KdlEntry, what: &str) -> Option<Spanned<i128>> {
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
