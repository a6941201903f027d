//! Credentials in clear text. A literal `env` value becomes the Dockerfile's `ENV`, an image layer
//! anyone who pulls the image can read, and lines of the committed `k8s/deployment.yaml` and of
//! the image's `/etc/environment`. A variable is taken for a credential by its name or by its value.
//!
//! By name: the name's words (split at `_`, compared without case) hold `SECRET`, `PASSWORD` (or a
//! word ending in it, `PGPASSWORD`), `PASSWD` or `PASSPHRASE`, or its last word is `TOKEN`, `KEY`,
//! `APIKEY` or `PWD` (`HF_TOKEN`, `WANDB_API_KEY`, `AWS_SECRET_ACCESS_KEY`, `KAGGLE_KEY`,
//! `MYSQL_PWD`); unless the last word says where the credential is kept, not what it is (`FILE`,
//! `PATH`, `DIR`, `NAME`: `HF_TOKEN_PATH`, `PASSWORD_FILE`).
//!
//! By value: a URL with a password in its userinfo (`http://user:pass@proxy:3128`), or a key of a
//! shape its issuer publishes ([`KEY_SHAPES`]).

/// Words that name a credential wherever they stand in a variable's name.
const SECRET_WORDS: &[&str] = &["SECRET", "PASSWORD", "PASSWD", "PASSPHRASE"];

/// Last words of a variable's name that name a credential.
const SECRET_LAST_WORDS: &[&str] = &["TOKEN", "KEY", "APIKEY", "PWD"];

/// Last words that name where a credential is kept.
const REFERENCE_WORDS: &[&str] = &["FILE", "PATH", "DIR", "NAME"];

/// A kind of key recognized by its shape: a prefix, then at least `min` characters of `body`.
struct KeyShape {
    /// Who issues it, for the message: "a Hugging Face token".
    what: &'static str,
    prefix: &'static str,
    min: usize,
    /// Exactly `min` characters (AWS's fixed-length IDs), not at least.
    exact: bool,
    body: fn(char) -> bool,
}

fn alphanumeric(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

fn upper_alphanumeric(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}

fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
}

/// Keys whose shape their issuers publish (checked 2026-12-07):
/// - AWS access key IDs: `AKIA` (long-term) or `ASIA` (temporary), 20 characters in all
///   (`AKIAIOSFODNN7EXAMPLE`), <https://docs.aws.amazon.com/STS/latest/APIReference/API_GetAccessKeyInfo.html>;
/// - Hugging Face user access tokens, `hf_` and 34 letters and digits,
///   <https://huggingface.co/docs/hub/security-tokens>;
/// - GitHub tokens, `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and 36 letters and digits, and
///   `github_pat_` for fine-grained ones,
///   <https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/>;
/// - GitLab personal access tokens, `glpat-`, <https://gitlab.com/gitlab-org/gitlab/-/issues/342327>;
/// - Slack bot and user tokens, `xoxb-` and `xoxp-`, <https://docs.slack.dev/authentication/tokens>.
///
/// A PEM private key (`-----BEGIN … PRIVATE KEY-----`, RFC 7468) is found by its label.
const KEY_SHAPES: &[KeyShape] = &[
    KeyShape { what: "an AWS access key ID", prefix: "AKIA", min: 16, exact: true, body: upper_alphanumeric },
    KeyShape { what: "an AWS access key ID", prefix: "ASIA", min: 16, exact: true, body: upper_alphanumeric },
    KeyShape { what: "a Hugging Face token", prefix: "hf_", min: 30, exact: false, body: alphanumeric },
    KeyShape { what: "a GitHub token", prefix: "ghp_", min: 36, exact: false, body: alphanumeric },
    KeyShape { what: "a GitHub token", prefix: "gho_", min: 36, exact: false, body: alphanumeric },
    KeyShape { what: "a GitHub token", prefix: "ghu_", min: 36, exact: false, body: alphanumeric },
    KeyShape { what: "a GitHub token", prefix: "ghs_", min: 36, exact: false, body: alphanumeric },
    KeyShape { what: "a GitHub token", prefix: "ghr_", min: 36, exact: false, body: alphanumeric },
    KeyShape { what: "a GitHub token", prefix: "github_pat_", min: 22, exact: false, body: token_char },
    KeyShape { what: "a GitLab token", prefix: "glpat-", min: 20, exact: false, body: token_char },
    KeyShape { what: "a Slack token", prefix: "xoxb-", min: 10, exact: false, body: token_char },
    KeyShape { what: "a Slack token", prefix: "xoxp-", min: 10, exact: false, body: token_char },
];

/// What gives a variable away as a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Credential {
    /// Its name.
    Name,
    /// A password in a URL's userinfo.
    UrlPassword,
    /// A key of a known shape: "a GitHub token".
    Key(&'static str),
    /// A PEM private key.
    PrivateKey,
}

/// Whether `name` names a credential (see the module's rule).
pub(super) fn credential_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let words: Vec<&str> = upper.split('_').filter(|w| !w.is_empty()).collect();
    let Some(last) = words.last() else { return false };
    if REFERENCE_WORDS.contains(last) {
        return false;
    }
    SECRET_LAST_WORDS.contains(last)
        || words.iter().any(|word| SECRET_WORDS.contains(word) || word.ends_with("PASSWORD"))
}

/// What shows that `value` holds a credential, if anything does.
pub(super) fn credential_value(value: &str) -> Option<Credential> {
    if url_with_password(value) {
        return Some(Credential::UrlPassword);
    }
    if value.contains("PRIVATE KEY-----") {
        return Some(Credential::PrivateKey);
    }
    KEY_SHAPES.iter().find(|shape| has_key(value, shape)).map(|shape| Credential::Key(shape.what))
}

/// What shows that `env NAME VALUE` holds a credential: its value, else its name. An empty value
/// holds none.
pub(super) fn credential(name: &str, value: &str) -> Option<Credential> {
    if value.is_empty() {
        return None;
    }
    credential_value(value).or_else(|| credential_name(name).then_some(Credential::Name))
}

/// Whether some `scheme://user:password@host` in `value` has a password.
fn url_with_password(value: &str) -> bool {
    value.match_indices("://").any(|(at, scheme)| {
        let rest = &value[at + scheme.len()..];
        let authority = rest.split(['/', '?', '#', ' ']).next().unwrap_or("");
        authority
            .rsplit_once('@')
            .and_then(|(userinfo, _)| userinfo.split_once(':'))
            .is_some_and(|(_, password)| !password.is_empty())
    })
}

/// Whether `value` holds a key of `shape`: its prefix where no letter or digit comes before it,
/// then its body, and then no more letters or digits.
fn has_key(value: &str, shape: &KeyShape) -> bool {
    value.match_indices(shape.prefix).any(|(at, prefix)| {
        let starts_word = value[..at].chars().next_back().is_none_or(|c| !c.is_ascii_alphanumeric());
        let body: usize = value[at + prefix.len()..].chars().take_while(|c| (shape.body)(*c)).count();
        let after = value[at + prefix.len()..].chars().nth(body);
        let ends_word = after.is_none_or(|c| !c.is_ascii_alphanumeric());
        let long_enough = if shape.exact { body == shape.min } else { body >= shape.min };
        starts_word && ends_word && long_enough
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for secret in [
            "HF_TOKEN",
            "HUGGING_FACE_HUB_TOKEN",
            "WANDB_API_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "AZURE_CLIENT_SECRET",
            "KAGGLE_KEY",
            "OPENAI_APIKEY",
            "PGPASSWORD",
            "MLFLOW_TRACKING_PASSWORD",
            "MYSQL_PWD",
            "db_passwd",
            "SSH_PASSPHRASE",
            "github_token",
        ] {
            assert!(credential_name(secret), "{secret}");
        }
        for plain in [
            "HF_ENDPOINT",
            "HF_HOME",
            "TOKENIZERS_PARALLELISM",
            "HF_TOKEN_PATH",
            "PASSWORD_FILE",
            "SECRET_NAME",
            "AWS_ACCESS_KEY_ID",
            "AWS_REGION",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "MAX_NEW_TOKENS",
            "KEYBOARD",
            "_",
        ] {
            assert!(!credential_name(plain), "{plain}");
        }
    }

    #[test]
    fn values() {
        let hf = format!("hf_{}", "a1".repeat(17));
        let github = format!("ghp_{}", "Ab3".repeat(12));
        for (value, found) in [
            ("http://alice:s3cret@proxy.example.edu:3128", Credential::UrlPassword),
            ("https://oauth2:tok@gitlab.example.edu/x", Credential::UrlPassword),
            ("AKIAIOSFODNN7EXAMPLE", Credential::Key("an AWS access key ID")),
            ("id=ASIAIOSFODNN7EXAMPLE;", Credential::Key("an AWS access key ID")),
            (hf.as_str(), Credential::Key("a Hugging Face token")),
            (github.as_str(), Credential::Key("a GitHub token")),
            ("glpat-abcdefghij0123456789", Credential::Key("a GitLab token")),
            ("-----BEGIN OPENSSH PRIVATE KEY-----", Credential::PrivateKey),
        ] {
            assert_eq!(credential_value(value), Some(found), "{value}");
        }
        for plain in [
            "https://hf-mirror.com",
            "http://alice@proxy.example.edu:3128",
            "http://proxy.example.edu:3128",
            "http://:@host",
            "/root/.cache/hf_datasets_cache_directory_for_everyone",
            "AKIAIOSFODNN7EXAMPLEX",
            "XAKIAIOSFODNN7EXAMPLE",
            "ghp_short",
            "mailto:someone@example.edu",
        ] {
            assert_eq!(credential_value(plain), None, "{plain}");
        }
        assert_eq!(credential("WANDB_API_KEY", ""), None);
        assert_eq!(credential("WANDB_API_KEY", "0123"), Some(Credential::Name));
    }
}
