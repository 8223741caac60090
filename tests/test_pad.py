"""Presentation attack detection metrics: hand-computed cases, brute-force oracles, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from pyembed.metrics import (
    PADReport,
    equal_error_rate,
    pad_errors,
    pad_report,
    roc_auc,
    validation_threshold,
)

# 4 live and 4 attack scores with ties (0.3 and 0.5 occur in both classes, 0.5 twice in live).
LIVE = [0.1, 0.3, 0.5, 0.5]
ATTACK = [0.5, 0.7, 0.3, 0.9]
SCORES = np.array(LIVE + ATTACK)
IS_ATTACK = np.array([False] * 4 + [True] * 4)


def brute_force_auc(scores: np.ndarray, is_attack: np.ndarray) -> float:
    total = 0.0
    attacks = scores[is_attack].tolist()
    lives = scores[~is_attack].tolist()
    for a in attacks:
        for b in lives:
            total += 1.0 if a > b else 0.5 if a == b else 0.0
    return total / (len(attacks) * len(lives))


def brute_force_threshold(scores: np.ndarray, is_attack: np.ndarray) -> tuple[float, float]:
    """The candidate (distinct scores, then +inf) with the smallest |APCER - BPCER|, the first on
    a tie, and its (APCER + BPCER) / 2, by calling pad_errors at every candidate."""
    best_gap, best = np.inf, (np.nan, np.nan)
    for t in [*sorted(set(scores.tolist())), np.inf]:
        apcer, bpcer = pad_errors(scores, is_attack, t)
        if abs(apcer - bpcer) < best_gap:
            best_gap, best = abs(apcer - bpcer), ((apcer + bpcer) / 2, t)
    return best


def test_roc_auc_hand_value_with_ties():
    # attack 0.5: beats 0.1, 0.3, ties 0.5 twice -> 3; 0.7: 4; 0.3: beats 0.1, ties 0.3 -> 1.5;
    # 0.9: 4. Total 12.5 of 16 pairs.
    assert roc_auc(SCORES, IS_ATTACK) == pytest.approx(12.5 / 16, abs=1e-15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_auc_matches_pair_loop(seed):
    rng = np.random.default_rng(seed)
    n = 150
    is_attack = rng.random(n) < 0.4
    scores = np.where(rng.random(n) < 0.3, rng.integers(0, 5, n), rng.normal(size=n) + is_attack)
    scores = scores.astype(np.float64)
    assert roc_auc(scores, is_attack) == pytest.approx(
        brute_force_auc(scores, is_attack), abs=1e-12
    )


def test_roc_auc_extremes_and_symmetry():
    assert roc_auc([0.0, 1.0, 2.0, 3.0, 4.0], [0, 0, 0, 1, 1]) == 1.0
    assert roc_auc([3.0, 4.0, 0.0, 1.0, 2.0], [0, 0, 1, 1, 1]) == 0.0
    assert roc_auc(np.full(7, 0.25), [0, 1, 0, 1, 0, 1, 1]) == 0.5
    rng = np.random.default_rng(3)
    scores = rng.normal(size=60)
    is_attack = rng.random(60) < 0.5
    assert roc_auc(-scores, is_attack) == pytest.approx(1.0 - roc_auc(scores, is_attack), abs=1e-12)
    # integer scores and 0/1 labels are accepted
    assert roc_auc(np.array([1, 2, 2, 3]), np.array([0, 0, 1, 1])) == pytest.approx(7 / 8)


def test_pad_errors_hand_values_not_swapped():
    # threshold 0.5: attacks accepted (score < 0.5) = {0.3}; live rejected (score >= 0.5) = {0.5, 0.5}
    apcer, bpcer = pad_errors(SCORES, IS_ATTACK, 0.5)
    assert (apcer, bpcer) == (0.25, 0.5)
    assert pad_errors(SCORES, IS_ATTACK, 0.6) == (0.5, 0.0)
    assert pad_errors(SCORES, IS_ATTACK, 0.0) == (0.0, 1.0)
    assert pad_errors(SCORES, IS_ATTACK, np.inf) == (1.0, 0.0)
    # a score equal to the threshold is an attack: the live 0.5s are rejected, the attack 0.5 caught
    assert pad_errors([0.5, 0.5], [0, 1], 0.5) == (0.0, 1.0)


def test_equal_error_rate_hand_value():
    # candidates 0.1, 0.3, 0.5, 0.7, 0.9, inf: (APCER, BPCER) = (0, 1), (0, .75), (.25, .5),
    # (.5, 0), (.75, 0), (1, 0). The sign of APCER - BPCER changes between 0.5 (-0.25) and 0.7
    # (+0.5): the threshold is 0.5; interpolating, w = 0.25 / 0.75 and
    # EER = (2/3) 0.25 + (1/3) 0.5 = 1/3 (BPCER there: (2/3) 0.5 + (1/3) 0 = 1/3 too).
    eer, threshold = equal_error_rate(SCORES, IS_ATTACK)
    assert threshold == 0.5
    assert eer == pytest.approx(1 / 3, abs=1e-15)
    eer, threshold = equal_error_rate(SCORES, IS_ATTACK, interpolate=False)
    assert (eer, threshold) == (0.375, 0.5)


def test_equal_error_rate_exact_crossing_and_degenerate_cases():
    # at 0.6: APCER = 2/4 (0.3, 0.4), BPCER = 2/4 (0.6, 0.7): the rates meet exactly
    scores = np.array([0.1, 0.2, 0.6, 0.7, 0.3, 0.4, 0.8, 0.9])
    is_attack = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    assert equal_error_rate(scores, is_attack) == (0.5, 0.6)
    assert equal_error_rate(scores, is_attack, interpolate=False) == (0.5, 0.6)
    # perfectly separated: EER 0 at the lowest attack score
    assert equal_error_rate([0.0, 1.0, 2.0, 3.0, 4.0], [0, 0, 0, 1, 1]) == (0.0, 3.0)
    # identical scores: (0, 1) at the score and (1, 0) at +inf; tie -> the score, EER 0.5
    assert equal_error_rate(np.full(4, 0.7), [0, 1, 0, 1]) == (0.5, 0.7)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_equal_error_rate_matches_exhaustive_search(seed):
    # Guards against a threshold search that never updates its best value: the answer is rarely
    # the first or the last candidate here.
    rng = np.random.default_rng(seed)
    n = 80
    is_attack = rng.random(n) < 0.3
    scores = np.round(rng.normal(size=n) + 1.5 * is_attack, 1)
    expected_eer, expected_threshold = brute_force_threshold(scores, is_attack)
    candidates = sorted(set(scores.tolist()))
    assert candidates[0] < expected_threshold < candidates[-1]
    eer, threshold = equal_error_rate(scores, is_attack, interpolate=False)
    assert threshold == expected_threshold
    assert eer == pytest.approx(expected_eer, abs=1e-15)
    # the interpolated EER lies between APCER and BPCER at the chosen threshold
    interpolated, same_threshold = equal_error_rate(scores, is_attack)
    assert same_threshold == threshold
    apcer, bpcer = pad_errors(scores, is_attack, threshold)
    assert min(apcer, bpcer) <= interpolated <= max(apcer, bpcer)


def test_validation_threshold_is_the_eer_threshold():
    assert validation_threshold(SCORES, IS_ATTACK) == 0.5
    rng = np.random.default_rng(5)
    is_attack = rng.random(50) < 0.5
    scores = rng.normal(size=50) + is_attack
    assert validation_threshold(scores, is_attack) == equal_error_rate(scores, is_attack)[1]


def test_pad_report_per_type_apcer_is_the_maximum():
    live = [0.1, 0.6, 0.2, 0.3]
    printed = [0.2, 0.8]  # at 0.5: 1 of 2 accepted
    replay = [0.3, 0.4, 0.9]  # at 0.5: 2 of 3 accepted
    scores = np.array(live + printed + replay)
    is_attack = np.array([0] * 4 + [1] * 5, dtype=bool)
    types = np.array(["live"] * 4 + ["print"] * 2 + ["replay"] * 3)
    report = pad_report(scores, is_attack, 0.5, attack_types=types)
    assert isinstance(report, PADReport)
    assert report.apcer_per_type == {"print": 0.5, "replay": pytest.approx(2 / 3)}
    assert report.apcer == pytest.approx(2 / 3)  # the maximum, not the pooled 3/5
    assert report.bpcer == 0.25
    assert report.acer == pytest.approx((2 / 3 + 0.25) / 2)
    assert report.threshold == 0.5
    assert report.auc == roc_auc(scores, is_attack)
    assert report.eer == equal_error_rate(scores, is_attack)[0]
    # live entries of attack_types are ignored, whatever they hold
    other = pad_report(
        scores, is_attack, 0.5, attack_types=[None] * 4 + ["print"] * 2 + ["replay"] * 3
    )
    assert other == report
    # one type: the pooled APCER under the name "attack", as pad_errors gives
    single = pad_report(scores, is_attack, 0.5)
    assert single.apcer_per_type == {"attack": 0.6}
    assert (single.apcer, single.bpcer) == pad_errors(scores, is_attack, 0.5)


def test_pad_report_hand_example():
    report = pad_report(SCORES, IS_ATTACK, 0.5)
    assert report == PADReport(
        auc=12.5 / 16,
        eer=pytest.approx(1 / 3),
        apcer=0.25,
        bpcer=0.5,
        acer=0.375,
        threshold=0.5,
        apcer_per_type={"attack": 0.25},
    )
    # integer attack codes become string keys
    codes = np.array([9, 9, 9, 9, 1, 2, 1, 2])
    assert pad_report(SCORES, IS_ATTACK, 0.5, attack_types=codes).apcer_per_type == {
        "1": 0.5,
        "2": 0.0,
    }


@pytest.mark.parametrize(
    ("scores", "is_attack", "error", "match"),
    [
        (
            [0.1, 0.2, 0.3],
            [0, 0, 0],
            ValueError,
            r"need both attack and live samples, got 0 attack",
        ),
        ([0.1, 0.2], [1, 1], ValueError, r"got 2 attack and 0 live"),
        ([], [], ValueError, r"need both attack and live"),
        ([0.1, 0.2, 0.3], [0, 1], ValueError, r"is_attack must have the shape of scores \(3,\)"),
        ([[0.1, 0.2]], [[0, 1]], ValueError, r"scores must be 1-D"),
        ([0.1, np.nan], [0, 1], ValueError, r"scores contains NaN or inf"),
        ([0.1, np.inf], [0, 1], ValueError, r"scores contains NaN or inf"),
        (["a", "b"], [0, 1], TypeError, r"scores must be real numbers"),
        ([True, False], [0, 1], TypeError, r"scores must be real numbers"),
        ([0.1, 0.2], [0, 2], ValueError, r"is_attack must hold only 0/1"),
        ([0.1, 0.2], ["live", "spoof"], TypeError, r"is_attack must be bool or 0/1"),
    ],
)
def test_bad_input(scores, is_attack, error, match):
    for call in (
        lambda: roc_auc(scores, is_attack),
        lambda: pad_errors(scores, is_attack, 0.5),
        lambda: equal_error_rate(scores, is_attack),
        lambda: validation_threshold(scores, is_attack),
        lambda: pad_report(scores, is_attack, 0.5),
    ):
        with pytest.raises(error, match=match):
            call()


def test_bad_threshold_and_attack_types():
    with pytest.raises(ValueError, match="threshold is NaN"):
        pad_errors(SCORES, IS_ATTACK, float("nan"))
    with pytest.raises(ValueError, match="threshold is NaN"):
        pad_report(SCORES, IS_ATTACK, float("nan"))
    with pytest.raises(ValueError, match=r"attack_types must have the shape of scores \(8,\)"):
        pad_report(SCORES, IS_ATTACK, 0.5, attack_types=["print"] * 7)
