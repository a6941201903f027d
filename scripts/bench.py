"""The dlspec benchmark (run it through scripts/bench.sh).

Generates synthetic catalogs and measures, in the same run and on the same file system:
  compile   `dlspec compile` into a fresh directory    next to  `cp -r` of the tree it wrote
  check     `dlspec compile --check` of an up-to-date tree  next to  `diff -r` of two copies
  no-op     `dlspec compile` over an up-to-date tree (writes nothing)
  peak RSS  of compile and --check (GNU time's %M, else wait4's ru_maxrss)
plus `dlspec check` of the repository's own specs/, and `dlspec check` of hostile specs (20,000
unused profiles, 16,000 errors, 80,000 pip arguments, 1 MB of apt lines under the 1 MiB cap on a
spec file, 4 MB over it, 7 files of unused profiles each under that cap and together under the
8 MiB cap of a catalog, 32 such files over it): time and peak RSS.
Every figure is the median of several runs after a warm-up run, both sides with a warm page
cache; dlspec and the command it is compared with take turns (A B A B), so that load from
elsewhere on the machine falls on both. Every compile and every copy writes into a directory of
its own, removed only after the measurements: this class of disk creates files slowly for minutes
after a large removal, which would fall on whichever command runs next.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# One cycle of units: (kind, spec body). A unit is a single image or a matrix; the cycle makes 12
# images: pytorch on CPU and on CUDA, tensorflow on CUDA and on CPU, a 2x2 pytorch matrix on CUDA
# and a 2x2 tensorflow matrix on CPU. Every image gets its own name and an extra pip package.
PIP = ["pandas", "scikit-learn", "seaborn", "opencv-python-headless", "transformers", "lightgbm", "xgboost"]
UNITS = [
    (1, 'pytorch "2.3.0"\n    python "3.10"\n    cpu os="ubuntu22.04"'),
    (1, 'pytorch "2.4.1"\n    python "3.11"\n    cuda "12.1.1" cudnn="8"'),
    (1, 'tensorflow "2.15.0"\n    python "3.10"\n    cuda "12.2.2" cudnn="8" flavor="devel" os="ubuntu22.04"'),
    (1, 'tensorflow "2.16.1"\n    python "3.11"\n    cpu os="ubuntu22.04"'),
    (4, 'matrix {\n        pytorch "2.3.0" "2.2.2"\n        python "3.10" "3.11"\n    }\n    cuda "12.1.1" cudnn="8"'),
    (4, 'matrix {\n        tensorflow "2.15.0" "2.14.0"\n        python "3.10" "3.11"\n    }\n    cpu os="ubuntu22.04"'),
]
UNITS_PER_FILE = 10

ONE_IMAGE = 'image "victim" {\n    pytorch "2.3.0"\n    python "3.10"\n    cpu\n}\n'


def unused_profiles(prefix: str, count: int) -> str:
    return "".join(f'profile "{prefix}{n:05d}" {{\n    timezone "UTC"\n}}\n' for n in range(count))


# A spec file of just under the 1 MiB cap on one file: 24,000 profiles no image uses.
CAPPED = unused_profiles("p", 24000)
# The hostile sizes of issue 13, each a single spec file, and of issue 24, catalogs of many files
# each under the cap: `dlspec check` must get through each in time and memory bounded by its size,
# and refuse a catalog over the cap on all spec files together (8 MiB) before parsing it.
HOSTILE = [
    ("20,000 unused profiles", {"hostile.kdl": unused_profiles("p", 20000) + ONE_IMAGE}),
    (
        "16,000 errors",
        {"hostile.kdl": "".join(f'image "e{n:05d}" {{\n    pytorch "2.3.7"\n    python "3.10"\n    cpu\n}}\n' for n in range(16000))},
    ),
    (
        "80,000 pip arguments",
        {"hostile.kdl": ONE_IMAGE.replace("    cpu\n", "    cpu\n    pip " + " ".join(f'"pkg{n:05d}"' for n in range(80000)) + "\n")},
    ),
    # Under the 1 MiB cap on a spec file: the worst case of the KDL parser's document.
    ("1 MB of apt lines", {"hostile.kdl": ONE_IMAGE.replace("    cpu\n", "    cpu\n" + "".join(f'    apt "pkg{n:06d}"\n' for n in range(50000)))}),
    # Over it: refused with a message before it is parsed.
    ("4 MB of apt lines", {"hostile.kdl": ONE_IMAGE.replace("    cpu\n", "    cpu\n" + "".join(f'    apt "pkg{n:06d}"\n' for n in range(200000)))}),
    # Many files under the cap of one, together under the cap of a catalog: the most work a catalog can ask.
    ("7 capped files of unused profiles", {f"team{n}.kdl": CAPPED.replace('"p', f'"t{n}p') for n in range(7)} | {"victim.kdl": ONE_IMAGE}),
    # Together over the catalog's cap: refused before a file is parsed.
    ("32 capped files of unused profiles", {f"team{n:02d}.kdl": CAPPED.replace('"p', f'"t{n:02d}p') for n in range(32)} | {"victim.kdl": ONE_IMAGE}),
]


def generate(specs: Path, images: int) -> None:
    """Writes specs of exactly `images` images: the cycle of units, singles to fill the end."""
    specs.mkdir(parents=True)
    units: list[str] = []
    made = 0
    while made < images:
        count, body = UNITS[len(units) % len(UNITS)]
        if made + count > images:
            count, body = UNITS[0]
        n = len(units)
        units.append(f'image "bench/team{n // 50:03d}/img{n:05d}" {{\n    {body}\n    pip "{PIP[n % len(PIP)]}"\n}}\n')
        made += count
    for start in range(0, len(units), UNITS_PER_FILE):
        name = specs / f"catalog-{start // UNITS_PER_FILE:04d}.kdl"
        name.write_text("\n".join(units[start : start + UNITS_PER_FILE]))


def run(argv: list[str], expect: int = 0) -> float:
    """Runs argv; returns its wall time in seconds."""
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != expect:
        stderr = proc.stderr.decode(errors="replace")
        sys.exit(f"bench: `{' '.join(argv)}` exited {proc.returncode}, expected {expect}\n{stderr}")
    return elapsed


def measure(repeat: int, *commands) -> list[float]:
    """For each command of `commands` (a function of the run number giving argv): the median wall
    time over `repeat` runs after a warm-up. The commands take turns, so that a burst of load on
    the machine falls on all of them alike."""
    times: list[list[float]] = [[] for _ in commands]
    os.sync()
    for i in range(repeat + 1):
        for n, argv in enumerate(commands):
            elapsed = run(argv(i))
            if i > 0:
                times[n].append(elapsed)
    return [statistics.median(t) for t in times]


GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def peak_rss(argv: list[str], expect: int = 0) -> int:
    """The peak RSS in KiB of one more, untimed run. GNU time starts it from a small process; without
    it, wait4's figure has this Python's own RSS (about 15 MiB) as a floor, as a child starts as a
    copy of its parent."""
    if GNU_TIME:
        with tempfile.NamedTemporaryFile("r") as report:
            run([GNU_TIME, "-f", "%M", "-o", report.name, *argv], expect)
            return int(report.read().split()[-1])
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != expect:
        sys.exit(f"bench: `{' '.join(argv)}` failed")
    return usage.ru_maxrss


def remove(*paths: Path) -> None:
    """Removes measured trees, and lets the file system write back the removal before going on."""
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
    os.sync()


def tree_size(path: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _, names in os.walk(path):
        for name in names:
            files += 1
            size += os.lstat(os.path.join(dirpath, name)).st_size
    return files, size


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dlspec", required=True)
    parser.add_argument("--work", required=True, help="empty scratch directory")
    parser.add_argument("--repo-specs", required=True)
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    dlspec, work = args.dlspec, Path(args.work)

    rows = []
    for images in [int(s) for s in args.sizes.split(",")]:
        base = work / str(images)
        specs, out, copy = base / "specs", base / "out", base / "copy"
        generate(specs, images)
        repeat = args.repeat if images < 5000 else max(3, args.repeat // 2) if images < 50000 else 1
        print(f"{images} images: measuring ({repeat} runs each after a warm-up) …", file=sys.stderr, flush=True)

        def compile_into(target: Path) -> list[str]:
            return [dlspec, "compile", str(specs), "--out", str(target)]

        fresh_out = lambda i: base / f"out-{i}"  # noqa: E731
        fresh_copy = lambda i: base / f"copy-{i}"  # noqa: E731
        run(compile_into(out))
        compile_t, cp_t = measure(
            repeat,
            lambda i: compile_into(fresh_out(i)),
            lambda i: ["cp", "-r", str(out), str(fresh_copy(i))],
        )
        files, size = tree_size(out)
        remove(*[fresh_out(i) for i in range(1, repeat + 1)], *[fresh_copy(i) for i in range(1, repeat + 1)])
        os.rename(fresh_copy(0), copy)
        remove(fresh_out(0))
        check_t, diff_t = measure(
            repeat, lambda i: [*compile_into(out), "--check"], lambda i: ["diff", "-r", str(out), str(copy)]
        )
        (noop_t,) = measure(repeat, lambda i: compile_into(out))
        (specs_check_t,) = measure(repeat, lambda i: [dlspec, "check", str(specs)])
        check_rss = peak_rss([*compile_into(out), "--check"])
        compile_rss = peak_rss(compile_into(base / "out-rss"))
        rows.append(
            dict(
                images=images,
                files=files,
                mb=size / 1e6,
                compile=compile_t,
                cp=cp_t,
                check=check_t,
                diff=diff_t,
                noop=noop_t,
                specs_check=specs_check_t,
                compile_rss=compile_rss / 1024,
                check_rss=check_rss / 1024,
            )
        )
        remove(base)

    hostile_rows = []
    for name, files in HOSTILE:
        specs = work / "hostile" / name.replace(" ", "-").replace(",", "")
        specs.mkdir(parents=True)
        for file, text in files.items():
            (specs / file).write_text(text)
        print(f"hostile: {name} …", file=sys.stderr, flush=True)
        argv = [dlspec, "check", str(specs)]
        start = time.perf_counter()
        proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        elapsed = time.perf_counter() - start
        if proc.returncode < 0 or proc.returncode > 2:
            sys.exit(f"bench: `{' '.join(argv)}` crashed ({proc.returncode})")
        rss = peak_rss(argv, expect=proc.returncode)
        mb = sum(len(text) for text in files.values()) / 1e6
        hostile_rows.append(dict(name=name, mb=mb, code=proc.returncode, time=elapsed, rss=rss / 1024))
        shutil.rmtree(specs)

    (repo_check_t,) = measure(max(args.repeat, 10), lambda i: [dlspec, "check", args.repo_specs])
    repo_check_rss = peak_rss([dlspec, "check", args.repo_specs])

    print("| images | files | MB | compile | cp -r | ratio | compile --check | diff -r | ratio | no-op compile | check | peak RSS compile / --check |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['images']:,} | {r['files']:,} | {r['mb']:.0f} | {ms(r['compile'])} | {ms(r['cp'])} | "
            f"{r['compile'] / r['cp']:.2f}× | {ms(r['check'])} | {ms(r['diff'])} | {r['check'] / r['diff']:.2f}× | "
            f"{ms(r['noop'])} | {ms(r['specs_check'])} | {r['compile_rss']:.0f} / {r['check_rss']:.0f} MiB |"
        )
    print()
    print("| hostile spec (`dlspec check`) | MB | exit | time | peak RSS |")
    print("|---|---:|---:|---:|---:|")
    for h in hostile_rows:
        print(f"| {h['name']} | {h['mb']:.1f} | {h['code']} | {ms(h['time'])} | {h['rss']:.0f} MiB |")
    print()
    print(f"`dlspec check` of the example catalog ({args.repo_specs}): {repo_check_t * 1000:.1f} ms, {repo_check_rss / 1024:.0f} MiB")

    goals = []
    for r in rows:
        goals.append((f"compile ≤ 1.0× cp -r at {r['images']:,} images ({r['compile'] / r['cp']:.2f}×)", r["compile"] <= r["cp"]))
        goals.append((f"--check ≤ 1.0× diff -r at {r['images']:,} images ({r['check'] / r['diff']:.2f}×)", r["check"] <= r["diff"]))
        rss = max(r["compile_rss"], r["check_rss"])
        if r["images"] >= 1000:
            goals.append((f"peak RSS < 100 MiB at {r['images']:,} images ({rss:.0f} MiB)", rss < 100))
    if len(rows) > 1:
        small, large = rows[-2], rows[-1]
        for key, label, floor in [("compile", "compile", "cp"), ("check", "--check", "diff")]:
            growth = (large[key] / large["images"]) / (small[key] / small["images"])
            floor_growth = (large[floor] / large["images"]) / (small[floor] / small["images"])
            # Linear: the time per image grows by at most 25%, or by no more than the floor's (the
            # same bytes copied or compared) on this machine and file system.
            goals.append(
                (
                    f"{label} time linear in the catalog: time per image {small['images']:,} → {large['images']:,} "
                    f"images changes {growth:.2f}× (goal ≤ 1.25×, or ≤ {floor} -r's {floor_growth:.2f}× on the same trees)",
                    growth <= max(1.25, floor_growth),
                )
            )
    goals.append((f"`dlspec check` of the example catalog well under 100 ms ({repo_check_t * 1000:.1f} ms)", repo_check_t < 0.05))
    print()
    for text, met in goals:
        print(f"- {'met' if met else 'NOT MET'}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
