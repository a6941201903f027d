#!/usr/bin/env python3
"""Helper for scripts/update-compat.sh (stdlib only).

  compat_tool.py timezones OUT [--tzdata FILE] [--checked YYYY-MM-DD]
      write timezones.txt from the local tzdata.zi
  compat_tool.py tf-missing TSV
      print final tensorflow releases on PyPI (>= 1.15.0) missing from TSV
  compat_tool.py check FILE...
      verify the data-file format rules (see src/compat/data/README.md)
"""
import argparse
import datetime
import json
import re
import sys
import urllib.request
from pathlib import Path

PYPI_TF = "https://pypi.org/pypi/tensorflow/json"
FINAL = re.compile(r"\d+\.\d+\.\d+(\.post\d+)?")


def vkey(v):
    base, _, post = v.partition(".post")
    return [int(x) for x in base.split(".")] + [int(post) if post else -1]


def data_rows(path):
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    body = [l for l in lines if not l.startswith("# ")]
    return [l.split("\t") for l in body[1:]]


def cmd_timezones(args):
    zi = Path(args.tzdata)
    lines = zi.read_text(encoding="utf-8").splitlines()
    version = next((l.split()[2] for l in lines if l.startswith("# version ")), "unknown")
    names = set()
    for line in lines:
        parts = line.split()
        if parts[:1] == ["Z"]:
            names.add(parts[1])
        elif parts[:1] == ["L"]:
            names.add(parts[2])
    names = {n for n in names if n not in ("Factory", "localtime") and not n.startswith(("posix/", "right/"))}
    out = [
        f"# checked: {args.checked}",
        f"# source: IANA time zone database {version} as installed locally ({zi}): zone names (Z lines) and link names (L lines)",
        "# note: backward-compatible link names (e.g. Asia/Chongqing, US/Pacific) are kept; Factory, localtime, posix/ and right/ are excluded",
        "# note: regenerate with scripts/update-compat.sh",
        "name",
        *sorted(names),
    ]
    Path(args.out).write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(names)} names (tzdata {version})")


def cmd_tf_missing(args):
    have = {row[0] for row in data_rows(args.tsv)}
    with urllib.request.urlopen(PYPI_TF, timeout=120) as resp:
        releases = json.load(resp)["releases"]
    missing = [
        v
        for v, files in releases.items()
        if FINAL.fullmatch(v)
        and vkey(v) >= vkey("1.15.0")
        and any(not f.get("yanked") for f in files)
        and v not in have
    ]
    for v in sorted(missing, key=vkey):
        print(v)
    print(f"{len(missing)} tensorflow release(s) on PyPI missing from {args.tsv}", file=sys.stderr)


def check_file(path):
    errors = []
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return [f"not UTF-8: {e}"]
    if "\r" in text:
        errors.append("CR found (need LF line endings)")
    if not text.endswith("\n"):
        errors.append("missing final newline")
    lines = text.split("\n")[:-1]
    if not lines or not re.fullmatch(r"# checked: \d{4}-\d{2}-\d{2}", lines[0]):
        errors.append("line 1 must be '# checked: YYYY-MM-DD'")
    i, stage = 1, "source"
    while i < len(lines) and lines[i].startswith("#"):
        line = lines[i]
        if line.startswith("# source: ") and stage == "source":
            pass
        elif line.startswith("# note: ") and (stage == "note" or i > 1):
            stage = "note"
        else:
            errors.append(f"line {i + 1}: comment must be '# source: ...' (first) or '# note: ...'")
        i += 1
    if i < 2 or not lines[1].startswith("# source: "):
        errors.append("line 2 must be a '# source: ' line")
    if i >= len(lines):
        return errors + ["no header line"]
    ncol = len(lines[i].split("\t"))
    for n, line in enumerate(lines[i:], start=i + 1):
        if line == "":
            errors.append(f"line {n}: blank line")
        elif line.startswith("#"):
            errors.append(f"line {n}: comment after the header")
        elif line != line.rstrip():
            errors.append(f"line {n}: trailing whitespace")
        elif len(line.split("\t")) != ncol:
            errors.append(f"line {n}: {len(line.split(chr(9)))} cells, header has {ncol}")
    return errors


def cmd_check(args):
    bad = 0
    for path in args.files:
        errors = check_file(path)
        for e in errors:
            print(f"{path}: {e}", file=sys.stderr)
        bad += bool(errors)
        if not errors:
            rows = len(data_rows(path))
            print(f"{path}: ok ({rows} rows)")
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("timezones")
    t.add_argument("out")
    t.add_argument("--tzdata", default="/usr/share/zoneinfo/tzdata.zi")
    t.add_argument("--checked", default=datetime.date.today().isoformat())
    t.set_defaults(func=cmd_timezones)
    m = sub.add_parser("tf-missing")
    m.add_argument("tsv")
    m.set_defaults(func=cmd_tf_missing)
    c = sub.add_parser("check")
    c.add_argument("files", nargs="+")
    c.set_defaults(func=cmd_check)
    args = p.parse_args()
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
