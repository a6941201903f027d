//! Miniforge: conda-forge's installer. A release has one installer with one Python in its base
//! environment, so a Python no installer brings is installed over the nearest newer one.

use super::Checker;
use super::python::{Installer, InstallerPython};
use crate::compat::{self, MiniforgeInstaller, compare};
use crate::diag::{Code, Diag};
use crate::lang::{PythonPart, Spanned};

impl Checker<'_> {
    /// The Miniforge installer: the one `miniconda=` names, or the tables' choice for `version`.
    pub(super) fn miniforge(&mut self, version: &Spanned<String>, part: &PythonPart) -> Option<Installer> {
        if let Some(accept) = part.accept_tos.as_ref().filter(|a| a.value) {
            self.push(
                Diag::warning(
                    Code::MiniforgeTos,
                    accept.span,
                    "`accept-tos` is ignored: Miniforge uses only conda-forge, which has no terms to accept",
                    "nothing to accept",
                )
                .with_help("remove `accept-tos=#true`"),
            );
        }
        let python = version.value.as_str();
        let installers = &self.compat.miniforge;
        let (file, known) = match &part.miniconda {
            None => {
                let Some(chosen) = default_installer(installers, python) else {
                    self.push(
                        Diag::error(
                            Code::Miniforge,
                            version.span,
                            format!("Miniforge gives no Python {python}"),
                            "not from Miniforge",
                        )
                        .with_help(pythons_help(installers, python)),
                    );
                    return None;
                };
                (chosen.installer.clone(), Some(chosen))
            }
            Some(file) => {
                let problem = if file.value.starts_with("Miniconda") {
                    Some((
                        format!("`{}` is a Miniconda installer, and this image uses Miniforge", file.value),
                        "a Miniconda installer",
                    ))
                } else if compat::miniforge_tag(&file.value).is_none()
                    || !file.value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                {
                    Some((format!("`{}` is not a Miniforge installer file name", file.value), "not an installer"))
                } else if !file.value.ends_with("-Linux-x86_64.sh") {
                    Some((format!("`{}` is not an x86_64 Linux installer", file.value), "another platform"))
                } else {
                    None
                };
                if let Some((message, label)) = problem {
                    self.push(Diag::error(Code::Miniforge, file.span, message, label).with_help(format!(
                        "name a Miniforge installer, `Miniforge3-<release>-Linux-x86_64.sh` (the images are built for linux/amd64): {}",
                        installer_help(installers, python)
                    )));
                    return None;
                }
                let known = self.compat.miniforge_installer(&file.value);
                if let Some(k) = known
                    && k.python != python
                    && reinstalled_over(installers, python) != Some(k.python.as_str())
                {
                    self.push(
                        Diag::error(
                            Code::Miniforge,
                            file.span,
                            format!("installer `{}` brings Python {}, not Python {python}", file.value, k.python),
                            "installer for another Python",
                        )
                        .with_label(version.span, "Python chosen here")
                        .with_help(installer_help(installers, python)),
                    );
                    return None;
                }
                (file.value.clone(), known)
            }
        };
        let tag = compat::miniforge_tag(&file).unwrap_or_default().to_owned();
        let sha256 = part.sha256.as_ref().map(|s| s.value.to_lowercase()).or_else(|| known.map(|k| k.sha256.clone()));
        let installer_python = match known {
            Some(k) if k.python == python => InstallerPython::Image,
            Some(k) => InstallerPython::Other(k.python.clone()),
            None => InstallerPython::Unknown,
        };
        Some(Installer { path: format!("{tag}/{file}"), file, sha256, tos: false, python: installer_python })
    }
}

/// The installer a spec gets without `miniconda=`: the newest that brings `python`, else the
/// newest of the Python it is installed over.
fn default_installer<'a>(installers: &'a [MiniforgeInstaller], python: &str) -> Option<&'a MiniforgeInstaller> {
    let newest = |wanted: &str| installers.iter().find(|i| i.python == wanted);
    newest(python).or_else(|| reinstalled_over(installers, python).and_then(newest))
}

/// The installers' Python that `python` is installed over, when no installer brings it: the
/// nearest newer one, and only for a Python between two that installers bring. conda-forge built
/// conda and its solver for every Python it supported, and those between two of Miniforge's own
/// are among them; older ones are not (conda 25.11 needs Python 3.10 or newer).
fn reinstalled_over<'a>(installers: &'a [MiniforgeInstaller], python: &str) -> Option<&'a str> {
    let pythons = installers.iter().map(|i| i.python.as_str());
    if pythons.clone().any(|p| p == python) || !pythons.clone().any(|p| compare(p, python).is_lt()) {
        return None;
    }
    pythons.filter(|p| compare(p, python).is_gt()).min_by(|a, b| compare(a, b))
}

/// How to name an installer the tables know for `python`.
fn installer_help(installers: &[MiniforgeInstaller], python: &str) -> String {
    match default_installer(installers, python) {
        Some(i) => format!("write `miniconda=\"{}\"`, or leave `miniconda` out to get it from the tables", i.installer),
        None => pythons_help(installers, python),
    }
}

/// Which Pythons Miniforge gives (every one from its installers' oldest to their newest), for a
/// spec that asked for another.
fn pythons_help(installers: &[MiniforgeInstaller], python: &str) -> String {
    let pythons = || installers.iter().map(|i| i.python.as_str());
    let oldest = pythons().min_by(|a, b| compare(a, b)).unwrap_or_default();
    let newest = pythons().max_by(|a, b| compare(a, b)).unwrap_or_default();
    format!(
        "Miniforge gives Python {oldest} to {newest} (`dlspec compat miniforge`); for Python {python}, use Miniconda: `distribution=\"miniconda\"`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_python_between_two_installers_goes_over_the_newer() {
        let installers = &compat::get().miniforge;
        assert_eq!(default_installer(installers, "3.12").unwrap().installer, "Miniforge3-25.11.0-1-Linux-x86_64.sh");
        assert_eq!(default_installer(installers, "3.13").unwrap().installer, "Miniforge3-26.3.2-3-Linux-x86_64.sh");
        assert_eq!(default_installer(installers, "3.10").unwrap().installer, "Miniforge3-24.3.0-0-Linux-x86_64.sh");
        assert_eq!(reinstalled_over(installers, "3.11"), Some("3.12"));
        assert_eq!(default_installer(installers, "3.11").unwrap().installer, "Miniforge3-25.11.0-1-Linux-x86_64.sh");
        assert_eq!(reinstalled_over(installers, "3.12"), None, "3.12 has its own");
        assert_eq!(reinstalled_over(installers, "3.9"), None, "older than every installer's");
        assert_eq!(reinstalled_over(installers, "3.14"), None, "newer than every installer's");
        assert!(pythons_help(installers, "3.9").starts_with("Miniforge gives Python 3.10 to 3.13 "));
    }
}
