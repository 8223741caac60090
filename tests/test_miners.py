"""Miners on hand-built batches with known batch-all, batch-hard and semi-hard answers."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from pyembed.losses import EuclideanDistance  # noqa: E402
from pyembed.miners import PairMiner, TripletMiner, all_pairs, all_triplets  # noqa: E402

# 1-D embeddings: label 0 at 0, 1, 3; label 1 at 1.5, 4
POINTS = torch.tensor([[0.0], [1.0], [3.0], [1.5], [4.0]])
LABELS = torch.tensor([0, 0, 0, 1, 1])


def _triplets(found):
    return list(
        zip(found.anchor.tolist(), found.positive.tolist(), found.negative.tolist(), strict=True)
    )


def test_all_triplets_enumerates_every_valid_triplet():
    found = all_triplets(LABELS)
    # label 0: 3*2 ordered positive pairs x 2 negatives; label 1: 2*1 x 3 negatives
    assert len(found.anchor) == 12 + 6
    for a, p, n in _triplets(found):
        assert a != p and LABELS[a] == LABELS[p] != LABELS[n]
    assert _triplets(TripletMiner("all")(POINTS, LABELS)) == _triplets(found)


def test_batch_hard_picks_farthest_positive_and_nearest_negative():
    found = TripletMiner("hard")(POINTS, LABELS)
    assert _triplets(found) == [(0, 2, 3), (1, 2, 3), (2, 0, 4), (3, 4, 1), (4, 3, 2)]


def test_semihard_picks_nearest_negative_inside_the_margin_window():
    found = TripletMiner("semihard", margin=1.2)(POINTS, LABELS)
    # windows d(a,p) < d(a,n) < d(a,p) + 1.2; pairs without such a negative are skipped
    assert _triplets(found) == [(0, 1, 3), (0, 2, 4), (1, 2, 4), (4, 3, 1)]


def test_semihard_respects_the_distance_it_is_given():
    # with squared distances, (0,1): d_ap = 1, window (1, 2.2): negative 3 at 2.25 falls outside
    found = TripletMiner("semihard", margin=1.2, distance=EuclideanDistance(squared=True))(
        POINTS, LABELS
    )
    assert (0, 1, 3) not in _triplets(found)


def test_anchor_without_positive_gets_no_triplet():
    labels = torch.tensor([0, 0, 1, 2])
    points = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    found = TripletMiner("hard")(points, labels)
    assert found.anchor.tolist() == [0, 1]


def test_miners_return_long_indices_without_gradient():
    x = POINTS.clone().requires_grad_(True)
    found = TripletMiner("semihard", margin=1.2)(x, LABELS)
    for field in found:
        assert field.dtype == torch.int64 and not field.requires_grad


def test_all_pairs_split_positive_and_negative():
    found = all_pairs(LABELS)
    pos = list(zip(found.anchor_pos.tolist(), found.positive.tolist(), strict=True))
    neg = list(zip(found.anchor_neg.tolist(), found.negative.tolist(), strict=True))
    assert pos == [(0, 1), (0, 2), (1, 2), (3, 4)]
    assert len(neg) == 3 * 2 and all(i < j for i, j in neg)


def test_hard_pairs():
    found = PairMiner("hard")(POINTS, LABELS)
    assert list(zip(found.anchor_pos.tolist(), found.positive.tolist(), strict=True)) == [
        (0, 2),
        (1, 2),
        (2, 0),
        (3, 4),
        (4, 3),
    ]
    assert list(zip(found.anchor_neg.tolist(), found.negative.tolist(), strict=True)) == [
        (0, 3),
        (1, 3),
        (2, 4),
        (3, 1),
        (4, 2),
    ]


@pytest.mark.parametrize(("cls", "strategy"), [(TripletMiner, "easy"), (PairMiner, "semihard")])
def test_unknown_strategy_is_rejected(cls, strategy):
    with pytest.raises(ValueError, match="strategy must be one of"):
        cls(strategy)


def test_negative_margin_is_rejected():
    with pytest.raises(ValueError, match="margin must be >= 0"):
        TripletMiner("semihard", margin=-1.0)
