//! The digest a registry gives an image tag (`dlspec lock --digests`), asked through its HTTP API
//! (<https://distribution.github.io/distribution/spec/api/>) with curl: a `HEAD` of the manifest
//! answers `Docker-Content-Digest`; a registry that wants a token (Docker Hub) says where to get
//! one in `WWW-Authenticate`.

use std::process::Command;

/// Manifest types asked for: the multi-platform index first, so the digest is the one `docker pull
/// tag` resolves on every platform.
const ACCEPT: &str = "Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// Where an image reference lives: registry host, repository path, tag.
#[derive(Debug, PartialEq, Eq)]
pub struct Location {
    /// `registry-1.docker.io`, `nvcr.io`, `127.0.0.1:5000`.
    pub host: String,
    /// `library/ubuntu`, `nvidia/cuda`.
    pub path: String,
    /// `22.04`.
    pub tag: String,
}

impl Location {
    /// Splits `reference` as docker does: a first component with a `.` or `:`, or `localhost`,
    /// names the registry; otherwise it is Docker Hub, where one-part names are under `library/`.
    #[must_use]
    pub fn of(reference: &str) -> Self {
        let (name, tag) = match reference.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, tag),
            _ => (reference, "latest"),
        };
        let (host, path) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first, rest.to_owned()),
            Some(_) => ("registry-1.docker.io", name.to_owned()),
            None => ("registry-1.docker.io", format!("library/{name}")),
        };
        Self { host: host.to_owned(), path, tag: tag.to_owned() }
    }

    /// The manifest URL; plain http for a registry on this machine, as docker allows.
    #[must_use]
    pub fn manifest_url(&self) -> String {
        let scheme = if loopback(&self.host) { "http" } else { "https" };
        format!("{scheme}://{}/v2/{}/manifests/{}", self.host, self.path, self.tag)
    }
}

/// Whether `host` (with its port, if any) is this machine: `localhost`, `127.0.0.1`, `[::1]`.
fn loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']').map_or(bracketed, |(name, _)| name),
        None => host.split_once(':').map_or(host, |(name, _)| name),
    };
    matches!(name, "localhost" | "127.0.0.1" | "::1")
}

/// The digest (`sha256:…`) of `reference`'s manifest.
///
/// # Errors
/// When the registry is not reachable, refuses, or answers without a digest.
pub fn digest(reference: &str) -> Result<String, String> {
    if let Some((_, digest)) = reference.split_once('@') {
        return Ok(digest.to_owned());
    }
    let location = Location::of(reference);
    let url = location.manifest_url();
    let mut response = head(&url, None, &location.host)?;
    if response.status == 401 {
        let challenge = response.header("www-authenticate").unwrap_or_default();
        let token = token(&challenge, &location.host)?;
        response = head(&url, Some(&token), &location.host)?;
    }
    if response.status != 200 {
        return Err(format!("registry {} answered {} for {url}", location.host, response.status));
    }
    let digest = response
        .header("docker-content-digest")
        .ok_or_else(|| format!("registry {} gave no Docker-Content-Digest for {url}", location.host))?;
    let hex = digest.strip_prefix("sha256:").unwrap_or_default();
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!("registry {} gave a digest that is not sha256: `{digest}`", location.host));
    }
    Ok(digest)
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
}

impl Response {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }
}

fn curl(args: &[&str], host: &str) -> Result<String, String> {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "30"])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run curl: {e}"))?;
    if !output.status.success() {
        let error = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(format!("registry {host} not reachable ({error})"));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn head(url: &str, token: Option<&str>, host: &str) -> Result<Response, String> {
    let authorization = token.map(|t| format!("Authorization: Bearer {t}"));
    let mut args = vec!["--head", "--header", ACCEPT];
    if let Some(authorization) = &authorization {
        args.extend(["--header", authorization]);
    }
    args.push(url);
    let text = curl(&args, host)?;
    let mut lines = text.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("registry {host} did not answer HTTP"))?;
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned())).collect();
    Ok(Response { status, headers })
}

/// A pull token from the realm of a `Bearer realm="…",service="…",scope="…"` challenge.
fn token(challenge: &str, host: &str) -> Result<String, String> {
    let url = token_url(challenge, host)?;
    // A token is a few KB: a realm that sends more is not read to its end.
    let body = curl(&["--fail", "--proto", "=https,http", "--max-filesize", "1048576", &url], host)?;
    let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| format!("token of {host}: {e}"))?;
    json.get("token")
        .or_else(|| json.get("access_token"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("registry {host} gave no token"))
}

/// The URL to ask for a token: the challenge's realm with its other parameters as the query. The
/// registry names the realm, and the token it gives is sent back to the registry: a realm that
/// is not `https://` (or `http://` on this machine, as docker allows for a registry) is refused,
/// so that a registry cannot make dlspec read a local file (`file://`) or send requests in the
/// clear for it.
fn token_url(challenge: &str, host: &str) -> Result<String, String> {
    let params = challenge.strip_prefix("Bearer ").ok_or_else(|| format!("registry {host} wants `{challenge}`"))?;
    let mut realm = None;
    let mut query = Vec::new();
    for part in params.split(',') {
        let Some((key, value)) = part.split_once('=') else { continue };
        let value = value.trim().trim_matches('"');
        match key.trim() {
            "realm" => realm = Some(value.to_owned()),
            key => query.push(format!("{}={}", percent_encode(key), percent_encode(value))),
        }
    }
    let realm = realm.ok_or_else(|| format!("registry {host} names no token realm"))?;
    let authority = |rest: &str| rest.split(['/', '?', '#']).next().unwrap_or_default().to_owned();
    let safe = match (realm.strip_prefix("https://"), realm.strip_prefix("http://")) {
        (Some(rest), _) => !authority(rest).is_empty() && !authority(rest).contains('@'),
        (_, Some(rest)) => loopback(&authority(rest)),
        _ => false,
    };
    if !safe || realm.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "registry {host} names the token realm `{}`, which is not an https:// URL (or http:// on this machine): \
             dlspec sends no request there; ask the registry's operator, or record the digest by hand",
            realm.escape_debug()
        ));
    }
    Ok(if query.is_empty() { realm } else { format!("{realm}?{}", query.join("&")) })
}

/// A query parameter as URLs carry it: every byte but the unreserved ones as `%XX`.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_located_as_docker_does() {
        let hub = Location::of("ubuntu:22.04");
        assert_eq!(
            (hub.host.as_str(), hub.path.as_str(), hub.tag.as_str()),
            ("registry-1.docker.io", "library/ubuntu", "22.04")
        );
        let cuda = Location::of("nvidia/cuda:12.1.0-cudnn8-devel-ubuntu22.04");
        assert_eq!(cuda.path, "nvidia/cuda");
        assert_eq!(
            cuda.manifest_url(),
            "https://registry-1.docker.io/v2/nvidia/cuda/manifests/12.1.0-cudnn8-devel-ubuntu22.04"
        );
        let local = Location::of("127.0.0.1:5000/team/base");
        assert_eq!((local.host.as_str(), local.tag.as_str()), ("127.0.0.1:5000", "latest"));
        assert_eq!(local.manifest_url(), "http://127.0.0.1:5000/v2/team/base/manifests/latest");
        // A name that starts like a loopback address is not one.
        assert!(Location::of("127.0.0.1.example.com/team/base").manifest_url().starts_with("https://"));
        assert!(Location::of("localhost.example.com/team/base").manifest_url().starts_with("https://"));
    }

    #[test]
    fn a_token_realm_must_be_https_or_on_this_machine() {
        let challenge = |realm: &str| {
            format!(r#"Bearer realm="{realm}",service="registry.example.com",scope="repository:team/base:pull""#)
        };
        assert_eq!(
            token_url(&challenge("https://auth.example.com/token"), "r").unwrap(),
            "https://auth.example.com/token?service=registry.example.com&scope=repository%3Ateam%2Fbase%3Apull"
        );
        assert!(token_url(&challenge("http://127.0.0.1:5001/token"), "r").is_ok());
        assert!(token_url(&challenge("http://localhost/token"), "r").is_ok());
        assert!(token_url(&challenge("http://[::1]:8080/token"), "r").is_ok());
        for realm in [
            "file:///etc/passwd",
            "http://169.254.169.254/latest/meta-data",
            "http://internal.example.com/token",
            "http://127.0.0.1.example.com/token",
            "http://localhost@evil.example.com/token",
            "https://user@evil.example.com/token",
            "gopher://127.0.0.1:6379/_x",
            "ftp://127.0.0.1/token",
            "-K/etc/passwd",
            "https://",
        ] {
            let error = token_url(&challenge(realm), "r").unwrap_err();
            assert!(error.contains("not an https:// URL"), "{realm}: {error}");
        }
    }
}
