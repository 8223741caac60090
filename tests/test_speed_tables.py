"""Queries/second at a target recall (pyembed.metrics), as benchmarks/ann.py's tables use it."""

from __future__ import annotations

import math

from pyembed.metrics import pareto_front, qps_at_recall, qps_interpolated

SWEEP = [
    {"ef": 10, "recall": 0.80, "q": 1000.0},
    {"ef": 20, "recall": 0.90, "q": 400.0},
    {"ef": 40, "recall": 1.00, "q": 100.0},
]


def test_step_takes_the_fastest_point_reaching_the_target():
    assert qps_at_recall(SWEEP, 0.90, "q") == 400.0
    assert qps_at_recall(SWEEP, 0.95, "q") == 100.0
    assert qps_at_recall(SWEEP, 0.50, "q") == 1000.0
    assert qps_at_recall(SWEEP[:2], 0.95, "q") is None
    assert qps_at_recall([], 0.95, "q") is None


def test_interpolation_is_geometric_between_the_bracketing_points():
    # halfway in recall between 400 and 100 q/s: sqrt(400 * 100) = 200
    assert math.isclose(qps_interpolated(SWEEP, 0.95, "q"), 200.0, rel_tol=1e-12)
    assert math.isclose(qps_interpolated(SWEEP, 0.90, "q"), 400.0, rel_tol=1e-12)
    assert math.isclose(qps_interpolated(SWEEP, 0.85, "q"), math.sqrt(1000 * 400))
    assert qps_interpolated(SWEEP, 0.70, "q") is None  # below the sweep: not bracketed
    assert qps_interpolated(SWEEP[:2], 0.95, "q") is None  # above the sweep
    assert qps_interpolated([], 0.95, "q") is None


def test_interpolation_at_the_lowest_point_and_on_a_single_point():
    assert math.isclose(qps_interpolated(SWEEP, 0.80, "q"), 1000.0, rel_tol=1e-12)
    assert qps_interpolated(SWEEP[:1], 0.80, "q") == 1000.0
    assert qps_interpolated(SWEEP[:1], 0.85, "q") is None


def test_interpolation_ignores_points_beaten_on_recall_and_speed():
    # ef=30 is slower than ef=40 at lower recall (a noisy round): it is off the Pareto front
    noisy = [*SWEEP, {"ef": 30, "recall": 0.95, "q": 50.0}]
    assert math.isclose(qps_interpolated(noisy, 0.95, "q"), 200.0, rel_tol=1e-12)


def test_pareto_front():
    points = [(0.9, 400.0), (0.8, 1000.0), (0.95, 50.0), (1.0, 100.0), (0.8, 900.0)]
    assert pareto_front(points) == [(0.8, 1000.0), (0.9, 400.0), (1.0, 100.0)]
    assert pareto_front([]) == []
    # equal recall: only the faster point stays
    assert pareto_front([(0.9, 10.0), (0.9, 20.0)]) == [(0.9, 20.0)]
