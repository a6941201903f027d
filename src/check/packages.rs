//! What is installed besides Python and the framework: Debian packages, extra pip requirements,
//! and the package mirrors the image and its build use.

use std::collections::HashSet;

use super::Checker;
use crate::diag::Code;
use crate::lang::Spanned;
use crate::model::Mirrors;
use crate::service::{self, SERVICES};
use crate::values;

/// The platform's Debian packages (the seed guides' set, plus what the platform layer runs on).
const PLATFORM_APT: &[&str] = &["locales", "tzdata", "curl", "vim", "tmux", "wget", "ca-certificates", "supervisor"];

impl Checker<'_> {
    /// The running services' Debian packages and the platform's, then the spec's extras, without
    /// duplicates.
    pub(super) fn apt(&mut self) -> Option<Vec<String>> {
        let part = self.part();
        let services = SERVICES.iter().filter(|&&s| service::is_on(s, service::node_of(s, part))).flat_map(|s| s.apt());
        let mut packages: Vec<String> = services.chain(PLATFORM_APT).map(|s| (*s).to_owned()).collect();
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

    /// The spec's valid pip requirements, without duplicates (an invalid one is reported and left out).
    pub(super) fn extra_pip(&mut self) -> Vec<String> {
        let mut requirements: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for requirement in self.part().pip.clone().into_iter().flat_map(|p| p.requirements) {
            if self.valid(&requirement, Code::Unsafe, "pip requirement", values::pip_requirement).is_some()
                && seen.insert(requirement.value.clone())
            {
                requirements.push(requirement.value);
            }
        }
        requirements
    }

    /// `mirrors`: every URL is checked, even after an invalid one.
    pub(super) fn mirrors(&mut self) -> Option<Mirrors> {
        let Some(m) = self.part().mirrors.clone() else {
            return Some(Mirrors {
                pip: None,
                pip_trusted_host: None,
                conda: None,
                build_pip: None,
                build_pip_trusted_host: None,
                apt: None,
            });
        };
        let errors = self.errors();
        let url = |this: &mut Self, v: &Option<Spanned<String>>| -> Option<String> {
            let v = v.as_ref()?;
            this.valid(v, Code::Unsafe, "URL", values::url)?;
            Some(v.value.clone())
        };
        let pip = url(self, &m.pip);
        let conda = url(self, &m.conda).map(|c| c.trim_end_matches('/').to_owned());
        let build_pip = url(self, &m.build_pip);
        let apt = url(self, &m.apt).map(|a| a.trim_end_matches('/').to_owned());
        url(self, &m.miniconda);
        if !self.ok_since(errors) {
            return None;
        }
        let pip_trusted_host = pip.as_deref().and_then(values::plain_http_host);
        let build_pip_trusted_host = build_pip.as_deref().and_then(values::plain_http_host);
        Some(Mirrors { pip, pip_trusted_host, conda, build_pip, build_pip_trusted_host, apt })
    }
}
