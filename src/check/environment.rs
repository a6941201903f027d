//! What every process of the image sees: time zone, locale and the spec's `env`.

use super::{Checker, values};
use crate::diag::{Code, Diag};
use crate::model::{EnvVar, Locale};

const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";
const DEFAULT_LOCALE: &str = "zh_CN.UTF-8";

/// Variables the platform sets itself, each with the setting that changes it, if any.
const PLATFORM_ENV: &[(&str, &str)] = &[
    ("PATH", "Miniconda's bin comes first; add tools with `apt` or `pip`"),
    ("LANG", "set the locale with `locale \"…\"`"),
    ("LANGUAGE", "set the locale with `locale \"…\"`"),
    ("LC_ALL", "set the locale with `locale \"…\"`"),
    ("TZ", "set the time zone with `timezone \"…\"`"),
    ("HOME", "the services run as root with HOME=/root"),
    ("USER", "the services run as root"),
    ("LOGNAME", "the services run as root"),
    ("SHELL", "the platform's shell is bash"),
    ("PWD", "the working directory is set per service"),
    ("MOTD_SHOWN", "switch the banner with `ssh motd=#false`"),
    ("ROOT_PASSWORD", "give the password at run time, or in `ssh password-file=`"),
    ("ROOT_PASSWORD_FILE", "give the password at run time, or in `ssh password-file=`"),
    ("JUPYTER_TOKEN", "give the token at run time, or in `jupyter token-file=`"),
    ("LD_LIBRARY_PATH", "the base image sets it for CUDA"),
    ("PIP_INDEX_URL", "set the index with `mirrors pip=` (users) or `mirrors build-pip=` (build)"),
    ("CONDA_PREFIX", "Miniconda is at the platform's prefix"),
    ("NVIDIA_VISIBLE_DEVICES", "the NVIDIA runtime sets it from `--gpus` or the `nvidia.com/gpu` limit"),
];

impl Checker<'_> {
    /// `timezone`: an IANA name the tables know.
    pub(super) fn timezone(&mut self) -> Option<String> {
        let Some(tz) = self.part().timezone.clone() else { return Some(DEFAULT_TIMEZONE.to_owned()) };
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
        let Some(locale) = self.part().locale.clone() else {
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

    /// `env NAME VALUE`: a later value of one name replaces the earlier one in place.
    pub(super) fn env(&mut self) -> Option<Vec<EnvVar>> {
        let errors = self.errors();
        let mut vars: Vec<EnvVar> = Vec::new();
        for env in self.part().env.clone() {
            let name = &env.name;
            if let Some((_, help)) = PLATFORM_ENV
                .iter()
                .find(|(n, _)| *n == name.value)
                .or_else(|| name.value.starts_with("LC_").then_some(&("LC_", "set the locale with `locale \"…\"`")))
            {
                self.push(
                    Diag::error(
                        Code::Env,
                        name.span,
                        format!("`{}` is set by the platform", name.value),
                        "platform variable",
                    )
                    .with_help(format!("leave it out: {help}")),
                );
                continue;
            }
            if let Err(reason) = values::env_name(&name.value) {
                self.push(
                    Diag::error(
                        Code::Env,
                        name.span,
                        format!("`{}` is not a variable name", name.value),
                        "invalid name",
                    )
                    .with_help(reason),
                );
                continue;
            }
            if let Err(reason) = values::env_value(&env.value.value) {
                self.push(
                    Diag::error(
                        Code::Env,
                        env.value.span,
                        format!("the value of `{}` cannot be passed on literally", name.value),
                        "invalid value",
                    )
                    .with_help(reason),
                );
                continue;
            }
            let var = EnvVar { name: name.value.clone(), value: env.value.value.clone() };
            match vars.iter_mut().find(|v| v.name == var.name) {
                Some(existing) => *existing = var,
                None => vars.push(var),
            }
        }
        self.ok_since(errors).then_some(vars)
    }
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
