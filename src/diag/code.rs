//! The diagnostic codes: every code the compiler can report, declared once. Each variant carries
//! its stable string (`dlspec::compat::torchvision`, what users see and `--format json` prints) and
//! a one-line summary (its doc comment). `docs/diagnostics.md` explains each code, in the order of
//! [`Code::ALL`] (`tests/diagnostics_doc.rs` keeps them in step).

use std::fmt;
use std::str::FromStr;

/// The prefix every code's string starts with; `dlspec explain` accepts codes without it.
pub const PREFIX: &str = "dlspec::";

/// Declares [`Code`] from `/// summary` + `Variant = "string",` lines.
macro_rules! codes {
    ($(#[doc = $summary:literal] $variant:ident = $code:literal,)*) => {
        /// A stable diagnostic code. Serialized and displayed as its string.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $(#[doc = $summary] $variant,)*
        }

        impl Code {
            /// Every code, in the order of `docs/diagnostics.md`: grouped by the part after
            /// `dlspec::`, in the order the compiler's stages report them.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code's string: `dlspec::compat::torchvision`.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            /// What the code reports, in a few words: "torchvision that does not match torch".
            #[must_use]
            pub const fn summary(self) -> &'static str {
                match self {
                    $(Code::$variant => $summary.trim_ascii(),)*
                }
            }
        }
    };
}

codes! {
    /// the file is not valid KDL
    Syntax = "dlspec::syntax",

    /// a node the language does not have at that place
    UnknownNode = "dlspec::schema::unknown-node",
    /// a property the node does not take
    UnknownProperty = "dlspec::schema::unknown-property",
    /// a value of the wrong type
    Type = "dlspec::schema::type",
    /// too few or too many arguments
    Arity = "dlspec::schema::arity",
    /// a node, property or value given twice
    Duplicate = "dlspec::schema::duplicate",
    /// a children block on a node that takes none
    Children = "dlspec::schema::children",
    /// two frameworks in one image, such as `pytorch` and `tensorflow`
    TwoFrameworks = "dlspec::schema::two-frameworks",
    /// more than one of `cuda`, `cpu`, `base`
    TwoBases = "dlspec::schema::two-bases",
    /// a required node or version is missing
    Missing = "dlspec::schema::missing",

    /// two images or two profiles with one name
    DuplicateName = "dlspec::resolve::duplicate-name",
    /// `use` of a profile that does not exist
    UnknownProfile = "dlspec::resolve::unknown-profile",
    /// profiles that use each other
    ProfileCycle = "dlspec::resolve::profile-cycle",
    /// a profile no image uses
    UnusedProfile = "dlspec::resolve::unused-profile",

    /// a matrix axis that cannot apply to the image
    MatrixAxis = "dlspec::matrix::axis",
    /// an `exclude` that names no axis or value of the matrix
    MatrixExclude = "dlspec::matrix::exclude",
    /// a matrix that yields no image
    MatrixEmpty = "dlspec::matrix::empty",

    /// an image name that is not a Docker repository name
    ImageName = "dlspec::name::image",
    /// a bad tag template, or a tag Docker refuses
    Tag = "dlspec::name::tag",

    /// a framework release that does not exist
    Release = "dlspec::compat::release",
    /// torchvision that does not match torch
    Torchvision = "dlspec::compat::torchvision",
    /// torchaudio that does not match torch
    Torchaudio = "dlspec::compat::torchaudio",
    /// a wheel variant or CUDA build the framework does not publish
    WheelVariant = "dlspec::compat::wheel-variant",
    /// an index URL of one wheel variant, written for an image of another
    IndexVariant = "dlspec::compat::index-variant",
    /// a framework build that only a host the named mirror does not copy serves
    Unmirrored = "dlspec::compat::unmirrored",
    /// a TensorFlow package that cannot install the version or Python
    TensorflowPackage = "dlspec::compat::tensorflow-package",
    /// a Python outside the framework's range
    Python = "dlspec::compat::python",
    /// a Miniconda installer for another Python, or a Miniforge installer on Miniconda
    Miniconda = "dlspec::compat::miniconda",
    /// a build that would stop at Anaconda's Terms of Service
    MinicondaTos = "dlspec::compat::miniconda-tos",
    /// a Miniforge installer that cannot bring the image's Python, or a Miniconda installer on Miniforge
    Miniforge = "dlspec::compat::miniforge",
    /// `accept-tos` on Miniforge, which has no terms to accept
    MiniforgeTos = "dlspec::compat::miniforge-tos",
    /// an nvidia/cuda tag that cannot exist, or one the tag table does not know
    CudaTag = "dlspec::compat::cuda-tag",
    /// a framework built for another CUDA than the base
    CudaMismatch = "dlspec::compat::cuda-mismatch",
    /// a base CUDA older than the framework's build
    Untested = "dlspec::compat::untested",
    /// TensorFlow would refuse the base's cuDNN: an older minor than its build
    CudnnTooOld = "dlspec::compat::cudnn-too-old",
    /// TensorFlow installed as `tensorflow[and-cuda]`, because the base's cuDNN does not fit
    PipCuda = "dlspec::compat::pip-cuda",
    /// cuDNN both in the base and in the framework's wheels
    DuplicateLibraries = "dlspec::compat::duplicate-libraries",
    /// packages that build against the framework on a base without a CUDA compiler
    NoCompiler = "dlspec::compat::no-compiler",
    /// a framework wheel that needs a newer glibc than the OS has
    Glibc = "dlspec::compat::glibc",
    /// a base tag its registry no longer serves
    RemovedBase = "dlspec::compat::removed-base",
    /// an end-of-life or unsupported base
    DeprecatedBase = "dlspec::compat::deprecated-base",
    /// an unknown OS release
    Os = "dlspec::compat::os",

    /// an unknown time zone
    Timezone = "dlspec::value::timezone",
    /// a malformed locale name
    Locale = "dlspec::value::locale",
    /// a value that is not safe in the text it reaches
    Unsafe = "dlspec::value::unsafe",
    /// a mirror URL without the placeholder its property needs, or with one it does not take
    Mirror = "dlspec::value::mirror",
    /// a value outside what the option takes
    InvalidValue = "dlspec::value::invalid",
    /// a `registry` or `base-registry` that is not a registry reference
    Registry = "dlspec::value::registry",
    /// an `env` name the platform owns or the build reads, or a malformed name or value
    Env = "dlspec::value::env",
    /// a `frame-ancestors` value that is not a web origin
    Origin = "dlspec::value::origin",
    /// a mount that would hide the image's own files
    MountPoint = "dlspec::value::mount-point",

    /// two services on one port
    PortConflict = "dlspec::ports::conflict",

    /// a NodePort outside the cluster's range or used twice
    NodePort = "dlspec::kubernetes::node-port",
    /// a namespace, Secret, claim or volume name that is not DNS-1123
    KubernetesName = "dlspec::kubernetes::name",
    /// a node-selector or taint key or value that is not label syntax
    Label = "dlspec::kubernetes::label",
    /// a toleration operator or effect Kubernetes does not have
    Toleration = "dlspec::kubernetes::toleration",
    /// a volume with zero or two sources, or no mount
    Volume = "dlspec::kubernetes::volume",
    /// a `/dev/shm` that does not fit in the memory limit
    Shm = "dlspec::kubernetes::shm",

    /// a node pool without `gpu` or `driver`, with a malformed value, or declared twice
    PoolDeclaration = "dlspec::pool::declaration",
    /// a node pool the catalog does not declare
    PoolUnknown = "dlspec::pool::unknown",
    /// a pool whose driver cannot start the base or run the framework's CUDA
    PoolDriver = "dlspec::pool::driver",
    /// a pool whose GPU the framework build has no kernels for
    PoolArch = "dlspec::pool::arch",
    /// a framework that takes the GPU's memory at start, on a pool that shares its GPUs
    PoolSharing = "dlspec::pool::sharing",
    /// an image whose own node selector keeps it off a pool's nodes
    PoolPlacement = "dlspec::pool::placement",
    /// the pools an image does not run on, and why; an error when none runs it
    PoolRefused = "dlspec::pool::refused",
    /// a fact a pool check needs that the tables do not have
    PoolUnknownFact = "dlspec::pool::unknown-fact",

    /// two images that would write the same place
    DuplicateOutput = "dlspec::catalog::duplicate-output",
    /// an image directory on a catalog file or inside another image's directory
    OutputPath = "dlspec::catalog::output-path",
    /// two bake groups or targets of one name
    BakeName = "dlspec::catalog::bake-name",

    /// a literal root password in a spec
    Password = "dlspec::security::password",
    /// JupyterLab without authentication
    OpenJupyter = "dlspec::security::open-jupyter",
    /// a credential written in clear text in `env`
    Secret = "dlspec::security::secret",
    /// a system directory or socket of the host mounted into the container
    HostPath = "dlspec::security::host-path",
    /// an installer downloaded over plain http that nothing verifies
    PlainHttp = "dlspec::security::plain-http",

    /// no set of Python packages satisfies the image (`dlspec lock` only)
    Unresolvable = "dlspec::lock::unresolvable",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A text that names no code; carries the nearest code, when one is close enough to be a typo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownCode {
    /// The likely intended code.
    pub nearest: Option<Code>,
}

impl fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.nearest {
            Some(code) => write!(f, "unknown code; did you mean `{code}`?"),
            None => f.write_str("unknown code"),
        }
    }
}

impl std::error::Error for UnknownCode {}

impl FromStr for Code {
    type Err = UnknownCode;

    /// The code named by `text`, with or without the `dlspec::` prefix, surrounding blanks ignored.
    fn from_str(text: &str) -> Result<Self, UnknownCode> {
        let text = text.trim();
        let full = if text.starts_with(PREFIX) { text.to_owned() } else { format!("{PREFIX}{text}") };
        if let Some(code) = Self::ALL.iter().find(|c| c.as_str() == full) {
            return Ok(*code);
        }
        let nearest = super::suggest(&full, Self::ALL.iter().map(|c| c.as_str()))
            .and_then(|best| Self::ALL.iter().copied().find(|c| c.as_str() == best));
        Err(UnknownCode { nearest })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_unique_prefixed_and_parse_back() {
        for (i, code) in Code::ALL.iter().enumerate() {
            assert!(code.as_str().starts_with(PREFIX), "{code:?}");
            assert!(!Code::ALL[..i].iter().any(|c| c.as_str() == code.as_str()), "{code} twice");
            assert_eq!(code.as_str().parse::<Code>(), Ok(*code));
            assert_eq!(code.as_str()[PREFIX.len()..].parse::<Code>(), Ok(*code));
            assert!(!code.summary().is_empty() && !code.summary().starts_with(' '), "{code:?}");
        }
    }

    #[test]
    fn serializes_and_displays_as_the_string() {
        let code = Code::CudaTag;
        assert_eq!(code.to_string(), "dlspec::compat::cuda-tag");
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"dlspec::compat::cuda-tag\"");
        assert_eq!(Code::Torchvision.summary(), "torchvision that does not match torch");
    }

    #[test]
    fn unknown_codes_suggest_the_nearest() {
        assert_eq!(" compat::torchvision ".parse::<Code>(), Ok(Code::Torchvision));
        assert_eq!("compat::torchvison".parse::<Code>(), Err(UnknownCode { nearest: Some(Code::Torchvision) }));
        assert_eq!("nothing-like-it-at-all".parse::<Code>(), Err(UnknownCode { nearest: None }));
    }
}
