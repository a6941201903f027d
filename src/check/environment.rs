//! What every process of the image sees: time zone, locale and the spec's `env`.

use super::Checker;
use super::credentials::{self, Credential};
use crate::diag::{Code, Diag};
use crate::lang::{EnvPart, Spanned};
use crate::model::{EnvVar, Locale, SecretEnvVar};
use crate::service::SERVICES;
use crate::values;

const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";
const DEFAULT_LOCALE: &str = "zh_CN.UTF-8";

/// Who reads a variable that the spec may not set as it likes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reader {
    /// The platform sets it: refused.
    Platform,
    /// Every program of the build and of the image (the dynamic linker, Python, the shell):
    /// refused, as a literal and from a Secret alike.
    EveryProgram,
    /// The build's tools (pip, conda, apt, curl): refused as a literal value, which becomes the
    /// Dockerfile's `ENV` before every install; from a Secret (`secret=`), only the running
    /// container sees it, so it is accepted.
    Build,
}

/// Names a [`Reserved`] entry covers.
#[derive(Clone, Copy)]
enum Names {
    /// This name.
    Exactly(&'static str),
    /// Every name that starts so.
    StartingWith(&'static str),
    /// This name in any case (`HTTPS_PROXY`, `https_proxy`).
    AnyCase(&'static str),
}

/// A class of names the spec may not set as it likes: who reads it, why that matters, and what
/// to write instead.
#[derive(Clone, Copy)]
struct Reserved {
    names: Names,
    reader: Reader,
    why: &'static str,
    instead: &'static str,
}

const LOCALE_INSTEAD: &str = "set the locale with `locale \"…\"`";
const PIP_WHY: &str = "pip reads every `PIP_*` variable as an option of each `pip install` of the build (index, trusted hosts, constraints, hashes)";
const PIP_INSTEAD: &str = "set the build's index with `mirrors build-pip=` and the users' with `mirrors pip=`";
const CONDA_WHY: &str = "conda and the Miniconda installer read it as a setting (channels, package cache)";
const CONDA_INSTEAD: &str =
    "set the users' conda mirror with `mirrors conda=` and the installer's with `mirrors miniconda=`";
const APT_WHY: &str =
    "the build's `apt-get` and `dpkg` read it (the build sets `DEBIAN_FRONTEND=noninteractive` itself)";
const APT_INSTEAD: &str = "install packages with `apt` and mirror the archive with `mirrors apt=`";
const CA_WHY: &str = "the build's downloads (curl, pip) take their trusted certificates from it, and the file must exist before the first install";
const CA_INSTEAD: &str =
    "give the build a CA bundle with `--secret id=pipca,src=FILE` (the Dockerfile's header says how)";
const PROXY_WHY: &str = "every download of the build (apt, curl, pip) would go through the proxy it names, which would stay in the image for everyone who pulls it";
const PROXY_INSTEAD: &str = "give the build a proxy with `docker build --build-arg HTTPS_PROXY=…` (Docker's predefined proxy arguments never reach the image)";
const SHELL_WHY: &str = "bash runs every `RUN` of the build and every script of the image, and reads it before each (`BASH_ENV` names a file to run first, `SHELLOPTS` turns options on)";
const SHELL_INSTEAD: &str = "the image's scripts set their own shell options";

/// The `PYTHON*` variables that change only how Python prints, hashes and reports, not what it
/// imports or runs: the rest of `PYTHON*` is Python's ([`RESERVED`]).
const PYTHON_OUTPUT_ONLY: &[&str] = &[
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONIOENCODING",
    "PYTHONUTF8",
    "PYTHONHASHSEED",
    "PYTHONFAULTHANDLER",
    "PYTHONBREAKPOINT",
];

/// Names the spec may not set as it likes; the first entry that covers a name applies, so exact
/// names come before the classes that hold them.
const RESERVED: &[Reserved] = &[
    platform("PATH", "Miniconda's bin comes first; add tools with `apt` or `pip`"),
    platform("LANG", LOCALE_INSTEAD),
    platform("LANGUAGE", LOCALE_INSTEAD),
    platform("LC_ALL", LOCALE_INSTEAD),
    Reserved { names: Names::StartingWith("LC_"), reader: Reader::Platform, why: "", instead: LOCALE_INSTEAD },
    platform("TZ", "set the time zone with `timezone \"…\"`"),
    platform("HOME", "the services run with the home of root, or of the image's `user`"),
    platform("USER", "the services run as root, or as the image's `user`"),
    platform("LOGNAME", "the services run as root, or as the image's `user`"),
    platform("SHELL", "the platform's shell is bash"),
    platform("PWD", "the working directory is set per service"),
    platform("LD_LIBRARY_PATH", "the base image sets it for CUDA"),
    platform("CONDA_PREFIX", "Miniconda is at the platform's prefix"),
    platform("NVIDIA_VISIBLE_DEVICES", "the NVIDIA runtime sets it from `--gpus` or the `nvidia.com/gpu` limit"),
    Reserved {
        names: Names::StartingWith("LD_"),
        reader: Reader::EveryProgram,
        why: "the dynamic linker reads every `LD_*` variable in every program, the build's and the services' (`LD_PRELOAD` loads a library into each)",
        instead: "install libraries with `apt`",
    },
    Reserved {
        names: Names::StartingWith("PYTHON"),
        reader: Reader::EveryProgram,
        why: "Python reads it at every start, in the build's pip and in the services: it changes where modules come from or what runs first",
        instead: "install packages with `pip`; of the `PYTHON*` variables only `PYTHONUNBUFFERED`, `PYTHONDONTWRITEBYTECODE`, `PYTHONIOENCODING`, `PYTHONUTF8`, `PYTHONHASHSEED`, `PYTHONFAULTHANDLER` and `PYTHONBREAKPOINT` may be set",
    },
    shell(Names::Exactly("ENV")),
    shell(Names::Exactly("SHELLOPTS")),
    shell(Names::Exactly("BASHOPTS")),
    shell(Names::Exactly("IFS")),
    shell(Names::Exactly("CDPATH")),
    shell(Names::Exactly("GLOBIGNORE")),
    shell(Names::Exactly("POSIXLY_CORRECT")),
    shell(Names::StartingWith("BASH_")),
    build(Names::StartingWith("PIP_"), PIP_WHY, PIP_INSTEAD),
    build(Names::StartingWith("CONDA_"), CONDA_WHY, CONDA_INSTEAD),
    build(Names::Exactly("CONDARC"), CONDA_WHY, CONDA_INSTEAD),
    build(Names::StartingWith("MAMBA_"), CONDA_WHY, CONDA_INSTEAD),
    build(Names::Exactly("DEBIAN_FRONTEND"), APT_WHY, APT_INSTEAD),
    build(Names::StartingWith("DEBCONF_"), APT_WHY, APT_INSTEAD),
    build(Names::StartingWith("APT_"), APT_WHY, APT_INSTEAD),
    build(Names::StartingWith("DPKG_"), APT_WHY, APT_INSTEAD),
    build(Names::Exactly("SSL_CERT_FILE"), CA_WHY, CA_INSTEAD),
    build(Names::Exactly("SSL_CERT_DIR"), CA_WHY, CA_INSTEAD),
    build(Names::Exactly("REQUESTS_CA_BUNDLE"), CA_WHY, CA_INSTEAD),
    build(Names::Exactly("CURL_CA_BUNDLE"), CA_WHY, CA_INSTEAD),
    build(Names::AnyCase("HTTP_PROXY"), PROXY_WHY, PROXY_INSTEAD),
    build(Names::AnyCase("HTTPS_PROXY"), PROXY_WHY, PROXY_INSTEAD),
    build(Names::AnyCase("FTP_PROXY"), PROXY_WHY, PROXY_INSTEAD),
    build(Names::AnyCase("ALL_PROXY"), PROXY_WHY, PROXY_INSTEAD),
    build(Names::AnyCase("NO_PROXY"), PROXY_WHY, PROXY_INSTEAD),
];

const fn platform(name: &'static str, instead: &'static str) -> Reserved {
    Reserved { names: Names::Exactly(name), reader: Reader::Platform, why: "", instead }
}

const fn shell(names: Names) -> Reserved {
    Reserved { names, reader: Reader::EveryProgram, why: SHELL_WHY, instead: SHELL_INSTEAD }
}

const fn build(names: Names, why: &'static str, instead: &'static str) -> Reserved {
    Reserved { names, reader: Reader::Build, why, instead }
}

/// The entry of [`RESERVED`] that covers `name`, or the service's that reads it, if any.
fn reserved(name: &str) -> Option<Reserved> {
    if PYTHON_OUTPUT_ONLY.contains(&name) {
        return None;
    }
    let platform_entry = RESERVED.iter().find(|r| match r.names {
        Names::Exactly(n) => n == name,
        Names::StartingWith(prefix) => name.starts_with(prefix),
        Names::AnyCase(n) => n.eq_ignore_ascii_case(name),
    });
    platform_entry.copied().or_else(|| {
        let mut services = SERVICES.iter().flat_map(|s| s.reserved_env());
        services.find(|(n, _)| *n == name).map(|(n, instead)| platform(n, instead))
    })
}

/// The spec's environment: literal values, written into the image, and values from Secrets,
/// which only the running container gets.
pub(super) struct Environment {
    pub literal: Vec<EnvVar>,
    pub from_secrets: Vec<SecretEnvVar>,
}

/// One `env` after the checks: a name and where its value comes from.
enum Variable {
    Literal(EnvVar),
    FromSecret(SecretEnvVar),
}

impl Variable {
    fn name(&self) -> &str {
        match self {
            Self::Literal(v) => &v.name,
            Self::FromSecret(v) => &v.name,
        }
    }
}

impl Checker<'_> {
    /// `timezone`: an IANA name the tables know.
    pub(super) fn timezone(&mut self) -> Option<String> {
        let Some(tz) = self.part().timezone.clone().map(|t| t.zone) else { return Some(DEFAULT_TIMEZONE.to_owned()) };
        if self.compat.is_timezone(&tz.value) {
            return Some(tz.value);
        }
        let names: Vec<&str> = self.compat.timezones.iter().map(String::as_str).collect();
        let help = match crate::diag::suggest(&tz.value, names.iter().copied()) {
            Some(best) => format!("did you mean `{best}`?"),
            None => {
                "use an IANA name like \"Asia/Shanghai\" or \"UTC\" (`dlspec compat timezones` lists them)".to_owned()
            }
        };
        self.push(
            Diag::error(Code::Timezone, tz.span, format!("unknown time zone `{}`", tz.value), "unknown time zone")
                .with_help(help),
        );
        None
    }

    /// `locale`: a UTF-8 locale name, split for `localedef`.
    pub(super) fn locale(&mut self) -> Option<Locale> {
        let Some(locale) = self.part().locale.clone().map(|l| l.locale) else {
            return Some(Locale {
                name: DEFAULT_LOCALE.to_owned(),
                input: "zh_CN".to_owned(),
                charmap: "UTF-8".to_owned(),
            });
        };
        match parse_locale(&locale.value) {
            Some(parsed) => Some(parsed),
            None => {
                let help = match locale.value.split_once('.') {
                    Some((base, _)) if parse_locale(&format!("{base}.UTF-8")).is_some() => {
                        format!("write \"{base}.UTF-8\"")
                    }
                    None if parse_locale(&format!("{}.UTF-8", locale.value)).is_some() => {
                        format!("write \"{}.UTF-8\"", locale.value)
                    }
                    _ => "write `language_TERRITORY.UTF-8`, like \"zh_CN.UTF-8\" or \"en_US.UTF-8\" (or \"C.UTF-8\")"
                        .to_owned(),
                };
                self.push(
                    Diag::error(
                        Code::Locale,
                        locale.span,
                        format!("`{}` is not a locale name", locale.value),
                        "malformed locale",
                    )
                    .with_help(help),
                );
                None
            }
        }
    }

    /// `env NAME VALUE` and `env NAME secret= key=`: a later `env` of one name replaces the
    /// earlier one in place.
    pub(super) fn env(&mut self) -> Option<Environment> {
        let errors = self.errors();
        let mut variables: Vec<Variable> = Vec::new();
        for env in self.part().env.clone() {
            let Some(variable) = self.variable(&env) else { continue };
            match variables.iter_mut().find(|v| v.name() == variable.name()) {
                Some(existing) => *existing = variable,
                None => variables.push(variable),
            }
        }
        let mut environment = Environment { literal: Vec::new(), from_secrets: Vec::new() };
        for variable in variables {
            match variable {
                Variable::Literal(v) => environment.literal.push(v),
                Variable::FromSecret(v) => environment.from_secrets.push(v),
            }
        }
        self.ok_since(errors).then_some(environment)
    }

    /// One `env`, checked: its name, and its value or Secret.
    fn variable(&mut self, env: &EnvPart) -> Option<Variable> {
        let name = &env.name;
        let reserved = reserved(&name.value);
        if let Some(reserved) = reserved.filter(|r| r.reader != Reader::Build) {
            let diag = if reserved.reader == Reader::Platform {
                Diag::error(
                    Code::Env,
                    name.span,
                    format!("`{}` is set by the platform", name.value),
                    "platform variable",
                )
                .with_help(format!("leave it out: {}", reserved.instead))
            } else {
                Diag::error(
                    Code::Env,
                    name.span,
                    format!("`{}` would change how every program of the build and of the image runs", name.value),
                    "read by every program",
                )
                .with_help(format!("leave it out: {}; {}", reserved.why, reserved.instead))
            };
            self.push(diag);
            return None;
        }
        if let Err(reason) = values::env_name(&name.value) {
            self.push(
                Diag::error(Code::Env, name.span, format!("`{}` is not a variable name", name.value), "invalid name")
                    .with_help(reason),
            );
            return None;
        }
        match (&env.value, &env.secret) {
            (Some(value), None) => {
                if let Some(key) = &env.key {
                    self.push(
                        Diag::error(Code::Env, key.span, "`key=` names a key of `secret=`, which is not given", "no `secret=`")
                            .with_help(format!(
                                "leave `key=` out, or read the value from a Kubernetes Secret: `env \"{}\" secret=\"…\" key=\"{}\"`",
                                name.value, key.value
                            )),
                    );
                    return None;
                }
                self.literal_variable(name, value, reserved.as_ref())
            }
            (None, Some(secret)) => self.secret_variable(name, secret, env.key.as_ref()),
            (Some(value), Some(secret)) => {
                self.push(
                    Diag::error(Code::Env, secret.span, format!("`{}` has both a value and `secret=`", name.value), "second value")
                        .with_label(value.span, "value")
                        .with_help("keep one: the value is written into the image, `secret=` gives the running container the value of a Kubernetes Secret"),
                );
                None
            }
            (None, None) => {
                self.push(
                    Diag::error(Code::Env, name.span, format!("`{}` has no value", name.value), "value missing").with_help(
                        format!(
                            "write `env \"{0}\" \"VALUE\"`, or `env \"{0}\" secret=\"SECRET\"` for the value of a Kubernetes Secret",
                            name.value
                        ),
                    ),
                );
                None
            }
        }
    }

    /// `env NAME VALUE`: a value every file it reaches takes literally, that is no credential,
    /// of a name the build does not read.
    fn literal_variable(
        &mut self,
        name: &Spanned<String>,
        value: &Spanned<String>,
        reserved: Option<&Reserved>,
    ) -> Option<Variable> {
        if let Err(reason) = values::env_value(&value.value) {
            self.push(
                Diag::error(
                    Code::Env,
                    value.span,
                    format!("the value of `{}` cannot be passed on literally", name.value),
                    "invalid value",
                )
                .with_help(reason),
            );
            return None;
        }
        if let Some(credential) = credentials::credential(&name.value, &value.value) {
            self.push(credential_diag(name, value, &credential));
            return None;
        }
        if let Some(reserved) = reserved {
            self.push(
                Diag::error(
                    Code::Env,
                    name.span,
                    format!("`{}` would change the build: {}", name.value, reserved.why),
                    "read by the build",
                )
                .with_help(format!(
                    "{}; to give it to the running container only, write `env \"{}\" secret=\"…\"` (a Kubernetes Secret, or the caller's environment with docker-run.sh)",
                    reserved.instead, name.value
                )),
            );
            return None;
        }
        Some(Variable::Literal(EnvVar { name: name.value.clone(), value: value.value.clone() }))
    }

    /// `env NAME secret= key=`: a Secret's name and key Kubernetes accepts.
    fn secret_variable(
        &mut self,
        name: &Spanned<String>,
        secret: &Spanned<String>,
        key: Option<&Spanned<String>>,
    ) -> Option<Variable> {
        let secret_ok = self.valid(secret, Code::KubernetesName, "Secret name", values::dns_subdomain).is_some();
        let key_ok =
            key.is_none_or(|k| self.valid(k, Code::KubernetesName, "Secret key", values::secret_key).is_some());
        (secret_ok && key_ok).then(|| {
            Variable::FromSecret(SecretEnvVar {
                name: name.value.clone(),
                secret: secret.value.clone(),
                key: key.map_or_else(|| name.value.clone(), |k| k.value.clone()),
            })
        })
    }
}

/// The error for a credential in `env NAME VALUE`, with the spec that keeps it out of the image.
fn credential_diag(name: &Spanned<String>, value: &Spanned<String>, credential: &Credential) -> Diag {
    let (what, label) = match credential {
        Credential::Name => (format!("`{}` holds a credential", name.value), "credential in clear text"),
        Credential::UrlPassword => {
            (format!("the value of `{}` has a password in its URL", name.value), "password in the URL")
        }
        Credential::Key(kind) => (format!("the value of `{}` is {kind}", name.value), "key in clear text"),
        Credential::PrivateKey => {
            (format!("the value of `{}` is a private key", name.value), "private key in clear text")
        }
    };
    let secret = secret_name(&name.value);
    let mut diag = Diag::error(
        Code::Secret,
        value.span,
        format!("{what}, which would be written into the image in clear text"),
        label,
    );
    if *credential == Credential::Name {
        diag = diag.with_label(name.span, "a credential's name");
    }
    diag.with_help(format!(
        "an `env` value is an image layer anyone who pulls the image can read; write `env \"{0}\" secret=\"{secret}\"` instead: \
         the Deployment reads it from the Kubernetes Secret `{secret}` (`kubectl create secret generic {secret} --from-literal={0}=…`), \
         docker-run.sh from your environment or `--env-file FILE`",
        name.value
    ))
}

/// A Secret name for a variable: `HF_TOKEN` is kept in `hf-token`.
fn secret_name(variable: &str) -> String {
    let name: String =
        variable.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let name = name.trim_matches('-');
    if values::dns_subdomain(name).is_ok() { name.to_owned() } else { "SECRET".to_owned() }
}

/// `language_TERRITORY.UTF-8` (or `C.UTF-8`), split into its input and charmap.
fn parse_locale(name: &str) -> Option<Locale> {
    let (input, charmap) = name.split_once('.')?;
    if charmap != "UTF-8" {
        return None;
    }
    let ok = input == "C"
        || input.split_once('_').is_some_and(|(lang, territory)| {
            (2..=3).contains(&lang.len())
                && lang.chars().all(|c| c.is_ascii_lowercase())
                && territory.len() == 2
                && territory.chars().all(|c| c.is_ascii_uppercase())
        });
    ok.then(|| Locale { name: name.to_owned(), input: input.to_owned(), charmap: charmap.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales() {
        assert!(parse_locale("zh_CN.UTF-8").is_some() && parse_locale("C.UTF-8").is_some());
        assert!(
            parse_locale("zh_CN").is_none()
                && parse_locale("zh-CN.UTF-8").is_none()
                && parse_locale("zh_CN.utf8").is_none()
        );
    }
}
