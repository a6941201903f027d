//! Validators for values that reach shell, YAML, Python, Dockerfile or HCL text.
//!
//! Each returns `Err(reason)` with a lowercase phrase; the caller turns it into a diagnostic.

/// A Docker repository name: path components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`
/// (the distribution reference grammar Docker applies).
pub fn image_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 200 {
        return Err("an image name has 1 to 200 characters".to_owned());
    }
    for component in name.split('/') {
        if component.is_empty() {
            return Err("an image name has no empty path component (`//`, leading or trailing `/`)".to_owned());
        }
        if component == "." || component == ".." {
            return Err(format!("`{component}` is not a path component of an image name"));
        }
        if !name_component(component) {
            return Err(format!(
                "`{component}` is not a valid name component: use lowercase letters and digits, separated by one \
                 `.`, one or two `_`, or dashes"
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn name_component(component: &str) -> bool {
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut rest = component;
    loop {
        let word = rest.find(|c: char| !alphanumeric(c)).unwrap_or(rest.len());
        if word == 0 {
            return false;
        }
        rest = &rest[word..];
        if rest.is_empty() {
            return true;
        }
        let separator = rest.find(alphanumeric).unwrap_or(rest.len());
        let ok = matches!(&rest[..separator], "." | "_" | "__") || rest[..separator].chars().all(|c| c == '-');
        if !ok {
            return false;
        }
        rest = &rest[separator..];
    }
}

/// A Docker tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn tag(tag: &str) -> Result<(), String> {
    let mut chars = tag.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    if !first_ok || tag.len() > 128 || !tag.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        return Err(
            "a tag has 1 to 128 letters, digits, `_`, `.` and `-`, and starts with a letter, digit or `_`".to_owned()
        );
    }
    Ok(())
}

/// Any image reference for `base`: `[registry[:port]/]path[:tag][@sha256:…]`.
pub fn image_reference(reference: &str) -> Result<(), String> {
    let (rest, digest) = match reference.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (reference, None),
    };
    if let Some(digest) = digest {
        let hex = digest.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err("a digest is `@sha256:` followed by 64 hex digits".to_owned());
        }
    }
    let (path, tag_part) = match rest.rfind(':') {
        Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if let Some(t) = tag_part {
        tag(t)?;
    }
    let mut components: Vec<&str> = path.split('/').collect();
    if components.len() > 1 && (components[0].contains(['.', ':']) || components[0] == "localhost") {
        let registry = components.remove(0);
        let ok = registry.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
        if !ok {
            return Err(format!("`{registry}` is not a registry host"));
        }
    }
    image_name(&components.join("/"))
}

/// An absolute path of safe characters, without `..`.
pub fn absolute_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err("the path must be absolute (start with `/`)".to_owned());
    }
    if path.split('/').any(|c| c == "..") {
        return Err("the path must not contain `..`".to_owned());
    }
    if !path.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '.' | '-' | '+' | '@')) {
        return Err("the path may only contain letters, digits and `/ _ . - + @`".to_owned());
    }
    Ok(())
}

/// The system's own directories: a file of a Secret mounted there (by `docker-run.sh`, or as its
/// directory by the Deployment) would hide or replace what the system needs.
const SYSTEM_DIRS: &[&str] = &["bin", "boot", "dev", "etc", "init", "proc", "run", "sbin", "sys", "usr"];

/// Where a file of a Secret (the root password, JupyterLab's token, SSH keys) is mounted: an
/// absolute file path outside [`SYSTEM_DIRS`], `/lib*`, `/var/run` and `/var/lib`, and not `/`
/// itself; `/run/secrets/`, where Docker and Kubernetes mount secrets, is the one place under
/// `/run` allowed. `example` is a good path, for the help.
pub fn secret_file(path: &str, example: &str) -> Result<(), String> {
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    let Some(top) = components.first() else {
        return Err(format!("`/` is the root directory, not a file: use a path like `{example}`"));
    };
    let secrets = *top == "run" && components.len() > 2 && components[1] == "secrets";
    let system = (SYSTEM_DIRS.contains(top) && !secrets)
        || top.starts_with("lib")
        || (*top == "var" && components.get(1).is_some_and(|c| matches!(*c, "run" | "lib")));
    if system || path.ends_with('/') {
        return Err(format!(
            "`{path}` is a system path, which mounting the file would hide; use a path of its own like `{example}`"
        ));
    }
    Ok(())
}

/// A URL path segment list like `/jupyter/` or `/monitor`.
pub fn url_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err("a URL path starts with `/`".to_owned());
    }
    if path.contains("//") || path.split('/').any(|c| c == ".." || c == ".") {
        return Err("a URL path has no empty, `.` or `..` segments".to_owned());
    }
    if !path.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '.' | '-' | '~')) {
        return Err("a URL path may only contain letters, digits and `/ _ . - ~`".to_owned());
    }
    Ok(())
}

/// An `http(s)://host[:port][/path]` URL of safe characters; returns the host.
pub fn url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| "the URL must start with `https://` or `http://`".to_owned())?;
    let scheme = &url[..url.len() - rest.len()];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if let Some((user, host)) = rest[..authority_end].rsplit_once('@') {
        let user = user.split_once(':').map_or(user.to_owned(), |(name, _)| format!("{name}:…"));
        return Err(format!(
            "the URL carries credentials (`{user}@`), which would be written into the image and its build files: write `{scheme}{host}{}`, a mirror that needs no login",
            &rest[authority_end..]
        ));
    }
    if let Some(at) = rest.find(['?', '#']) {
        let part = if rest[at..].starts_with('?') { "a query" } else { "a fragment" };
        return Err(format!(
            "the URL has {part} (`{}`), and pip, apt and curl add their own paths after the URL: write `{scheme}{}`",
            &rest[at..],
            &rest[..at]
        ));
    }
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let (host, port) = authority.split_once(':').map_or((authority, None), |(h, p)| (h, Some(p)));
    let host_ok = !host.is_empty()
        && host.split('.').all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !host_ok {
        return Err(format!("`{host}` is not a host name"));
    }
    if let Some(port) = port
        && port.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Err(format!("`{port}` is not a port"));
    }
    if !path.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '.' | '-' | '~' | '+' | '%')) {
        return Err(
            "the URL path may only contain letters, digits and `/ _ . - ~ + %` (no quotes, spaces, `?` or `#`)"
                .to_owned(),
        );
    }
    Ok(host.to_owned())
}

/// The host of a valid plain `http://` URL, which pip trusts only when told (`--trusted-host`):
/// none for `https://`.
pub fn plain_http_host(address: &str) -> Option<String> {
    if address.starts_with("http://") { url(address).ok() } else { None }
}

/// A Debian package, optionally pinned: `name` or `name=version`.
pub fn apt_package(spec: &str) -> Result<(), String> {
    let (name, version) = spec.split_once('=').map_or((spec, None), |(n, v)| (n, Some(v)));
    let name_ok = name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'));
    if !name_ok {
        return Err(format!(
            "`{name}` is not a Debian package name: lowercase letters, digits and `+ - .`, starting with a letter or digit"
        ));
    }
    if let Some(version) = version {
        let ok = !version.is_empty()
            && version.starts_with(|c: char| c.is_ascii_digit())
            && version.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | ':' | '-'));
        if !ok {
            return Err(format!("`{version}` is not a Debian version"));
        }
    }
    Ok(())
}

/// A pip requirement of the safe subset of PEP 508: `name[extra,…]` followed by version clauses
/// like `==1.2`, `>=1,<2`. No URLs, options, markers, spaces or quotes.
pub fn pip_requirement(spec: &str) -> Result<(), String> {
    if spec.starts_with('-') {
        return Err(
            "pip options are not requirements: write a package name like `pandas` or `pandas==2.2.2`".to_owned()
        );
    }
    if spec.contains("://") || spec.contains('@') {
        return Err("URL requirements are not supported: name a package from the index".to_owned());
    }
    let name_end =
        spec.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))).unwrap_or(spec.len());
    let (name, mut rest) = spec.split_at(name_end);
    let name_ok =
        name.starts_with(|c: char| c.is_ascii_alphanumeric()) && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !name_ok {
        return Err(format!("`{spec}` does not start with a package name"));
    }
    if let Some(extras) = rest.strip_prefix('[') {
        let Some((inside, after)) = extras.split_once(']') else {
            return Err("an extra `[` is not closed".to_owned());
        };
        if inside.is_empty() || !inside.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ',' | '.' | '_' | '-'))
        {
            return Err(format!("`[{inside}]` is not a list of extras"));
        }
        rest = after;
    }
    if rest.is_empty() {
        return Ok(());
    }
    for clause in rest.split(',') {
        let op_len = ["===", "==", ">=", "<=", "~=", "!=", "<", ">"]
            .iter()
            .find(|op| clause.starts_with(*op))
            .map(|op| op.len())
            .ok_or_else(|| format!("`{clause}` is not a version clause like `==1.2` or `>=1.0`"))?;
        let version = &clause[op_len..];
        if version.is_empty()
            || !version.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '*' | '+' | '!' | '_' | '-'))
        {
            return Err(format!("`{version}` is not a version"));
        }
    }
    Ok(())
}

/// A Kubernetes CPU or memory quantity: `2`, `100m`, `0.5`, `4Gi`, `512Mi`.
pub fn quantity(q: &str) -> Result<(), String> {
    let digits_end = q.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(q.len());
    let (number, suffix) = q.split_at(digits_end);
    let number_ok = !number.is_empty() && number.matches('.').count() <= 1 && number != ".";
    let suffix_ok = ["", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"].contains(&suffix);
    if number_ok && suffix_ok {
        Ok(())
    } else {
        Err(format!("`{q}` is not a Kubernetes quantity like `2`, `500m`, `4Gi` or `512Mi`"))
    }
}

/// The bytes of a memory quantity that [`quantity`] accepts (`4Gi`, `512Mi`, `1.5G`), if it names
/// a whole number of bytes below 2^64; `None` otherwise (`500m` of memory, say).
#[must_use]
pub fn quantity_bytes(q: &str) -> Option<u64> {
    quantity(q).ok()?;
    let digits_end = q.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(q.len());
    let (number, suffix) = q.split_at(digits_end);
    let scale: u64 = match suffix {
        "" => 1,
        "k" => 1000,
        "M" => 1000_u64.pow(2),
        "G" => 1000_u64.pow(3),
        "T" => 1000_u64.pow(4),
        "P" => 1000_u64.pow(5),
        "E" => 1000_u64.pow(6),
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        _ => return None,
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    // At most nine decimals: beyond them a fraction of any suffix is below one byte.
    let fraction = fraction.get(..fraction.len().min(9))?;
    let tenths = 10_u64.pow(u32::try_from(fraction.len()).ok()?);
    let fraction: u64 = if fraction.is_empty() { 0 } else { fraction.parse().ok()? };
    let fraction_bytes = u64::try_from(u128::from(fraction) * u128::from(scale) / u128::from(tenths)).ok()?;
    whole.checked_mul(scale)?.checked_add(fraction_bytes)
}

/// A memory quantity for `bytes`, in the largest binary unit that divides it: `8Gi`, `1536Mi`.
#[must_use]
pub fn bytes_quantity(bytes: u64) -> String {
    for (suffix, shift) in [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{}{suffix}", bytes >> shift);
        }
    }
    bytes.to_string()
}

/// An NVIDIA driver version as `nvidia-smi` reports it: `535.183.01`, `570.86.15`, `580.65.06`.
pub fn driver_version(version: &str) -> Result<(), String> {
    let mut parts = version.split('.');
    let branch = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let digits = |p: &str, max: usize| !p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit());
    if digits(branch, 4) && (1..=2).contains(&rest.len()) && rest.iter().all(|p| digits(p, 3)) {
        Ok(())
    } else {
        Err("write the driver version `nvidia-smi` reports on the pool's nodes, like \"535.183.01\"".to_owned())
    }
}

/// A Kubernetes extended resource name: `DOMAIN/NAME` outside `kubernetes.io`, as device plugins
/// advertise them (`nvidia.com/gpu`, `nvidia.com/mig-1g.10gb`, `nvidia.com/gpu.shared`).
pub fn extended_resource(name: &str) -> Result<(), String> {
    let help = || {
        "write the resource the device plugin advertises, `DOMAIN/NAME` like \"nvidia.com/gpu\", \"nvidia.com/gpu.shared\" or \"nvidia.com/mig-1g.10gb\"".to_owned()
    };
    let (domain, resource) = name.split_once('/').ok_or_else(help)?;
    let in_kubernetes_io = domain == "kubernetes.io" || domain.ends_with(".kubernetes.io");
    let resource_ok = !resource.is_empty()
        && resource.len() <= 63
        && resource.starts_with(|c: char| c.is_ascii_alphanumeric())
        && resource.ends_with(|c: char| c.is_ascii_alphanumeric())
        && resource.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if dns_subdomain(domain).is_ok() && domain.contains('.') && !in_kubernetes_io && resource_ok {
        Ok(())
    } else {
        Err(help())
    }
}

/// A container name for `docker run --name`.
pub fn container_name(name: &str) -> Result<(), String> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err("a container name has letters, digits, `_ . -` and starts with a letter or digit".to_owned())
    }
}

/// A password that can be quoted for shell and YAML: printable ASCII, no newline.
pub fn password(p: &str) -> Result<(), String> {
    if p.is_empty() || !p.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err("the password must be non-empty printable ASCII on one line".to_owned());
    }
    Ok(())
}

/// A sha256 in hex.
pub fn sha256(hex: &str) -> Result<(), String> {
    if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err("a sha256 is 64 hex digits".to_owned())
    }
}

/// A Python version `3.N`.
pub fn python_version(v: &str) -> Result<(), String> {
    let ok = v.split_once('.').is_some_and(|(major, minor)| {
        major == "3" && !minor.is_empty() && minor.chars().all(|c| c.is_ascii_digit()) && !minor.starts_with('0')
    });
    if ok { Ok(()) } else { Err("a Python version is `3.N`, like `3.10`".to_owned()) }
}

/// A dotted numeric version with `parts` parts, like `12.1.0`.
pub fn dotted(v: &str, parts: usize) -> bool {
    let split: Vec<&str> = v.split('.').collect();
    split.len() == parts && split.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// A registry and repository prefix: `host[:port][/path…]`, like `harbor.example.edu:5000/ai`. The
/// host is a DNS name (or `localhost`), the path lowercase name components; no scheme, tag or
/// trailing `/`.
pub fn registry(reference: &str) -> Result<(), String> {
    if reference.contains("://") {
        return Err("write the registry without a scheme: `harbor.example.edu:5000/ai`, not `https://…`".to_owned());
    }
    let (authority, path) = reference.split_once('/').map_or((reference, None), |(a, p)| (a, Some(p)));
    let (host, port) = authority.split_once(':').map_or((authority, None), |(h, p)| (h, Some(p)));
    let host_ok = !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if !host_ok {
        return Err(format!("`{host}` is not a registry host: write a DNS name like `harbor.example.edu`"));
    }
    if !(host.contains('.') || host == "localhost" || port.is_some()) {
        return Err(format!(
            "`{host}` would be read as a Docker Hub namespace: a registry host has a `.` or a `:port`, or is `localhost`"
        ));
    }
    if let Some(port) = port
        && port.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Err(format!("`{port}` is not a port: write `host:5000`"));
    }
    match path {
        Some(path) => image_name(path).map_err(|reason| format!("the repository prefix `{path}`: {reason}")),
        None => Ok(()),
    }
}

/// A DNS-1123 label (Kubernetes names of namespaces, volumes): at most 63 lowercase letters,
/// digits and `-`, beginning and ending with a letter or digit.
pub fn dns_label(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err("a Kubernetes name here is a DNS-1123 label: 1 to 63 lowercase letters, digits and `-`, beginning and ending with a letter or digit".to_owned())
    }
}

/// A DNS-1123 subdomain (names of Secrets and PersistentVolumeClaims): at most 253 characters of
/// DNS-1123 labels joined by `.`.
pub fn dns_subdomain(name: &str) -> Result<(), String> {
    let ok = !name.is_empty() && name.len() <= 253 && name.split('.').all(|l| dns_label(l).is_ok());
    if ok {
        Ok(())
    } else {
        Err("a Kubernetes object name is a DNS-1123 subdomain: lowercase letters, digits, `-` and `.`, beginning and ending with a letter or digit, at most 253 characters".to_owned())
    }
}

/// A label key: an optional DNS subdomain prefix and `/`, then a name of at most 63 letters,
/// digits, `-`, `_` and `.`, beginning and ending with a letter or digit.
pub fn label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = key.rsplit_once('/').map_or((None, key), |(p, n)| (Some(p), n));
    if let Some(prefix) = prefix
        && dns_subdomain(prefix).is_err()
    {
        return Err(format!("the prefix `{prefix}` of a label key is a DNS subdomain like `nvidia.com`"));
    }
    if name.is_empty() {
        return Err("a label key has a name after its prefix, like `nvidia.com/gpu.product`".to_owned());
    }
    label_value(name).map_err(|_| {
        "a label key's name has 1 to 63 letters, digits, `-`, `_` and `.`, beginning and ending with a letter or digit"
            .to_owned()
    })
}

/// A label value: empty, or at most 63 letters, digits, `-`, `_` and `.`, beginning and ending
/// with a letter or digit.
pub fn label_value(value: &str) -> Result<(), String> {
    let ok = value.is_empty()
        || (value.len() <= 63
            && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()));
    if ok {
        Ok(())
    } else {
        Err("a label value has at most 63 letters, digits, `-`, `_` and `.`, beginning and ending with a letter or digit".to_owned())
    }
}

/// An environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn env_name(name: &str) -> Result<(), String> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok { Ok(()) } else { Err("a variable name is letters, digits and `_`, not starting with a digit".to_owned()) }
}

/// An environment variable value that every file it reaches (Dockerfile `ENV`, /etc/environment,
/// shell, YAML) takes literally: one line of visible text ([`crate::source::unsafe_char`]: no
/// control characters, line separators or direction overrides) without quotes, backslashes, `$`
/// or backticks.
pub fn env_value(value: &str) -> Result<(), String> {
    if let Some(c) = value.chars().find(|c| crate::source::unsafe_char(*c)) {
        return Err(format!(
            "the value holds the invisible character U+{:04X}, which the Dockerfile and /etc/environment cannot carry: write it without line breaks, control characters or direction overrides",
            u32::from(c)
        ));
    }
    if value.chars().any(|c| matches!(c, '"' | '\\' | '$' | '`')) {
        return Err("the value reaches the Dockerfile, /etc/environment and the shell as it is: it may not contain quotes, backslashes, `$` or backticks".to_owned());
    }
    Ok(())
}

/// A key of a Kubernetes Secret: 1 to 253 letters, digits, `-`, `_` and `.`.
pub fn secret_key(key: &str) -> Result<(), String> {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok { Ok(()) } else { Err("a Secret's key has 1 to 253 letters, digits, `-`, `_` and `.`".to_owned()) }
}

/// A web origin `http(s)://host[:port]` (no path), for `frame-ancestors`.
pub fn origin(origin: &str) -> Result<(), String> {
    url(origin)?;
    let after_scheme = origin.split_once("://").map_or("", |(_, rest)| rest);
    if after_scheme.contains('/') {
        return Err(format!(
            "an origin is a scheme, host and port only, like `https://portal.example.edu`: drop the path of `{origin}`"
        ));
    }
    Ok(())
}

/// Cuts a Kubernetes name to 63 characters, ending in 8 hex digits of the hash of `key` when cut.
#[must_use]
pub fn truncate_name(name: &str, key: &str) -> String {
    if name.len() <= 63 {
        return name.to_owned();
    }
    format!("{}-{}", name[..54].trim_end_matches('-'), short_hash(key))
}

/// Lowercase hex digits of `bytes`.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(2 * bytes.len());
    for b in bytes {
        hex.push(char::from(DIGITS[usize::from(b >> 4)]));
        hex.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    hex
}

/// 8 hex digits of the sha256 of `text`: what keeps a value cut to a limit apart from the others.
#[must_use]
pub fn short_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(text.as_bytes())[..4])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_quantities_in_bytes() {
        assert_eq!(quantity_bytes("4Gi"), Some(4 << 30));
        assert_eq!(quantity_bytes("512Mi"), Some(512 << 20));
        assert_eq!(quantity_bytes("1.5Gi"), Some(3 << 29));
        assert_eq!(quantity_bytes("2G"), Some(2_000_000_000));
        assert_eq!(quantity_bytes("1000"), Some(1000));
        assert_eq!(quantity_bytes("500m"), None, "a thousandth of a byte is no memory size");
        assert_eq!(quantity_bytes("99999999999Ei"), None, "beyond 2^64");
        assert_eq!(quantity_bytes("4 Gi"), None);
        assert_eq!(bytes_quantity(8 << 30), "8Gi");
        assert_eq!(bytes_quantity(1536 << 20), "1536Mi");
        assert_eq!(bytes_quantity(1000), "1000");
    }

    #[test]
    fn driver_versions_and_extended_resources() {
        for good in ["535.183.01", "550.127.05", "570.86", "1000.1.2"] {
            assert!(driver_version(good).is_ok(), "{good}");
        }
        for bad in ["535", "r535", "535.183.01.1", "535..1", "53500.1", " 535.1", "535.1a"] {
            assert!(driver_version(bad).is_err(), "{bad}");
        }
        for good in ["nvidia.com/gpu", "nvidia.com/gpu.shared", "nvidia.com/mig-1g.10gb", "amd.com/gpu"] {
            assert!(extended_resource(good).is_ok(), "{good}");
        }
        for bad in [
            "gpu",
            "nvidia/gpu",
            "kubernetes.io/gpu",
            "x.kubernetes.io/gpu",
            "nvidia.com/",
            "nvidia.com/-gpu",
            "nvidia.com/a b",
        ] {
            assert!(extended_resource(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn image_names() {
        assert!(image_name("pytorch").is_ok());
        assert!(image_name("myteam/pytorch").is_ok());
        assert!(image_name("registry.example.com/team/py-torch_2").is_ok());
        assert!(image_name("a__b/c---d/e.f_g").is_ok());
        for bad in
            ["", "PyTorch", "../x", "a//b", "a/", "-a", "a b", "a/./b", "a;rm", "b..c", "a___b", "a.-b", "a_-b", "a-"]
        {
            assert!(image_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn references() {
        assert!(image_reference("ubuntu:22.04").is_ok());
        assert!(image_reference("nvidia/cuda:12.1.0-cudnn8-devel-ubuntu22.04").is_ok());
        assert!(image_reference("registry.example.com:5000/team/base:1").is_ok());
        assert!(image_reference("ubuntu@sha256:".to_owned().add_hex().as_str()).is_ok());
        assert!(image_reference("ubuntu:22.04 && rm").is_err());
        assert!(image_reference("Ubuntu").is_err());
    }

    trait AddHex {
        fn add_hex(self) -> String;
    }
    impl AddHex for String {
        fn add_hex(self) -> String {
            self + &"a".repeat(64)
        }
    }

    #[test]
    fn pip_requirements() {
        for good in ["pandas", "numpy<2", "torch==2.3.0", "tensorflow[and-cuda]==2.15.1", "a.b_c-d>=1,<2", "x~=1.4.2"] {
            assert!(pip_requirement(good).is_ok(), "{good}");
        }
        for bad in ["--index-url=x", "pkg @ https://x", "pandas; rm -rf /", "pandas ==1", "'x'", "x==", "[x]", "x[a"] {
            assert!(pip_requirement(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn apt_packages() {
        assert!(apt_package("htop").is_ok());
        assert!(apt_package("libc6=2.35-0ubuntu3").is_ok());
        assert!(apt_package("g++").is_ok());
        for bad in ["Htop", "a", "x;y", "htop=", "-y"] {
            assert!(apt_package(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(url("https://mirrors.aliyun.com/pypi/simple").unwrap(), "mirrors.aliyun.com");
        assert!(url("http://10.0.0.1:8080/simple/").is_ok());
        for bad in ["ftp://x", "https://", "https://x/a b", "https://x/'", "https://x/?q=1", "https://a..b/"] {
            assert!(url(bad).is_err(), "{bad}");
        }
        let credentials = url("https://alice:s3cret@mirror.example.edu/simple").unwrap_err();
        assert!(credentials.contains("`alice:…@`") && !credentials.contains("s3cret"), "{credentials}");
        assert!(credentials.contains("`https://mirror.example.edu/simple`"), "{credentials}");
        assert!(url("https://token@mirror.example.edu").unwrap_err().contains("`token@`"));
        let query = url("https://mirror.example.edu/simple?token=1").unwrap_err();
        assert!(query.contains("a query (`?token=1`)") && query.contains("`https://mirror.example.edu/simple`"));
        assert!(url("https://mirror.example.edu/simple#main").unwrap_err().contains("a fragment (`#main`)"));
    }

    #[test]
    fn quantities_paths_and_versions() {
        assert!(quantity("100m").is_ok() && quantity("4Gi").is_ok() && quantity("0.5").is_ok());
        assert!(quantity("4 Gi").is_err() && quantity("Gi").is_err());
        assert!(absolute_path("/sync/root-passwd").is_ok());
        assert!(
            absolute_path("relative").is_err() && absolute_path("/a/../b").is_err() && absolute_path("/a b").is_err()
        );
        assert!(secret_file("/sync/root-passwd", "").is_ok() && secret_file("/root/.passwd", "").is_ok());
        assert!(secret_file("/run/secrets/root-passwd", "").is_ok());
        for bad in [
            "/",
            "/etc/passwd",
            "/./etc/shadow",
            "//usr/bin/x",
            "/lib64/x",
            "/var/run/x",
            "/proc/1/x",
            "/sync/",
            "/run/x",
            "/run/secrets",
        ] {
            assert!(secret_file(bad, "").is_err(), "{bad}");
        }
        assert!(python_version("3.10").is_ok());
        assert!(python_version("3.10.4").is_err() && python_version("2.7").is_err());
        assert!(tag("2.3.0-python3.8").is_ok() && tag(".x").is_err());
    }

    #[test]
    fn registries_and_kubernetes_names() {
        for good in ["harbor.example.edu:5000/ai", "harbor.example.edu", "localhost:5000", "10.0.0.1:5000/x/y"] {
            assert!(registry(good).is_ok(), "{good}");
        }
        for bad in ["https://harbor.example.edu", "harbor", "harbor.example.edu/", "h.edu:0/x", "h.edu/AI", "h_x.edu"] {
            assert!(registry(bad).is_err(), "{bad}");
        }
        assert!(dns_label("ai-platform").is_ok() && dns_label("AI").is_err() && dns_label("a.b").is_err());
        assert!(dns_subdomain("harbor-cred.v1").is_ok() && dns_subdomain("-x").is_err());
        assert!(label_key("nvidia.com/gpu.product").is_ok() && label_key("gpu").is_ok());
        assert!(label_key("Nvidia_com/gpu").is_err() && label_key("nvidia.com/").is_err());
        assert!(label_value("NVIDIA-A100-SXM4-80GB").is_ok() && label_value("").is_ok());
        assert!(label_value("A100 80GB").is_err());
    }

    #[test]
    fn environment_and_origins() {
        assert!(env_name("HF_ENDPOINT").is_ok() && env_name("_x1").is_ok());
        assert!(env_name("1X").is_err() && env_name("A-B").is_err() && env_name("").is_err());
        assert!(env_value("https://hf-mirror.com").is_ok() && env_value("").is_ok());
        for bad in ["$HOME", "a\"b", "a\\b", "a\nb", "`x`", "a\u{2028}b", "a\u{202e}b", "a\u{85}b", "a\u{fffe}"] {
            assert!(env_value(bad).is_err(), "{bad}");
        }
        assert!(env_value("東京 ünï").is_ok());
        assert!(secret_key("HF_TOKEN").is_ok() && secret_key("token.v1").is_ok());
        assert!(secret_key("").is_err() && secret_key("a/b").is_err());
        assert!(origin("https://portal.example.edu").is_ok() && origin("http://localhost:8080").is_ok());
        assert!(origin("https://portal.example.edu/").is_err() && origin("portal.example.edu").is_err());
    }
}
