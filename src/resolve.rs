//! Resolve: declarations → image instances. Applies profiles (`use`, later wins, the image last),
//! and expands each `matrix` into its combinations minus `exclude`.

use std::collections::{BTreeMap, BTreeSet};

use crate::ast::{Axis, BasePart, CatalogPart, CudaPart, Decl, DeclKind, FrameworkPart, Part, PythonPart, Spanned};
use crate::diag::{Code, Diag, Diagnostics, did_you_mean};

/// One image to build: an image declaration with its profiles applied, for one matrix combination.
#[derive(Debug, Clone)]
pub struct Instance {
    /// The image's name as declared.
    pub name: Spanned<String>,
    /// The merged settings.
    pub part: Part,
    /// The matrix values of this combination, in axis order; empty without a matrix.
    pub combination: Vec<(Axis, Spanned<String>)>,
}

/// The one `catalog` node of all files; a second one is an error that points at both.
pub fn catalog<'a>(catalogs: &'a [CatalogPart], diags: &mut Diagnostics) -> Option<&'a CatalogPart> {
    let (first, rest) = catalogs.split_first()?;
    for again in rest {
        diags.push(
            Diag::error(Code::Duplicate, again.node, "`catalog` is given twice", "given again here")
                .with_label(first.node, "first given here")
                .with_help("write the catalog's settings in one `catalog` node, in one spec file"),
        );
    }
    Some(first)
}

/// Resolves every image of every file.
pub fn resolve(decls: &[Decl], diags: &mut Diagnostics) -> Vec<Instance> {
    let mut profiles: BTreeMap<&str, &Decl> = BTreeMap::new();
    let mut images: BTreeMap<&str, &Decl> = BTreeMap::new();
    for decl in decls {
        let table = match decl.kind {
            DeclKind::Image => &mut images,
            DeclKind::Profile => &mut profiles,
        };
        if let Some(first) = table.get(decl.name.value.as_str()) {
            let keyword = decl.kind.keyword();
            diags.push(
                Diag::error(
                    Code::DuplicateName,
                    decl.name.span,
                    format!("{keyword} `{}` is defined twice", decl.name.value),
                    "defined again here",
                )
                .with_label(first.name.span, "first defined here")
                .with_help(format!("rename one of them; {keyword} names are unique across all spec files")),
            );
        } else {
            table.insert(&decl.name.value, decl);
        }
    }
    let mut instances = Vec::new();
    let mut used = BTreeSet::new();
    for decl in decls.iter().filter(|d| d.kind == DeclKind::Image) {
        if !std::ptr::eq(images[decl.name.value.as_str()], decl) {
            continue;
        }
        let mut merged = Part::default();
        let mut stack = Vec::new();
        apply_uses(&decl.body, &profiles, &mut merged, &mut stack, &mut used, diags);
        if let Some(conflict) = merged.merge(&decl.body) {
            framework_conflict(conflict, diags);
        }
        expand(&decl.name, merged, diags, &mut instances);
    }
    for (name, profile) in &profiles {
        if !used.contains(name) {
            diags.push(
                Diag::warning(
                    Code::UnusedProfile,
                    profile.name.span,
                    format!("profile `{name}` is used by no image"),
                    "unused profile",
                )
                .with_help(format!(
                    "add `use \"{name}\"` to an image, or delete the profile (its values are only checked through images)"
                )),
            );
        }
    }
    instances
}

fn framework_conflict(conflict: crate::ast::FrameworkConflict, diags: &mut Diagnostics) {
    diags.push(
        Diag::error(
            Code::TwoFrameworks,
            conflict.later,
            "an image has one framework, but its profile names another",
            "second framework",
        )
        .with_label(conflict.earlier, "framework from the profile")
        .with_help("drop one of the two, or use a profile without a framework"),
    );
}

/// Merges the profiles `part` uses (each with its own profiles first) into `merged`.
fn apply_uses<'a>(
    part: &Part,
    profiles: &BTreeMap<&str, &'a Decl>,
    merged: &mut Part,
    stack: &mut Vec<&'a str>,
    used_profiles: &mut BTreeSet<&'a str>,
    diags: &mut Diagnostics,
) {
    for used in &part.uses {
        let Some(profile) = profiles.get(used.value.as_str()) else {
            let names: Vec<&str> = profiles.keys().copied().collect();
            let help = if names.is_empty() {
                "define it with `profile \"NAME\" { … }` in any spec file".to_owned()
            } else {
                did_you_mean(&used.value, &names, "the profiles are")
            };
            diags.push(
                Diag::error(
                    Code::UnknownProfile,
                    used.span,
                    format!("unknown profile `{}`", used.value),
                    "unknown profile",
                )
                .with_help(help),
            );
            continue;
        };
        if stack.contains(&profile.name.value.as_str()) {
            diags.push(
                Diag::error(
                    Code::ProfileCycle,
                    used.span,
                    format!("profile `{}` uses itself through `use`", used.value),
                    "cycle closes here",
                )
                .with_label(profile.name.span, "profile defined here")
                .with_help("remove one `use` of the cycle"),
            );
            continue;
        }
        used_profiles.insert(&profile.name.value);
        stack.push(&profile.name.value);
        apply_uses(&profile.body, profiles, merged, stack, used_profiles, diags);
        if let Some(conflict) = merged.merge(&profile.body) {
            framework_conflict(conflict, diags);
        }
        stack.pop();
    }
}

/// One instance per matrix combination (or the image itself without a matrix).
fn expand(name: &Spanned<String>, mut part: Part, diags: &mut Diagnostics, out: &mut Vec<Instance>) {
    let Some(matrix) = part.matrix.take() else {
        out.push(Instance { name: name.clone(), part, combination: Vec::new() });
        return;
    };
    for (axis, values) in &matrix.excludes.iter().flatten().map(|(a, v)| (a, v)).collect::<Vec<_>>() {
        match matrix.axes.iter().find(|(a, _)| a.value == axis.value) {
            None => diags.push(
                Diag::error(
                    Code::MatrixExclude,
                    axis.span,
                    format!("`exclude` names axis `{}`, which the matrix does not have", axis.value.name()),
                    "not an axis of this matrix",
                )
                .with_help(format!(
                    "the axes are {}",
                    matrix.axes.iter().map(|(a, _)| format!("`{}`", a.value.name())).collect::<Vec<_>>().join(", ")
                )),
            ),
            Some((_, axis_values)) if !axis_values.iter().any(|v| v.value == values.value) => diags.push(
                Diag::error(
                    Code::MatrixExclude,
                    values.span,
                    format!("`{}` is not a value of axis `{}`", values.value, axis.value.name()),
                    "not in the axis",
                )
                .with_help(format!(
                    "the values of `{}` are {}",
                    axis.value.name(),
                    axis_values.iter().map(|v| format!("\"{}\"", v.value)).collect::<Vec<_>>().join(", ")
                )),
            ),
            Some(_) => {}
        }
    }
    let mut combinations: Vec<Vec<(Axis, Spanned<String>)>> = vec![Vec::new()];
    for (axis, values) in &matrix.axes {
        combinations = combinations
            .into_iter()
            .flat_map(|combo| {
                values.iter().map(move |v| {
                    let mut next = combo.clone();
                    next.push((axis.value, v.clone()));
                    next
                })
            })
            .collect();
    }
    let before = out.len();
    for combination in combinations {
        let excluded = matrix.excludes.iter().any(|exclude| {
            exclude
                .iter()
                .all(|(axis, value)| combination.iter().any(|(a, v)| *a == axis.value && v.value == value.value))
        });
        if excluded || combination.is_empty() {
            continue;
        }
        let mut instance = part.clone();
        let mut fits = true;
        for (axis, value) in &combination {
            fits &= apply_axis(&mut instance, *axis, value, diags);
        }
        if fits {
            out.push(Instance { name: name.clone(), part: instance, combination });
        }
    }
    if matrix.axes.is_empty() {
        diags.push(
            Diag::error(Code::MatrixEmpty, matrix.node, "this matrix has no axes", "empty matrix")
                .with_help("add an axis with its values, like `python \"3.10\" \"3.11\"`, or remove the matrix"),
        );
    } else if out.len() == before && !diags.has_errors() {
        diags.push(
            Diag::error(Code::MatrixEmpty, matrix.node, "every combination of this matrix is excluded", "empty matrix")
                .with_help("remove an `exclude`, or the matrix"),
        );
    }
}

/// Sets one axis value on an instance; false when the axis cannot apply (reported).
fn apply_axis(part: &mut Part, axis: Axis, value: &Spanned<String>, diags: &mut Diagnostics) -> bool {
    let v = Some(value.clone());
    let misfit = |diags: &mut Diagnostics, what: &str| {
        diags.push(
            Diag::error(
                Code::MatrixAxis,
                value.span,
                format!("matrix axis `{}` does not fit this image: {what}", axis.name()),
                "axis value",
            )
            .with_help("remove the axis, or change the image so that it applies"),
        );
        false
    };
    match axis {
        Axis::Framework(keyword) => match &mut part.framework {
            Some(framework) if framework.keyword() == keyword => framework.version = v,
            Some(framework) => {
                let uses = format!("the image uses {}", framework.rules.title());
                return misfit(diags, &uses);
            }
            None => {
                let Some(rules) = crate::framework::by_keyword(keyword) else {
                    return misfit(diags, "no framework has that name");
                };
                let mut framework = FrameworkPart::new(rules, value.span);
                framework.version = v;
                part.framework = Some(framework);
            }
        },
        Axis::Python => match &mut part.python {
            Some(p) => p.version = v,
            None => {
                part.python =
                    Some(PythonPart { node: value.span, version: v, miniconda: None, sha256: None, accept_tos: None });
            }
        },
        Axis::Cuda | Axis::Cudnn | Axis::Os => {
            if axis == Axis::Os
                && let Some(BasePart::Cpu(cpu)) = &mut part.base
            {
                cpu.os = v;
                return true;
            }
            let cuda = match &mut part.base {
                Some(BasePart::Cuda(c)) => c,
                None if axis == Axis::Cuda => {
                    part.base = Some(BasePart::Cuda(CudaPart {
                        node: value.span,
                        version: None,
                        cudnn: None,
                        flavor: None,
                        os: None,
                    }));
                    let Some(BasePart::Cuda(c)) = &mut part.base else { unreachable!("just set") };
                    c
                }
                Some(BasePart::Cpu(_)) => return misfit(diags, "the image builds on `cpu`"),
                Some(BasePart::Custom(_)) => return misfit(diags, "the image builds on a custom `base`"),
                None => return misfit(diags, "the image has no `cuda` base"),
            };
            match axis {
                Axis::Cuda => cuda.version = v,
                Axis::Cudnn => cuda.cudnn = v,
                _ => cuda.os = v,
            }
        }
    }
    true
}
