//! Python: its version, and the installer that brings it: Miniconda's (checksum, Terms of
//! Service) here, Miniforge's in [`super::miniforge`].

use super::Checker;
use crate::compat::{self, compare};
use crate::diag::{Code, Diag};
use crate::lang::{Distribution, PythonPart, Spanned};
use crate::model::{Python, Reinstall};
use crate::values;

/// Where either distribution is installed: the seed guides' path, so that the image's paths do
/// not depend on the distribution.
const PREFIX: &str = "/root/miniconda3";
const MINICONDA_URL: &str = "https://repo.anaconda.com/miniconda";
const MINIFORGE_URL: &str = "https://github.com/conda-forge/miniforge/releases/download";
/// Anaconda's channels under a conda mirror (`mirrors conda=`), for Miniconda's users.
const MINICONDA_MIRROR_CHANNELS: [&str; 3] = ["pkgs/main", "pkgs/free", "cloud/pytorch"];
/// conda-forge by the name conda resolves, and its path under a conda mirror.
const CONDA_FORGE: &str = "conda-forge";
const CONDA_FORGE_MIRROR_CHANNEL: &str = "cloud/conda-forge";

/// The installer a distribution's check chose.
pub(super) struct Installer {
    /// File name.
    pub file: String,
    /// sha256: the spec's, else the tables'.
    pub sha256: Option<String>,
    /// Its conda needs Anaconda's terms accepted.
    pub tos: bool,
    /// Where it is under the download base: the file name (Miniconda), `TAG/FILE` (Miniforge).
    pub path: String,
    /// The Python of its base environment.
    pub python: InstallerPython,
}

/// The Python an installer brings, against the image's.
pub(super) enum InstallerPython {
    /// The image's.
    Image,
    /// Another one, which the build replaces.
    Other(String),
    /// One the tables do not know, which the build replaces (a no-op when it is the image's).
    Unknown,
}

impl Checker<'_> {
    /// The `python` node's version, well formed.
    pub(super) fn python_version(&mut self) -> Option<Spanned<String>> {
        let Some(python) = self.part().python.clone() else {
            let span = self.name_span();
            self.push(
                Diag::error(
                    Code::Missing,
                    span,
                    format!("image `{}` has no `python`", self.instance.name.value),
                    "no python",
                )
                .with_help("add `python \"3.10\"` (Miniconda with that Python is installed at /root/miniconda3)"),
            );
            return None;
        };
        let Some(version) = python.version.clone() else {
            self.push(
                Diag::error(Code::Missing, python.node, "`python` needs a version", "version missing")
                    .with_help("write `python \"3.10\"`"),
            );
            return None;
        };
        self.valid(&version, Code::Python, "Python version", values::python_version)?;
        Some(version)
    }

    /// The installer for `version`: the spec's, checked, or the tables' choice, for the chosen
    /// distribution.
    pub(super) fn python(&mut self, version: &Spanned<String>) -> Option<Python> {
        let part = self.part().python.clone()?;
        let distribution = part.distribution.as_ref().map_or(Distribution::Miniconda, |d| d.value);
        let installer = match distribution {
            Distribution::Miniconda => self.miniconda(version, &part)?,
            Distribution::Miniforge => self.miniforge(version, &part)?,
        };
        if let Some(sha) = &part.sha256 {
            self.valid(sha, Code::Unsafe, "sha256", values::sha256)?;
        }
        let accept_tos = part.accept_tos.as_ref().is_some_and(|a| a.value);
        if installer.tos && !accept_tos {
            let span = part.miniconda.as_ref().map_or(version.span, |m| m.span);
            self.push(
                Diag::error(
                    Code::MinicondaTos,
                    span,
                    format!("the build would stop at Anaconda's Terms of Service: `{}` refuses non-interactive use of the default channels until they are accepted", installer.file),
                    "needs the terms accepted",
                )
                .with_help(tos_help(&self.compat.installers(&version.value), &version.value)),
            );
            return None;
        }
        let mirrors = self.part().mirrors.as_ref();
        let mirror = mirrors.and_then(|m| m.miniconda.clone());
        let conda_mirror = mirrors.and_then(|m| m.conda.as_ref()).map(|c| c.value.trim_end_matches('/').to_owned());
        if let Some(mirror) = &mirror
            && installer.sha256.is_none()
            && mirror.value.starts_with("http://")
        {
            let installer_span = part.miniconda.as_ref().map_or(version.span, |m| m.span);
            self.push(
                Diag::error(
                    Code::PlainHttp,
                    mirror.span,
                    format!("`{}` would be downloaded over plain http and run as root unverified", installer.file),
                    "plain http",
                )
                .with_label(installer_span, "no sha256 known for this installer")
                .with_help(format!(
                    "give its sha256 with `python sha256=\"…\"` (the Dockerfile checks the download against it), or use an `https://` mirror: `{}`",
                    mirror.value.replacen("http://", "https://", 1)
                )),
            );
            return None;
        }
        let (title, official_url, mirror_channels): (_, _, &[&str]) = match distribution {
            Distribution::Miniconda => ("Miniconda", MINICONDA_URL, &MINICONDA_MIRROR_CHANNELS),
            Distribution::Miniforge => ("Miniforge", MINIFORGE_URL, &[CONDA_FORGE_MIRROR_CHANNEL]),
        };
        let base_url = mirror.map_or_else(|| official_url.to_owned(), |m| m.value.trim_end_matches('/').to_owned());
        let channels = conda_mirror
            .as_ref()
            .map_or_else(Vec::new, |m| mirror_channels.iter().map(|channel| format!("{m}/{channel}")).collect());
        let reinstall_channel =
            conda_mirror.map_or_else(|| CONDA_FORGE.to_owned(), |m| format!("{m}/{CONDA_FORGE_MIRROR_CHANNEL}"));
        let reinstall = match installer.python {
            InstallerPython::Image => None,
            InstallerPython::Other(python) => {
                Some(Reinstall { installer_python: Some(python), channel: reinstall_channel })
            }
            InstallerPython::Unknown => Some(Reinstall { installer_python: None, channel: reinstall_channel }),
        };
        let minor: u32 = version.value.split('.').nth(1).and_then(|m| m.parse().ok()).unwrap_or(0);
        Some(Python {
            version: version.value.clone(),
            distribution: title,
            installer_url: format!("{base_url}/{}", installer.path),
            installer: installer.file,
            installer_sha256: installer.sha256,
            accept_tos: accept_tos && installer.tos,
            reinstall,
            channels,
            prefix: PREFIX.to_owned(),
            numpy_below_2: minor <= 12,
        })
    }

    /// The Miniconda installer: the one `miniconda=` names, for this Python and x86_64, or the
    /// tables' default.
    fn miniconda(&mut self, version: &Spanned<String>, part: &PythonPart) -> Option<Installer> {
        let installers = self.compat.installers(&version.value);
        let (file, sha256, tos) = match &part.miniconda {
            Some(file) => {
                let tag = format!("py{}_", version.value.replace('.', ""));
                let for_python = file.value.strip_prefix("Miniconda3-").and_then(|rest| rest.split('_').next());
                if file.value.starts_with("Miniforge") {
                    self.push(
                        Diag::error(
                            Code::Miniconda,
                            file.span,
                            format!("`{}` is a Miniforge installer, and this image uses Miniconda", file.value),
                            "a Miniforge installer",
                        )
                        .with_help(format!(
                            "add `distribution=\"miniforge\"` to `python`, or {}",
                            installer_help(&installers, &version.value)
                        )),
                    );
                    return None;
                }
                let well_formed = file.value.starts_with("Miniconda3-")
                    && file.value.ends_with(".sh")
                    && file.value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
                if !well_formed {
                    self.push(
                        Diag::error(
                            Code::Miniconda,
                            file.span,
                            format!("`{}` is not a Miniconda installer file name", file.value),
                            "not an installer",
                        )
                        .with_help(installer_help(&installers, &version.value)),
                    );
                    return None;
                }
                if !file.value.ends_with("-Linux-x86_64.sh") {
                    self.push(
                        Diag::error(
                            Code::Miniconda,
                            file.span,
                            format!("`{}` is not an x86_64 Linux installer", file.value),
                            "another platform",
                        )
                        .with_help(format!(
                            "the images are built for linux/amd64 (the platform of the nvidia/cuda bases); {}",
                            installer_help(&installers, &version.value)
                        )),
                    );
                    return None;
                }
                if !file.value.contains(&tag) {
                    let other = for_python.and_then(|p| p.strip_prefix("py")).map(|digits| {
                        let (major, minor) = digits.split_at(1.min(digits.len()));
                        format!("Python {major}.{minor}")
                    });
                    self.push(
                        Diag::error(
                            Code::Miniconda,
                            file.span,
                            format!(
                                "installer `{}` brings {}, not Python {}",
                                file.value,
                                other.unwrap_or_else(|| "another Python".to_owned()),
                                version.value
                            ),
                            "installer for another Python",
                        )
                        .with_label(version.span, "Python chosen here")
                        .with_help(installer_help(&installers, &version.value)),
                    );
                    return None;
                }
                let known = self.compat.installer(&file.value);
                let sha = part
                    .sha256
                    .as_ref()
                    .map(|s| s.value.to_lowercase())
                    .or_else(|| known.and_then(|k| k.sha256.clone()));
                let tos = known.is_some_and(|k| k.tos) || conda_needs_tos(&file.value);
                (file.value.clone(), sha, tos)
            }
            None => {
                let chosen = default_installer(&installers);
                let Some(chosen) = chosen else {
                    self.push(
                        Diag::error(
                            Code::Miniconda,
                            version.span,
                            format!("the tables know no Miniconda installer for Python {}", version.value),
                            "no installer known",
                        )
                        .with_help("name one with `miniconda=\"Miniconda3-pyXY_….sh\"`, or pick another Python (`dlspec compat miniconda`)"),
                    );
                    return None;
                };
                let sha = part.sha256.as_ref().map(|s| s.value.to_lowercase()).or_else(|| chosen.sha256.clone());
                (chosen.installer.clone(), sha, chosen.tos)
            }
        };
        Some(Installer { path: file.clone(), file, sha256, tos, python: InstallerPython::Image })
    }
}

/// The installer a spec gets without `miniconda=`: one that needs no terms accepted and whose
/// sha256 the tables know, else one that needs no terms, else the newest.
fn default_installer<'a>(installers: &[&'a compat::MinicondaInstaller]) -> Option<&'a compat::MinicondaInstaller> {
    let newest = |wanted: &dyn Fn(&compat::MinicondaInstaller) -> bool| installers.iter().copied().find(|i| wanted(i));
    newest(&|i| !i.tos && i.sha256.is_some()).or_else(|| newest(&|i| !i.tos)).or_else(|| installers.first().copied())
}

/// How to name an installer the tables know for `python`.
fn installer_help(installers: &[&compat::MinicondaInstaller], python: &str) -> String {
    match default_installer(installers) {
        Some(i) => format!("write `miniconda=\"{}\"`, or leave `miniconda` out to get it from the tables", i.installer),
        None => format!("the tables know no installer for Python {python}: `dlspec compat miniconda` lists them"),
    }
}

/// How to get past the Terms of Service: accept them, or pick an installer from before them.
fn tos_help(installers: &[&compat::MinicondaInstaller], python: &str) -> String {
    let accept = "read https://www.anaconda.com/legal/terms/terms-of-service and add `accept-tos=#true` to `python`";
    match installers.iter().find(|i| !i.tos) {
        Some(older) => {
            format!("{accept}, or name an installer from before the terms: `miniconda=\"{}\"`", older.installer)
        }
        None => format!("{accept}; every installer the tables know for Python {python} needs the terms"),
    }
}

/// Whether an installer's conda (from its file name) ships the terms-of-service plugin (25.1.1+).
fn conda_needs_tos(file: &str) -> bool {
    let version = file.split('_').nth(1).and_then(|rest| rest.split("-Linux").next()).unwrap_or("");
    compare(version, "25.1.1").is_ge() && compat::Version::parse(version).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms() {
        assert!(conda_needs_tos("Miniconda3-py311_25.9.1-1-Linux-x86_64.sh"));
        assert!(!conda_needs_tos("Miniconda3-py38_23.11.0-2-Linux-x86_64.sh"));
    }
}
