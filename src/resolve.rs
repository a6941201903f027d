//! Resolve: declarations → image instances. Applies profiles (`use`, later wins, the image last),
//! and expands each `matrix` into its combinations minus `exclude`, one instance at a time.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

use crate::diag::{Code, Diag, Diagnostics, did_you_mean};
use crate::lang::{
    Axis, BasePart, CatalogPart, CudaPart, Decl, DeclKind, FrameworkConflict, Language, Matrix, Part, PythonPart,
    RegisteredPart, Scalar, Spanned,
};
use crate::source::{FileId, SourceMap, Span};

/// One image to build: an image declaration with its profiles applied, for one matrix combination.
#[derive(Debug, Clone)]
pub struct Instance {
    /// The image's name as declared.
    pub name: Spanned<String>,
    /// The merged settings.
    pub part: Part,
    /// The matrix values of this combination, in axis order; empty without a matrix.
    pub combination: Vec<(Axis, Spanned<String>)>,
    /// Where the instance comes from, to derive it again with [`Declarations::instance`].
    pub origin: InstanceOrigin,
}

/// An image declaration (its index among [`Declarations::images`]) and one combination of its
/// matrix (the index in the full product of the axes, first axis slowest; 0 without a matrix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceOrigin {
    /// The image declaration.
    pub image: usize,
    /// The combination.
    pub combination: u64,
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

/// Where an image declaration is: its file, and its place among the file's image declarations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeclRef {
    /// The file.
    pub file: FileId,
    /// The index among the file's image declarations.
    pub index: u32,
}

/// Up to this many bytes of spec text, the image declarations decoded first are held for check
/// and rendering (they take about 35 bytes per byte of spec: at most 35 MiB); above it, a file is
/// decoded again when its images are needed, so that memory does not grow with the catalog.
pub const HOLD_SPEC_BYTES: usize = 1 << 20;

/// Unused profiles warned of one by one; the others are counted in one more warning, so that a
/// catalog of thousands of them does not make thousands of diagnostics.
const UNUSED_SHOWN: usize = 100;

/// The declarations of every spec file, indexed: the profiles by name, and where each image
/// declaration is (the first of each name), in order. The image declarations themselves are held
/// when the specs are small ([`HOLD_SPEC_BYTES`]); otherwise their file is decoded again when
/// they are needed ([`FileDecls`]). Instances are made from them one at a time.
#[derive(Debug, Default)]
pub struct Declarations {
    /// The language, to decode a file again.
    language: Language,
    profile_decls: Vec<Decl>,
    profiles: BTreeMap<String, usize>,
    images: Vec<DeclRef>,
    /// The image declarations of each file, by file id, when held.
    held: Option<Vec<Vec<Decl>>>,
}

impl Declarations {
    /// Indexes the profiles and the images (each with its name); reports names declared twice.
    /// `held`, when given, has the image declarations of every file, by file id.
    #[must_use]
    pub fn new(
        language: Language,
        profile_decls: Vec<Decl>,
        images: Vec<(DeclRef, Spanned<String>)>,
        held: Option<Vec<Vec<Decl>>>,
        diags: &mut Diagnostics,
    ) -> Self {
        let mut profiles: BTreeMap<String, usize> = BTreeMap::new();
        for (index, decl) in profile_decls.iter().enumerate() {
            match profiles.get(decl.name.value.as_str()) {
                Some(&first) => duplicate(DeclKind::Profile, &decl.name, profile_decls[first].name.span, diags),
                None => {
                    profiles.insert(decl.name.value.clone(), index);
                }
            }
        }
        let mut first_of: HashMap<&str, Span> = HashMap::with_capacity(images.len());
        let mut refs = Vec::with_capacity(images.len());
        for (at, name) in &images {
            match first_of.get(name.value.as_str()) {
                Some(&first) => duplicate(DeclKind::Image, name, first, diags),
                None => {
                    first_of.insert(&name.value, name.span);
                    refs.push(*at);
                }
            }
        }
        Self { language, profile_decls, profiles, images: refs, held }
    }

    /// The image declarations of `file`: those held, or decoded again.
    #[must_use]
    pub fn file_images<'a>(&'a self, sources: &SourceMap, file: FileId) -> Cow<'a, [Decl]> {
        match &self.held {
            Some(held) => Cow::Borrowed(held.get(file.0 as usize).map_or(&[][..], Vec::as_slice)),
            None => Cow::Owned(decode_images(sources, file, &self.language)),
        }
    }

    /// Image declaration `image`: held, or decoded again into `cache`, which keeps the last file
    /// decoded.
    pub fn image_decl<'a>(&'a self, sources: &SourceMap, image: usize, cache: &'a mut FileDecls) -> Option<&'a Decl> {
        let at = *self.images.get(image)?;
        let index = usize::try_from(at.index).ok()?;
        match &self.held {
            Some(held) => held.get(at.file.0 as usize)?.get(index),
            None => cache.get(sources, at.file, &self.language).get(index),
        }
    }

    /// The number of image declarations.
    #[must_use]
    pub fn images(&self) -> usize {
        self.images.len()
    }

    /// The image declarations of each file (their indexes), file by file.
    #[must_use]
    pub fn images_by_file(&self) -> Vec<(FileId, Range<usize>)> {
        let mut files: Vec<(FileId, Range<usize>)> = Vec::new();
        for (image, at) in self.images.iter().enumerate() {
            match files.last_mut() {
                Some((file, range)) if *file == at.file => range.end = image + 1,
                _ => files.push((at.file, image..image + 1)),
            }
        }
        files
    }

    /// Where image declaration `image` is.
    #[must_use]
    pub fn image(&self, image: usize) -> DeclRef {
        self.images[image]
    }

    /// Calls `each` with every instance of image declaration `image` (`decl`), one at a time;
    /// reports the problems of its profiles and matrix, and adds the profiles it uses to `used`.
    pub fn expand(
        &self,
        image: usize,
        decl: &Decl,
        used: &mut BTreeSet<usize>,
        diags: &mut Diagnostics,
        mut each: impl FnMut(Instance, &mut Diagnostics),
    ) {
        let errors = diags.error_count();
        let mut part = self.merged(decl, used, diags);
        let Some(matrix) = part.matrix.take() else {
            let origin = InstanceOrigin { image, combination: 0 };
            each(Instance { name: decl.name.clone(), part, combination: Vec::new(), origin }, diags);
            return;
        };
        check_excludes(&matrix, diags);
        if matrix.axes.is_empty() {
            diags.push(
                Diag::error(Code::MatrixEmpty, matrix.node, "this matrix has no axes", "empty matrix")
                    .with_help("add an axis with its values, like `python \"3.10\" \"3.11\"`, or remove the matrix"),
            );
            return;
        }
        let mut made = false;
        for combination in 0..combinations(&matrix) {
            let origin = InstanceOrigin { image, combination };
            if let Some(instance) = instance_of(&decl.name, &part, &matrix, origin, diags) {
                made = true;
                each(instance, diags);
            }
        }
        if !made && diags.error_count() == errors {
            diags.push(
                Diag::error(
                    Code::MatrixEmpty,
                    matrix.node,
                    "every combination of this matrix is excluded",
                    "empty matrix",
                )
                .with_help("remove an `exclude`, or the matrix"),
            );
        }
    }

    /// The instance at `origin` of its image declaration `decl` again, as [`Self::expand`] made
    /// it (without its diagnostics).
    #[must_use]
    pub fn instance(&self, origin: InstanceOrigin, decl: &Decl) -> Option<Instance> {
        let mut quiet = Diagnostics::default();
        let mut part = self.merged(decl, &mut BTreeSet::new(), &mut quiet);
        let Some(matrix) = part.matrix.take() else {
            return Some(Instance { name: decl.name.clone(), part, combination: Vec::new(), origin });
        };
        instance_of(&decl.name, &part, &matrix, origin, &mut quiet)
    }

    /// Warns of the profiles that no image uses (`used`: what [`Self::expand`] collected): the
    /// first [`UNUSED_SHOWN`] by name one by one, the others in one more warning.
    pub fn report_unused(&self, used: &BTreeSet<usize>, diags: &mut Diagnostics) {
        let mut unused = self.profiles.iter().filter(|(_, index)| !used.contains(index));
        for (name, &index) in unused.by_ref().take(UNUSED_SHOWN) {
            diags.push(
                Diag::warning(
                    Code::UnusedProfile,
                    self.profile_decls[index].name.span,
                    format!("profile `{name}` is used by no image"),
                    "unused profile",
                )
                .with_help(format!(
                    "add `use \"{name}\"` to an image, or delete the profile (its values are only checked through images)"
                )),
            );
        }
        if let Some((_, &first)) = unused.next() {
            let more = 1 + unused.count();
            diags.push(
                Diag::warning(
                    Code::UnusedProfile,
                    self.profile_decls[first].name.span,
                    format!("{more} more profiles, this one and those after it by name, are used by no image"),
                    "unused, as the others",
                )
                .with_help(format!(
                    "delete the profiles no image uses, or `use` them in images (the first {UNUSED_SHOWN} are warned of one by one)"
                )),
            );
        }
    }

    /// The image's settings: its profiles (each with its own first), then its own body.
    fn merged(&self, decl: &Decl, used: &mut BTreeSet<usize>, diags: &mut Diagnostics) -> Part {
        let mut merged = Part::default();
        self.apply_uses(&decl.body, &mut merged, &mut Vec::new(), used, diags);
        if let Some(conflict) = merged.merge(&decl.body) {
            framework_conflict(conflict, diags);
        }
        merged
    }

    /// Merges the profiles `part` uses (each with its own profiles first) into `merged`.
    fn apply_uses(
        &self,
        part: &Part,
        merged: &mut Part,
        stack: &mut Vec<usize>,
        used: &mut BTreeSet<usize>,
        diags: &mut Diagnostics,
    ) {
        for name in part.uses.iter().flat_map(|u| &u.profiles) {
            let Some(&index) = self.profiles.get(name.value.as_str()) else {
                let names: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
                let help = if names.is_empty() {
                    "define it with `profile \"NAME\" { … }` in any spec file".to_owned()
                } else {
                    did_you_mean(&name.value, &names, "the profiles are")
                };
                diags.push(
                    Diag::error(
                        Code::UnknownProfile,
                        name.span,
                        format!("unknown profile `{}`", name.value),
                        "unknown profile",
                    )
                    .with_help(help),
                );
                continue;
            };
            let profile = &self.profile_decls[index];
            if stack.contains(&index) {
                diags.push(
                    Diag::error(
                        Code::ProfileCycle,
                        name.span,
                        format!("profile `{}` uses itself through `use`", name.value),
                        "cycle closes here",
                    )
                    .with_label(profile.name.span, "profile defined here")
                    .with_help("remove one `use` of the cycle"),
                );
                continue;
            }
            used.insert(index);
            stack.push(index);
            self.apply_uses(&profile.body, merged, stack, used, diags);
            if let Some(conflict) = merged.merge(&profile.body) {
                framework_conflict(conflict, diags);
            }
            stack.pop();
        }
    }
}

fn duplicate(kind: DeclKind, again: &Spanned<String>, first: Span, diags: &mut Diagnostics) {
    let keyword = kind.keyword();
    diags.push(
        Diag::error(
            Code::DuplicateName,
            again.span,
            format!("{keyword} `{}` is defined twice", again.value),
            "defined again here",
        )
        .with_label(first, "first defined here")
        .with_help(format!("rename one of them; {keyword} names are unique across all spec files")),
    );
}

/// The image declarations of one spec file, decoded again when an image of it is needed, kept
/// while the next image needed is of the same file (images are checked and rendered in order, so
/// most are).
#[derive(Debug, Default)]
pub struct FileDecls {
    file: Option<FileId>,
    decls: Vec<Decl>,
}

/// Held while a file is decoded again for [`FileDecls`]: the threads that render share the files
/// at the edges of their parts, and a parser's document of a large spec is large.
static DECODING: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl FileDecls {
    fn get(&mut self, sources: &SourceMap, file: FileId, language: &Language) -> &[Decl] {
        if self.file != Some(file) {
            self.decls = Vec::new();
            let _one_at_a_time = DECODING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            self.decls = decode_images(sources, file, language);
            self.file = Some(file);
        }
        &self.decls
    }
}

/// The image declarations of `file` (their diagnostics were reported when it was first decoded).
fn decode_images(sources: &SourceMap, file: FileId, language: &Language) -> Vec<Decl> {
    let mut quiet = Diagnostics::default();
    let doc = crate::syntax::parse(file, sources.get(file), &mut quiet);
    let decls = doc.map(|doc| crate::lang::decode(file, &doc, language, &mut quiet).decls).unwrap_or_default();
    decls.into_iter().filter(|decl| decl.kind == DeclKind::Image).collect()
}

fn framework_conflict(conflict: FrameworkConflict, diags: &mut Diagnostics) {
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

/// Reports the `exclude`s that name an axis or a value the matrix does not have.
fn check_excludes(matrix: &Matrix, diags: &mut Diagnostics) {
    for (axis, values) in matrix.excludes.iter().flatten() {
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
}

/// The size of the full product of the matrix's axes.
fn combinations(matrix: &Matrix) -> u64 {
    matrix.axes.iter().fold(1u64, |product, (_, values)| product.saturating_mul(values.len() as u64))
}

/// The instance of combination `origin.combination` of `matrix`: `None` when it is excluded or an
/// axis does not fit the image (reported).
fn instance_of(
    name: &Spanned<String>,
    part: &Part,
    matrix: &Matrix,
    origin: InstanceOrigin,
    diags: &mut Diagnostics,
) -> Option<Instance> {
    let mut rest = origin.combination;
    let mut combination = Vec::with_capacity(matrix.axes.len());
    for (axis, values) in matrix.axes.iter().rev() {
        let count = values.len() as u64;
        let value = values.get(usize::try_from(rest % count.max(1)).ok()?)?;
        rest /= count.max(1);
        combination.push((axis.value, value.clone()));
    }
    combination.reverse();
    let excluded = matrix.excludes.iter().any(|exclude| {
        exclude.iter().all(|(axis, value)| combination.iter().any(|(a, v)| *a == axis.value && v.value == value.value))
    });
    if excluded {
        return None;
    }
    let mut instance = part.clone();
    let mut fits = true;
    for (axis, value) in &combination {
        fits &= apply_axis(&mut instance, *axis, value, diags);
    }
    fits.then(|| Instance { name: name.clone(), part: instance, combination, origin })
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
        Axis::Framework(keyword) => {
            let version = Some(Spanned::new(Scalar::Str(value.value.clone()), value.span));
            match &mut part.framework {
                Some(framework) if framework.keyword == keyword => framework.arg = version,
                Some(framework) => {
                    let title =
                        crate::framework::by_keyword(framework.keyword).map_or(framework.keyword, |f| f.title());
                    return misfit(diags, &format!("the image uses {title}"));
                }
                None => {
                    part.framework =
                        Some(Box::new(RegisteredPart { keyword, node: value.span, arg: version, props: Vec::new() }));
                }
            }
        }
        Axis::Python => match &mut part.python {
            Some(p) => p.version = v,
            None => {
                part.python = Some(Box::new(PythonPart {
                    node: value.span,
                    version: v,
                    distribution: None,
                    miniconda: None,
                    sha256: None,
                    accept_tos: None,
                }));
            }
        },
        Axis::Cuda | Axis::Cudnn | Axis::Os => {
            if axis == Axis::Os
                && let Some(BasePart::Cpu(cpu)) = part.base.as_deref_mut()
            {
                cpu.os = v;
                return true;
            }
            let cuda = match part.base.as_deref_mut() {
                Some(BasePart::Cuda(c)) => c,
                None if axis == Axis::Cuda => {
                    part.base = Some(Box::new(BasePart::Cuda(CudaPart {
                        node: value.span,
                        version: None,
                        cudnn: None,
                        flavor: None,
                        os: None,
                    })));
                    let Some(BasePart::Cuda(c)) = part.base.as_deref_mut() else { unreachable!("just set") };
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
