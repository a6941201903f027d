#!/usr/bin/env bash
# Regenerate the machine-derivable parts of src/compat/data:
#   - timezones.txt from the local tzdata (/usr/share/zoneinfo/tzdata.zi)
#   - list tensorflow releases on PyPI that tensorflow.tsv lacks (rows are
#     hand-curated; this only prints them)
# then check the format of every data file.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data="$(cd "$here/../src/compat/data" && pwd)"
tool=(python3 "$here/compat_tool.py")

"${tool[@]}" timezones "$data/timezones.txt" --tzdata "${TZDATA_ZI:-/usr/share/zoneinfo/tzdata.zi}"

echo "tensorflow versions on PyPI missing from tensorflow.tsv:"
"${tool[@]}" tf-missing "$data/tensorflow.tsv" || echo "warning: could not query PyPI" >&2

"${tool[@]}" check "$data"/*.tsv "$data/timezones.txt"
