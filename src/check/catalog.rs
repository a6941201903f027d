//! Checks across the images of the catalog: output directories, bake names, Kubernetes names and
//! NodePorts are each one image's; and the order images are listed in.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use camino::Utf8Path;

use super::Place;
use crate::diag::{Code, Diag, Diagnostics};
use crate::model::Entry;
use crate::resolve::InstanceOrigin;
use crate::source::Span;

/// The images as the checks across them see them.
type Images = [(Entry, Place, InstanceOrigin)];

/// Orders text with numbers in it as people do: `python3.8` before `python3.10`.
pub(super) fn natural_order(a: &str, b: &str) -> std::cmp::Ordering {
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Chunk<'a> {
        /// Digits without leading zeros, compared by length first.
        Number(usize, &'a str),
        Text(&'a str),
    }
    fn chunks(mut rest: &str) -> Vec<Chunk<'_>> {
        let mut out = Vec::new();
        while let Some(first) = rest.chars().next() {
            let digits = first.is_ascii_digit();
            let end = rest.find(|c: char| c.is_ascii_digit() != digits).unwrap_or(rest.len());
            let (chunk, tail) = rest.split_at(end);
            out.push(if digits {
                let number = chunk.trim_start_matches('0');
                Chunk::Number(number.len(), number)
            } else {
                Chunk::Text(chunk)
            });
            rest = tail;
        }
        out
    }
    chunks(a).cmp(&chunks(b)).then_with(|| a.cmp(b))
}

/// The catalog's own files at the top of `out/`, which no image directory may take.
const CATALOG_FILES: &[&str] = &["README.md", "docker-bake.hcl", ".dlspec-manifest", ".dlspec-lock"];

/// No image directory takes a catalog file's name (case-insensitively: macOS and Windows disks)
/// or lies inside another image's directory, where that image's `COPY init/` would ship it. One
/// hash lookup per ancestor of each directory.
fn output_paths(images: &Images, diags: &mut Diagnostics) {
    let mut dirs: HashMap<&str, &Entry> = HashMap::with_capacity(images.len());
    for (image, _, _) in images {
        dirs.entry(image.dir().as_str()).or_insert(image);
    }
    for (image, place, _) in images {
        let dir = image.dir().as_str();
        let top = dir.split('/').next().unwrap_or(dir);
        if let Some(file) = CATALOG_FILES.iter().find(|f| f.eq_ignore_ascii_case(top)) {
            diags.push(
                Diag::error(
                    Code::OutputPath,
                    place.name,
                    format!(
                        "image `{}` would be written to `out/{dir}`, over the catalog's `{file}`",
                        image.reference()
                    ),
                    "takes a catalog file's name",
                )
                .with_help(format!("rename the image: `out/{file}` is the catalog's own file")),
            );
        }
        for (at, _) in dir.match_indices('/') {
            if let Some(outer) = dirs.get(&dir[..at]) {
                diags.push(
                    Diag::error(
                        Code::OutputPath,
                        place.name,
                        format!(
                            "image `{}` would be written to `out/{dir}`, inside the directory of image `{}`",
                            image.reference(), outer.reference()
                        ),
                        "directory inside another image's",
                    )
                    .with_help(format!(
                        "rename one of the images: `out/{}` is the build context of `{}`, whose `COPY init/` would ship \
                         files of the other",
                        outer.dir(), outer.reference()
                    )),
                );
            }
        }
    }
}

/// Every name `docker buildx bake` sees is one group or one target: the group `default`, a group
/// per image name (mangled by [`crate::model::bake_group`]) and a target per image (its slug).
fn bake_names(images: &Images, diags: &mut Diagnostics) {
    /// Who has a bake name: described only when two want one.
    #[derive(Clone, Copy)]
    enum Owner {
        Default,
        Group(usize),
        Target(usize),
    }
    let describe = |owner: Owner| match owner {
        Owner::Default => "the group of every image".to_owned(),
        Owner::Group(i) => format!("the group of image name `{}`", images[i].0.name()),
        Owner::Target(i) => format!("the target of `{}`", images[i].0.reference()),
    };
    let mut owners: HashMap<Cow<'_, str>, Owner> = HashMap::with_capacity(images.len() * 2 + 1);
    owners.insert(Cow::Borrowed("default"), Owner::Default);
    let mut groups_seen: HashSet<&str> = HashSet::with_capacity(images.len());
    let groups = images.iter().enumerate().filter(|(_, (image, _, _))| groups_seen.insert(image.name()));
    let groups: Vec<_> = groups
        .map(|(i, (image, _, _))| (Cow::Owned(crate::model::bake_group(image.name())), Owner::Group(i)))
        .collect();
    let targets = images.iter().enumerate().map(|(i, (image, _, _))| (Cow::Borrowed(image.slug()), Owner::Target(i)));
    for (bake_name, owner) in groups.into_iter().chain(targets) {
        let (Owner::Group(at) | Owner::Target(at)) = owner else { continue };
        match owners.get(&bake_name).copied() {
            // Two images of one slug: `duplicate-output` reports them.
            Some(Owner::Target(_)) if matches!(owner, Owner::Target(_)) => {}
            Some(first) => {
                let mut diag = Diag::error(
                    Code::BakeName,
                    images[at].1.name,
                    format!(
                        "docker-bake.hcl would give the name `{bake_name}` to both {} and {}",
                        describe(first),
                        describe(owner)
                    ),
                    "bake name taken",
                )
                .with_help(
                    "rename one of the images: a bake group is the image name with `/`, `.` and `_` turned into `-`, \
                     a target is NAME-TAG in the same way, and `default` is the group of every image",
                );
                if let Owner::Group(i) | Owner::Target(i) = first {
                    diag = diag.with_label(images[i].1.name, "first here");
                }
                diags.push(diag);
            }
            None => {
                owners.insert(bake_name, owner);
            }
        }
    }
}

/// Checks across images: output directories, bake names, Kubernetes names and NodePorts are unique.
pub(super) fn check(images: &Images, diags: &mut Diagnostics) {
    output_paths(images, diags);
    bake_names(images, diags);
    let mut dirs: BTreeMap<&Utf8Path, &Place> = BTreeMap::new();
    let mut slugs: BTreeMap<&str, &Place> = BTreeMap::new();
    let mut node_ports: BTreeMap<u16, (Span, &str)> = BTreeMap::new();
    let mut shared_node_ports = BTreeSet::new();
    for (image, place, _) in images {
        if let Some(first) = dirs.get(image.dir()) {
            diags.push(
                Diag::error(
                    Code::DuplicateOutput,
                    place.name,
                    format!("two images would be written to `out/{}`", image.dir()),
                    "second image",
                )
                .with_label(first.name, "first image")
                .with_help("give one of them another name, or a `tag` template that tells them apart (for a matrix, use every axis in the tag)"),
            );
            continue;
        }
        dirs.insert(image.dir(), place);
        if let Some(first) = slugs.get(image.slug()) {
            diags.push(
                Diag::error(
                    Code::DuplicateOutput,
                    place.name,
                    format!("two images would share the Kubernetes name `{}`", image.slug()),
                    "second image",
                )
                .with_label(first.name, "first image")
                .with_help("rename one of the images"),
            );
        }
        slugs.insert(image.slug(), place);
        for port in &place.node_ports {
            match node_ports.get(&port.value) {
                Some((first, owner)) if *first == port.span => {
                    if shared_node_ports.insert(port.span) {
                        diags.push(
                            Diag::error(
                                Code::NodePort,
                                port.span,
                                format!(
                                    "NodePort {} would be given to several images: `{owner}`, `{}`",
                                    port.value, image.reference()
                                ),
                                "one NodePort for several images",
                            )
                            .with_help(
                                "a NodePort belongs to one image: set `node-port` in an image without a matrix, not in a \
                                 matrix image or a shared profile, or leave it out to let Kubernetes pick",
                            ),
                        );
                    }
                }
                Some((first, owner)) if *owner != image.reference() => diags.push(
                    Diag::error(
                        Code::NodePort,
                        port.span,
                        format!("NodePort {} is used by two images of the catalog", port.value),
                        "used again here",
                    )
                    .with_label(*first, format!("used by `{owner}`"))
                    .with_help("give each image its own NodePorts, or leave `node-port` out to let Kubernetes pick"),
                ),
                Some(_) => {}
                None => {
                    node_ports.insert(port.value, (port.span, image.reference()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_sort_by_their_numbers() {
        let mut dirs = vec!["p/2.10.0-python3.10", "p/2.2.0-python3.8", "p/2.2.0-python3.10", "p/2.2.0-python3.9"];
        dirs.sort_by(|a, b| natural_order(a, b));
        assert_eq!(dirs, ["p/2.2.0-python3.8", "p/2.2.0-python3.9", "p/2.2.0-python3.10", "p/2.10.0-python3.10"]);
        assert_eq!(natural_order("a01", "a1"), std::cmp::Ordering::Less, "a total order: ties fall back to the text");
    }
}
