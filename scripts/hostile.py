"""Hostile input sizes for `dlspec check`: each must stay linear (or n log n) in its size.

    python3 scripts/hostile.py DIR           writes one specs directory per case under DIR
    python3 scripts/hostile.py DIR --run BIN also runs `BIN check` on each, printing the seconds
                                             and peak RSS (GNU time's %M when /usr/bin/time exists)

Cases (sizes of issue 13, where the first cut of dlspec went quadratic or used 0.9 GB):
  unused-profiles   20,000 profiles no image uses (20,000 warnings)
  errors            16,000 images with an error each, in one file
  pip-arguments     one image with 80,000 pip requirements
  apt-lines         a 4 MB spec of `apt` lines in one image
  deep-nesting      2,000 nested child blocks and 5,000 nested comments (a diagnostic, no crash)
Cases of issue 24, where each file was under the 1 MiB cap but the catalog was not bounded:
  capped-files      7 files of 24,000 unused profiles each (7.2 MB, under the 8 MiB catalog cap)
  over-catalog-cap  32 such files (refused before they are parsed)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

IMAGE = 'image "pytorch" {\n    pytorch "2.3.0"\n    python "3.10"\n    cpu\n'


def cases() -> dict[str, dict[str, str]]:
    """Case name -> {file name: text}."""
    profiles = "".join(f'profile "p{i}" {{\n    timezone "UTC"\n}}\n' for i in range(20_000))
    errors = "".join(f'image "e{i}" {{\n    python "2.{i}"\n    cpu\n}}\n' for i in range(16_000))
    pip = IMAGE + "    pip " + " ".join(f'"pkg{i}"' for i in range(80_000)) + "\n}\n"
    apt_line = '    apt "htop" "git" "curl" "vim" "tmux" "wget" "tree" "less"\n'
    apt = IMAGE + apt_line * (4_000_000 // len(apt_line)) + "}\n"
    nodes = IMAGE + "    " + "a { " * 2_000 + "}" * 2_000 + "\n}\n"
    comments = "/* " * 5_000 + "\n" + IMAGE + "}\n" + "*/ " * 5_000 + "\n"
    capped = "".join(f'profile "p{i}" {{\n    timezone "UTC"\n}}\n' for i in range(24_000))
    team = lambda n: capped.replace('"p', f'"t{n}p')  # noqa: E731
    return {
        "unused-profiles": {"profiles.kdl": profiles + IMAGE + "}\n"},
        "errors": {"errors.kdl": errors},
        "pip-arguments": {"pip.kdl": pip},
        "apt-lines": {"apt.kdl": apt},
        "deep-nesting": {"nodes.kdl": nodes, "comments.kdl": comments},
        "capped-files": {f"team{n}.kdl": team(n) for n in range(7)} | {"image.kdl": IMAGE + "}\n"},
        "over-catalog-cap": {f"team{n}.kdl": team(n) for n in range(32)} | {"image.kdl": IMAGE + "}\n"},
    }


def run(binary: str, specs: Path) -> str:
    time_bin = shutil.which("time", path="/usr/bin")
    command = [binary, "check", str(specs)]
    if time_bin:
        command = [time_bin, "-f", "%M", *command]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    rss = done.stderr.strip().splitlines()[-1] + " KiB" if time_bin else "?"
    return f"{seconds:7.2f} s  peak {rss}  exit {done.returncode}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path)
    parser.add_argument("--run", metavar="BIN")
    args = parser.parse_args()
    for name, files in cases().items():
        specs = args.dir / name
        specs.mkdir(parents=True, exist_ok=True)
        for file, text in files.items():
            (specs / file).write_text(text, encoding="utf-8")
        if args.run:
            print(f"{name:16} {run(args.run, specs)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
