//! What README.md says that the code can check: the example catalog's numbers, the commands it
//! shows (each a subcommand dlspec has, with flags it takes, naming images that exist), and the
//! usage lines of the command line.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

fn readme() -> String {
    std::fs::read_to_string(common::root().join("README.md")).unwrap()
}

/// The README's usage line of a command: `dlspec NAME …` in the "Command line" section.
fn usage_line(readme: &str, command: &str) -> String {
    let section = readme.split_once("\n## Command line\n").map(|(_, rest)| rest).unwrap();
    let section = section.split_once("\n## ").map_or(section, |(section, _)| section);
    let prefix = format!("dlspec {command} ");
    let lines: Vec<&str> = section.lines().filter(|l| l.starts_with(&prefix)).collect();
    assert_eq!(lines.len(), 1, "README.md should have one usage line starting `{prefix}`: {lines:?}");
    lines[0].to_owned()
}

fn help(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_dlspec")).args(args).arg("--help").output().unwrap();
    assert!(output.status.success(), "dlspec {args:?} --help");
    String::from_utf8(output.stdout).unwrap()
}

/// Each subcommand of `dlspec --help`, with the flags its own `--help` names.
fn subcommands() -> BTreeMap<String, BTreeSet<String>> {
    let top = help(&[]);
    let listed = top.split_once("Commands:\n").map(|(_, rest)| rest).unwrap();
    let names: Vec<&str> = listed
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .collect();
    names.into_iter().map(|name| (name.to_owned(), flags(&help(&[name])))).collect()
}

/// The `--flag`s of a text.
fn flags(text: &str) -> BTreeSet<String> {
    text.match_indices("--")
        .filter(|(at, _)| !text[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '-'))
        .map(|(at, _)| text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect::<String>())
        .filter(|flag| flag.len() > 2)
        .collect()
}

/// Every dlspec command the README shows: the lines of its code blocks and its inline code that
/// run `dlspec SUBCOMMAND …`, each up to where the command ends (a comment, a pipe, a quote).
fn commands_shown(readme: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut prose = String::new();
    let mut in_block = false;
    for line in readme.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            let code = line.split(" #").next().unwrap_or(line).trim_start();
            // A command starts its line, or is run inside one: `$(dlspec …)`.
            let starts = code.strip_prefix("$ ").unwrap_or(code);
            commands.extend(command_at_start(starts));
            commands.extend(code.split("$(").skip(1).filter_map(command_at_start));
        } else {
            prose.push_str(line);
            prose.push(' ');
        }
    }
    // Inline code, which may wrap onto the next line of a paragraph.
    for (n, span) in prose.split('`').enumerate() {
        if n % 2 == 1 {
            commands.extend(command_at_start(span));
        }
    }
    commands
}

/// The `dlspec SUBCOMMAND …` command `text` starts with, up to where it ends (a pipe, a quote, a
/// closing parenthesis), if it starts with one.
fn command_at_start(text: &str) -> Option<String> {
    let rest = text.strip_prefix("dlspec ")?;
    let command: String = rest.chars().take_while(|c| !matches!(c, '|' | ')' | '`' | '&' | ';' | '\'' | '"')).collect();
    let command = command.split_whitespace().collect::<Vec<_>>().join(" ");
    command.starts_with(|c: char| c.is_ascii_lowercase()).then(|| format!("dlspec {command}"))
}

#[test]
fn the_compat_usage_line_lists_exactly_the_known_tables() {
    let line = usage_line(&readme(), "compat");
    let listed = line.split_once('[').and_then(|(_, rest)| rest.split_once(']')).map(|(tables, _)| tables).unwrap();
    let listed: Vec<&str> = listed.split('|').collect();
    assert_eq!(listed, dlspec::cli::compat::table_names(), "README.md: {line}");
}

#[test]
fn every_subcommand_has_a_usage_line_with_its_own_flags() {
    let readme = readme();
    for (name, known) in subcommands() {
        let line = usage_line(&readme, &name);
        let unknown: Vec<String> = flags(&line).difference(&known).cloned().collect();
        assert!(unknown.is_empty(), "README.md's usage line of `{name}` names flags it does not take: {unknown:?}");
        let missing: Vec<String> = known
            .iter()
            .filter(|f| !matches!(f.as_str(), "--help" | "--version"))
            .filter(|f| !line.contains(*f))
            .cloned()
            .collect();
        assert!(missing.is_empty(), "README.md's usage line of `{name}` leaves out {missing:?}: {line}");
    }
}

#[test]
fn every_command_shown_is_a_subcommand_with_flags_it_takes() {
    let subcommands = subcommands();
    let shown = commands_shown(&readme());
    assert!(shown.len() > 30, "the README shows dlspec commands: {shown:?}");
    assert!(shown.iter().any(|c| c.starts_with("dlspec list --changed-since")), "{shown:?}");
    for command in shown {
        let name = command.split(' ').nth(1).unwrap();
        let Some(known) = subcommands.get(name) else {
            panic!("README.md shows `{command}`, but dlspec has no subcommand `{name}`");
        };
        let unknown: Vec<String> = flags(&command).difference(known).cloned().collect();
        assert!(unknown.is_empty(), "README.md shows `{command}`: `dlspec {name}` takes no {unknown:?}");
    }
}

/// The images of `specs/`: each name and each `name:tag`.
fn image_names() -> BTreeSet<String> {
    let (images, diags) = dlspec::pipeline::analyze(&common::repo_specs());
    assert!(!diags.has_errors());
    images.iter().flat_map(|i| [i.name.clone(), i.reference.clone()]).collect()
}

#[test]
fn every_image_a_command_names_exists() {
    let names = image_names();
    for command in commands_shown(&readme()) {
        let words: Vec<&str> = command.split(' ').collect();
        for pair in words.windows(2).filter(|pair| pair[0] == "--image") {
            assert!(names.contains(pair[1]), "README.md shows `{command}`, but specs/ has no image `{}`", pair[1]);
        }
    }
}

#[test]
fn the_example_catalog_has_as_many_images_as_the_readme_says() {
    let readme = readme();
    let (images, diags) = dlspec::pipeline::analyze(&common::repo_specs());
    assert!(!diags.has_errors());
    let count = |name: &str| images.iter().filter(|i| i.name == name).count();
    for said in [
        format!("`specs/` is a catalog of {} images", images.len()),
        format!("publishes: {} GPU images", count("platform/pytorch")),
        format!("Pythons on Ubuntu: {})", count("platform/pytorch-cpu")),
        format!("with their Pythons: {},", count("platform/tensorflow")),
        format!("platform/tensorflow`: {} images;", count("tensorflow") + count("platform/tensorflow")),
    ] {
        assert!(readme.contains(&said), "README.md should say \"{said}\" (the numbers `dlspec compile` reports)");
    }
}
