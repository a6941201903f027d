//! The failures that end a command with exit code 2: a file that cannot be read or written, a
//! refused path, a template that fails, a wrong argument. Problems of a spec's content are
//! diagnostics (`crate::diag`), not these.

/// An input problem that is not about a spec's content: exit code 2.
#[derive(Debug)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// `1 MiB`, `512 KiB`, `100 bytes`: a limit as people read it.
#[must_use]
pub fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}
