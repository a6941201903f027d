#!/usr/bin/env bash
# Tests the pre-commit hooks of .pre-commit-hooks.yaml for real: a temporary catalog repository
# with the `.pre-commit-config.yaml` lines the README shows, pointing at this checkout, then
#   1. `pre-commit run --all-files` on specs with a fresh out/        → must pass;
#   2. a spec changed (`pip "pandas"`) and committed without recompiling → the commit is refused
#      and the output names the stale Dockerfile;
#   3. recompiled and committed                                       → the commit goes through;
#   4. a spec with an error                                           → `dlspec-check` refuses it;
#      its diagnostic is printed once (not again by `dlspec-compile-check`);
#   5. the README's adoption block, run as written (`dlspec init`, compile, commit, `pre-commit
#      install`) → its repository passes its own hooks and refuses a stale spec or template.
# pre-commit builds dlspec itself (`language: rust`: `cargo install --path .` of the hooks repo
# at `rev:`). The hook environments, pre-commit's venv and cargo's build directory stay in
# $DLSPEC_PRE_COMMIT_CACHE (default target/pre-commit), so a second run with the same sources
# builds nothing. Uncommitted changes of this checkout are tested too: they are committed into a
# private clone (never into this repository), and `rev:` names that commit.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${DLSPEC_PRE_COMMIT_CACHE:-$root/target/pre-commit}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

failures=0
ok() { printf 'ok    %s\n' "$1"; }
fail() {
    printf 'FAIL  %s\n' "$1"
    failures=$((failures + 1))
}
show() { sed 's/^/      | /' "$1"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

# Git as the test needs it, whatever the user's configuration says.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$tmp/gitconfig"
git config --global user.name "dlspec pre-commit test"
git config --global user.email "pre-commit-test@dlspec.invalid"
git config --global init.defaultBranch main
git config --global commit.gpgsign false
git config --global safe.directory '*'

# pre-commit: from .venv (where .ci/run installs .ci/requirements.txt), else a venv in the cache,
# pinned to the same version.
if [[ -x "$root/.venv/bin/pre-commit" ]]; then
    pre_commit="$root/.venv/bin/pre-commit"
else
    pin="$(grep -E '^pre-commit==' "$root/.ci/requirements.txt")"
    if [[ ! -x "$cache/venv/bin/pre-commit" ]] || [[ "$("$cache/venv/bin/pre-commit" --version)" != "pre-commit ${pin#pre-commit==}" ]]; then
        python3 -m venv "$cache/venv"
        "$cache/venv/bin/pip" install --quiet --disable-pip-version-check "$pin"
    fi
    pre_commit="$cache/venv/bin/pre-commit"
fi
export PRE_COMMIT_HOME="$cache/home" PRE_COMMIT_COLOR=never
# Where `cargo install` builds (it would use a new temporary directory each time otherwise).
export CARGO_TARGET_DIR="$cache/target"
echo "using $("$pre_commit" --version), PRE_COMMIT_HOME=$PRE_COMMIT_HOME"

# The hooks repository: a clone of this checkout at a stable path (pre-commit caches by URL and
# rev). Uncommitted changes become one commit with fixed metadata, so the same sources give the
# same rev and reuse the hook environment.
hooks="$cache/hooks-repo"
rm -rf "$hooks"
git clone --quiet --no-checkout "$root" "$hooks"
hgit() { git --git-dir="$hooks/.git" --work-tree="$root" "$@"; }
hgit add --all
if hgit diff --cached --quiet HEAD; then
    rev="$(hgit rev-parse HEAD)"
    echo "hooks repo: HEAD $rev"
else
    GIT_AUTHOR_DATE='2000-01-01T00:00:00Z' GIT_COMMITTER_DATE='2000-01-01T00:00:00Z' \
        hgit commit --quiet --no-verify -m "uncommitted changes of the checkout under test"
    rev="$(hgit rev-parse HEAD)"
    echo "hooks repo: HEAD plus uncommitted changes, as $rev"
fi
if ! hgit cat-file -e "$rev:.pre-commit-hooks.yaml" 2>/dev/null; then
    fail ".pre-commit-hooks.yaml is not in the tested tree"
    exit 1
fi

# A catalog repository.
catalog="$tmp/catalog"
mkdir -p "$catalog/specs"
cd "$catalog"
git init --quiet
cat >specs/pytorch.kdl <<'EOF'
image "pytorch" {
    pytorch "2.3.0"
    python "3.10"
    cpu os="ubuntu22.04"
}
EOF
cat >.pre-commit-config.yaml <<EOF
repos:
  - repo: $hooks
    rev: $rev
    hooks:
      - id: dlspec-check
      - id: dlspec-compile-check
      - id: dlspec-lock-check
EOF

# The hook environment: `cargo install` of dlspec at `rev:`, unless it is cached. The catalog is
# compiled with that same dlspec, as a maintainer would with the version the config pins (and so
# that edits made to this checkout while the test runs cannot make the two disagree).
start="$(now)"
if "$pre_commit" install-hooks >"$tmp/install.log" 2>&1; then
    ok "pre-commit install-hooks: hook environment ready in $(since "$start")"
else
    fail "pre-commit install-hooks"
    show "$tmp/install.log"
    exit 1
fi
# Drop the environments of earlier revs (only this catalog's config is still on disk).
"$pre_commit" gc >/dev/null
env_dir="$("$(dirname "$pre_commit")/python" - "$hooks" "$rev" <<'PY'
import os, sqlite3, sys
db = sqlite3.connect(os.path.join(os.environ["PRE_COMMIT_HOME"], "db.db"))
print(db.execute("SELECT path FROM repos WHERE repo = ? AND ref = ?", sys.argv[1:3]).fetchone()[0])
PY
)"
dlspec="$(find "$env_dir" -path '*/rustenv-*/bin/dlspec' -type f | head -n 1)"
if [[ ! -x "$dlspec" ]]; then
    fail "no dlspec binary in the hook environment $env_dir"
    exit 1
fi
"$dlspec" compile 2>"$tmp/compile.log" || {
    fail "dlspec compile of the test catalog"
    show "$tmp/compile.log"
    exit 1
}
git add --all
git commit --quiet --no-verify -m "catalog"
"$pre_commit" install >/dev/null

# 1. Passing.
start="$(now)"
if "$pre_commit" run --all-files >"$tmp/run1.log" 2>&1; then
    ok "pre-commit run --all-files passes on a fresh out/ ($(since "$start"))"
else
    fail "pre-commit run --all-files on a fresh out/ should pass"
    show "$tmp/run1.log"
fi
for id in "dlspec check" "dlspec compile --check"; do
    grep -q "^$id.*Passed$" "$tmp/run1.log" || {
        fail "hook \`$id\` did not report Passed"
        show "$tmp/run1.log"
    }
done

# 2. A spec changed, out/ not recompiled: the commit is refused and the stale file named.
sed -i 's/^}$/    pip "pandas"\n}/' specs/pytorch.kdl
git add specs
head="$(git rev-parse HEAD)"
if git commit --quiet -m "pandas, out/ not recompiled" >"$tmp/run2.log" 2>&1; then
    fail "a commit with a changed spec and a stale out/ should be refused"
    show "$tmp/run2.log"
elif [[ "$(git rev-parse HEAD)" != "$head" ]]; then
    fail "the refused commit was made anyway"
elif ! grep -q "dlspec compile --check.*Failed" "$tmp/run2.log"; then
    fail "dlspec-compile-check should be the hook that fails"
    show "$tmp/run2.log"
elif ! grep -Eq "^stale +out/pytorch/[^ ]+/Dockerfile$" "$tmp/run2.log"; then
    fail "the failure should name the stale Dockerfile"
    show "$tmp/run2.log"
else
    ok "commit refused after a spec change without recompiling; the output names $(grep -Em1 '^stale +out/pytorch/[^ ]+/Dockerfile$' "$tmp/run2.log" | awk '{print $2}')"
fi
grep -q "^dlspec check.*Passed$" "$tmp/run2.log" || fail "dlspec-check should still pass on a valid spec"

# 3. Recompiled: the commit goes through.
"$dlspec" compile 2>/dev/null
git add --all
if git commit --quiet -m "pandas" >"$tmp/run3.log" 2>&1; then
    ok "commit accepted once out/ is recompiled"
else
    fail "the commit after recompiling should go through"
    show "$tmp/run3.log"
fi

# 4. A spec with an error: dlspec-check refuses it, naming the diagnostic.
sed -i 's/pytorch "2.3.0"/pytorch "9.9.9"/' specs/pytorch.kdl
git add specs
if git commit --quiet -m "no such pytorch" >"$tmp/run4.log" 2>&1; then
    fail "a commit with an invalid spec should be refused"
    show "$tmp/run4.log"
elif ! grep -q "^dlspec check.*Failed" "$tmp/run4.log" || ! grep -q "specs/pytorch.kdl" "$tmp/run4.log"; then
    fail "dlspec-check should fail and point at specs/pytorch.kdl"
    show "$tmp/run4.log"
elif (($(grep -c "was never released" "$tmp/run4.log") != 1)); then
    # dlspec-check prints it; dlspec-compile-check (which checks the specs too) only counts it.
    fail "the diagnostic should be printed once, by dlspec-check"
    show "$tmp/run4.log"
else
    ok "commit refused for an invalid spec; dlspec-check points at specs/pytorch.kdl, and the diagnostic is printed once"
fi

# 5. The README's adoption section, run as written: the commands between its markers, in a new
# folder, with the dlspec built above and pre-commit first on PATH. The repository it makes must
# pass its own hooks (`repo: local`, the installed dlspec: nothing to resolve), refuse a spec
# changed without recompiling, and refuse a change to the catalog's templates folder alone.
adoption="$(awk '/^<!-- adoption:begin/ { inside = 1; next } /^<!-- adoption:end/ { inside = 0 } inside' "$root/README.md" \
    | sed -e '/^```/d')"
if [[ -z "$adoption" ]] || ! grep -q '^dlspec init ' <<<"$adoption"; then
    fail "README.md has no adoption block between <!-- adoption:begin --> and <!-- adoption:end --> that runs dlspec init"
else
    mkdir -p "$tmp/adoption"
    cd "$tmp/adoption"
    if ! PATH="$(dirname "$dlspec"):$(dirname "$pre_commit"):$PATH" bash -euo pipefail -c "$adoption" >"$tmp/adoption.log" 2>&1; then
        fail "the README's adoption block, run as written"
        show "$tmp/adoption.log"
    else
        catalog_dir="$(find "$tmp/adoption" -mindepth 2 -maxdepth 2 -name .pre-commit-config.yaml -printf '%h\n' | head -n 1)"
        cd "$catalog_dir"
        PATH="$(dirname "$dlspec"):$PATH"
        export PATH
        if "$pre_commit" run --all-files >"$tmp/run5.log" 2>&1 \
            && grep -q "^dlspec check.*Passed$" "$tmp/run5.log" \
            && grep -q "^dlspec compile --check.*Passed$" "$tmp/run5.log" \
            && grep -q "^dlspec lock --check.*Passed$" "$tmp/run5.log"; then
            ok "the README's adoption block makes a repository that passes its own hooks: $(git ls-files | grep -v '^out/' | tr '\n' ' ')"
        else
            fail "pre-commit run --all-files in the repository of the README's adoption block"
            show "$tmp/run5.log"
        fi
        # A spec changed, out/ not recompiled: refused.
        sed -i 's/^}$/    pip "polars"\n}/' specs/example.kdl
        git add specs
        if git commit --quiet -m "polars, not recompiled" >"$tmp/run6.log" 2>&1; then
            fail "the adopted repository should refuse a changed spec with a stale out/"
        elif ! grep -Eq "^stale +out/example/[^ ]+/Dockerfile$" "$tmp/run6.log"; then
            fail "the refusal should name the stale Dockerfile"
            show "$tmp/run6.log"
        else
            ok "the adopted repository refuses a spec changed without recompiling"
        fi
        dlspec compile 2>/dev/null
        git add --all
        if ! git commit --quiet -m "polars" >"$tmp/run6b.log" 2>&1; then
            fail "the recompiled spec should commit"
            show "$tmp/run6b.log"
        fi
        # The catalog's own templates: a copy of one built-in template, named by `catalog`.
        mkdir -p templates/image
        cp "$root/templates/image/README.md.j2" templates/image/README.md.j2
        printf 'catalog {\n    templates "../templates"\n}\n' >specs/catalog.kdl
        dlspec compile 2>/dev/null
        git add --all
        if git commit --quiet -m "the catalog's templates" >"$tmp/run7.log" 2>&1; then
            printf '\nBuilt by the platform team.\n' >>templates/image/README.md.j2
            git add templates
            if git commit --quiet -m "a template changed, out/ not recompiled" >"$tmp/run8.log" 2>&1; then
                fail "a change to the templates folder alone should be refused while out/ is stale"
            elif ! grep -Eq "^stale +out/example/[^ ]+/README.md$" "$tmp/run8.log"; then
                fail "the refusal should name the stale README"
                show "$tmp/run8.log"
            else
                ok "the adopted repository refuses a template changed without recompiling"
            fi
        else
            fail "the catalog's templates, compiled, should commit"
            show "$tmp/run7.log"
        fi
    fi
fi

if ((failures > 0)); then
    echo "pre-commit hooks: $failures FAILED"
    exit 1
fi
echo "pre-commit hooks: all ok"
