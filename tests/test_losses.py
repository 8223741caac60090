"""Losses against explicit float64 loops, hand-computed batches and gradient checks."""

from __future__ import annotations

import itertools
import math

import pytest

torch = pytest.importorskip("torch")

from pyembed.losses import (  # noqa: E402
    CenterLoss,
    ClusteringLoss,
    ContrastiveLoss,
    CosineDistance,
    EuclideanDistance,
    SoftmaxCenterLoss,
    TripletLoss,
)
from pyembed.miners import PairIndices, TripletIndices  # noqa: E402
from pyembed.nn import ClassCenters  # noqa: E402

torch.manual_seed(0)


def _batch(n: int = 8, dim: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g, dtype=torch.float64)
    labels = torch.arange(n) % 3
    return x, labels


def _naive_triplets(x, labels, margin, squared):
    values = []
    for a, p, n in itertools.product(range(len(labels)), repeat=3):
        if a != p and labels[a] == labels[p] and labels[n] != labels[a]:
            d_ap = float(((x[a] - x[p]) ** 2).sum())
            d_an = float(((x[a] - x[n]) ** 2).sum())
            if not squared:
                d_ap, d_an = math.sqrt(d_ap), math.sqrt(d_an)
            values.append(max(0.0, d_ap - d_an + margin))
    return values


# -- distances -----------------------------------------------------------------------------------


def test_euclidean_distance_matches_cdist_and_self_distance_is_exact():
    x, _ = _batch()
    d = EuclideanDistance(squared=True).pairwise(x, x)
    assert torch.allclose(d, torch.cdist(x, x) ** 2, atol=1e-12)
    assert torch.all(d.diagonal() == 0)
    plain = EuclideanDistance(eps=1e-12).pairwise(x, x)
    assert torch.allclose(plain.diagonal(), torch.full((8,), 1e-6, dtype=torch.float64))


def test_euclidean_gradient_is_finite_at_zero_distance():
    x = torch.zeros(2, 4, dtype=torch.float64, requires_grad=True)
    EuclideanDistance().paired(x[:1], x[1:]).sum().backward()
    assert torch.all(torch.isfinite(x.grad)) and torch.all(x.grad == 0)


def test_cosine_distance_of_zero_vector_is_one():
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [-2.0, 0.0]])
    d = CosineDistance().pairwise(x, x)
    assert torch.allclose(d[0], torch.ones(3))
    assert torch.isclose(d[1, 2], torch.tensor(2.0))


def test_distance_rejects_mismatched_dims():
    with pytest.raises(ValueError, match="dim=3 but second has dim=2"):
        EuclideanDistance().pairwise(torch.zeros(2, 3), torch.zeros(2, 2))


# -- triplet -------------------------------------------------------------------------------------


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "mean_nonzero"])
def test_triplet_loss_matches_explicit_loop(squared, reduction):
    x, labels = _batch()
    loss = TripletLoss(
        margin=0.5, distance=EuclideanDistance(squared=squared, eps=1e-30), reduction=reduction
    )
    expected = _naive_triplets(x, labels, 0.5, squared)
    positive = [v for v in expected if v > 0]
    want = {
        "mean": sum(expected) / len(expected),
        "sum": sum(expected),
        "mean_nonzero": sum(positive) / len(positive),
    }
    assert float(loss(x, labels)) == pytest.approx(want[reduction], rel=1e-10)
    assert loss.last_stats["n_tuples"] == len(expected)
    assert loss.last_stats["n_active"] == len(positive)


def test_triplet_loss_with_given_indices_and_none_reduction():
    x = torch.tensor([[0.0], [1.0], [0.5], [3.0]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1])
    indices = TripletIndices(torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([2, 3]))
    per = TripletLoss(margin=0.2, distance=EuclideanDistance(eps=1e-30), reduction="none")(
        x, labels, indices
    )
    # (0,1,2): 1 - 0.5 + 0.2 = 0.7 ; (1,0,3): 1 - 2 + 0.2 < 0 -> 0
    assert torch.allclose(per, torch.tensor([0.7, 0.0], dtype=torch.float64))


@pytest.mark.parametrize("labels", [[0, 0, 0, 0], [0, 1, 2, 3]])
def test_triplet_loss_without_valid_triplet_is_zero_with_gradient(labels):
    x = torch.randn(4, 3, requires_grad=True)
    value = TripletLoss()(x, torch.tensor(labels))
    assert value.item() == 0.0
    value.backward()
    assert x.grad is not None and torch.all(x.grad == 0)


def test_triplet_loss_gradient_finite_with_duplicate_embeddings():
    x = torch.zeros(4, 3, requires_grad=True)
    TripletLoss(margin=0.2)(x, torch.tensor([0, 0, 1, 1])).backward()
    assert torch.all(torch.isfinite(x.grad))


def test_triplet_loss_gradcheck():
    x, labels = _batch(n=6, dim=2, seed=3)
    x.requires_grad_(True)
    loss = TripletLoss(margin=1.0)
    assert torch.autograd.gradcheck(lambda e: loss(e, labels), (x,))


@pytest.mark.parametrize("bad", ["avg", "MEAN", None])
def test_reduction_is_checked_in_init(bad):
    with pytest.raises(ValueError, match="reduction must be one of"):
        TripletLoss(reduction=bad)


def test_loss_rejects_bad_shapes_and_float_labels():
    with pytest.raises(ValueError, match="labels must have shape"):
        TripletLoss()(torch.zeros(3, 2), torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="integer"):
        TripletLoss()(torch.zeros(2, 2), torch.tensor([0.0, 1.0]))


# -- contrastive ---------------------------------------------------------------------------------


def test_contrastive_pair_loss_hand_values_and_label_convention():
    first = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    second = torch.tensor([[3.0, 4.0], [0.0, 0.5], [3.0, 4.0]], dtype=torch.float64)
    dissimilar = torch.tensor([0, 1, 1])  # 0 = same identity (Hadsell et al.)
    loss = ContrastiveLoss(margin=1.0, eps=1e-30, reduction="none")
    per = loss.pair_loss(first, second, dissimilar)
    assert torch.allclose(per, torch.tensor([12.5, 0.125, 0.0], dtype=torch.float64))


def test_contrastive_forward_uses_all_pairs_from_labels():
    x, labels = _batch(n=6)
    loss = ContrastiveLoss(margin=2.0, eps=1e-30)
    expected = []
    for i, j in itertools.combinations(range(6), 2):
        d = float(torch.linalg.norm(x[i] - x[j]))
        expected.append(0.5 * d * d if labels[i] == labels[j] else 0.5 * max(0.0, 2.0 - d) ** 2)
    assert float(loss(x, labels)) == pytest.approx(sum(expected) / len(expected), rel=1e-10)


def test_contrastive_gradient_finite_at_zero_distance():
    # a dissimilar pair at distance zero: d/dx (m - sqrt(s))^2 is 0/0 without the epsilon
    x = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    naive_x = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    ContrastiveLoss(margin=1.0)(x, torch.tensor([0, 1])).backward()
    assert torch.all(torch.isfinite(x.grad))
    naive = torch.relu(1.0 - torch.sqrt(((naive_x[0] - naive_x[1]) ** 2).sum())) ** 2
    naive.backward()
    assert not torch.all(torch.isfinite(naive_x.grad)), (
        "the naive form should be NaN here (test premise)"
    )


def test_contrastive_with_indices_and_gradcheck():
    x, labels = _batch(n=5, dim=2, seed=1)
    x.requires_grad_(True)
    indices = PairIndices(
        torch.tensor([0]), torch.tensor([3]), torch.tensor([0, 1]), torch.tensor([1, 2])
    )
    loss = ContrastiveLoss(margin=3.0)
    assert torch.autograd.gradcheck(lambda e: loss(e, labels, indices), (x,))


# -- center loss ---------------------------------------------------------------------------------


def test_center_loss_hand_values_and_moving_average():
    loss = CenterLoss(n_classes=2, dim=2, alpha=0.5)
    f1 = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]])
    # first sighting: centers start at the batch means (2, 0) and (0, 2)
    assert float(loss(f1, torch.tensor([0, 0, 1]))) == pytest.approx((0.5 + 0.5 + 0.0) / 3)
    assert torch.allclose(loss.centers.centers, torch.tensor([[2.0, 0.0], [0.0, 2.0]]))
    value = loss(torch.tensor([[4.0, 0.0]]), torch.tensor([0]))
    assert float(value) == pytest.approx(0.5 * 4.0)  # measured against the old center
    assert torch.allclose(loss.centers.centers[0], torch.tensor([3.0, 0.0]))  # 0.5 * 2 + 0.5 * 4
    assert torch.allclose(loss.centers.centers[1], torch.tensor([0.0, 2.0]))


def test_center_loss_centers_are_buffers_not_parameters():
    loss = CenterLoss(3, 4)
    assert list(loss.parameters()) == []
    state = loss.state_dict()
    assert {"centers.centers", "centers.seen", "centers.thresholds"} <= set(state)
    loss(torch.randn(6, 4), torch.tensor([0, 0, 1, 1, 2, 2]))
    restored = CenterLoss(3, 4)
    restored.load_state_dict(loss.state_dict())
    assert torch.equal(restored.centers.centers, loss.centers.centers)


def test_center_loss_eval_mode_does_not_move_centers():
    loss = CenterLoss(2, 2)
    loss(torch.tensor([[1.0, 1.0], [2.0, 2.0]]), torch.tensor([0, 1]))
    before = loss.centers.centers.clone()
    loss.eval()
    loss(torch.tensor([[5.0, 5.0]]), torch.tensor([0]))
    assert torch.equal(before, loss.centers.centers)


def test_center_loss_gradient_pulls_toward_center():
    loss = CenterLoss(1, 2, alpha=0.9)
    loss(torch.tensor([[0.0, 0.0]]), torch.tensor([0]))  # center at the origin
    x = torch.tensor([[2.0, -1.0]], requires_grad=True)
    loss(x, torch.tensor([0])).backward()
    assert torch.allclose(x.grad, torch.tensor([[2.0, -1.0]]))  # d/dx 0.5 ||x - c||^2 = x - c


def test_center_loss_rejects_out_of_range_labels():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        CenterLoss(2, 2)(torch.zeros(1, 2), torch.tensor([2]))


def test_class_centers_open_set_rejection():
    centers = ClassCenters(2, 2, alpha=0.0)
    train = torch.tensor([[0.0, 0.0], [0.2, 0.0], [10.0, 0.0], [10.5, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    centers.update(train, labels)
    thresholds = centers.fit_thresholds(train, labels, quantile=1.0)
    assert torch.allclose(thresholds, torch.tensor([0.1, 0.25]))
    predicted, distances = centers.classify(torch.tensor([[0.05, 0.0], [5.0, 0.0], [10.2, 0.0]]))
    assert predicted.tolist() == [0, -1, 1]
    assert distances[1] == pytest.approx(5.0 - 0.1)


def test_class_centers_never_seen_class_is_never_nearest():
    centers = ClassCenters(3, 1)
    centers.update(torch.tensor([[5.0]]), torch.tensor([2]))
    predicted, _ = centers.classify(torch.tensor([[0.0]]))
    assert predicted.tolist() == [2]


def test_softmax_center_loss_combines_terms():
    torch.manual_seed(0)
    loss = SoftmaxCenterLoss(dim=3, n_classes=2, center_weight=0.5)
    x = torch.randn(4, 3)
    labels = torch.tensor([0, 0, 1, 1])
    value = loss(x, labels)
    ce = torch.nn.functional.cross_entropy(loss.classifier(x), labels)
    centers = torch.stack([x[:2].mean(0), x[2:].mean(0)])
    center = 0.5 * ((x - centers[labels]) ** 2).sum(1).mean()
    assert value.item() == pytest.approx((ce + 0.5 * center).item(), rel=1e-5)
    assert set(loss.last_stats) == {"cross_entropy", "center_loss", "accuracy"}


# -- clustering ----------------------------------------------------------------------------------


def test_clustering_loss_uniform_and_confident_batches():
    uniform = ClusteringLoss(gamma=0.5)(torch.zeros(4, 3, dtype=torch.float64))
    assert float(uniform) == pytest.approx((1 - 0.5) * math.log(3))
    confident = 100.0 * torch.eye(3, dtype=torch.float64)
    assert float(ClusteringLoss(gamma=1.0)(confident)) == pytest.approx(-math.log(3), abs=1e-9)


def test_clustering_loss_matches_formula_and_is_finite_for_huge_logits():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 4, generator=g, dtype=torch.float64)
    p = torch.softmax(logits, dim=1)
    h1 = -(p * p.log()).sum(1).mean()
    q = p.mean(0)
    h2 = -(q * q.log()).sum()
    assert float(ClusteringLoss(gamma=2.0)(logits)) == pytest.approx(
        float(h1 - 2.0 * h2), rel=1e-12
    )
    huge = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], requires_grad=True)
    value = ClusteringLoss()(huge)
    value.backward()
    assert torch.isfinite(value) and torch.all(torch.isfinite(huge.grad))


def test_clustering_loss_gradcheck():
    logits = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ClusteringLoss(gamma=0.7), (logits,))
