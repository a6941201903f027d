"""Checks of generated files that need a Python library, run by tests/validators.rs.

    python checks.py python FILE...       compiles (py_compile) and parses as Python 3.7
    python checks.py supervisor FILE...   supervisord's own config parser accepts the file
    python checks.py kubernetes FILE...   object names and labels are what the API server accepts
    python checks.py bake FILE...         docker-bake.hcl parses, and its groups and targets agree
    python checks.py workflow FILE...     a GitHub Actions workflow: the schema of GitHub workflows
                                          (check-jsonschema's copy, offline), and every `run:` script
                                          passes shellcheck as bash and takes no `${{ }}` expression
                                          (values reach scripts through `env:`, never spliced in)

Prints one `FILE: finding` line per finding and exits 1 when there is any. Exits 3 when a library
it needs is missing, so that the test can tell a missing validator from a finding.
"""

import ast
import os
import py_compile
import re
import shutil
import sys
import tempfile


def check_python(path, scratch):
    """py_compile with the .pyc in a scratch directory, and the oldest Python the images ship."""
    try:
        py_compile.compile(path, cfile=os.path.join(scratch, "compiled.pyc"), doraise=True)
        with open(path, encoding="utf-8") as handle:
            ast.parse(handle.read(), path, feature_version=(3, 7))
    except (py_compile.PyCompileError, SyntaxError) as error:
        return [str(error)]
    return []


def check_supervisor(path, scratch):
    """ServerOptions.realize, on a copy whose log and run paths point into a scratch directory
    (the parser insists that the log directories exist) and whose `user=` of supervisord, the
    image's user that its build makes, is the one running the check (the parser insists that the
    user exists here)."""
    import pwd

    from supervisor.options import ServerOptions

    root = tempfile.mkdtemp(dir=scratch)
    os.makedirs(os.path.join(root, "var/log/supervisor"))
    os.makedirs(os.path.join(root, "run/dlspec"))
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    text = text.replace("/var/log/supervisor", root + "/var/log/supervisor").replace("/run/", root + "/run/")
    text = re.sub(r"^user=.*$", "user=" + pwd.getpwuid(os.getuid()).pw_name, text, flags=re.M)
    copy = os.path.join(root, "supervisor.ini")
    with open(copy, "w", encoding="utf-8") as handle:
        handle.write(text)
    options = ServerOptions()
    try:
        options.realize(args=["-c", copy])
    except SystemExit:  # realize reports problems on stderr and exits
        return ["supervisord rejects it (see the message above)"]
    except Exception as error:  # noqa: BLE001 - any parser failure is a finding
        return ["supervisord rejects it: %s" % error]
    findings = []
    programs = text.count("[program:")
    parsed = [process for group in options.process_group_configs for process in group.process_configs]
    if len(parsed) != programs:
        findings.append("%d programs written, %d parsed" % (programs, len(parsed)))
    for process in parsed:
        if not process.command.split()[0].startswith("/"):
            findings.append("program %s: the command is not an absolute path" % process.name)
    return findings


DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
LABEL_PREFIX = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def label_findings(where, labels):
    findings = []
    for key, value in (labels or {}).items():
        prefix, _, name = key.rpartition("/")
        if prefix and (len(prefix) > 253 or not LABEL_PREFIX.fullmatch(prefix)):
            findings.append("%s: label key %r has an invalid prefix" % (where, key))
        if len(name) > 63 or not LABEL_NAME.fullmatch(name):
            findings.append("%s: label key %r is not a valid name" % (where, key))
        if not isinstance(value, str):
            findings.append("%s: label %s is not a string" % (where, key))
        elif len(value) > 63 or (value and not LABEL_NAME.fullmatch(value)):
            findings.append("%s: label %s=%r is not a valid label value (63 characters at most)" % (where, key, value))
    return findings


def check_kubernetes(path, _scratch):
    """What the OpenAPI schemas of kubernetes-validate leave out: name and label syntax."""
    import yaml

    findings = []
    with open(path, encoding="utf-8") as handle:
        documents = [d for d in yaml.safe_load_all(handle) if d is not None]
    for document in documents:
        kind = document.get("kind", "?")
        metadata = document.get("metadata", {})
        name = metadata.get("name", "")
        # Services need a DNS-1035 label (a letter first); the other objects here a DNS-1123 label.
        pattern = DNS_1035_LABEL if kind == "Service" else DNS_LABEL
        if len(name) > 63 or not pattern.fullmatch(name):
            findings.append("%s name %r is not a valid DNS label" % (kind, name))
        findings += label_findings(kind + " metadata", metadata.get("labels"))
        spec = document.get("spec", {})
        template = spec.get("template", {}).get("metadata", {})
        if template:
            findings += label_findings(kind + " pod template", template.get("labels"))
        findings += label_findings(kind + " selector", spec.get("selector", {}).get("matchLabels", spec.get("selector")))
    return findings


def unquote(value):
    """python-hcl2 keeps the quotes of strings and block labels."""
    return value[1:-1] if isinstance(value, str) and value.startswith('"') else value


def blocks(bake, kind):
    return {unquote(name): body for block in bake.get(kind, []) for name, body in block.items()}


def check_bake(path, _scratch):
    """HCL syntax (python-hcl2), and targets that build the Dockerfiles beside the bake file."""
    import hcl2

    with open(path, encoding="utf-8") as handle:
        try:
            bake = hcl2.load(handle)
        except Exception as error:  # noqa: BLE001 - any parser failure is a finding
            return ["python-hcl2 rejects it: %s" % error]
    targets, groups = blocks(bake, "target"), blocks(bake, "group")
    findings = []
    for name, body in targets.items():
        dockerfile = os.path.join(os.path.dirname(path), unquote(body["context"]), unquote(body["dockerfile"]))
        if not os.path.isfile(dockerfile):
            findings.append("target %s: no %s" % (name, dockerfile))
    for name, body in groups.items():
        for target in map(unquote, body["targets"]):
            if target not in targets:
                findings.append("group %s names the unknown target %s" % (name, target))
    if set(map(unquote, groups.get("default", {}).get("targets", []))) != set(targets):
        findings.append("the default group is not every target")
    return findings


def check_workflow(path, scratch):
    """The workflow against GitHub's schema, then each step's script through shellcheck, as GitHub
    runs it (`bash -e -o pipefail`). The tools come from the interpreter's own bin/ or PATH."""
    import subprocess

    import yaml

    def tool(name):
        beside = os.path.join(os.path.dirname(sys.executable), name)
        return beside if os.path.exists(beside) else shutil.which(name)

    findings = []
    schema = subprocess.run(
        [tool("check-jsonschema") or "check-jsonschema", "--builtin-schema", "vendor.github-workflows", path],
        capture_output=True,
        text=True,
    )
    if schema.returncode != 0:
        findings.append("not a valid GitHub workflow:\n" + schema.stdout + schema.stderr)
    with open(path, encoding="utf-8") as handle:
        workflow = yaml.safe_load(handle)
    for job_name, job in workflow.get("jobs", {}).items():
        for number, step in enumerate(job.get("steps", []), 1):
            script = step.get("run")
            if script is None:
                continue
            where = "job %s, step %d (%s)" % (job_name, number, step.get("name", script.splitlines()[0]))
            if "${{" in script:
                findings.append("%s: a `${{ }}` expression in the script; pass it through `env:`" % where)
            copy = os.path.join(scratch, "step.sh")
            with open(copy, "w", encoding="utf-8") as handle:
                handle.write("#!/usr/bin/env bash\nset -eo pipefail\n" + script)
            lint = subprocess.run([tool("shellcheck") or "shellcheck", copy], capture_output=True, text=True)
            if lint.returncode != 0:
                findings.append("%s: shellcheck:\n%s" % (where, lint.stdout))
    return findings


# check name: (function, the modules it imports)
CHECKS = {
    "python": (check_python, []),
    "supervisor": (check_supervisor, ["supervisor.options"]),
    "kubernetes": (check_kubernetes, ["yaml"]),
    "bake": (check_bake, ["hcl2"]),
    "workflow": (check_workflow, ["yaml", "check_jsonschema"]),
}


def main():
    check, modules = CHECKS[sys.argv[1]]
    for module in modules:
        try:
            __import__(module)
        except ImportError:
            print("missing Python package: %s" % module.split(".")[0])
            return 3
    scratch = tempfile.mkdtemp()
    failed = False
    try:
        for path in sys.argv[2:]:
            for finding in check(path, scratch):
                print("%s: %s" % (path, finding))
                failed = True
    finally:
        shutil.rmtree(scratch)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
