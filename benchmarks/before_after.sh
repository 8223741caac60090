#!/usr/bin/env bash
# Before/after check of a refactor that must not change speed: runs benchmarks/ann.py from two
# checkouts with their own installs, alternating (before, after, before, after, ...), so both see
# the same machine load, and prints each run's ratios to hnswlib (measured in the same run).
#
#   benchmarks/before_after.sh BEFORE_DIR BEFORE_PYTHON AFTER_DIR AFTER_PYTHON ROUNDS [ann.py args]
#
# e.g. git worktree add /tmp/before v0.1.0 && python -m venv /tmp/vb && /tmp/vb/bin/pip install
# "/tmp/before[bench]", then benchmarks/before_after.sh /tmp/before /tmp/vb/bin/python . python 2
set -euo pipefail
before_dir=$1 before_py=$2 after_dir=$3 after_py=$4 rounds=$5
shift 5
out=$(mktemp -d)
for r in $(seq 1 "$rounds"); do
  for side in before after; do
    if [ "$side" = before ]; then dir=$before_dir py=$before_py; else dir=$after_dir py=$after_py; fi
    echo "=== round $r: $side ($dir) ===" >&2
    # Run from outside the checkout so the installed package is imported, not the source folder.
    (cd "$out" && "$py" "$dir/benchmarks/ann.py" --json "$out/$side-$r.json" "$@" >"$out/$side-$r.txt")
    cat "$out/$side-$r.txt"
  done
done
echo "raw output in $out" >&2
