//! uv's output read as pins, and split into the image's pip layers: each package in the first
//! layer that needs it.

use std::collections::BTreeMap;

use super::LAYERS;
use crate::model::LockedLayer;

/// One pinned package of uv's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    /// Normalized name: `jupyterlab-language-pack-zh-cn`.
    pub name: String,
    /// `4.5.post3`.
    pub version: String,
    /// Its lines: the requirement, its hashes, its `# via` comments.
    pub text: String,
    /// What asked for it: `-r platform.in` or another package's name.
    pub via: Vec<String>,
}

/// The packages of uv's `pip compile` output.
#[must_use]
pub fn parse_pins(body: &str) -> Vec<Pinned> {
    let mut pins: Vec<Pinned> = Vec::new();
    let mut in_via_list = false;
    for line in body.lines() {
        let trimmed = line.trim();
        if !line.starts_with(' ') && !line.starts_with('#') && !trimmed.is_empty() {
            let requirement = trimmed.trim_end_matches('\\').trim();
            let (name, version) = requirement.split_once("==").unwrap_or((requirement, ""));
            let version = version.split([' ', ';']).next().unwrap_or_default();
            pins.push(Pinned {
                name: name.trim().to_lowercase().replace(['_', '.'], "-"),
                version: version.to_owned(),
                text: String::new(),
                via: Vec::new(),
            });
            in_via_list = false;
        }
        let Some(pin) = pins.last_mut() else { continue };
        if let Some(rest) = trimmed.strip_prefix("# via") {
            let rest = rest.trim();
            in_via_list = rest.is_empty();
            if !in_via_list {
                pin.via.push(rest.to_owned());
            }
        } else if in_via_list && let Some(source) = trimmed.strip_prefix('#') {
            pin.via.push(source.trim().to_owned());
        }
        pin.text.push_str(line);
        pin.text.push('\n');
    }
    pins
}

/// Layer of each package: the first layer whose requirements need it, directly or through other
/// packages. Each package is installed once, in that layer, so a later layer never reinstalls
/// (or downgrades) it.
#[must_use]
pub fn assign_layers(pins: &[Pinned]) -> Vec<usize> {
    let index: BTreeMap<&str, usize> = pins.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
    let last = LAYERS.len() - 1;
    let mut layer = vec![usize::MAX; pins.len()];
    loop {
        let mut changed = false;
        for (i, pin) in pins.iter().enumerate() {
            for source in &pin.via {
                let from = if let Some(file) = source.strip_prefix("-r ") {
                    LAYERS.iter().position(|(_, f)| *f == file.trim()).unwrap_or(last)
                } else if let Some(&j) = index.get(source.to_lowercase().replace(['_', '.'], "-").as_str()) {
                    layer[j]
                } else {
                    continue;
                };
                if from < layer[i] {
                    layer[i] = from;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    layer.into_iter().map(|l| l.min(last)).collect()
}

/// Splits a lock body into its layers; layers with no package of their own are left out.
#[must_use]
pub fn layers(body: &str, reference: &str, lock_file: &str) -> Vec<LockedLayer> {
    let pins = parse_pins(body);
    let assigned = assign_layers(&pins);
    LAYERS
        .iter()
        .enumerate()
        .filter_map(|(n, (name, _))| {
            // The lock's path comes from the specs directory the user named: one comment line, whatever it holds.
            let lock_file = lock_file.escape_debug();
            let mut text = format!(
                "# The {name} layer of {reference}, from {lock_file} (`dlspec lock`): installed with\n# pip install --no-deps --require-hashes; every package of the image is in exactly one layer.\n"
            );
            let mut layer_pins = Vec::new();
            for (pin, _) in pins.iter().zip(&assigned).filter(|(_, l)| **l == n) {
                text.push_str(&pin.text);
                layer_pins.push(format!("{}=={}", pin.name, pin.version));
            }
            (!layer_pins.is_empty()).then(|| LockedLayer {
                name: (*name).to_owned(),
                file: format!("{name}.lock.txt"),
                text,
                pins: layer_pins,
            })
        })
        .collect()
}

/// `4.5.post3` → `4.5`.
fn major_minor(version: &str) -> Option<String> {
    let mut parts = version.split('.');
    let major = parts.next().filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?;
    let minor: String = parts.next()?.chars().take_while(char::is_ascii_digit).collect();
    (!minor.is_empty()).then(|| format!("{major}.{minor}"))
}

/// The platform set's coherence rule: a JupyterLab language pack is built for one JupyterLab
/// major.minor (pack 4.5 translates JupyterLab 4.5). When a resolution pairs them wrongly, the
/// constraints that fix it, best first: JupyterLab on the pack's major.minor (the newest
/// translated UI), else the pack on JupyterLab's.
#[must_use]
pub fn language_pack_fixes(pins: &[Pinned]) -> Option<Vec<String>> {
    let jupyterlab = pins.iter().find(|p| p.name == "jupyterlab")?;
    let pack = pins.iter().find(|p| p.name.starts_with("jupyterlab-language-pack-"))?;
    let (lab, packed) = (major_minor(&jupyterlab.version)?, major_minor(&pack.version)?);
    (lab != packed).then(|| vec![format!("jupyterlab=={packed}.*"), format!("{}=={lab}.*", pack.name)])
}
