#!/usr/bin/env bash
# The benchmark: builds dlspec in release mode, generates synthetic catalogs of 100, 1,000 and
# 5,000 images (50,000 on request), and prints a markdown table that puts `dlspec compile` next to
# `cp -r` of the tree it writes, `dlspec compile --check` next to `diff -r` of two copies, and the
# peak RSS; then `dlspec check` of hostile specs (time, peak RSS); then whether each goal is met
# (see scripts/bench.py).
#
#   scripts/bench.sh                        the whole table (about 10 minutes on 2 cores)
#   BENCH_SIZES=5000,50000 scripts/bench.sh memory and linearity at 50,000 images (about 20 GB of
#                                           scratch space and an hour on this class of disk)
#   BENCH_SIZES=100,1000 scripts/bench.sh   other sizes
#   BENCH_REPEAT=9 scripts/bench.sh         more runs per figure (the median is reported)
#   BENCH_DIR=/some/fs scripts/bench.sh     scratch space on another file system
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo build --quiet --release --locked --manifest-path "$root/Cargo.toml"
dlspec="${CARGO_TARGET_DIR:-$root/target}/release/dlspec"

work="$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/dlspec-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
    "$(df -T "$work" | awk 'NR == 2 { print $2 }') file system, load average $(cut -d' ' -f1-3 /proc/loadavg);" \
    "$("$dlspec" --version)" >&2
python3 "$root/scripts/bench.py" --dlspec "$dlspec" --work "$work" --repo-specs "$root/specs" \
    --sizes "${BENCH_SIZES:-100,1000,5000}" --repeat "${BENCH_REPEAT:-5}"
