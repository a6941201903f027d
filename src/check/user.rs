//! `user NAME uid= gid=`: the non-root user an image's services and logins run as. Its name and
//! ids must be its own on every base: not root's, not those of the system accounts that Debian and
//! Ubuntu bases ship (base-passwd) or that the platform's packages add, and within what
//! Kubernetes accepts for `runAsUser`.

use super::Checker;
use crate::diag::{Code, Diag};
use crate::lang::Spanned;
use crate::model::User;
use crate::source::Span;

/// The uid of a `user` that writes none: the first uid of an ordinary account on Debian and Ubuntu.
const DEFAULT_UID: u32 = 1000;

/// The largest uid and gid Kubernetes accepts for `runAsUser`, `runAsGroup` and `fsGroup`
/// (k8s.io/apimachinery, `validation.IsValidUserID`: `math.MaxInt32`).
const MAX_ID: i128 = 2_147_483_647;

/// The first uid and gid of an ordinary account: Debian Policy 9.2.2 keeps 0–99 for the
/// accounts of base-passwd and 100–999 for those that packages make (sshd's, say).
const FIRST_ORDINARY_ID: i128 = 1000;

/// `nobody` and `nogroup`, and `(uid_t) -1` of 16-bit ids, which Debian Policy 9.2.2 says must
/// not be used.
const RESERVED_IDS: [i128; 2] = [65534, 65535];

/// The one system group an ordinary user may have as its primary group: `users` (gid 100 of
/// base-passwd), as jupyter/docker-stacks' notebook user does.
const USERS_GID: i128 = 100;

/// The system accounts and groups of the bases: base-passwd's `passwd.master` and `group.master`
/// (Debian base-passwd 3.6.1, Debian 12 and Ubuntu 24.04), `gnats` of older releases (Ubuntu
/// 22.04's base-passwd 3.5.52), and `sshd`, which openssh-server adds.
const SYSTEM_NAMES: &[&str] = &[
    "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data",
    "backup", "list", "irc", "gnats", "_apt", "nobody", "adm", "tty", "disk", "kmem", "dialout", "fax", "voice",
    "cdrom", "floppy", "tape", "sudo", "audio", "dip", "operator", "src", "shadow", "utmp", "video", "sasl", "plugdev",
    "staff", "users", "nogroup", "sshd",
];

/// The longest name `useradd` takes (shadow's `LOGIN_NAME_MAX` check, 32 on Linux).
const MAX_NAME: usize = 32;

impl Checker<'_> {
    /// The image's non-root user, when the spec has one (`Some(None)` when not); `None` after an
    /// error.
    pub(super) fn user(&mut self) -> Option<Option<User>> {
        let Some(part) = self.part().user.clone() else { return Some(None) };
        let name = self.user_name(&part.name);
        let uid = match &part.uid {
            Some(uid) => self.user_id(uid, Id::User, part.node),
            None => Some(DEFAULT_UID),
        };
        let gid = match &part.gid {
            Some(gid) => self.user_id(gid, Id::Group, part.node),
            None => uid,
        };
        let (name, uid, gid) = (name?, uid?, gid?);
        Some(Some(User { home: format!("/home/{name}"), run_dir: "/run/dlspec".to_owned(), name, uid, gid }))
    }

    fn user_name(&mut self, name: &Spanned<String>) -> Option<String> {
        let value = name.value.as_str();
        let (message, label, help) = if value == "root" {
            (
                "`root` is the user the image would run as without `user`".to_owned(),
                "root",
                "name the user that logs in, like \"researcher\"; leave `user` out for the seed guides' root platform"
                    .to_owned(),
            )
        } else if let Err(reason) = linux_user_name(value) {
            (format!("`{value}` is not a Linux user name"), "invalid user name", reason)
        } else if SYSTEM_NAMES.contains(&value) {
            (
                format!("`{value}` is a system account or group of the base"),
                "system account",
                "name the user that logs in, like \"researcher\": the image's system accounts keep their own names"
                    .to_owned(),
            )
        } else {
            return Some(name.value.clone());
        };
        self.push(Diag::error(Code::UserName, name.span, message, label).with_help(help));
        None
    }

    /// A uid or gid of `user` (`node`).
    fn user_id(&mut self, id: &Spanned<i128>, kind: Id, node: Span) -> Option<u32> {
        let value = id.value;
        let what = match kind {
            Id::User => "uid",
            Id::Group => "gid",
        };
        let (message, label) = if value == 0 {
            (format!("{what} 0 is root's"), "root")
        } else if !(1..=MAX_ID).contains(&value) {
            (format!("{what} `{value}` is out of range"), "out of range")
        } else if kind == Id::Group && value == USERS_GID {
            return u32::try_from(value).ok();
        } else if value < FIRST_ORDINARY_ID {
            (format!("{what} {value} is in the range of system accounts"), "system id")
        } else if RESERVED_IDS.contains(&value) {
            (format!("{what} {value} is `nobody`'s"), "nobody")
        } else {
            return u32::try_from(value).ok();
        };
        let users = if kind == Id::Group { " (or 100, the `users` group)" } else { "" };
        self.push(Diag::error(Code::UserId, id.span, message, label).with_label(node, "the image's user").with_help(
            format!(
                "give the {what} the user has on your file servers, from 1000 to 2147483647 but 65534 and 65535{users}"
            ),
        ));
        None
    }
}

/// Which id of the user.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Id {
    /// Its uid.
    User,
    /// Its primary group's gid.
    Group,
}

/// A name `useradd` takes and every tool reads alike: a lowercase letter or `_`, then lowercase
/// letters, digits, `_` and `-`, at most 32 characters.
fn linux_user_name(name: &str) -> Result<(), String> {
    let help = "a Linux user name is a lowercase letter or `_`, then lowercase letters, digits, `_` or `-`, at most 32 characters, like \"researcher\"";
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if first_ok && rest_ok && name.len() <= MAX_NAME { Ok(()) } else { Err(help.to_owned()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        for fine in ["researcher", "a", "_svc", "ai-lab_2", "u2345678901234567890123456789012"] {
            assert_eq!(linux_user_name(fine), Ok(()), "{fine}");
        }
        for refused in ["", "Researcher", "1user", "-x", "a b", "zoë", "x.y", "u23456789012345678901234567890123"] {
            assert!(linux_user_name(refused).is_err(), "{refused}");
        }
    }
}
