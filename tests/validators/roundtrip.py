"""Hostile values round-trip as data, run by tests/hostile.rs.

    python roundtrip.py same BENIGN_DIR HOSTILE_DIR
        every YAML, Python, HCL and INI file of HOSTILE_DIR parses to exactly what the file of the
        same path in BENIGN_DIR parses to: the hostile value added no statement, key, document or
        section (it only ever reaches comments of these files)
    python roundtrip.py password DIR VALUE
        every k8s/secret.yaml under DIR holds exactly VALUE as `root-passwd`
    python roundtrip.py env DIR NAME VALUE
        every image under DIR gives the variable NAME exactly VALUE: the Deployment's `env`, the
        Dockerfile's `ENV` and the shell array of init/setup/platform.sh that /etc/environment is
        written from

Prints one `FILE: finding` line per finding and exits 1 when there is any; exits 3 when a library
it needs is missing.
"""

import ast
import configparser
import os
import re
import subprocess
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


def dockerfile_word(word):
    """A Dockerfile double-quoted word as the builder reads it: `\\`, `\"` and `\$` unescaped."""
    if not (word.startswith('"') and word.endswith('"')):
        return word
    return re.sub(r'\\(["\\$])', r"\1", word[1:-1])


def env(directory, name, value):
    import yaml

    findings = []
    for root, _dirs, files in os.walk(directory):
        if "Dockerfile" not in files:
            continue
        with open(os.path.join(root, "k8s", "deployment.yaml"), encoding="utf-8") as handle:
            deployment = yaml.safe_load(handle)
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        found = [v.get("value") for v in container["env"] if v["name"] == name]
        if found != [value]:
            findings.append("%s/k8s/deployment.yaml: %s is %r, not %r" % (root, name, found, value))
        with open(os.path.join(root, "Dockerfile"), encoding="utf-8") as handle:
            lines = handle.read().split("\n")
        prefix = "ENV %s=" % name
        found = [dockerfile_word(line[len(prefix):]) for line in lines if line.startswith(prefix)]
        if found != [value]:
            findings.append("%s/Dockerfile: %s is %r, not %r" % (root, name, found, value))
        with open(os.path.join(root, "init", "setup", "platform.sh"), encoding="utf-8") as handle:
            lines = handle.read().split("\n")
        at = lines.index("names+=(%s)" % name)
        shell = "values=()\n%s\nprintf '%%s' \"${values[0]}\"" % lines[at + 1]
        found = subprocess.run(["bash", "-c", shell], capture_output=True, check=True).stdout.decode("utf-8")
        if found != value:
            findings.append("%s/init/setup/platform.sh: %s is %r, not %r" % (root, name, found, value))
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
    elif sys.argv[1] == "env":
        findings = env(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        findings = password(sys.argv[2], sys.argv[3])
    for finding in findings:
        print(finding)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
