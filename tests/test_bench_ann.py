"""benchmarks/ann.py's table arithmetic: known values, and --report on a saved run."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ANN = Path(__file__).resolve().parents[1] / "benchmarks" / "ann.py"


@pytest.fixture(scope="module")
def ann():
    spec = importlib.util.spec_from_file_location("ann_bench", ANN)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is made
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        del sys.modules[spec.name]


SWEEP = [
    {"ef": 10, "recall": 0.80, "q": 1000.0},
    {"ef": 20, "recall": 0.90, "q": 400.0},
    {"ef": 40, "recall": 1.00, "q": 100.0},
]


def test_step_takes_the_fastest_point_reaching_the_target(ann):
    assert ann.qps_at(SWEEP, 0.90, "q") == 400.0
    assert ann.qps_at(SWEEP, 0.95, "q") == 100.0
    assert ann.qps_at(SWEEP[:2], 0.95, "q") is None


def test_interpolation_is_geometric_between_the_bracketing_points(ann):
    # halfway in recall between 400 and 100 q/s: sqrt(400 * 100) = 200
    assert math.isclose(ann.qps_interpolated(SWEEP, 0.95, "q"), 200.0, rel_tol=1e-12)
    assert math.isclose(ann.qps_interpolated(SWEEP, 0.90, "q"), 400.0, rel_tol=1e-12)
    assert math.isclose(ann.qps_interpolated(SWEEP, 0.85, "q"), math.sqrt(1000 * 400))
    assert ann.qps_interpolated(SWEEP, 0.70, "q") is None  # below the sweep: not bracketed
    assert ann.qps_interpolated(SWEEP[:2], 0.95, "q") is None


def test_interpolation_ignores_points_beaten_on_recall_and_speed(ann):
    # ef=30 is slower than ef=40 at lower recall (a noisy round): it is off the Pareto front
    noisy = [*SWEEP, {"ef": 30, "recall": 0.95, "q": 50.0}]
    assert math.isclose(ann.qps_interpolated(noisy, 0.95, "q"), 200.0, rel_tol=1e-12)


def test_report_renders_a_saved_run(tmp_path):
    def lib(scale: float) -> dict:
        sweep = [
            {
                "ef": s["ef"],
                "recall": s["recall"],
                "qps_per_query": s["q"] * scale,
                "qps_batch_1t": s["q"] * scale,
                "qps_batch_2t": 2 * s["q"] * scale,
            }
            for s in SWEEP
        ]
        return {"build_s": {"1": 2.0 / scale, "2": 1.0 / scale}, "memory_mb": 10.0, "sweep": sweep}

    path = tmp_path / "run.json"
    path.write_text(json.dumps({"toy": {"pyembed": lib(1.5), "hnswlib": lib(1.0)}}))
    out = subprocess.run(
        [sys.executable, str(ANN), "--report", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "| pyembed | 1 thread, per query | 600 (1.50x) | 150 (1.50x) | 150 (1.50x) |" in out
    assert "| pyembed | 1 thread, per query | 600 (1.50x) | 300 (1.50x) |" in out
    assert "| pyembed | 1.33 | 0.67 (0.67x) | 10.0 (1.00x) |" in out
