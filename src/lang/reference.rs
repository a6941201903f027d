//! The reference doc's tables, rendered from the schema: docs/spec-reference.md holds each between
//! `<!-- schema:NAME -->` and `<!-- /schema -->` (`tests/schema_doc.rs`).

use super::nodes::{CatalogPart, NodePoolPart};
use super::part::{AXIS, EXCLUDE, Language, ServiceNode};
use super::schema::{Children, Node, Value};

/// The table of every documented node, `(name, markdown)`: `catalog`, its `node-pool`, then the
/// children of an image in their order (`use`, the frameworks, the others).
#[must_use]
pub fn reference_tables(language: &Language) -> Vec<(&'static str, String)> {
    [CatalogPart::NODE, NodePoolPart::NODE]
        .into_iter()
        .chain(language.image_children())
        .map(|node| (node.name, node_table(node, &language.services)))
        .collect()
}

const VALUES_HEADER: &str = "| name | kind | what it is |\n|---|---|---|\n";

fn value_row(value: &Value, argument: bool, variadic: bool) -> String {
    let name = match (argument, variadic) {
        (true, true) => format!("{} (arguments)", value.name),
        (true, false) => format!("{} (argument)", value.name),
        _ => format!("`{}`", value.name),
    };
    format!("| {name} | {} | {} |\n", value.kind.doc(), value.doc)
}

fn node_table(node: &Node, services: &[ServiceNode]) -> String {
    let mut rows = String::new();
    for (index, arg) in node.args.iter().enumerate() {
        rows.push_str(&value_row(arg, true, node.variadic && index + 1 == node.args.len()));
    }
    for prop in node.props {
        rows.push_str(&value_row(prop, false, false));
    }
    for (value, service) in node.per_service.iter().flat_map(|value| services.iter().map(move |s| (value, s))) {
        let doc = value.doc.replace("{service}", service.title);
        rows.push_str(&format!("| `{}` | {} | {doc} |\n", service.node.name, value.kind.doc()));
    }
    let mut table = if rows.is_empty() { String::new() } else { format!("{VALUES_HEADER}{rows}") };
    let children: Vec<(&str, String, &str)> = match node.children {
        Children::None | Children::Image => Vec::new(),
        Children::Nodes(nodes) => nodes.iter().map(|n| (n.name, form(n, services), n.doc)).collect(),
        Children::Matrix => vec![
            (AXIS.name, form(AXIS, services), AXIS.doc),
            (EXCLUDE.name, format!("{}=VALUE…, repeatable", AXIS.name), EXCLUDE.doc),
        ],
    };
    if !children.is_empty() {
        if !table.is_empty() {
            table.push('\n');
        }
        table.push_str("| child | takes | what it is |\n|---|---|---|\n");
        for (name, form, doc) in children {
            let name = if name == AXIS.name { name.to_owned() } else { format!("`{name}`") };
            table.push_str(&format!("| {name} | {form} | {doc} |\n"));
        }
    }
    table
}

/// What a child node takes, on one line: `HOST CONTAINER read-only=, repeatable`.
fn form(node: &Node, services: &[ServiceNode]) -> String {
    let args = node.args.iter().map(|a| a.name.to_owned());
    let per_service = if node.per_service.is_some() { services } else { &[] };
    let props = node
        .props
        .iter()
        .map(|p| p.name)
        .chain(per_service.iter().map(|s| s.node.name))
        .map(|name| format!("`{name}=`"));
    let mut form = args.chain(props).collect::<Vec<_>>().join(" ");
    if node.repeats {
        form.push_str(", repeatable");
    }
    form
}
