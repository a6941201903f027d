#!/usr/bin/env python3
"""Render every dlspec template for each sample context, the way the Rust side does.

    render.py [--out DIR] [SAMPLE.json ...]

Each sample (default: every *.json beside this file; variants/*.json are extra edge cases
for the template branches the three main samples do not reach: no services, no framework, a
custom base, no JupyterLab locale, an IPv6 TensorBoard bind, odd characters) holds `{"image": {...}}`, the serialized
`model::Image`. Its per-image files go to DIR/<sample>/<path> (DIR defaults to /tmp/rendered);
the catalog of all samples goes to DIR/catalog/. Executable outputs get mode 0755.

Mirrors src/render.rs (trim_blocks, lstrip_blocks, keep_trailing_newline, strict undefined, no
auto-escaping, the filters `sh`, `yaml`, `py`, `hcl`, `json`) and src/plan.rs (which template
becomes which file, and when). Keep IMAGE_OUTPUTS in step with plan.rs.

Every template is rendered with Jinja2 and, when the `minijinja` Python binding (the Rust
engine) is installed, with MiniJinja too; the two outputs must be identical. The raw output must
end in exactly one newline and contain no CR, no tab, no trailing blank and, outside
Python, no two blank lines in a row.
"""

import argparse
import json
import os
import re
import sys
from pathlib import Path

import jinja2

try:
    import minijinja
except ImportError:  # the cross-check is optional
    minijinja = None

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE.parent

# (template, output path, executable, wanted) as in src/plan.rs.
IMAGE_OUTPUTS = [
    ("image/Dockerfile.j2", "Dockerfile", False, lambda i: True),
    ("image/build-scripts.sh.j2", "build-scripts.sh", True, lambda i: True),
    ("image/docker-run.sh.j2", "docker-run.sh", True, lambda i: True),
    ("image/init/boot/boot.sh.j2", "init/boot/boot.sh", True, lambda i: True),
    ("image/init/boot/init.py.j2", "init/boot/init.py", False, lambda i: True),
    ("image/init/boot/healthcheck.sh.j2", "init/boot/healthcheck.sh", True, lambda i: True),
    ("image/init/setup/platform.sh.j2", "init/setup/platform.sh", True, lambda i: True),
    ("image/init/ssh/sshd_config.j2", "init/ssh/sshd_config", False, lambda i: i["ssh"] is not None),
    ("image/init/motd/motd.sh.j2", "init/motd/motd.sh", False, lambda i: i["ssh"] is not None and i["ssh"]["motd"]),
    ("image/init/bin/shutdown.j2", "init/bin/shutdown", True, lambda i: True),
    ("image/init/supervisor/supervisor.ini.j2", "init/supervisor/supervisor.ini", False, lambda i: True),
    ("image/init/jupyter/jupyter_config.py.j2", "init/jupyter/jupyter_config.py", False, lambda i: i["jupyter"] is not None),
    ("image/k8s/deployment.yaml.j2", "k8s/deployment.yaml", False, lambda i: True),
    ("image/k8s/service.yaml.j2", "k8s/service.yaml", False, lambda i: True),
    (
        "image/k8s/secret.yaml.j2",
        "k8s/secret.yaml",
        False,
        lambda i: i["ssh"] is not None and i["ssh"]["password"] is not None,
    ),
    ("image/README.md.j2", "README.md", False, lambda i: True),
]
CATALOG_OUTPUTS = [("catalog/README.md.j2", "README.md"), ("catalog/docker-bake.hcl.j2", "docker-bake.hcl")]

SAFE_SHELL = re.compile(r"[A-Za-z0-9_./:=@%+,-]+")


def _text(value):
    """What the Rust filters quote: a string as is, anything else as minijinja prints it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        raise TypeError(f"quoting filter applied to {value!r}: test it, do not print it")
    return str(value)


def sh(value):
    """POSIX shell word: bare when every character is safe, else single-quoted."""
    text = _text(value)
    if SAFE_SHELL.fullmatch(text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def json_string(value):
    """A JSON string literal (serde_json): YAML double-quoted scalar, Python literal, HCL string."""
    return json.dumps(_text(value), ensure_ascii=False)


def to_json(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


FILTERS = {"sh": sh, "yaml": json_string, "py": json_string, "hcl": json_string, "json": to_json}


def jinja_env():
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters.update(FILTERS)
    return env


def minijinja_env():
    if minijinja is None:
        return None

    def load(name):
        path = TEMPLATES / name
        return path.read_text(encoding="utf-8") if path.is_file() else None

    env = minijinja.Environment(
        loader=load,
        undefined_behavior="strict",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_escape_callback=lambda name: None,
    )
    env.pycompat = False  # the Rust side has no Python-method compatibility
    for name, func in FILTERS.items():
        env.add_filter(name, func)
    return env


def groups_of(images):
    """The bake groups of src/plan.rs: one per image name, sorted by name."""
    groups = {}
    for image in images:
        name = image["name"]
        group = groups.setdefault(
            name, {"name": name, "slug": re.sub(r"[/._]", "-", name), "targets": []}
        )
        group["targets"].append(image["slug"])
    return [groups[name] for name in sorted(groups)]


def problems_of(text, path):
    problems = []
    if not text.endswith("\n") or text.endswith("\n\n"):
        problems.append("does not end with exactly one newline")
    if "\r" in text:
        problems.append("contains CR")
    if "\n\n\n" in text and path.suffix != ".py":  # PEP 8 wants two before a def
        problems.append("two blank lines in a row")
    for number, line in enumerate(text.split("\n"), 1):
        if "\t" in line:
            problems.append(f"line {number}: tab")
        if line != line.rstrip():
            problems.append(f"line {number}: trailing blank")
    return problems


class Renderer:
    def __init__(self):
        self.jinja = jinja_env()
        self.mini = minijinja_env()
        self.failures = 0

    def render(self, template, context, dest, executable):
        text = self.jinja.get_template(template).render(**context)
        problems = problems_of(text, dest)
        if self.mini is not None:
            other = self.mini.render_template(template, **context)
            if other != text:
                problems.append("MiniJinja renders differently:\n" + diff(text, other))
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8", newline="\n")
        os.chmod(dest, 0o755 if executable else 0o644)
        for problem in problems:
            print(f"{dest}: {problem}", file=sys.stderr)
            self.failures += 1


def diff(a, b):
    import difflib

    return "".join(difflib.unified_diff(a.splitlines(True), b.splitlines(True), "jinja2", "minijinja"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="/tmp/rendered", type=Path)
    parser.add_argument("samples", nargs="*", type=Path)
    args = parser.parse_args()
    samples = args.samples or sorted(HERE.glob("*.json"))
    renderer = Renderer()
    images = []
    for sample in samples:
        image = json.loads(sample.read_text(encoding="utf-8"))["image"]
        images.append(image)
        root = args.out / sample.stem
        count = 0
        for template, path, executable, wanted in IMAGE_OUTPUTS:
            if wanted(image):
                renderer.render(template, {"image": image}, root / path, executable)
                count += 1
        print(f"rendered {count} files for {sample.name} into {root}")
    images.sort(key=lambda i: (i["name"], i["tag"]))
    # For validate.sh: what the catalog should list.
    (args.out / "samples.json").write_text(json.dumps(images, indent=1) + "\n", encoding="utf-8")
    context = {"images": images, "groups": groups_of(images)}
    for template, path in CATALOG_OUTPUTS:
        renderer.render(template, context, args.out / "catalog" / path, False)
    print(f"rendered the catalog of {len(images)} images into {args.out / 'catalog'}")
    if renderer.mini is None:
        print("note: the minijinja module is missing; rendered with Jinja2 only", file=sys.stderr)
    if renderer.failures:
        print(f"{renderer.failures} problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
