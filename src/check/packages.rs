//! What is installed besides Python and the framework: Debian packages, extra pip requirements,
//! and the package mirrors the image and its build use.

use std::collections::HashSet;

use super::Checker;
use crate::diag::{Code, Diag};
use crate::framework::{BaseInfo, is_variant};
use crate::lang::{PipPart, Spanned};
use crate::model::{BaseKind, Mirrors};
use crate::service::{self, SERVICES};
use crate::values;

/// The platform's Debian packages (the seed guides' set, plus what the platform layer runs on).
const PLATFORM_APT: &[&str] = &["locales", "tzdata", "curl", "vim", "tmux", "wget", "ca-certificates", "supervisor"];

/// The C and C++ compilers and make, for packages that build against the framework: their
/// extensions compile with the host compiler (nvcc, on CUDA bases, calls it too).
const COMPILER_APT: &str = "build-essential";

impl Checker<'_> {
    /// The running services' Debian packages and the platform's (with a C/C++ toolchain when
    /// packages build against the framework), then the spec's extras, without duplicates.
    pub(super) fn apt(&mut self) -> Option<Vec<String>> {
        let part = self.part();
        let services = SERVICES.iter().filter(|&&s| service::is_on(s, service::node_of(s, part))).flat_map(|s| s.apt());
        let compiler = part.pip.iter().any(builds_against_framework).then_some(&COMPILER_APT);
        let mut packages: Vec<String> = services.chain(PLATFORM_APT).chain(compiler).map(|s| (*s).to_owned()).collect();
        let errors = self.errors();
        let mut seen: HashSet<String> = packages.iter().cloned().collect();
        for package in self.part().apt.clone().into_iter().flat_map(|a| a.packages) {
            if self.valid(&package, Code::Unsafe, "Debian package", values::apt_package).is_some()
                && seen.insert(package.value.clone())
            {
                packages.push(package.value);
            }
        }
        self.ok_since(errors).then_some(packages)
    }

    /// The spec's valid pip requirements, without duplicates (an invalid one is reported and left
    /// out): those installed after the framework, and those that build against it (`pip …
    /// no-build-isolation=#true`), installed last. A requirement written both ways builds against it.
    pub(super) fn extra_pip(&mut self) -> (Vec<String>, Vec<String>) {
        let pip = self.part().pip.clone();
        let (built, plain): (Vec<_>, Vec<_>) = pip.into_iter().partition(builds_against_framework);
        let mut seen = HashSet::new();
        let mut lists = [Vec::new(), Vec::new()];
        for (list, nodes) in lists.iter_mut().zip([built, plain]) {
            for requirement in nodes.into_iter().flat_map(|p| p.requirements) {
                if self.valid(&requirement, Code::Unsafe, "pip requirement", values::pip_requirement).is_some()
                    && seen.insert(requirement.value.clone())
                {
                    list.push(requirement.value);
                }
            }
        }
        let [built, plain] = lists;
        (plain, built)
    }

    /// `mirrors`: every URL is checked, even after an invalid one. `cuda-apt` applies to the
    /// bases that may list NVIDIA's repository: not to Ubuntu's own (`cpu`).
    pub(super) fn mirrors(&mut self, base: Option<&BaseInfo>) -> Option<Mirrors> {
        let Some(m) = self.part().mirrors.clone() else {
            return Some(Mirrors::default());
        };
        let errors = self.errors();
        let pip = self.mirror_url(m.pip.as_ref(), "pip");
        let conda = self.mirror_url(m.conda.as_ref(), "conda").map(|c| c.trim_end_matches('/').to_owned());
        let build_pip = self.mirror_url(m.build_pip.as_ref(), "build-pip");
        let apt = self.mirror_url(m.apt.as_ref(), "apt").map(|a| a.trim_end_matches('/').to_owned());
        self.mirror_url(m.miniconda.as_ref(), "miniconda");
        let pytorch = self.mirror_url(m.pytorch.as_ref(), "pytorch").map(|p| p.trim_end_matches('/').to_owned());
        let paddle = self.mirror_url(m.paddle.as_ref(), "paddle").map(|p| p.trim_end_matches('/').to_owned());
        let cuda_apt = self
            .mirror_url(m.cuda_apt.as_ref(), "cuda-apt")
            .filter(|_| base.is_none_or(|b| b.base.kind != BaseKind::Cpu))
            .map(|c| c.trim_end_matches('/').to_owned());
        if !self.ok_since(errors) {
            return None;
        }
        let pip_trusted_host = pip.as_deref().and_then(values::plain_http_host);
        let build_pip_trusted_host = build_pip.as_deref().and_then(values::plain_http_host);
        Some(Mirrors {
            pip,
            pip_trusted_host,
            conda,
            build_pip,
            build_pip_trusted_host,
            apt,
            pytorch,
            paddle,
            cuda_apt,
        })
    }

    /// The URL of `mirrors PROPERTY=`: a valid URL once its placeholders are filled in, with the
    /// placeholder the property needs and no other.
    fn mirror_url(&mut self, value: Option<&Spanned<String>>, property: &str) -> Option<String> {
        let value = value?;
        let placeholder = PLACEHOLDERS.iter().find(|p| p.property == property);
        let mut filled = String::new();
        let mut rest = value.value.as_str();
        let mut found = false;
        // An unclosed `{` is left to the URL check, which refuses the character.
        while let Some((open, close)) = rest.find('{').and_then(|open| Some((open, open + rest[open..].find('}')?))) {
            let name = &rest[open + 1..close];
            let Some(p) = placeholder.filter(|p| p.name == name) else {
                let help = match placeholder {
                    Some(p) => {
                        format!("`mirrors {property}=` takes `{{{}}}`, the image's {} ({})", p.name, p.what, p.examples)
                    }
                    None => format!("`mirrors {property}=` takes no placeholder: write the mirror's URL as it is"),
                };
                self.push(
                    Diag::error(
                        Code::Mirror,
                        value.span,
                        format!("`{{{name}}}` in `{}` is not a placeholder of `mirrors {property}=`", value.value),
                        "unknown placeholder",
                    )
                    .with_help(help),
                );
                return None;
            };
            filled.push_str(&rest[..open]);
            filled.push_str(p.sample);
            found = true;
            rest = &rest[close + 1..];
        }
        filled.push_str(rest);
        self.valid(value, Code::Unsafe, "URL", |_| values::url(&filled))?;
        if let Some(p) = placeholder
            && !found
        {
            let trimmed = value.value.trim_end_matches('/');
            let fixed = match trimmed.rsplit_once('/') {
                Some((parent, last)) if is_variant(last) => format!("{parent}/{{{}}}", p.name),
                _ => format!("{trimmed}/{{{}}}", p.name),
            };
            self.push(
                Diag::error(
                    Code::Mirror,
                    value.span,
                    format!(
                        "`mirrors {property}=` needs `{{{}}}`: `{}` would be one index for every image, whatever its {}",
                        p.name, value.value, p.what
                    ),
                    format!("no `{{{}}}`", p.name),
                )
                .with_help(format!(
                    "write `{property}=\"{fixed}\"`: `{{{}}}` becomes the image's {} ({})",
                    p.name, p.what, p.examples
                )),
            );
            return None;
        }
        Some(value.value.clone())
    }
}

/// Whether a `pip` node's packages build against the installed framework (`no-build-isolation=#true`).
pub(super) fn builds_against_framework(pip: &PipPart) -> bool {
    pip.no_build_isolation.as_ref().is_some_and(|flag| flag.value)
}

/// A framework requirement as a pip constraint, which may not name extras (pip refuses them):
/// `jax[cuda12]==0.6.2` → `jax==0.6.2`.
pub(super) fn without_extras(requirement: &str) -> String {
    match (requirement.find('['), requirement.find(']')) {
        (Some(open), Some(close)) if open < close => format!("{}{}", &requirement[..open], &requirement[close + 1..]),
        _ => requirement.to_owned(),
    }
}

/// A placeholder of a mirror URL: the property that takes it, what it stands for, and a value
/// the URL is checked with.
struct Placeholder {
    property: &'static str,
    name: &'static str,
    what: &'static str,
    examples: &'static str,
    sample: &'static str,
}

/// The mirrors whose URL depends on the image: PyTorch's and PaddlePaddle's indexes, one a build.
const PLACEHOLDERS: &[Placeholder] = &[
    Placeholder {
        property: "pytorch",
        name: "variant",
        what: "wheel variant",
        examples: "`cu124`, `cpu`, …",
        sample: "cu124",
    },
    Placeholder {
        property: "paddle",
        name: "build",
        what: "PaddlePaddle build",
        examples: "`cu126`, `cpu`, …",
        sample: "cu126",
    },
];
