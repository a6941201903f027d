"""Hostile values round-trip as data, run by tests/hostile.rs.

    python roundtrip.py same BENIGN_DIR HOSTILE_DIR
        every YAML, Python, HCL and INI file of HOSTILE_DIR parses to exactly what the file of the
        same path in BENIGN_DIR parses to: the hostile value added no statement, key, document or
        section (it only ever reaches comments of these files)
    python roundtrip.py password DIR VALUE
        every k8s/secret.yaml under DIR holds exactly VALUE as `root-passwd`

Prints one `FILE: finding` line per finding and exits 1 when there is any; exits 3 when a library
it needs is missing.
"""

import ast
import configparser
import os
import sys


def parsed(path):
    """The file's content as its language reads it, or None for a format not compared here."""
    import hcl2
    import yaml

    with open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()
    if path.endswith(".yaml"):
        return list(yaml.safe_load_all(text))
    if path.endswith(".py"):
        return ast.dump(ast.parse(text, path))
    if path.endswith(".hcl"):
        return hcl2.loads(text)
    if path.endswith(".ini"):
        parser = configparser.RawConfigParser(strict=True)
        parser.read_string(text)
        return {section: dict(parser.items(section)) for section in parser.sections()}
    return None


def same(benign_dir, hostile_dir):
    findings = []
    for root, _dirs, files in os.walk(benign_dir):
        for name in files:
            benign = os.path.join(root, name)
            hostile = os.path.join(hostile_dir, os.path.relpath(benign, benign_dir))
            try:
                expected, actual = parsed(benign), parsed(hostile)
            except Exception as error:  # noqa: BLE001 - any parser failure is a finding
                findings.append("%s: does not parse: %s" % (hostile, error))
                continue
            if expected != actual:
                findings.append("%s: parses to something else than %s" % (hostile, benign))
    return findings


def password(directory, value):
    import yaml

    findings = []
    for root, _dirs, files in os.walk(directory):
        if "secret.yaml" in files:
            path = os.path.join(root, "secret.yaml")
            with open(path, encoding="utf-8") as handle:
                secret = yaml.safe_load(handle)
            if secret["stringData"]["root-passwd"] != value:
                findings.append("%s: root-passwd is %r, not %r" % (path, secret["stringData"]["root-passwd"], value))
    return findings


def main():
    try:
        import hcl2  # noqa: F401
        import yaml  # noqa: F401
    except ImportError as error:
        print(error)
        return 3
    if sys.argv[1] == "same":
        findings = same(sys.argv[2], sys.argv[3])
    else:
        findings = password(sys.argv[2], sys.argv[3])
    for finding in findings:
        print(finding)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
