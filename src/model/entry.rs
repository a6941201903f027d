//! What the catalog keeps of each image while it writes the others, and what its templates see.

use serde::Serialize;

use super::{BaseKind, Image, Shape};

/// What the catalog keeps of one image while it writes the others: its names and place, what the
/// catalog files list (the context of the catalog templates' `images`, see [`EntryView`]), and
/// which files it has. The image itself is derived again from the specs when its own files are
/// rendered, so memory holds a few images at a time, not the catalog; an entry is its texts in
/// one allocation.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The texts of [`Text`], one after another.
    text: Box<str>,
    /// Where each text of [`Text`] ends in `text`.
    ends: [u32; Text::COUNT],
    kind: BaseKind,
    gpu: bool,
    /// Which optional files it has.
    pub shape: Shape,
}

/// The texts of an [`Entry`]; lists are joined by newlines, which none of their items holds, and
/// an empty text is none.
#[derive(Clone, Copy)]
enum Text {
    Name,
    Tag,
    Reference,
    Dir,
    Spec,
    Slug,
    BaseImage,
    Cuda,
    Cudnn,
    Flavor,
    Python,
    FrameworkTitle,
    FrameworkVersion,
    ExtraPip,
    LockedLayers,
    /// The pools it runs on, a line each.
    Pools,
    /// Every pool of the catalog, a line each: `name`, `1` or `0` (runs), the note, by tabs.
    PoolVerdicts,
    /// The titles of the services it runs, a line each.
    Services,
    /// The name of its non-root user; empty for root.
    User,
}

impl Text {
    const COUNT: usize = 19;
}

/// What the catalog templates see of an image (`images` of `catalog/*.j2`): the fields of
/// [`Image`] of the same names, cut to what the catalog lists.
#[derive(Debug, Serialize)]
pub struct EntryView<'a> {
    /// As [`Image::name`].
    pub name: &'a str,
    /// As [`Image::tag`].
    pub tag: &'a str,
    /// As [`Image::reference`].
    pub reference: &'a str,
    /// As [`Image::dir`].
    pub dir: &'a str,
    /// As [`Image::spec`].
    pub spec: &'a str,
    /// As [`Image::slug`].
    pub slug: &'a str,
    /// `image`, `kind`, `gpu`, `cuda`, `cudnn` and `flavor` of [`Image::base`].
    pub base: EntryBase<'a>,
    /// `version` of [`Image::python`].
    pub python: EntryPython<'a>,
    /// `title` and `version` of [`Image::framework`], if any.
    pub framework: Option<EntryFramework<'a>>,
    /// The titles of the services it runs, in service order.
    pub services: Vec<&'a str>,
    /// The name of its non-root user (`user`), if it has one.
    pub user: Option<&'a str>,
    /// As [`Image::extra_pip`].
    pub extra_pip: Vec<&'a str>,
    /// As [`Image::pool_verdicts`]: every pool of the catalog.
    pub pools: Vec<EntryPool<'a>>,
}

/// What the catalog lists of a base.
#[derive(Debug, Serialize)]
pub struct EntryBase<'a> {
    /// As [`Base::image`].
    pub image: &'a str,
    /// As [`Base::kind`].
    pub kind: BaseKind,
    /// As [`Base::gpu`].
    pub gpu: bool,
    /// As [`Base::cuda`].
    pub cuda: Option<&'a str>,
    /// As [`Base::cudnn`].
    pub cudnn: Option<&'a str>,
    /// As [`Base::flavor`].
    pub flavor: Option<&'a str>,
}

/// Whether a catalog entry runs on one node pool.
#[derive(Debug, Serialize)]
pub struct EntryPool<'a> {
    /// The pool's name.
    pub pool: &'a str,
    /// Whether the image runs there.
    pub runs: bool,
    /// How, or why not.
    pub note: &'a str,
}

/// What the catalog lists of the Python.
#[derive(Debug, Serialize)]
pub struct EntryPython<'a> {
    /// As [`Python::version`].
    pub version: &'a str,
}

/// What the catalog lists of the framework.
#[derive(Debug, Serialize)]
pub struct EntryFramework<'a> {
    /// As [`Framework::title`].
    pub title: &'a str,
    /// As [`Framework::version`].
    pub version: &'a str,
}

impl Entry {
    /// What the catalog keeps of `image`.
    #[must_use]
    pub fn of(image: &Image) -> Self {
        let base = &image.base;
        let framework = image.framework.as_ref();
        let locked: Vec<&str> = image.lock.iter().flat_map(|l| &l.layers).map(|layer| layer.file.as_str()).collect();
        let texts: [&str; Text::COUNT] = [
            &image.name,
            &image.tag,
            &image.reference,
            image.dir.as_str(),
            &image.spec,
            &image.slug,
            &base.image,
            base.cuda.as_deref().unwrap_or_default(),
            base.cudnn.as_deref().unwrap_or_default(),
            base.flavor.as_deref().unwrap_or_default(),
            &image.python.version,
            framework.map_or("", |f| f.title),
            framework.map_or("", |f| f.version.as_str()),
            &image.extra_pip.join("\n"),
            &locked.join("\n"),
            &image.pools.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join("\n"),
            &image
                .pool_verdicts
                .iter()
                .map(|v| format!("{}\t{}\t{}", v.pool, u8::from(v.runs), v.note))
                .collect::<Vec<_>>()
                .join("\n"),
            &image.services.iter().map(|s| s.title).collect::<Vec<_>>().join("\n"),
            image.user.as_ref().map_or("", |u| u.name.as_str()),
        ];
        let mut text = String::with_capacity(texts.iter().map(|t| t.len()).sum());
        let mut ends = [0; Text::COUNT];
        for (end, part) in ends.iter_mut().zip(texts) {
            text.push_str(part);
            *end = u32::try_from(text.len()).expect("an image's texts are far below 4 GiB");
        }
        Self { text: text.into_boxed_str(), ends, kind: base.kind, gpu: base.gpu, shape: image.shape() }
    }

    fn text(&self, which: Text) -> &str {
        let index = which as usize;
        let start = if index == 0 { 0 } else { self.ends[index - 1] as usize };
        &self.text[start..self.ends[index] as usize]
    }

    fn optional(&self, which: Text) -> Option<&str> {
        Some(self.text(which)).filter(|t| !t.is_empty())
    }

    fn list(&self, which: Text) -> impl Iterator<Item = &str> {
        self.optional(which).into_iter().flat_map(|t| t.split('\n'))
    }

    /// As [`Image::name`].
    #[must_use]
    pub fn name(&self) -> &str {
        self.text(Text::Name)
    }

    /// As [`Image::tag`].
    #[must_use]
    pub fn tag(&self) -> &str {
        self.text(Text::Tag)
    }

    /// As [`Image::reference`].
    #[must_use]
    pub fn reference(&self) -> &str {
        self.text(Text::Reference)
    }

    /// As [`Image::dir`].
    #[must_use]
    pub fn dir(&self) -> &camino::Utf8Path {
        camino::Utf8Path::new(self.text(Text::Dir))
    }

    /// As [`Image::spec`].
    #[must_use]
    pub fn spec(&self) -> &str {
        self.text(Text::Spec)
    }

    /// As [`Image::slug`].
    #[must_use]
    pub fn slug(&self) -> &str {
        self.text(Text::Slug)
    }

    /// As [`Base::image`].
    #[must_use]
    pub fn base_image(&self) -> &str {
        self.text(Text::BaseImage)
    }

    /// As [`Base::gpu`].
    #[must_use]
    pub fn gpu(&self) -> bool {
        self.gpu
    }

    /// The file names of its locked pip layers, under `pip/`.
    pub fn locked_layers(&self) -> impl Iterator<Item = &str> {
        self.list(Text::LockedLayers)
    }

    /// The node pools it runs on.
    pub fn pools(&self) -> impl Iterator<Item = &str> {
        self.list(Text::Pools)
    }

    /// Whether it runs on each of the catalog's node pools, and why not.
    #[must_use]
    pub fn pool_verdicts(&self) -> Vec<EntryPool<'_>> {
        self.list(Text::PoolVerdicts)
            .filter_map(|line| {
                let mut cells = line.splitn(3, '\t');
                let (pool, runs, note) = (cells.next()?, cells.next()?, cells.next()?);
                Some(EntryPool { pool, runs: runs == "1", note })
            })
            .collect()
    }

    /// What the catalog templates see.
    #[must_use]
    pub fn view(&self) -> EntryView<'_> {
        EntryView {
            name: self.name(),
            tag: self.tag(),
            reference: self.reference(),
            dir: self.text(Text::Dir),
            spec: self.spec(),
            slug: self.slug(),
            base: EntryBase {
                image: self.base_image(),
                kind: self.kind,
                gpu: self.gpu,
                cuda: self.optional(Text::Cuda),
                cudnn: self.optional(Text::Cudnn),
                flavor: self.optional(Text::Flavor),
            },
            python: EntryPython { version: self.text(Text::Python) },
            framework: self
                .optional(Text::FrameworkTitle)
                .map(|title| EntryFramework { title, version: self.text(Text::FrameworkVersion) }),
            services: self.list(Text::Services).collect(),
            user: self.optional(Text::User),
            extra_pip: self.list(Text::ExtraPip).collect(),
            pools: self.pool_verdicts(),
        }
    }
}

impl Serialize for Entry {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.view().serialize(serializer)
    }
}
