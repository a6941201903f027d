#!/bin/bash
# Builds and boots a rendered image tree on a Debian bookworm base with buildah and podman (no
# Docker daemon, no registry), then checks the platform layer from inside and from the network
# namespace: supervisord programs RUNNING, the health check, JupyterLab and TensorBoard answering,
# SSH password login with the banner, locale, CST and PATH in the session, JupyterLab user
# settings, platform.sh idempotent, and a stop within 10 s.
#
#   templates/testdata/boot-test.sh [RENDERED_TREE]     (default /tmp/rendered/pytorch-seed)
#
# The tree's own Dockerfile is used with two substitutions that this machine needs: the
# Miniconda installer (not reachable here) becomes `python3 -m venv PREFIX` (python3 and
# python3-venv join the apt list), the framework layer is dropped (gigabytes of wheels), and a
# build pip mirror (mirrors.build_pip) is left out: this machine reaches PyPI only.
# Everything else — ENV, the apt RUN with localedef, the platform pip RUN with its `pipca`
# secret, COPY init/, platform.sh, HEALTHCHECK, CMD — is the generated text.
# Needs root and: apt-get install buildah podman debootstrap runc sshpass (see
# /work/shared/reference/e2e.md). All state lives in a temporary directory, removed at the end.
set -euo pipefail

tree=$(cd "${1:-/tmp/rendered/pytorch-seed}" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
mirror=${mirror:-http://deb.debian.org/debian}
cache=${BOOT_TEST_CACHE:-/tmp/boot-test-cache}
ca=${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}

E=$(mktemp -d /tmp/boot-test.XXXXXX)
G=(--root "$E/storage" --runroot "$E/runroot" --storage-driver vfs)
P=("${G[@]}" --tmpdir "$E/libpod-tmp" --cgroup-manager cgroupfs --events-backend file --runtime runc
    --runtime-flag "root=$E/runc-state" --network-config-dir "$E/cni")
# podman run: no network (only loopback inside), the rlimits this machine allows, and no
# systemd timer for the HEALTHCHECK (the test runs healthcheck.sh itself).
R=(--network none --ulimit nofile=1024:4096 --ulimit nproc=1000:2000 --no-healthcheck)
export TMPDIR="$E/tmp"
mkdir -p "$E/tmp" "$E/cni" "$E/sync" "$cache"

cleanup() {
    podman "${P[@]}" rm -f -t 0 boot-test >/dev/null 2>&1 || true
    podman "${P[@]}" rmi -af >/dev/null 2>&1 || true
    rm -rf "$E"
    rm -rf /var/lib/containers/cache
    rmdir /var/lib/containers /run/runc 2>/dev/null || true
}
trap cleanup EXIT

failures=0
passes=0
ok() { passes=$((passes + 1)); echo "ok   $*"; }
fail() { failures=$((failures + 1)); echo "FAIL $*"; }
# expect NAME PATTERN TEXT: ok when TEXT matches the extended regular expression PATTERN.
expect() {
    if grep -Eq -- "$2" <<<"$3"; then ok "$1"; else fail "$1: no /$2/ in:"; printf '%s\n' "$3" | sed 's/^/     /'; fi
}

sample_value() {
    python3 -c 'import json, sys; v = json.load(open(sys.argv[1]))["image"]
for k in sys.argv[2].split("."):
    v = v[k] if v is not None else None
print("" if v is None else v)' "$here/$(basename "$tree").json" "$1"
}
prefix=$(sample_value python.prefix)
ssh_port=$(sample_value ssh.port)
jupyter_port=$(sample_value jupyter.port)
jupyter_url=$(sample_value jupyter.base_url)
jupyter_open=$(sample_value jupyter.open)
tensorboard_port=$(sample_value tensorboard.port)
tensorboard_prefix=$(sample_value tensorboard.path_prefix)

echo "== base image (debootstrap bookworm, cached in $cache)"
if [ ! -s "$cache/base-rootfs.tar.gz" ]; then
    debootstrap --variant=minbase bookworm "$E/rootfs" "$mirror" >"$E/debootstrap.log" 2>&1 \
        || { tail -20 "$E/debootstrap.log"; exit 1; }
    rm -rf "$E"/rootfs/var/cache/apt/archives/*.deb "$E"/rootfs/var/cache/apt/*.bin "$E"/rootfs/var/lib/apt/lists/*
    tar -C "$E/rootfs" --numeric-owner -czf "$cache/base-rootfs.tar.gz" .
    rm -rf "$E/rootfs"
fi
podman "${P[@]}" import --change 'CMD ["/bin/bash"]' "$cache/base-rootfs.tar.gz" localhost/boot-test-base:bookworm >/dev/null

echo "== build context from $tree"
mkdir -p "$E/context"
cp -a "$tree/init" "$E/context/init"
python3 - "$tree/Dockerfile" "$E/context/Dockerfile" "$prefix" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
prefix = sys.argv[3]
text = text.replace(
    "apt-get install -y --no-install-recommends \\\n",
    "apt-get install -y --no-install-recommends \\\n        python3 python3-venv \\\n", 1)
# The Miniconda RUN (from its comment block to `conda clean`) becomes a venv at the prefix.
text, n = re.subn(r"\n# Miniconda3-.*?conda clean -afy\n",
                  "\n# boot-test: a venv stands in for Miniconda\nRUN python3 -m venv %s\n" % prefix,
                  text, count=1, flags=re.S)
assert n == 1, "Miniconda RUN not found"
# The framework RUN: the paragraph that starts with its comment.
text, n = re.subn(r"\n# (PyTorch|TensorFlow) [^\n]*\nRUN .*?\n\n", "\n", text, count=1, flags=re.S)
assert n == 1, "framework RUN not found"
# The spec's build mirror: this machine reaches PyPI only.
text = re.sub(r"export PIP_INDEX_URL=\S+ && ", "", text)
open(sys.argv[2], "w").write(text)
EOF

echo "== build (buildah bud)"
start=$(date +%s)
if ! buildah "${G[@]}" bud --format docker --isolation chroot --cni-config-dir "$E/cni" \
    --secret "id=pipca,src=$ca" --build-arg BASE_IMAGE=localhost/boot-test-base:bookworm \
    -t localhost/boot-test:latest -f "$E/context/Dockerfile" "$E/context" >"$E/build.log" 2>&1; then
    tail -40 "$E/build.log"
    fail "build"
    exit 1
fi
cp "$E/build.log" "$cache/last-build.log"
ok "build ($(($(date +%s) - start)) s, log: $cache/last-build.log)"
expect "platform.sh ran at build time" '\[platform\] done' "$(cat "$E/build.log")"
traces=$(podman "${P[@]}" run --rm "${R[@]}" localhost/boot-test:latest \
    bash -c 'env; cat /etc/pip.conf 2>/dev/null; ls -a /run/secrets 2>/dev/null; echo end-of-check')
if ! grep -q end-of-check <<<"$traces"; then
    fail "cannot run the image: $traces"
elif grep -qi "pipca\|PIP_CERT\|CA_BUNDLE" <<<"$traces"; then
    fail "the build CA left traces in the image"
else
    ok "no trace of the build CA in the image"
fi

echo "== platform.sh again, on the built image: nothing may change"
again=$(podman "${P[@]}" run --rm "${R[@]}" localhost/boot-test:latest bash /init/setup/platform.sh 2>&1 || true)
if [ "$again" = "[platform] done" ]; then ok "platform.sh idempotent"; else fail "platform.sh changed things:"; printf '%s\n' "$again" | sed 's/^/     /'; fi

echo "== boot"
printf '%s\n' 'boot-test-password' >"$E/sync/root-passwd"
podman "${P[@]}" run -d --name boot-test "${R[@]}" \
    -v "$E/sync/root-passwd:/sync/root-passwd:ro" localhost/boot-test:latest >/dev/null
state=""
for _ in $(seq 1 60); do
    state=$(podman "${P[@]}" exec -e LC_ALL=C boot-test supervisorctl status 2>&1 || true)
    if ! grep -q -v RUNNING <<<"$state" && [ -n "$state" ]; then
        break
    fi
    sleep 1
done
expect "supervisorctl status: every program RUNNING" '^sshd +RUNNING' "$state"
if grep -v -q RUNNING <<<"$state"; then fail "not every program RUNNING"; printf '%s\n' "$state" | sed 's/^/     /'; fi
logs=$(podman "${P[@]}" logs boot-test 2>&1)
expect "boot.sh set the password from the file" '\[boot\] root password set from /sync/root-passwd' "$logs"
health=""
for _ in $(seq 1 30); do
    if health=$(podman "${P[@]}" exec boot-test /init/boot/healthcheck.sh 2>&1); then break; fi
    sleep 1
done
expect "healthcheck.sh" '^healthy$' "$health"
if [ -n "$jupyter_port" ]; then
    code=$(podman "${P[@]}" exec boot-test curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$jupyter_port${jupyter_url}api")
    expect "JupyterLab ${jupyter_url}api answers 200" '^200$' "$code"
    settings=$(podman "${P[@]}" exec boot-test cat /root/.jupyter/lab/user-settings/@jupyterlab/terminal-extension/plugin.jupyterlab-settings)
    expect "JupyterLab terminal theme written" '"theme"' "$settings"
    code=$(podman "${P[@]}" exec boot-test curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$jupyter_port${jupyter_url}api/contents")
    if [ "$jupyter_open" = True ]; then
        expect "JupyterLab open: api/contents without a token is 200" '^200$' "$code"
    else
        expect "JupyterLab: api/contents without a token is refused" '^403$' "$code"
    fi
    log=$(podman "${P[@]}" exec boot-test cat /var/log/supervisor/jupyterlab.log)
    if grep -Eq 'Traceback|not recognized|Unrecognized' <<<"$log"; then
        fail "jupyterlab.log shows configuration problems:"; grep -E -B2 -A2 'Traceback|not recognized|Unrecognized' <<<"$log" | sed 's/^/     /'
    else
        ok "jupyterlab.log: no configuration problems"
    fi
fi
if [ -n "$tensorboard_port" ]; then
    code=$(podman "${P[@]}" exec boot-test curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$tensorboard_port$tensorboard_prefix/")
    expect "TensorBoard $tensorboard_prefix/ answers 200" '^200$' "$code"
fi
env_jupyter=$(podman "${P[@]}" exec boot-test bash -c 'tr "\0" "\n" </proc/$(cat /run/supervisord.pid)/environ | grep -c ROOT_PASSWORD || true')
expect "supervisord does not inherit ROOT_PASSWORD" '^0$' "$env_jupyter"

if [ -n "$ssh_port" ]; then
    echo "== ssh"
    pid=$(podman "${P[@]}" inspect -f '{{.State.Pid}}' boot-test)
    ssh_opts=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o PubkeyAuthentication=no
        -o LogLevel=ERROR -p "$ssh_port")
    # shellcheck disable=SC2016 # expanded by the remote shell
    session=$(nsenter -t "$pid" -n -- sshpass -f "$E/sync/root-passwd" ssh "${ssh_opts[@]}" root@127.0.0.1 \
        'locale; date +%Z; echo "PATH=$PATH"; command -v python; pwd' 2>&1 || true)
    expect "ssh: LANG" '^LANG=zh_CN\.UTF-8$' "$session"
    expect "ssh: LC_ALL" '^LC_ALL=zh_CN\.UTF-8$' "$session"
    expect "ssh: time zone CST" '^CST$' "$session"
    expect "ssh: PATH starts with the prefix" "^PATH=$prefix/bin:" "$session"
    expect "ssh: python from the prefix" "^$prefix/bin/python$" "$session"
    expect "ssh: login directory /root" '^/root$' "$session"
    banner=$(printf 'exit\n' | nsenter -t "$pid" -n -- sshpass -f "$E/sync/root-passwd" ssh -tt "${ssh_opts[@]}" root@127.0.0.1 2>&1 || true)
    expect "ssh: login banner" '目录说明' "$banner"
    expect "ssh: banner shows memory" '内存' "$banner"
    wrong=$(nsenter -t "$pid" -n -- sshpass -p wrong ssh "${ssh_opts[@]}" root@127.0.0.1 true 2>&1 || true)
    expect "ssh: a wrong password is refused" 'Permission denied' "$wrong"
    config=$(podman "${P[@]}" exec boot-test sshd -T 2>&1)
    expect "sshd -T: permitrootlogin yes" '^permitrootlogin yes$' "$config"
    expect "sshd -T: passwordauthentication yes" '^passwordauthentication yes$' "$config"
    expect "sshd -T: maxauthtries 4" '^maxauthtries 4$' "$config"
fi

echo "== stop"
start=$(date +%s%N)
podman "${P[@]}" stop -t 10 boot-test >/dev/null
elapsed=$((($(date +%s%N) - start) / 1000000))
if [ "$elapsed" -lt 10000 ]; then ok "stopped in $elapsed ms"; else fail "stop took $elapsed ms"; fi
code=$(podman "${P[@]}" inspect -f '{{.State.ExitCode}}' boot-test)
expect "supervisord exited 0" '^0$' "$code"

echo "== shutdown inside the container"
podman "${P[@]}" start boot-test >/dev/null
for _ in $(seq 1 30); do
    if podman "${P[@]}" exec boot-test test -s /run/supervisord.pid 2>/dev/null; then break; fi
    sleep 1
done
podman "${P[@]}" exec boot-test bash -c 'mkdir -p /root/.local/share/Trash/files && touch /root/.local/share/Trash/files/x && shutdown -h now' >/dev/null 2>&1 || true
status=""
for _ in $(seq 1 15); do
    status=$(podman "${P[@]}" inspect -f '{{.State.Status}}' boot-test)
    if [ "$status" = exited ]; then break; fi
    sleep 1
done
expect "shutdown stops the container" '^exited$' "$status"

echo
echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
