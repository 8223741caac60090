"""Side-by-side ratios to hnswlib from the runs of ``before_after.sh``.

Reads the text outputs of ``benchmarks/ann.py`` (``before-1.txt``, ``after-1.txt``, ... in the
folder ``before_after.sh`` names) and prints one markdown table: for each data set, library and
mode, the interpolated q/s ratio to hnswlib at each target recall, run by run in the order the
runs alternated, then the build and memory ratios. Every ratio is against hnswlib measured in the
same run, so the columns can be compared although the machine's speed drifts between runs.

    python benchmarks/before_after_table.py /tmp/tmp.XXXX
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

RATIO = re.compile(r"\(([\d.]+)x\)")


def parse(text: str) -> dict[tuple[str, ...], str]:
    """``{(dataset, library, mode, column): ratio}`` from one ann.py output: the interpolated
    q/s tables (columns ``recall 0.90`` ...) and the build/memory table (``build 2t``, ``memory``)."""
    out: dict[tuple[str, ...], str] = {}
    dataset, kind, header = "", "", []
    for line in text.splitlines():
        m = re.match(r"## (\S+): queries/second at recall@10 (>=|=) target", line)
        if m:
            dataset, kind = m.group(1), ("interp" if m.group(2) == "=" else "step")
            continue
        if line.startswith("| library | build"):
            kind, header = "build", ["build 2t", "memory"]
            continue
        if line.startswith("| library | mode"):
            header = [c.strip() for c in line.strip("|").split("|")][2:]
            continue
        if not line.startswith("| ") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if kind == "interp":
            lib, mode, values = cells[0], cells[1], cells[2:]
            for col, v in zip(header, values, strict=False):
                r = RATIO.search(v)
                if r:
                    out[(dataset, lib, mode, col)] = r.group(1)
        elif kind == "build":
            lib, values = cells[0], cells[2:]
            for col, v in zip(header, values, strict=False):
                r = RATIO.search(v)
                if r:
                    out[(dataset, lib, "", col)] = r.group(1)
    return out


def main() -> None:
    folder = Path(sys.argv[1])
    runs = sorted(
        folder.glob("*-*.txt"), key=lambda p: (int(p.stem.split("-")[1]), p.stem.split("-")[0])
    )
    # before-1, after-1, before-2, after-2, ...: the order the runs took turns.
    runs.sort(key=lambda p: (int(p.stem.split("-")[1]), p.stem.split("-")[0] != "before"))
    parsed = [parse(p.read_text()) for p in runs]
    keys = sorted({k for d in parsed for k in d if k[1] != "hnswlib"})
    print("| data set | library | mode | measure | " + " | ".join(p.stem for p in runs) + " |")
    print("|---" * (4 + len(runs)) + "|")
    for key in keys:
        row = [d.get(key, "-") for d in parsed]
        print(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
