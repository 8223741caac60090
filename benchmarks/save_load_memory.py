"""Peak resident memory of `Index.save` and `Index.load` against the index's own size.

The index's own size is the resident-set growth that loading it causes in a fresh process. Each
measurement runs in a fresh child process, which resets its peak (`/proc/self/clear_refs`) right
before the call and reads `VmHWM` (peak resident set) and `VmRSS` from `/proc/self/status`:

- load: peak growth during `Index.load` / final growth (1.0 = no temporary copy);
- save: peak during `Index.save`, above the resident set before the load, / the index's size.

With `--before PYTHON`, the same children run under another interpreter (for example a venv
with an earlier pyembed installed), interleaved with this one, on the same file. Linux only.

    python benchmarks/save_load_memory.py --n 1000000 --dim 128 --before /work/venv-before/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

MIB = 1 << 20


def status() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in bytes."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


def reset_peak() -> None:
    """Sets VmHWM to the current VmRSS (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def child(mode: str, path: str, out: str | None) -> None:
    """Runs one measurement and prints it as JSON."""
    import pyembed

    base = status()["VmRSS"]
    reset_peak()
    started = time.perf_counter()
    ix = pyembed.Index.load(path)
    load_s = time.perf_counter() - started
    after = status()
    r = {
        "n": len(ix),
        "base": base,
        "loaded": after["VmRSS"],
        "load_peak": after["VmHWM"],
        "load_s": load_s,
        "version": pyembed.__version__,
        "native": pyembed._nswg.__file__,
    }
    if mode == "save":
        assert out is not None
        reset_peak()
        started = time.perf_counter()
        ix.save(out)
        r["save_s"] = time.perf_counter() - started
        s = status()
        r["save_peak"] = s["VmHWM"]
        os.unlink(out)
    print(json.dumps(r))


def build(path: Path, n: int, dim: int, seed: int) -> None:
    """Builds a clustered n x dim index (as benchmarks/ann.py makes them) and saves it."""
    import numpy as np

    import pyembed

    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((100, dim), dtype=np.float32) * 3
    data = centers[rng.integers(0, 100, n)] + rng.standard_normal((n, dim), dtype=np.float32)
    ix = pyembed.Index(dim)
    started = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 10 or done == total:
            last[0] = now
            print(f"  built {done:,}/{total:,} in {now - started:.0f} s", file=sys.stderr)

    ix.add(data)
    ix.build(progress=progress)
    ix.save(path)
    print(f"built {path} ({path.stat().st_size / MIB:.0f} MiB)", file=sys.stderr)


def measure(python: str, mode: str, path: Path, scratch: Path) -> dict:
    cmd = [python, __file__, "--child", mode, str(path), str(scratch / "out.nswg")]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="rows (default 1,000,000)")
    ap.add_argument("--dim", type=int, default=128, help="width (default 128)")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/pyembed-memory"), help="work folder")
    ap.add_argument("--before", help="a second Python interpreter to measure, interleaved")
    ap.add_argument("--repeat", type=int, default=2, help="rounds (default 2)")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    path = args.dir / f"clustered-{args.n}x{args.dim}.nswg"
    if not path.exists():
        build(path, args.n, args.dim, seed=1)
    pythons = [("this build", sys.executable)]
    if args.before:
        pythons.append(("before", args.before))
    rows = []
    for rnd in range(args.repeat):
        for label, python in pythons:
            r = measure(python, "save", path, args.dir)
            size = r["loaded"] - r["base"]
            rows.append(
                {
                    "round": rnd + 1,
                    "build": f"{label} ({r['version']})",
                    "file_mib": path.stat().st_size / MIB,
                    "index_mib": size / MIB,
                    "load_peak_ratio": (r["load_peak"] - r["base"]) / size,
                    "save_peak_ratio": (r["save_peak"] - r["base"]) / size,
                    "save_extra_mib": (r["save_peak"] - r["loaded"]) / MIB,
                    "load_s": r["load_s"],
                    "save_s": r["save_s"],
                }
            )
            print(json.dumps(rows[-1]), r["native"], file=sys.stderr)
    print(f"\n{args.n:,} x {args.dim} clustered, file {rows[0]['file_mib']:.0f} MiB\n")
    print(
        "| round | build | index (RSS growth of a load) | load peak / index | save peak / index "
        "| save extra | load s | save s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['round']} | {r['build']} | {r['index_mib']:.0f} MiB | {r['load_peak_ratio']:.3f} "
            f"| {r['save_peak_ratio']:.3f} | {r['save_extra_mib']:.1f} MiB | {r['load_s']:.2f} "
            f"| {r['save_s']:.2f} |"
        )


if __name__ == "__main__":
    main()
