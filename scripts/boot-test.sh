#!/bin/bash
# Boots the platform layer of dlspec output directories for real, without a Docker daemon, and
# checks it from outside the container. One line per check, `ok <what>` or `FAIL <what>: <why>`;
# the exit status is non-zero when any check fails.
#
#   scripts/boot-test.sh [--framework] [--selftest[=CASE,...]] IMAGE_DIR...
#   scripts/boot-test.sh out/pytorch/2.3.0-python3.8-cuda12.1.0-cudnn8-devel-ubuntu22.04
#
# For each IMAGE_DIR it builds a test image from the directory's own Dockerfile and init/ with
# buildah, runs it with podman (runc; overlay storage where the kernel allows it, else vfs;
# `--network none`: nothing binds on the host), and checks:
#   - supervisord runs every service of the image (sshd, jupyterlab, tensorboard): each RUNNING,
#     read from `supervisorctl status` (its exit code is 0 even for a program in BACKOFF);
#   - init/boot/healthcheck.sh reports healthy;
#   - SSH (the host's ssh client in the container's network namespace): root logs in with the
#     password of a test file mounted at the password file, sees the login banner, and `locale` /
#     `date +%Z` give the image's locale and time zone; a wrong password is refused;
#   - JupyterLab answers at its base URL with the token of a test file mounted at its token file,
#     refuses an API call without it (401/403), and serves its UI language pack, selected in the
#     user settings written by init.py;
#   - TensorBoard answers at its path prefix;
#   - in a browser (headless chromium, in the container's network namespace, driven over the
#     DevTools protocol): JupyterLab with the token shows its File menu in the UI language of the
#     LABEL ("文件" for zh_CN); TensorBoard renders at its path prefix; JupyterLab's
#     Content-Security-Policy names exactly 'self' and the origins of `jupyter frame-ancestors=`
#     (FRAME_ANCESTORS in init/jupyter/jupyter_config.py: no LABEL carries them), a page served
#     (python3 -m http.server) from the first one, when it is a loopback http://HOST:PORT, frames
#     JupyterLab, and a page from another loopback origin gets chromium's error page instead;
#   - the container stops within 10 s on SIGTERM and boots a second time cleanly: all programs
#     RUNNING again, the files platform.sh and boot.sh manage unchanged, no duplicated lines in
#     sshd_config, no errors in the boot log;
#   - without a password file, password login is refused and a key in authorized_keys works;
#   - on an image with a `user` (LABEL dev.dlspec.user): SSH logs in that user with the key of a
#     test file mounted at its authorized-keys file (ssh.authorized-keys-file), and with one in
#     ~/.ssh/authorized_keys; refuses passwords and root; and supervisord, each program and an SSH
#     session run as its uid and gid (/proc/PID/status), as the image's own self-test says too.
# The expected values (services, ports, URL paths, files, locale, time zone) are the LABELs the
# Dockerfile declares (dev.dlspec.*), not the files under test: a supervisor.ini with a wrong
# TensorBoard prefix fails the TensorBoard check.
#
# The test image is the generated Dockerfile with these substitutions, and no others:
#   1. FROM: the Dockerfile's own `ARG BASE_IMAGE` is set to a local Debian bookworm base
#      (`debootstrap --variant=minbase`, cached as a tarball): no registry is needed.
#   2. Python: the Miniconda RUN becomes `python3 -m venv PREFIX` at the Miniconda prefix
#      (python3 and python3-venv join the apt list): the installer may not be downloadable, and
#      it is not what is tested. The platform pip set is installed into it as generated.
#   3. The framework RUN and the spec's extra pip packages are left out: gigabytes of payload
#      that the platform layer does not use, pinned for the spec's Python, not Debian's.
#   4. A build-time pip mirror (`export PIP_INDEX_URL=… &&`), if any, is left out: the machine
#      running the test may reach PyPI only.
#   5. A locked platform layer (`dlspec lock`) is pinned for the image's Python: its backports of
#      the standard library (`backports-*`, such as `backports-zoneinfo` for Python 3.8) are left
#      out of the copy of pip/platform.lock.txt, since Debian's Python (3.11) has them built in
#      and they publish no wheel for it. Every other pin installs with its sha256, as generated.
# Everything else is the generated text: ENV, the apt RUN with localedef, the platform pip RUN,
# COPY init/, RUN platform.sh (sshd settings, locale, time zone, banner, service config
# placement), LABEL, CMD. The host's CA bundle reaches the build as the Dockerfile's `pipca`
# secret (for TLS-intercepting proxies), never the image. The build runs in two steps split
# before COPY init/ (the same instructions, so the same image), so that the images of one run
# share the build of the system packages, Python and the platform pip set.
#
# --framework keeps the framework RUN (substitution 3 leaves out the extras only; the framework
# must install into Debian's Python, e.g. tests/boot/tensorflow-cpu.kdl) and, instead of the
# checks above, runs the image's own self-test in a throwaway container (`/init/bin/selftest
# --boot`: the framework imports and reports the version of its LABEL, a convolution and a matmul
# run on the CPU, the services answer); the build itself runs the framework's import check.
#
# --selftest breaks generated files of a copy of the first IMAGE_DIR (for tampered-hash, of the
# first locked one; for user-root, of the first with a `user`) on purpose, boots each
# broken copy (first boot only) and checks that the test fails with a line naming what broke:
#   tensorboard-prefix   supervisor.ini: TensorBoard's --path_prefix is wrong
#   jupyterlab-command   supervisor.ini: jupyterlab's command does not exist
#   sshd-root-login      sshd_config: PermitRootLogin prohibit-password
#   frame-ancestors      jupyter_config.py: the Content-Security-Policy header names another
#                        origin than FRAME_ANCESTORS (needs an IMAGE_DIR with a loopback
#                        `jupyter frame-ancestors=`, e.g. tests/boot/jupyter-frame.kdl)
#   framework-version    (--framework) the framework version of the LABEL and of the self-test's
#                        expectations is one the installed framework does not report
#   user-root            Dockerfile and supervisor.ini (an image with a `user` only): the image and
#                        supervisord run as root, while the LABELs still name the user
#   tampered-hash        pip/platform.lock.txt (a locked image only): every sha256 zeroed, so
#                        pip --require-hashes must refuse the files and the build fail
#
# Needs root and buildah, podman, runc, debootstrap, sshpass, curl, ssh, nsenter, python3,
# chromium and python3-websocket (for Debian's /usr/bin/python3); as root on Debian/Ubuntu it
# installs the missing ones with apt-get. All container state lives in a temporary directory
# (--root, --runroot, --tmpdir, runc --root) removed at exit, with the containers (by id), the
# page servers of the browser checks and any mount left under it. The base rootfs tarball is
# cached in $BOOT_TEST_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/dlspec-boot-test), made
# again after 30 days. Two runs may go at once, each in its own state directory: they take turns
# at installing tools and making the base tarball.
# Environment: BOOT_TEST_STORAGE_DRIVER (auto, the default: overlay if it works here, else vfs;
# or vfs, overlay), BOOT_TEST_CACHE, DEBIAN_MIRROR (debootstrap's mirror; default: the host's apt
# source), HOST_CA (CA bundle for the build's downloads; default the host's), BOOT_TEST_KEEP=1
# (keep the temporary directory for inspection; the containers are still removed).
set -euo pipefail

usage() {
    sed -n '6,7p' "${BASH_SOURCE[0]}" | sed 's/^#   //' >&2
    exit 2
}

selftest=""
framework=no
dirs=()
for arg in "$@"; do
    case $arg in
        --framework) framework=yes ;;
        --selftest) selftest=tensorboard-prefix,jupyterlab-command,sshd-root-login ;;
        --selftest=*) selftest=${arg#--selftest=} ;;
        -h | --help) usage ;;
        -*) echo "boot-test: unknown option $arg" >&2; usage ;;
        *) dirs+=("$arg") ;;
    esac
done
[ "${#dirs[@]}" -gt 0 ] || usage
for i in "${!dirs[@]}"; do
    if [ ! -f "${dirs[$i]}/Dockerfile" ] || [ ! -d "${dirs[$i]}/init" ]; then
        echo "boot-test: ${dirs[$i]} is not a dlspec image directory (no Dockerfile or init/)" >&2
        exit 2
    fi
    dirs[i]=$(cd "${dirs[$i]}" && pwd)
done

# --- Tools ---------------------------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
    echo "boot-test: run as root (buildah and podman with runc, debootstrap, nsenter)" >&2
    exit 2
fi
cache=${BOOT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dlspec-boot-test}
mkdir -p "$cache"
# Two runs at once (.ci/run runs the framework image beside the others) share the cache: the
# tool install, the base image and the host's containers cache are taken turns at.
exec 7>"$cache/.running"
flock -s 7
missing=()
for tool in buildah:buildah podman:podman runc:runc debootstrap:debootstrap sshpass:sshpass \
    curl:curl ssh:openssh-client ssh-keygen:openssh-client nsenter:util-linux python3:python3; do
    if ! command -v "${tool%%:*}" >/dev/null 2>&1; then
        missing+=("${tool#*:}")
    fi
done
# The browser checks: Debian's chromium, driven over the DevTools protocol by Debian's Python
# with python3-websocket (not whichever python3 comes first on PATH: a venv lacks the module).
if ! command -v chromium >/dev/null 2>&1; then missing+=(chromium); fi
if ! /usr/bin/python3 -c 'import websocket' >/dev/null 2>&1; then missing+=(python3-websocket); fi
if [ "${#missing[@]}" -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1; then
        echo "== installing ${missing[*]}"
        (
            flock 9
            apt-get update -qq >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                "${missing[@]}" ca-certificates >/dev/null
        ) 9>"$cache/.lock"
    else
        echo "boot-test: missing: ${missing[*]} (no apt-get to install them)" >&2
        exit 2
    fi
fi

# --- State ---------------------------------------------------------------------------------
ca=${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}
mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
    mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' || true)
fi
if [ -z "$mirror" ]; then
    mirror=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

# The host's containers cache, when a run made it, is removed by the last run to end.
if [ ! -e /var/lib/containers/cache ]; then touch "$cache/.remove-containers-cache"; fi
E=$(mktemp -d "${TMPDIR:-/tmp}/boot-test.XXXXXX")
# use_driver DRIVER: the buildah (G) and podman (P) flags that keep all state in $E.
use_driver() {
    driver=$1
    G=(--root "$E/storage" --runroot "$E/runroot" --storage-driver "$driver")
    P=("${G[@]}" --tmpdir "$E/libpod-tmp" --cgroup-manager cgroupfs --events-backend file --runtime runc
        --runtime-flag "root=$E/runc-state" --network-config-dir "$E/cni")
}
driver=${BOOT_TEST_STORAGE_DRIVER:-auto}
use_driver "$([ "$driver" = auto ] && echo overlay || echo "$driver")"
# podman run: loopback only, the rlimits a container may set here, and no systemd timer for the
# HEALTHCHECK (the test runs healthcheck.sh itself).
R=(--network none --ulimit nofile=1024:4096 --ulimit nproc=1000:2000 --no-healthcheck)
export TMPDIR="$E/tmp"
mkdir -p "$E/tmp" "$E/cni" "$E/libpod-tmp"
touch "$E/containers" "$E/servers"

cleanup() {
    local id mountpoint
    set +e
    while read -r id; do
        [ -n "$id" ] && podman "${P[@]}" rm -f -t 0 "$id" >/dev/null 2>&1
    done <"$E/containers"
    # The browser checks' page servers, by process id, if the test stopped while they ran.
    while read -r id; do
        [ -n "$id" ] && kill "$id" 2>/dev/null
    done <"$E/servers"
    podman "${P[@]}" rmi -af >/dev/null 2>&1
    buildah "${G[@]}" rm --all >/dev/null 2>&1
    # Whatever is still mounted under the state directory, deepest first.
    awk -v e="$E/" 'index($5, e) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r mountpoint; do
        umount -l "$mountpoint" 2>/dev/null
    done
    if [ "${BOOT_TEST_KEEP:-}" = 1 ]; then
        echo "boot-test: kept $E"
    else
        rm -rf "$E"
    fi
    # Not while another run uses it: that one holds its shared lock.
    if flock -n -x 7 && [ -e "$cache/.remove-containers-cache" ]; then
        rm -rf /var/lib/containers/cache "$cache/.remove-containers-cache"
    fi
    rmdir /var/lib/containers /run/runc 2>/dev/null
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

podman_() { podman "${P[@]}" "$@"; }

# Storage: overlay where the kernel and the file system of $E allow it (a container starts in
# 0.2 s; vfs copies the whole image for each container and each build step: 10-30 s each), else
# vfs. BOOT_TEST_STORAGE_DRIVER=vfs|overlay forces one.
if [ "${BOOT_TEST_STORAGE_DRIVER:-auto}" = auto ] && ! podman_ info >"$E/storage-probe.log" 2>&1; then
    awk -v e="$E/" 'index($5, e) == 1 { print $5 }' /proc/self/mountinfo | sort -r | xargs -r umount -l
    rm -rf "$E/storage" "$E/runroot"
    use_driver vfs
fi
echo "== storage: $driver, in $E"

# --- Reporting -----------------------------------------------------------------------------
failures=0
ok() { echo "ok   $*"; }
fail() { failures=$((failures + 1)); echo "FAIL $*"; }
# check WHAT DETAIL: ok when DETAIL is empty, else a FAIL naming WHAT with DETAIL.
check() {
    if [ -z "$2" ]; then ok "$1"; else fail "$1: $2"; fi
}
# oneline TEXT: TEXT on one line, at most 400 characters.
oneline() {
    printf '%s' "$1" | sed 's/\x1b\[[0-9;]*m//g' | tr '\r\n' '  ' | tr -s ' ' | cut -c1-400
}
now() { date +%s%N; }
# seconds START: seconds since START (from now()), one decimal.
seconds() { awk -v d="$(($(now) - $1))" 'BEGIN { printf "%.1f", d / 1e9 }'; }

# --- Base image ----------------------------------------------------------------------------
base_tarball=$cache/bookworm-minbase.tar.gz
echo "== base image: Debian bookworm minbase ($base_tarball)"
start=$(now)
(
    flock 9
    if [ -s "$base_tarball" ] && [ -z "$(find "$base_tarball" -mtime +30)" ]; then
        exit 0
    fi
    echo "   debootstrap from $mirror"
    debootstrap --variant=minbase bookworm "$E/rootfs" "$mirror" >"$E/debootstrap.log" 2>&1 \
        || { tail -20 "$E/debootstrap.log"; exit 1; }
    rm -rf "$E"/rootfs/var/cache/apt/archives/*.deb "$E"/rootfs/var/cache/apt/*.bin "$E"/rootfs/var/lib/apt/lists/*
    tar -C "$E/rootfs" --numeric-owner -czf "$base_tarball.tmp" .
    mv "$base_tarball.tmp" "$base_tarball"
    rm -rf "$E/rootfs"
) 9>"$cache/.lock" || { echo "FAIL base image: debootstrap failed"; exit 1; }
base=localhost/boot-test-base:bookworm
podman_ import --quiet --change 'CMD ["/bin/bash"]' "$base_tarball" "$base" >/dev/null
echo "   ready in $(seconds "$start") s"

# --- The test image ------------------------------------------------------------------------
# derive DIR CONTEXT [FRAMEWORK]: applies the substitutions of the header to DIR/Dockerfile (with
# FRAMEWORK=yes the framework RUN stays) and writes it
# as two files, split before `COPY init/`: CONTEXT/Dockerfile.platform (base, system packages,
# Python, platform pip set) and CONTEXT/Dockerfile (FROM that, then COPY init/ to the end).
# Copies init/, and writes CONTEXT/labels (the dev.dlspec.* LABELs, NAME<TAB>VALUE).
derive() {
    mkdir -p "$2"
    cp -a "$1/init" "$2/init"
    # The locked pip layers (`dlspec lock`) bind-mount their requirement files from pip/.
    if [ -d "$1/pip" ]; then cp -a "$1/pip" "$2/pip"; fi
    # 5. No backports of the standard library: a pin and its hash and `# via` lines, indented.
    if [ -f "$2/pip/platform.lock.txt" ]; then
        awk '/^backports[-_.]/ { skip = 1; next } /^[^ ]/ { skip = 0 } !skip' "$1/pip/platform.lock.txt" >"$2/pip/platform.lock.txt"
    fi
    python3 - "$1/Dockerfile" "$2/Dockerfile" "$2/labels" "${3:-no}" <<'PYTHON'
import re
import shlex
import sys

source, target, labels_out, keep_framework = sys.argv[1:5]
lines = open(source, encoding="utf-8").read().split("\n")

# Items: ("comment"|"blank", line) or ("instruction", text with its continuation lines).
items = []
i = 0
while i < len(lines):
    line = lines[i]
    if not line.strip():
        items.append(["blank", line])
    elif line.lstrip().startswith("#"):
        items.append(["comment", line])
    else:
        text = [line]
        while text[-1].endswith("\\") and i + 1 < len(lines):
            i += 1
            text.append(lines[i])
        items.append(["instruction", "\n".join(text)])
    i += 1


def keyword(item):
    return item[1].split(None, 1)[0].upper() if item[0] == "instruction" else ""


def comments_before(index):
    """Indices of the comment lines right above an instruction."""
    found = []
    j = index - 1
    while j >= 0 and items[j][0] == "comment":
        found.insert(0, j)
        j -= 1
    return found


def die(message):
    sys.exit("boot-test: %s: %s (the Dockerfile template changed? update scripts/boot-test.sh)" % (source, message))


runs = [n for n, item in enumerate(items) if keyword(item) == "RUN"]
drop = set()

# 1. FROM: the Dockerfile's own ARG BASE_IMAGE (set by --build-arg).
froms = [n for n, item in enumerate(items) if keyword(item) == "FROM"]
if len(froms) != 1 or items[froms[0]][1].strip() != "FROM ${BASE_IMAGE}":
    die("expected one `FROM ${BASE_IMAGE}`")

# 2. Python: apt gets python3 and python3-venv; the Miniconda RUN becomes a venv at its prefix.
apt = [n for n in runs if "apt-get install" in items[n][1]]
if len(apt) != 1:
    die("expected one RUN with apt-get install")
text, count = re.subn(r"(apt-get install[^\n]*\\\n)", r"\1        python3 python3-venv \\\n", items[apt[0]][1], count=1)
if count != 1:
    die("the apt-get install line does not continue on the next line")
items[apt[0]][1] = text
conda = [n for n in runs if "miniconda.sh" in items[n][1]]
if len(conda) != 1:
    die("expected one RUN with the Miniconda installer")
match = re.search(r"miniconda\.sh -b -p (\S+)", items[conda[0]][1])
if not match:
    die("no `-b -p PREFIX` in the Miniconda RUN")
prefix = shlex.split(match.group(1))[0]
for j in comments_before(conda[0]):
    drop.add(j)
items[conda[0]][1] = "# boot-test: Debian's python3 in a venv stands in for Miniconda.\nRUN python3 -m venv %s" % shlex.quote(prefix)

# 3. The framework and the extra pip packages: every pip RUN but the platform's set.
copy_init = [n for n, item in enumerate(items) if keyword(item) == "COPY" and "init/" in item[1]]
if len(copy_init) != 1:
    die("expected one COPY of init/")
pip = [n for n in runs if "pip install" in items[n][1]]
if any(n > copy_init[0] for n in pip):
    die("a pip RUN after COPY init/")
platform = [n for n in pip if any("platform layer" in items[j][1] for j in comments_before(n))]
if len(platform) > 1:
    die("more than one pip RUN commented as the platform layer")
# The framework's RUN ends with its import check (python -c).
framework = [n for n in pip if "&& python -c " in items[n][1]]
if keep_framework == "yes":
    if len(framework) != 1:
        die("expected one framework RUN with an import check (python -c)")
    platform += framework
for n in pip:
    if n not in platform:
        drop.add(n)
        drop.update(comments_before(n))
        what = [items[j][1] for j in comments_before(n) if "hadolint" not in items[j][1]]
        print("   left out: the RUN of " + (what[0].lstrip("# ") if what else items[n][1].split("\n")[-1].strip()))

# 4. The build mirror.
for n in platform:
    items[n][1] = re.sub(r"export PIP_INDEX_URL=\S+ && ", "", items[n][1])

# The labels: what the image promises.
labels = {}
for item in items:
    if keyword(item) == "LABEL":
        words = shlex.split(item[1].split(None, 1)[1].replace("\\\n", " "))
        for word in words:
            name, _, value = word.partition("=")
            labels[name] = value
if "dev.dlspec.prefix" not in labels:
    die("no dev.dlspec.* LABELs (output of an older dlspec? run `dlspec compile`)")
if labels["dev.dlspec.prefix"] != prefix:
    die("LABEL dev.dlspec.prefix=%s but Miniconda goes to %s" % (labels["dev.dlspec.prefix"], prefix))

# Two files, split before COPY init/: everything above (system packages, Python, pip) is built
# once for the images of a run that share it, each image's init/ on top of it.
split = min(comments_before(copy_init[0]) or [copy_init[0]])
platform_text, image_text = [], ["ARG PLATFORM_IMAGE", "FROM ${PLATFORM_IMAGE}", ""]
for n, item in enumerate(items):
    out = platform_text if n < split else image_text
    if n in drop:
        continue
    if item[0] == "blank" and out and out[-1] == "":
        continue
    out.append(item[1])
with open(target + ".platform", "w", encoding="utf-8") as handle:
    handle.write("\n".join(platform_text))
with open(target, "w", encoding="utf-8") as handle:
    handle.write("\n".join(image_text))
with open(labels_out, "w", encoding="utf-8") as handle:
    for name, value in sorted(labels.items()):
        handle.write("%s\t%s\n" % (name[len("dev.dlspec."):], value))
PYTHON
}

declare -A L
# read_labels FILE: fills L from a labels file written by derive.
read_labels() {
    local name value
    L=()
    while IFS=$'\t' read -r name value; do
        L[$name]=$value
    done <"$1"
}

# build CONTEXT TAG: builds the test image in two steps (see derive). The first is skipped when
# an image of this run already built the same text (comments aside) with the same locked pip
# files (pip/, bind-mounted by the locked pip layers).
build() {
    local start platform secret=()
    start=$(now)
    if [ -s "$ca" ]; then secret=(--secret "id=pipca,src=$ca"); fi
    platform=localhost/boot-test-platform:$(
        {
            grep -v '^[[:space:]]*#' "$1/Dockerfile.platform"
            if [ -d "$1/pip" ]; then cat "$1"/pip/*; fi
        } | sha256sum | cut -c1-16
    )
    if podman_ image exists "$platform"; then
        echo "   system packages, Python and platform pip set: built already ($platform)"
    elif buildah "${G[@]}" bud --format docker --isolation chroot --cni-config-dir "$E/cni" "${secret[@]}" \
        --build-arg "BASE_IMAGE=$base" -t "$platform" -f "$1/Dockerfile.platform" "$1" >"$1/build.log" 2>&1; then
        echo "   system packages, Python and platform pip set built in $(seconds "$start") s"
    else
        fail "build the test image (system packages, Python, platform pip set): $(oneline "$(tail -n 8 "$1/build.log")")"
        return 1
    fi
    if buildah "${G[@]}" bud --format docker --isolation chroot --cni-config-dir "$E/cni" "${secret[@]}" \
        --build-arg "PLATFORM_IMAGE=$platform" -t "$2" -f "$1/Dockerfile" "$1" >>"$1/build.log" 2>&1; then
        ok "build the test image ($(seconds "$start") s)"
    else
        fail "build the test image (init/, platform.sh): $(oneline "$(tail -n 8 "$1/build.log")")"
        return 1
    fi
}

# --- Checks on a running container ----------------------------------------------------------
# programs: the supervisord programs the image must run (from the labels).
programs() {
    if [ -n "${L[ssh.port]:-}" ]; then echo sshd; fi
    if [ -n "${L[jupyter.port]:-}" ]; then echo jupyterlab; fi
    if [ -n "${L[tensorboard.port]:-}" ]; then echo tensorboard; fi
}

# start_container ARGS...: podman run -d; prints the id and records it for the cleanup.
start_container() {
    local id
    id=$(podman_ run -d "${R[@]}" "$@") || return 1
    echo "$id" >>"$E/containers"
    echo "$id"
}

# wait_supervisor ID PROGRAM...: waits (at most 90 s) until supervisord answers and no listed
# program is STARTING or BACKOFF; writes the last `supervisorctl status` to $E/status. Fails when
# supervisord never answered (exit status 0: all RUNNING, 3: some not; others, such as 4 while
# its socket does not exist yet: no answer).
wait_supervisor() {
    local id=$1 rc answered=no program state settled
    shift
    : >"$E/status"
    for _ in $(seq 1 90); do
        if [ "$(podman_ inspect -f '{{.State.Running}}' "$id" 2>/dev/null)" != true ]; then
            break
        fi
        rc=0
        podman_ exec -e LC_ALL=C "$id" supervisorctl status >"$E/status" 2>&1 || rc=$?
        if [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ]; then
            answered=yes
            settled=yes
            for program in "$@"; do
                state=$(awk -v p="$program" '$1 == p { print $2 }' "$E/status")
                case $state in
                    RUNNING | FATAL | EXITED | STOPPED | "") ;;
                    *) settled=no ;;
                esac
            done
            if [ "$settled" = yes ]; then break; fi
        fi
        sleep 1
    done
    [ "$answered" = yes ]
}

# check_programs ID WHEN: one line per program the image must run, from `supervisorctl status`.
# Sets STATE[program] and forgets WAITED.
declare -A STATE WAITED
check_programs() {
    local id=$1 when=$2 status program line state detail
    STATE=()
    WAITED=()
    # shellcheck disable=SC2046 # one word per program
    if ! wait_supervisor "$id" $(programs); then
        fail "${when}supervisord answers: $(oneline "$(cat "$E/status")") (container log: $(oneline "$(podman_ logs "$id" 2>&1 | tail -n 5)"))"
        return
    fi
    status=$(cat "$E/status")
    if [ -z "$(programs)" ]; then
        ok "${when}supervisord answers (the image has no services)"
    fi
    for program in $(programs); do
        line=$(awk -v p="$program" '$1 == p' <<<"$status")
        state=$(awk '{ print $2 }' <<<"$line")
        if [ -z "$line" ]; then
            fail "${when}supervisord program $program RUNNING: no such program in supervisor.ini"
        elif [ "$state" = RUNNING ]; then
            ok "${when}supervisord program $program RUNNING"
        else
            detail=$(podman_ exec "$id" tail -n 4 "/var/log/supervisor/$program.log" 2>/dev/null || true)
            fail "${when}supervisord program $program RUNNING: state $state ($(oneline "$(cut -d' ' -f3- <<<"$line" | sed 's/^ *//')"))${detail:+; log tail: $(oneline "$detail")}"
        fi
        STATE[$program]=$state
    done
    while read -r line; do
        program=$(awk '{ print $1 }' <<<"$line")
        state=$(awk '{ print $2 }' <<<"$line")
        if ! programs | grep -Fxq "$program" && [ "$state" != RUNNING ]; then
            fail "${when}supervisord program $program RUNNING: state $state"
        fi
    done < <(grep -E '^[A-Za-z0-9_-]+ +[A-Z]+' <<<"$status")
}

# in_netns ID COMMAND...: runs a host command in the container's network namespace.
in_netns() {
    local pid
    pid=$(podman_ inspect -f '{{.State.Pid}}' "$1")
    shift
    nsenter -t "$pid" -n -- "$@"
}

# http ID PROGRAM URL [CURL ARGS...]: the HTTP status of URL from the container's network
# namespace (000: no answer). Waits up to 60 s for the port, once, and only when supervisord
# says PROGRAM is RUNNING.
http() {
    local id=$1 program=$2 url=$3 code=000 tries=1
    shift 3
    if [ "${STATE[$program]:-}" = RUNNING ] && [ -z "${WAITED[$program]:-}" ]; then tries=60; fi
    for _ in $(seq 1 "$tries"); do
        code=$(in_netns "$id" curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" "$url" 2>/dev/null || true)
        if [ "$code" != 000 ]; then break; fi
        sleep 1
    done
    WAITED[$program]=1
    echo "$code"
}

ssh_opts() {
    echo -F /dev/null -p "${L[ssh.port]}" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o LogLevel=ERROR -o ConnectTimeout=10
}
# ssh_password ID PASSWORD_FILE COMMAND [SSH OPTION...]: a password login as root; an empty
# COMMAND gives a login shell.
ssh_password() {
    local id=$1 file=$2 command=$3
    shift 3
    # shellcheck disable=SC2046 # options without spaces
    in_netns "$id" sshpass -f "$file" ssh $(ssh_opts) -o PubkeyAuthentication=no \
        -o PreferredAuthentications=password,keyboard-interactive -o NumberOfPasswordPrompts=1 "$@" \
        root@127.0.0.1 ${command:+"$command"}
}

# ssh_key ID KEY USER COMMAND [SSH OPTION...]: a key login as USER; an empty COMMAND gives a login
# shell.
ssh_key() {
    local id=$1 key=$2 user=$3 command=$4
    shift 4
    # shellcheck disable=SC2046 # options without spaces
    in_netns "$id" ssh $(ssh_opts) -i "$key" -o IdentitiesOnly=yes -o PasswordAuthentication=no \
        -o BatchMode=yes "$@" "$user@127.0.0.1" ${command:+"$command"}
}

# ssh_login ID CTX COMMAND [SSH OPTION...]: a login as the image allows it: root with the password
# of CTX/root-passwd, or, on an image with a `user` (LABEL dev.dlspec.user), that user with the key
# of CTX/id_ed25519.
ssh_login() {
    local id=$1 ctx=$2 command=$3
    shift 3
    if [ -n "${L[user]:-}" ]; then
        ssh_key "$id" "$ctx/id_ed25519" "${L[user]}" "$command" "$@"
    else
        ssh_password "$id" "$ctx/root-passwd" "$command" "$@"
    fi
}

# check_user ID WHEN CTX: on an image with a `user`, each supervisord program, supervisord itself
# and an SSH session run as its uid and gid (the LABELs, /proc/PID/status of each `supervisorctl
# pid`), and the image's own self-test says so too (its `user` line).
check_user() {
    local id=$1 when=$2 ctx=$3 program pid ids out line
    [ -n "${L[user]:-}" ] || return 0
    local want="${L[user.uid]} ${L[user.gid]}"
    for program in supervisord $(programs); do
        if [ "$program" = supervisord ]; then
            pid=$(podman_ exec "$id" supervisorctl pid 2>&1 || true)
        else
            pid=$(podman_ exec "$id" supervisorctl pid "$program" 2>&1 || true)
        fi
        if ! [[ $pid =~ ^[1-9][0-9]*$ ]]; then
            fail "${when}$program runs as ${L[user]} (uid ${L[user.uid]}): no pid ($(oneline "$pid"))"
            continue
        fi
        # shellcheck disable=SC2016 # expanded in the container
        ids=$(podman_ exec "$id" awk '$1 == "Uid:" { u = $2 " " $3 " " $4 " " $5 } $1 == "Gid:" { g = $2 } END { print u " / " g }' "/proc/$pid/status" 2>&1 || true)
        check "${when}$program runs as ${L[user]} (uid ${L[user.uid]}, gid ${L[user.gid]})" \
            "$([ "$ids" = "${L[user.uid]} ${L[user.uid]} ${L[user.uid]} ${L[user.uid]} / ${L[user.gid]}" ] || echo "uids / gid: $ids")"
    done
    if [ -n "${L[ssh.port]:-}" ]; then
        out=$(ssh_login "$id" "$ctx" 'id -u; id -g' 2>&1 | tr '\n' ' ' || true)
        check "${when}an SSH session runs as ${L[user]}" "$([ "$out" = "$want " ] || oneline "$out")"
    fi
    # The image's self-test: its framework checks fail here (the boot test leaves the framework
    # out), its `user` line must not.
    out=$(podman_ exec "$id" /init/bin/selftest 2>&1 || true)
    line=$(grep -E -m1 '^[A-Za-z]+ user: ' <<<"$out" || true)
    check "${when}/init/bin/selftest: the services run as ${L[user]}" "$(grep -q '^ok user: ' <<<"$line" || oneline "${line:-no user line: $(tail -n 3 <<<"$out")}")"
}

# check_healthcheck ID WHEN TRIES: healthcheck.sh, tried up to TRIES times a second apart.
check_healthcheck() {
    local id=$1 when=$2 tries=$3 out=""
    for _ in $(seq 1 "$tries"); do
        if out=$(podman_ exec "$id" /init/boot/healthcheck.sh 2>&1); then break; fi
        sleep 1
    done
    if [ "$out" = healthy ]; then ok "${when}healthcheck.sh reports healthy"; else fail "${when}healthcheck.sh reports healthy: $(oneline "$out")"; fi
}

# boot_log_errors TEXT: the lines of a boot log that look like errors.
boot_log_errors() {
    grep -iE 'error|traceback|fail|fatal|cannot|can.t|denied|not found|no such|exited: .*not expected|gave up' <<<"$1" \
        | grep -v "CRIT Server 'unix_http_server' running without any HTTP authentication checking" || true
}

# config_files ID: the files platform.sh and boot.sh manage, as one text.
config_files() {
    # shellcheck disable=SC2016 # expanded in the container
    podman_ exec "$1" bash -c 'for f in /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf /etc/environment \
        /etc/profile.d/dlspec-env.sh /etc/bash.bashrc /etc/timezone /etc/default/locale; do
            [ -f "$f" ] && { echo "== $f"; cat "$f"; }; done; echo "== /etc/localtime -> $(readlink /etc/localtime)"' 2>&1
}

# --- Browser -------------------------------------------------------------------------------
# The DevTools client of the browser checks: starts a headless chromium with a fresh profile
# (argument 1: its directory; argument 2: chromium's log), reads tasks from stdin, one a line,
# `KIND<TAB>URL<TAB>WANT`, and prints one line per task, `done<TAB>SEEN` or `timeout<TAB>SEEN`:
#   menu   open URL until JupyterLab's menu bar has the label WANT; SEEN: the menu bar's labels
#   text   open URL until the text of the element WANT (a CSS selector) is not empty; SEEN: it
#   frame  open URL, a page with one iframe, until the iframe's document at WANT loaded (SEEN:
#          its URL and title), or the iframe showed no document at WANT for 15 s (SEEN:
#          `refused: …`)
write_browser_client() {
    cat >"$1" <<'PYTHON'
import json
import os
import subprocess
import sys
import time
import urllib.request

import websocket

profile, log = sys.argv[1:3]
tasks = [line.rstrip("\n").split("\t") for line in sys.stdin if line.strip()]
# Everything is on loopback: a proxy of the host's environment must not see it.
for name in list(os.environ):
    if name.lower().endswith("_proxy"):
        del os.environ[name]

os.makedirs(profile, exist_ok=True)
if os.path.exists(os.path.join(profile, "DevToolsActivePort")):
    os.remove(os.path.join(profile, "DevToolsActivePort"))
browser = subprocess.Popen(
    ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
     "--disable-background-networking", "--disable-component-update", "--disable-sync",
     "--no-proxy-server", "--user-data-dir=" + profile, "--remote-debugging-port=0", "about:blank"],
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(log, "w"))


def wait_for(look, seconds):
    """Calls look() every half second until it returns (True, seen) or SECONDS pass."""
    deadline = time.time() + seconds
    done, seen = False, ""
    while True:
        try:
            done, seen = look()
        except (RuntimeError, OSError, ValueError) as error:
            seen = "error: %s" % error
        if done or time.time() > deadline:
            return done, seen
        time.sleep(0.5)


def devtools_port():
    try:
        with open(os.path.join(profile, "DevToolsActivePort"), encoding="utf-8") as handle:
            port = handle.readline().strip()
    except OSError:
        return False, "chromium wrote no DevToolsActivePort"
    return bool(port), port


try:
    started, port = wait_for(devtools_port, 60)
    if not started:
        raise RuntimeError(port)
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    pages = json.load(direct.open("http://127.0.0.1:%s/json/list" % port, timeout=30))
    page = next(target for target in pages if target["type"] == "page")
    connection = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
except Exception as error:  # noqa: BLE001 — every task fails with the reason
    browser.kill()
    for _ in tasks:
        print("timeout\tno browser: %s" % str(error).replace("\n", " ")[:300], flush=True)
    sys.exit(0)

calls = 0


def call(method, **params):
    global calls
    calls += 1
    connection.send(json.dumps({"id": calls, "method": method, "params": params}))
    while True:
        message = json.loads(connection.recv())
        if message.get("id") == calls:
            if "error" in message:
                raise RuntimeError("%s: %s" % (method, message["error"].get("message")))
            return message.get("result", {})


def evaluate(expression, context=None):
    params = {"expression": expression, "returnByValue": True}
    if context is not None:
        params["contextId"] = context
    return call("Runtime.evaluate", **params).get("result", {}).get("value")


def menu(want):
    labels = evaluate("Array.from(document.querySelectorAll('.lm-MenuBar-itemLabel'))"
                      ".map(label => label.textContent.trim()).join(' ')") or ""
    return want in labels.split(" "), labels or "no menu bar (title %r)" % evaluate("document.title")


def text(selector):
    found = evaluate("(document.querySelector(%s) || {}).innerText || ''" % json.dumps(selector)) or ""
    found = " ".join(found.split())[:300]
    return bool(found), found or "no text in %s (title %r)" % (selector, evaluate("document.title"))


# When each framing page (by URL) was first seen with no document at WANT in its iframe.
empty_since = {}


def frame(want):
    page = evaluate("document.querySelector('iframe') ? location.href : ''")
    if not page:
        return False, "no page with an iframe (at %s)" % evaluate("location.href")
    children = [child["frame"] for child in call("Page.getFrameTree")["frameTree"].get("childFrames", [])]
    shown = [child for child in children if child["url"].startswith(want)]
    if not shown:
        # Refused: chromium's error page (url "" or chrome-error://…, an opaque origin), or, for
        # a cross-site frame, no frame in the page's tree at all. A refusal once it stays so for
        # 15 s: a document that JupyterLab serves (warm after the menu check) commits within
        # a second or two.
        first = empty_since.setdefault(page, time.time())
        return time.time() - first > 15, "refused: no document in the iframe for 15 s (frames: %s)" % (
            ", ".join(repr(child["url"]) for child in children) or "none")
    world = call("Page.createIsolatedWorld", frameId=shown[0]["id"])["executionContextId"]
    title = evaluate("document.readyState === 'complete' ? document.title : ''", world)
    return bool(title), "%s (title %r)" % (shown[0]["url"], title)


looks = {"menu": (menu, 120), "text": (text, 60), "frame": (frame, 60)}
for kind, url, want in tasks:
    look, seconds = looks[kind]
    try:
        call("Page.navigate", url=url)
        done, seen = wait_for(lambda: look(want), seconds)
    except (RuntimeError, OSError, ValueError, websocket.WebSocketException) as error:
        done, seen = False, "error: %s" % error
    print("%s\t%s" % ("done" if done else "timeout", seen.replace("\n", " ")), flush=True)
connection.close()
browser.terminate()
try:
    browser.wait(10)
except subprocess.TimeoutExpired:
    browser.kill()
PYTHON
}

# frame_origins CONFIG: the origins jupyter_config.py lets frame JupyterLab (FRAME_ANCESTORS, the
# spec's `jupyter frame-ancestors=`; no LABEL carries it), separated by spaces.
frame_origins() {
    python3 - "$1" <<'PYTHON'
import ast
import sys

for node in ast.parse(open(sys.argv[1], encoding="utf-8").read()).body:
    if isinstance(node, ast.Assign) and any(getattr(target, "id", "") == "FRAME_ANCESTORS" for target in node.targets):
        print(" ".join(ast.literal_eval(node.value)))
PYTHON
}

# menu_label LOCALE: the label of JupyterLab's File menu in LOCALE (its language pack).
menu_label() {
    case $1 in
        zh_CN) echo "文件" ;;
        *) echo "File" ;;
    esac
}

# browser_checks ID CTX TOKEN: what a user's browser sees. Headless chromium, in the container's
# network namespace, opens JupyterLab (with the token) and finds the File menu in the UI
# language; opens TensorBoard; and loads a page that frames JupyterLab from two loopback origins
# (python3 -m http.server): the one that frame-ancestors names, when it is a loopback
# http://HOST:PORT, must frame it, any other must be refused. The Content-Security-Policy header
# of JupyterLab's page is checked against frame-ancestors too.
browser_checks() {
    local id=$1 ctx=$2 token=$3
    local base="http://127.0.0.1:${L[jupyter.port]}${L[jupyter.base-url]}"
    local lab origins allowed="" foreign port csp directive expected origin url seen detail label results missing
    local servers=() tasks=() names=() i pid netns_pid
    lab="${base}lab${token:+?token=$token}"
    origins=$(frame_origins "$ctx/init/jupyter/jupyter_config.py")
    for origin in $origins; do
        if [[ $origin =~ ^http://(127\.0\.0\.1|localhost):([0-9]+)$ ]] && [ -z "$allowed" ]; then allowed=$origin; fi
    done
    if [ -n "$allowed" ]; then
        port=${allowed##*:}
        foreign=http://$([[ $allowed == http://127.0.0.1:* ]] && echo localhost || echo 127.0.0.1):$((port + 1))
    else
        foreign=http://localhost:8765
        if [ -n "$origins" ]; then echo "   frame-ancestors names no loopback http://HOST:PORT: only a refused frame is checked"; fi
    fi

    csp=$(in_netns "$id" curl -s -o /dev/null -D - --max-time 10 "$lab" 2>/dev/null | tr -d '\r' \
        | sed -n 's/^[Cc]ontent-[Ss]ecurity-[Pp]olicy: *//p' || true)
    directive=$(tr ';' '\n' <<<"$csp" | sed -n 's/^ *frame-ancestors  *//p' | tr -s ' ' '\n' | sort | tr '\n' ' ')
    expected=$(tr -s ' ' '\n' <<<"'self' $origins" | sort | tr '\n' ' ')
    check "jupyterlab Content-Security-Policy: frame-ancestors ${expected% }" \
        "$([ "$directive" = "$expected" ] || echo "got \"$(oneline "$csp")\"")"

    mkdir -p "$ctx/pages"
    printf '<!DOCTYPE html>\n<title>portal</title>\n<iframe src="%s" width="1000" height="700"></iframe>\n' "$lab" >"$ctx/pages/frame.html"
    # nsenter, not in_netns: $! must be the server itself (nsenter execs it), to stop it below.
    netns_pid=$(podman_ inspect -f '{{.State.Pid}}' "$id")
    for origin in $allowed $foreign; do
        port=${origin##*:}
        nsenter -t "$netns_pid" -n -- python3 -m http.server "$port" --bind 127.0.0.1 --directory "$ctx/pages" >"$ctx/http-$port.log" 2>&1 &
        servers+=("$!")
        echo "$!" >>"$E/servers"
    done
    for origin in $allowed $foreign; do
        for _ in $(seq 1 20); do
            if in_netns "$id" curl -s -o /dev/null --noproxy '*' --max-time 2 "$origin/frame.html"; then break; fi
            sleep 0.5
        done
    done

    label=$(menu_label "${L[jupyter.locale]:-en}")
    tasks+=("$(printf 'menu\t%s\t%s' "$lab" "$label")")
    names+=("chromium: JupyterLab at ${L[jupyter.base-url]} shows the ${L[jupyter.locale]:-English} UI (menu \"$label\")")
    if [ -n "${L[tensorboard.port]:-}" ]; then
        tasks+=("$(printf 'text\thttp://127.0.0.1:%s%s/\ttb-webapp' "${L[tensorboard.port]}" "${L[tensorboard.path-prefix]}")")
        names+=("chromium: TensorBoard at ${L[tensorboard.path-prefix]}/ renders")
    fi
    for origin in $allowed $foreign; do
        tasks+=("$(printf 'frame\t%s/frame.html\t%s' "$origin" "$base")")
        if [ "$origin" = "$allowed" ]; then
            names+=("chromium: a page from $origin (frame-ancestors) frames JupyterLab")
        else
            names+=("chromium: a page from $origin (not in frame-ancestors) cannot frame JupyterLab")
        fi
    done

    write_browser_client "$ctx/browser.py"
    results=$(printf '%s\n' "${tasks[@]}" | in_netns "$id" /usr/bin/python3 "$ctx/browser.py" "$ctx/chromium-profile" "$ctx/chromium.log" 2>"$ctx/browser.log" || true)
    missing="no answer from the DevTools client: $(tail -n 3 "$ctx/browser.log")"
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait "${servers[@]}" 2>/dev/null || true
    for i in "${!tasks[@]}"; do
        line=$(sed -n "$((i + 1))p" <<<"$results")
        seen=${line#*$'\t'}
        url=${seen%% *}
        case $line in
            "") detail=$missing ;;
            timeout$'\t'*) detail="timed out: $seen" ;;
            *) detail=$seen ;;
        esac
        case ${tasks[$i]%%$'\t'*} in
            menu | text) check "${names[$i]}" "$([[ $line == done$'\t'* ]] || oneline "$detail")" ;;
            frame)
                if [[ ${names[$i]} == *" frames JupyterLab" ]]; then
                    check "${names[$i]}" "$([[ $line == done$'\t'* && $url == "$base"* ]] || oneline "$detail")"
                else
                    check "${names[$i]}" "$([[ $line == done$'\t'refused:* ]] || oneline "$detail")"
                fi ;;
        esac
    done
}

# --- One image -----------------------------------------------------------------------------
# test_image DIR N QUICK: builds and checks one image directory; QUICK=yes boots once (selftest).
# Returns non-zero when a check failed.
test_image() {
    local dir=$1 n=$2 quick=${3:-no}
    local ctx="$E/image-$n" image="localhost/boot-test-$n:latest"
    local id out code token="" before logs first second dups start tz_abbr key expected expected_line line
    local failures_before=$failures
    echo "== $dir"
    derive "$dir" "$ctx" || { fail "derive the test Dockerfile from $dir/Dockerfile"; return 1; }
    read_labels "$ctx/labels"
    build "$ctx" "$image" || return 1

    # Test files: the root password, the Jupyter token, a key pair. Readable by root alone; on an
    # image with a `user`, by anyone (as a Kubernetes Secret's files are), so that the user reads them.
    local secret_mode=0600
    if [ -n "${L[user]:-}" ]; then secret_mode=0644; fi
    printf '%s\n' "boot-test-password-$n" >"$ctx/root-passwd"
    printf '%s\n' "boot-test-token-$n" >"$ctx/jupyter-token"
    chmod "$secret_mode" "$ctx/root-passwd" "$ctx/jupyter-token"
    ssh-keygen -q -t ed25519 -N '' -C boot-test -f "$ctx/id_ed25519"
    cp "$ctx/id_ed25519.pub" "$ctx/authorized_keys"
    chmod "$secret_mode" "$ctx/authorized_keys"

    local mounts=()
    if [ -n "${L[ssh.password-file]:-}" ]; then mounts+=(-v "$ctx/root-passwd:${L[ssh.password-file]}:ro"); fi
    if [ -n "${L[ssh.authorized-keys-file]:-}" ]; then
        mounts+=(-v "$ctx/authorized_keys:${L[ssh.authorized-keys-file]}:ro")
    fi
    if [ -n "${L[jupyter.token-file]:-}" ] && [ "${L[jupyter.open]:-}" != true ]; then
        mounts+=(-v "$ctx/jupyter-token:${L[jupyter.token-file]}:ro")
        token=boot-test-token-$n
    fi
    # How SSH logs in, for the checks' names.
    local login="root logs in with the password from ${L[ssh.password-file]:-}"
    if [ -n "${L[user]:-}" ]; then
        login="${L[user]} logs in with the key from ${L[ssh.authorized-keys-file]:-}"
    fi

    echo "-- first boot${L[user]:+ as ${L[user]}}${L[ssh.password-file]:+, with a password file}${L[ssh.authorized-keys-file]:+, with an authorized-keys file}${token:+, with a token file}"
    start=$(now)
    if ! id=$(start_container "${mounts[@]}" "$image"); then
        fail "start the container"
        return 1
    fi
    echo "   started in $(seconds "$start") s"
    check_programs "$id" ""

    if [ -n "${L[ssh.port]:-}" ]; then
        # shellcheck disable=SC2016 # expanded by the remote shell
        out=$(ssh_login "$id" "$ctx" 'locale; echo "TZ-ABBR=$(date +%Z)"' 2>&1 || true)
        if grep -q '^TZ-ABBR=' <<<"$out"; then
            ok "ssh: $login"
            expected=${L[locale]}
            line=$(grep -E '^(LANG|LC_ALL|LC_CTYPE)=|Cannot|无法' <<<"$out" | tr '\n' ' ')
            if grep -q "^LANG=\"\{0,1\}$expected\"\{0,1\}$" <<<"$out" && grep -q "^LC_CTYPE=\"\{0,1\}$expected\"\{0,1\}$" <<<"$out" \
                && ! grep -q 'Cannot\|无法' <<<"$out"; then
                ok "ssh: locale is $expected"
            else
                fail "ssh: locale is $expected: $(oneline "$line")"
            fi
            if [ -f "/usr/share/zoneinfo/${L[timezone]}" ]; then
                tz_abbr=$(TZ=":${L[timezone]}" date +%Z)
            else
                tz_abbr=$(podman_ exec -e "TZ=:${L[timezone]}" "$id" date +%Z)
            fi
            line=$(sed -n 's/^TZ-ABBR=//p' <<<"$out")
            check "ssh: date +%Z is $tz_abbr (${L[timezone]})" "$([ "$line" = "$tz_abbr" ] || echo "got $line")"
            # Without a login shell too (pam_env, or sshd's SetEnv for a `user`): the image's PATH.
            out=$(ssh_login "$id" "$ctx" 'command -v python' 2>&1 || true)
            check "ssh: a command without a login shell finds ${L[prefix]}/bin/python" \
                "$([ "$out" = "${L[prefix]}/bin/python" ] || oneline "$out")"
        else
            fail "ssh: $login: $(oneline "$out")"
        fi
        if [ "${L[ssh.motd]:-}" = true ]; then
            expected=$(podman_ exec -e DLSPEC_MOTD_SHOWN= "$id" bash -c '. /init/motd/motd.sh' 2>&1 \
                | sed 's/\x1b\[[0-9;]*m//g' | grep -v '^[[:space:]]*$' | head -n 3 || true)
            out=$(printf 'exit\n' | ssh_login "$id" "$ctx" "" -tt 2>&1 | sed 's/\x1b\[[0-9;]*m//g; s/\r$//' || true)
            line=""
            if [ -z "$expected" ]; then line="init/motd/motd.sh prints nothing"; fi
            while IFS= read -r expected_line; do
                if [ -n "$expected_line" ] && ! grep -Fq -- "$expected_line" <<<"$out"; then
                    line="no \"$expected_line\" in the session: $(oneline "$(head -n 5 <<<"$out")")"
                    break
                fi
            done <<<"$expected"
            check "ssh: the login banner (init/motd/motd.sh) is shown" "$line"
        fi
        out=$(printf 'wrong-password\n' >"$ctx/wrong-passwd"; ssh_password "$id" "$ctx/wrong-passwd" true 2>&1 && echo LOGGED-IN || true)
        check "ssh: a wrong password is refused" "$(grep LOGGED-IN <<<"$out" || true)"
        if [ -n "${L[user]:-}" ]; then
            # sshd runs as the user: no password login at all, and no login as root, key or not.
            # shellcheck disable=SC2046 # options without spaces
            out=$(in_netns "$id" sshpass -f "$ctx/root-passwd" ssh $(ssh_opts) -o PubkeyAuthentication=no \
                -o PreferredAuthentications=password,keyboard-interactive -o NumberOfPasswordPrompts=1 \
                "${L[user]}@127.0.0.1" true 2>&1 && echo LOGGED-IN || true)
            check "ssh: ${L[user]} cannot log in with a password" "$(grep LOGGED-IN <<<"$out" || true)"
            out=$(ssh_key "$id" "$ctx/id_ed25519" root true 2>&1 && echo LOGGED-IN || true)
            check "ssh: root cannot log in, with the user's key either" "$(grep LOGGED-IN <<<"$out" || true)"
        fi
    fi
    check_user "$id" "" "$ctx"

    if [ -n "${L[jupyter.port]:-}" ]; then
        local base="http://127.0.0.1:${L[jupyter.port]}${L[jupyter.base-url]}" auth=()
        if [ -n "$token" ]; then auth=(-H "Authorization: token $token"); fi
        code=$(http "$id" jupyterlab "${base}api" "${auth[@]}")
        out=$(http "$id" jupyterlab "${base}api/contents" "${auth[@]}")
        check "jupyterlab answers at ${L[jupyter.base-url]} (${L[jupyter.base-url]}api and api/contents: HTTP 200${token:+ with the token})" \
            "$([ "$code" = 200 ] && [ "$out" = 200 ] || echo "HTTP $code on api, $out on api/contents")"
        if [ -n "$token" ]; then
            code=$(http "$id" jupyterlab "${base}api/contents")
            check "jupyterlab refuses ${L[jupyter.base-url]}api/contents without the token (HTTP 401/403)" \
                "$([ "$code" = 401 ] || [ "$code" = 403 ] || echo "HTTP $code")"
        fi
        if [ -n "${L[jupyter.locale]:-}" ]; then
            out=$(in_netns "$id" curl -s --max-time 10 "${auth[@]}" "${base}lab/api/translations/" 2>&1 || true)
            line=$(in_netns "$id" curl -s --max-time 10 "${auth[@]}" "${base}lab/api/settings/@jupyterlab/translation-extension:plugin" 2>&1 || true)
            if ! python3 -c 'import json, sys; sys.exit(0 if sys.argv[2] in json.loads(sys.argv[1])["data"] else 1)' "$out" "${L[jupyter.locale]}" 2>/dev/null; then
                fail "jupyterlab UI language ${L[jupyter.locale]}: no language pack installed: $(oneline "$out")"
            elif ! grep -q "\"locale\": *\"${L[jupyter.locale]}\"\|locale.*${L[jupyter.locale]}" <<<"$line"; then
                fail "jupyterlab UI language ${L[jupyter.locale]}: pack installed, not selected in the user settings: $(oneline "$line")"
            else
                ok "jupyterlab UI language ${L[jupyter.locale]}: language pack installed and selected"
            fi
        fi
    fi

    if [ -n "${L[tensorboard.port]:-}" ]; then
        code=$(http "$id" tensorboard "http://127.0.0.1:${L[tensorboard.port]}${L[tensorboard.path-prefix]}/")
        check "tensorboard answers at ${L[tensorboard.path-prefix]}/" "$([ "$code" = 200 ] || echo "HTTP $code")"
    fi
    if [ -n "${L[jupyter.port]:-}" ] && { [ "$quick" = no ] || [ "$selftest_browser" = yes ]; }; then
        browser_checks "$id" "$ctx" "$token"
    fi
    check_healthcheck "$id" "" 3

    logs=$(podman_ logs "$id" 2>&1)
    check "first boot: no errors in the boot log" "$(oneline "$(boot_log_errors "$logs")")"

    if [ "$quick" = yes ]; then
        podman_ rm -f -t 0 "$id" >/dev/null 2>&1 || true
        [ "$failures" -eq "$failures_before" ]
        return
    fi

    echo "-- SIGTERM, then a second boot"
    first=$(config_files "$id")
    before=$(wc -l <<<"$logs")
    stop_check "$id" "first boot: "
    start=$(now)
    if ! out=$(start_again "$id"); then
        fail "second boot: podman start: $(oneline "$out")"
        return 1
    fi
    echo "   started again in $(seconds "$start") s"
    check_programs "$id" "second boot: "
    check_healthcheck "$id" "second boot: " 60
    second=$(config_files "$id")
    check "second boot: sshd_config, environment, bashrc, time zone, locale unchanged" \
        "$([ "$first" = "$second" ] || oneline "$(diff <(echo "$first") <(echo "$second") | grep '^[<>]' | head -n 6)")"
    if [ -n "${L[ssh.port]:-}" ]; then
        # shellcheck disable=SC2016 # expanded in the container
        dups=$(podman_ exec "$id" bash -c 'for f in /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf; do
                grep -Ev "^[[:space:]]*(#|$)" "$f" | sort | uniq -d | sed "s|^|$f: |"; done' 2>&1 || true)
        check "second boot: no duplicated lines in sshd_config" "$(oneline "$dups")"
        out=$(podman_ exec -e LC_ALL=C "$id" /usr/sbin/sshd -t 2>&1 || echo "exit status $?")
        check "second boot: sshd -t accepts the configuration" "$(oneline "$out")"
        out=$(ssh_login "$id" "$ctx" 'echo logged-in' 2>&1 || true)
        check "second boot: ssh: ${login%% from *}" "$(grep -q '^logged-in$' <<<"$out" || oneline "$out")"
    fi
    check_user "$id" "second boot: " "$ctx"
    logs=$(podman_ logs "$id" 2>&1 | tail -n +"$((before + 1))")
    check "second boot: no errors in the boot log" "$(oneline "$(boot_log_errors "$logs")")"
    stop_check "$id" "second boot: "
    podman_ rm -f -t 0 "$id" >/dev/null 2>&1 || true

    if [ -n "${L[ssh.port]:-}" ] && [ -n "${L[user]:-}" ]; then
        # The keys a user keeps in the home (on a home volume) work without the Secret's.
        local home=/home/${L[user]}
        echo "-- boot without the authorized-keys file, with a key in $home/.ssh/authorized_keys"
        start=$(now)
        if ! id=$(start_container -v "$ctx/authorized_keys:$home/.ssh/authorized_keys:ro" "$image"); then
            fail "start the container without the authorized-keys file"
        else
            echo "   started in $(seconds "$start") s"
            wait_supervisor "$id" sshd || true
            out=$(ssh_login "$id" "$ctx" 'echo logged-in' 2>&1 || true)
            check "no authorized-keys file: ${L[user]} logs in with the key in ~/.ssh/authorized_keys" \
                "$(grep -q '^logged-in$' <<<"$out" || oneline "$out")"
            podman_ rm -f -t 0 "$id" >/dev/null 2>&1 || true
        fi
    elif [ -n "${L[ssh.port]:-}" ]; then
        echo "-- boot without a password file, with a key in /root/.ssh/authorized_keys"
        start=$(now)
        if ! id=$(start_container -v "$ctx/authorized_keys:/root/.ssh/authorized_keys:ro" "$image"); then
            fail "start the container without a password file"
        else
            echo "   started in $(seconds "$start") s"
            wait_supervisor "$id" sshd || true
            out=$(cat "$E/status")
            check "no password file: supervisord program sshd RUNNING" \
                "$(awk '$1 == "sshd" && $2 == "RUNNING" { found = 1 } END { if (!found) print "no" }' <<<"$out" | grep -q no && oneline "$out")"
            out=$(ssh_password "$id" "$ctx/root-passwd" 'echo logged-in' 2>&1 || true)
            check "no password file: password login is refused" "$(grep '^logged-in$' <<<"$out" || true)"
            key=$ctx/id_ed25519
            # shellcheck disable=SC2046 # options without spaces
            out=$(in_netns "$id" ssh $(ssh_opts) -i "$key" -o IdentitiesOnly=yes -o PasswordAuthentication=no \
                -o BatchMode=yes root@127.0.0.1 'echo logged-in' 2>&1 || true)
            check "no password file: key login works" "$(grep -q '^logged-in$' <<<"$out" || oneline "$out")"
            podman_ rm -f -t 0 "$id" >/dev/null 2>&1 || true
        fi
    fi
    [ "$failures" -eq "$failures_before" ]
}

# test_framework_image DIR N: builds DIR with its framework and runs the image's self-test in a
# throwaway container (`/init/bin/selftest --boot`). Returns non-zero when a check failed.
test_framework_image() {
    local dir=$1 n=$2
    local ctx="$E/image-$n" image="localhost/boot-test-$n:latest"
    local out status=0 start check line version
    local failures_before=$failures
    echo "== $dir (framework)"
    derive "$dir" "$ctx" yes || { fail "derive the test Dockerfile from $dir/Dockerfile"; return 1; }
    read_labels "$ctx/labels"
    build "$ctx" "$image" || return 1
    echo "-- /init/bin/selftest --boot"
    start=$(now)
    out=$(podman_ run --rm "${R[@]}" -e LC_ALL=C "$image" /init/bin/selftest --boot 2>"$ctx/selftest.log") || status=$?
    # shellcheck disable=SC2001 # every line
    sed 's/^/   | /' <<<"$out"
    for check in import version convolution matmul; do
        line=$(grep -m1 -E "^[A-Za-z]+ $check: " <<<"$out" || true)
        check "selftest: $check" "$(grep -q "^ok $check: " <<<"$out" || echo "${line:-no $check line (stderr: $(oneline "$(tail -n 5 "$ctx/selftest.log")"))}")"
    done
    version=${L[framework.version]:-}
    check "selftest: the framework reports the version of LABEL dev.dlspec.framework.version ($version)" \
        "$(grep -Eq "^ok version: [a-z]+ ${version//./\\.}\$" <<<"$out" || echo "no line \"ok version: ... $version\"")"
    check "selftest: exit status 0 and no FAIL line ($(seconds "$start") s)" \
        "$([ "$status" -eq 0 ] && ! grep -q '^FAIL' <<<"$out" || echo "exit status $status: $(oneline "$(grep '^FAIL' <<<"$out")")")"
    [ "$failures" -eq "$failures_before" ]
}

# start_again ID: podman start. podman 4.3 may not have deleted the stopped container from runc's
# state (in --runtime-flag root=) yet: "container with given ID already exists"; then the stale
# runc state is deleted and start tried again.
start_again() {
    local out=""
    for _ in 1 2 3; do
        if out=$(podman_ start "$1" 2>&1); then return 0; fi
        runc --root "$E/runc-state" delete --force "$1" >/dev/null 2>&1 || true
        sleep 1
    done
    echo "$out"
    return 1
}

# stop_check ID WHEN: podman stop -t 10 (SIGTERM, SIGKILL after 10 s), timed. The container
# stopped within the 10 s when SIGKILL did not end it (exit status 137): podman's own work before
# and after (under load, seconds) is not the image's.
stop_check() {
    local id=$1 when=$2 start elapsed code
    if [ "$(podman_ inspect -f '{{.State.Running}}' "$id" 2>/dev/null)" != true ]; then
        fail "${when}stops within 10 s on SIGTERM: the container is not running"
        return
    fi
    start=$(now)
    podman_ stop -t 10 "$id" >/dev/null 2>&1 || true
    elapsed=$(seconds "$start")
    code=$(podman_ inspect -f '{{.State.ExitCode}}' "$id" 2>/dev/null || echo "?")
    if [ "$code" != 137 ] && [ "$code" != "?" ]; then
        ok "${when}stops within 10 s on SIGTERM ($elapsed s, exit status $code)"
    else
        fail "${when}stops within 10 s on SIGTERM: $elapsed s, exit status $code$([ "$code" = 137 ] && echo " (killed)")"
    fi
}

# --- Breakage ------------------------------------------------------------------------------
# break_copy CASE DIR COPY: copies DIR and breaks one generated file; prints what FAIL line must
# name (an extended regular expression) and what was broken.
break_copy() {
    local case=$1 dir=$2 copy=$3 file pattern replacement expect what
    cp -a "$dir" "$copy"
    case $case in
        tensorboard-prefix)
            file=init/supervisor/supervisor.ini pattern='--path_prefix [^ ]*' replacement='--path_prefix /broken-prefix'
            expect='^FAIL tensorboard answers at ' what="a wrong TensorBoard --path_prefix in supervisor.ini" ;;
        jupyterlab-command)
            file=init/supervisor/supervisor.ini pattern='^(command=[^ ]*/)jupyter-lab ' replacement='\1jupyter-lab-missing '
            expect='^FAIL supervisord program jupyterlab RUNNING' what="a jupyterlab command that cannot start in supervisor.ini" ;;
        sshd-root-login)
            file=init/ssh/sshd_config pattern='^PermitRootLogin .*' replacement='PermitRootLogin prohibit-password'
            expect='^FAIL ssh: root logs in with the password' what="PermitRootLogin prohibit-password in sshd_config" ;;
        frame-ancestors)
            file=init/jupyter/jupyter_config.py pattern="\"frame-ancestors 'self' \" \\+ \" \"\\.join\\(FRAME_ANCESTORS\\)" replacement="\"frame-ancestors 'self' http://127.0.0.1:1\""
            expect='^FAIL chromium: a page from [^ ]* \(frame-ancestors\) frames JupyterLab' what="a wrong origin in JupyterLab's frame-ancestors header (jupyter_config.py)" ;;
        framework-version)
            # The self-test's expectations and the LABEL come from the same spec value: both change.
            file=init/bin/selftest pattern='(\\"version\\": *\\")[^\\]*' replacement='\10.0.0-broken'
            sed -E -i 's|(dev\.dlspec\.framework\.version=)"[^"]*"|\1"0.0.0-broken"|' "$copy/Dockerfile"
            expect='^FAIL selftest: exit status 0 and no FAIL line.*exit status 1: FAIL version: ' what="a framework version label the installed framework does not report" ;;
        user-root)
            # The image runs as root by mistake: the LABELs, which the checks read, still name the user.
            file=init/supervisor/supervisor.ini pattern='^user=.*' replacement='user=root'
            sed -E -i 's|^USER .*|USER 0:0|' "$copy/Dockerfile"
            expect='^FAIL supervisord runs as ' what="an image and a supervisord that run as root instead of the image's user" ;;
        tampered-hash)
            # Every sha256 of the locked platform layer (`dlspec lock`): pip must refuse the files.
            file=pip/platform.lock.txt pattern='--hash=sha256:[0-9a-f]{64}' replacement="--hash=sha256:$(printf '0%.0s' {1..64})"
            expect='^FAIL build the test image \(system packages, Python, platform pip set\)' what="a tampered sha256 in the locked platform pip layer" ;;
        *) echo "boot-test: unknown selftest case $case" >&2; return 2 ;;
    esac
    sed -E -i "s|$pattern|$replacement|" "$copy/$file"
    if cmp -s "$dir/$file" "$copy/$file"; then
        echo "boot-test: cannot break $file: no /$pattern/" >&2
        return 1
    fi
    printf '%s\n%s\n' "$expect" "$what"
}

# test_broken DIR N: test_image DIR N, first boot only, counting its failures apart (run it in
# a command substitution: they are the selftest's output, not its result).
test_broken() {
    failures=0
    if [ "$framework" = yes ]; then
        test_framework_image "$1" "$2"
    else
        test_image "$1" "$2" yes
    fi
}

# --- Main ----------------------------------------------------------------------------------
declare -A summary
n=0
selftest_browser=no
for dir in "${dirs[@]}"; do
    n=$((n + 1))
    start=$(now)
    before=$failures
    if [ "$framework" = yes ]; then
        test_framework_image "$dir" "$n" || true
    else
        test_image "$dir" "$n" || true
    fi
    summary[$dir]="$((failures - before)) failed, $(seconds "$start") s"
done

if [ -n "$selftest" ]; then
    IFS=, read -r -a cases <<<"$selftest"
    for case in "${cases[@]}"; do
        n=$((n + 1))
        # A locked image's own case breaks the first locked IMAGE_DIR, a user's the first with a
        # `user`; the others the first one.
        target=${dirs[0]}
        for dir in "${dirs[@]}"; do
            if { [ "$case" = tampered-hash ] && [ -f "$dir/pip/platform.lock.txt" ]; } \
                || { [ "$case" = user-root ] && grep -q '^USER ' "$dir/Dockerfile"; }; then
                target=$dir
                break
            fi
        done
        echo "== selftest $case: break a copy of $target"
        start=$(now)
        if ! spec=$(break_copy "$case" "$target" "$E/broken-$case"); then
            fail "selftest $case: cannot break the copy"
            continue
        fi
        expect=$(sed -n 1p <<<"$spec")
        what=$(sed -n 2p <<<"$spec")
        # A broken copy boots once, and opens chromium only for what chromium checks (1-2 min).
        selftest_browser=$([ "$case" = frame-ancestors ] && echo yes || echo no)
        # The checks of the broken copy are the test's output, not its result.
        out=$(test_broken "$E/broken-$case" "$n" 2>&1 || true)
        # shellcheck disable=SC2001 # every line
        sed 's/^/   | /' <<<"$out"
        line=$(grep -E -m1 -- "$expect" <<<"$out" || true)
        if [ -n "$line" ]; then
            ok "selftest: $what is caught ($(seconds "$start") s): $line"
        else
            fail "selftest: $what is not caught: no line /$expect/"
        fi
    done
fi

echo
for dir in "${dirs[@]}"; do
    echo "${dir#"$PWD"/}: ${summary[$dir]}"
done
if [ "$failures" -eq 0 ]; then
    echo "boot-test: all checks passed"
else
    echo "boot-test: $failures checks failed"
    exit 1
fi
