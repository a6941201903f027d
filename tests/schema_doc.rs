//! docs/spec-reference.md shows, under each node's heading, the table that `dlspec::schema`
//! renders for it, between `<!-- schema:NAME -->` and `<!-- /schema -->`. After a change to the
//! schema or to a framework's properties, `DLSPEC_UPDATE_DOCS=1 cargo test --test schema_doc`
//! rewrites those blocks (and adds the missing ones under their headings); review with `git diff`.

mod common;

const DOC: &str = "docs/spec-reference.md";
const END: &str = "<!-- /schema -->";

fn start(name: &str) -> String {
    format!("<!-- schema:{name} -->")
}

/// The doc with every node's block replaced by the schema's table, or what cannot be placed.
fn regenerate(doc: &str) -> Result<String, Vec<String>> {
    let mut doc = doc.to_owned();
    let mut problems = Vec::new();
    let tables = dlspec::lang::reference_tables(&dlspec::pipeline::language());
    for (name, table) in &tables {
        let block = format!("{}\n{table}{END}\n", start(name));
        if let Some(at) = doc.find(&start(name)) {
            let Some(end) = doc[at..].find(END) else {
                problems.push(format!("`{}` has no `{END}`", start(name)));
                continue;
            };
            doc.replace_range(at..at + end + END.len() + 1, &block);
        } else {
            let heading = format!("\n### `{name}`\n\n");
            match doc.find(&heading) {
                Some(at) => doc.insert_str(at + heading.len(), &format!("{block}\n")),
                None => problems.push(format!("no `### `{name}`` section for the node `{name}`")),
            }
        }
    }
    for line in doc.lines().filter_map(|l| l.strip_prefix("<!-- schema:")) {
        let name = line.trim_end_matches(" -->");
        if !tables.iter().any(|(n, _)| *n == name) {
            problems.push(format!("`<!-- schema:{name} -->` names a node the schema does not document"));
        }
    }
    if problems.is_empty() { Ok(doc) } else { Err(problems) }
}

#[test]
fn the_reference_shows_the_schema_tables() {
    let path = common::root().join(DOC);
    let doc = std::fs::read_to_string(&path).unwrap();
    let regenerated = regenerate(&doc).unwrap_or_else(|problems| panic!("{DOC}:\n{}", problems.join("\n")));
    if std::env::var_os("DLSPEC_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &regenerated).unwrap();
        return;
    }
    let stale: Vec<&str> = dlspec::lang::reference_tables(&dlspec::pipeline::language())
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| {
            let block = |text: &str| text.find(&start(name)).map(|at| text[at..].split(END).next().unwrap().to_owned());
            block(&doc) != block(&regenerated)
        })
        .collect();
    assert!(
        stale.is_empty(),
        "the tables of {stale:?} in {DOC} are not the schema's: run `DLSPEC_UPDATE_DOCS=1 cargo test --test schema_doc` and review the diff"
    );
}
