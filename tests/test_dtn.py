"""Deep Tree Network: routing, hard inference, every loss against a hand-computed value, the
empty and single-sample node cases, and the training loop on tiny inputs (CPU, seconds)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from pyembed.losses.dtn import (  # noqa: E402
    DTNLoss,
    leaf_class_loss,
    leaf_map_loss,
    route_loss,
    unique_loss,
)
from pyembed.nn.dtn import (  # noqa: E402
    DeepTreeNetwork,
    DTNTraining,
    NodeRouting,
    SpoofCNN,
    TreeRoutingUnit,
    leaf_features,
)


def _f(t) -> float:
    """A scalar tensor as a float (detached: the tests compare values)."""
    return float(t.detach())


def _tiny(depth: int = 2, side: int = 16, **kw) -> DeepTreeNetwork:
    torch.manual_seed(0)
    return DeepTreeNetwork(image_side=side, width=4, depth=depth, n_pool=min(2, depth), **kw)


def _batch(n: int = 12, side: int = 16, n_spoof: int | None = None, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, side, side, generator=g)
    is_spoof = torch.zeros(n, dtype=torch.bool)
    is_spoof[: (n * 3 // 4 if n_spoof is None else n_spoof)] = True
    return images, is_spoof


# ---------------------------------------------------------------- routing


def test_training_routing_masks_one_node_per_level_for_spoof_none_for_live():
    model = _tiny(depth=3)
    images, is_spoof = _batch(16)
    out = model(images, is_spoof)
    assert len(out.nodes) == 7
    for level in range(3):
        visits = torch.stack([out.nodes[2**level - 1 + j].visit for j in range(2**level)])
        assert torch.equal(visits.sum(0), is_spoof.long()), f"level {level}"
    # each child's visitors are the parent's visitors on the side its response points to
    for k in range(3):
        node = out.nodes[k]
        r = (node.vectors - node.center) @ node.direction
        left, right = out.nodes[2 * k + 1], out.nodes[2 * k + 2]
        assert torch.equal(left.visit, node.visit & (r >= 0))
        assert torch.equal(right.visit, node.visit & (r < 0))
    assert torch.equal(out.leaf_visit.sum(0), is_spoof.long())
    assert out.maps.shape == (8, 16, 4, 4) and out.logits.shape == (8, 16)


def test_training_center_is_visitor_mean_and_moving_average_follows():
    model = _tiny(depth=1, momentum=0.5)
    images, is_spoof = _batch(10)
    out = model(images, is_spoof)
    root = out.nodes[0]
    torch.testing.assert_close(root.center, root.vectors[is_spoof].mean(0))
    tru = model.trus[0]
    torch.testing.assert_close(tru.center, root.center.detach())  # first call copies
    out2 = model(images.flip(0), is_spoof)
    expected = 0.5 * root.center.detach() + 0.5 * out2.nodes[0].center.detach()
    torch.testing.assert_close(tru.center, expected)


def test_direction_is_unit_and_zero_vector_gives_no_nan():
    tru = TreeRoutingUnit(2, 8, out_side=2)
    torch.testing.assert_close(tru.direction().norm(), torch.tensor(1.0))
    with torch.no_grad():
        tru.v.zero_()
    assert torch.isfinite(tru.direction()).all()


def test_inference_one_leaf_per_sample_following_the_response_signs():
    model = _tiny(depth=3)
    images, is_spoof = _batch(24)
    model.train()
    for _ in range(3):
        model(images, is_spoof)  # give the centres values
    model.eval()
    result = model.infer(images)
    assert result.leaf.shape == (24,)
    assert ((result.leaf >= 0) & (result.leaf < 8)).all()
    # the leaf is the binary path of the response signs: >= 0 takes the first child (bit 0)
    bits = (result.responses < 0).long()
    path = bits[:, 0] * 4 + bits[:, 1] * 2 + bits[:, 2]
    assert torch.equal(result.leaf, path)
    # batching by node does not change a sample's result
    for i in (0, 7, 23):
        alone = model.infer(images[i : i + 1])
        assert int(alone.leaf[0]) == int(result.leaf[i])
        torch.testing.assert_close(alone.maps[0], result.maps[i], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(alone.logits[0], result.logits[i], atol=1e-5, rtol=1e-5)
    assert result.map_score.shape == (24,)
    torch.testing.assert_close(result.fused_score, (result.map_score + result.class_score) / 2)


def test_inference_evaluates_each_sample_at_one_node_per_level_only():
    model = _tiny(depth=2).eval()
    rows_seen = []
    for cru in model.crus:
        cru.register_forward_hook(lambda _m, inp, _out: rows_seen.append(inp[0].shape[0]))
    leaf_rows = []
    for leaf in model.leaves:
        leaf.register_forward_hook(lambda _m, inp, _out: leaf_rows.append(inp[0].shape[0]))
    images, _ = _batch(20)
    model.infer(images)
    assert sum(rows_seen) == 20 * 2  # one CRU per level per sample
    assert sum(leaf_rows) == 20


def test_inference_leaf_matches_dense_pass_with_moving_average_centres():
    """The hard path equals the dense training pass's leaf when the dense pass uses the same
    centres (a batch of one spoof sample, so each node falls back to its moving average)."""
    model = _tiny(depth=2)
    images, is_spoof = _batch(16)
    for _ in range(2):
        model(images, is_spoof)
    model.eval()
    hard = model.infer(images)
    for i in range(5):
        dense = model(images[i : i + 1], torch.tensor([True]))
        leaf = int(dense.leaf_visit[:, 0].nonzero()[0, 0])
        assert leaf == int(hard.leaf[i])
        torch.testing.assert_close(dense.maps[leaf, 0], hard.maps[i], atol=1e-5, rtol=1e-5)


def test_leaf_features_one_hot_and_unit_part():
    model = _tiny(depth=2).eval()
    images, _ = _batch(6)
    result = model.infer(images)
    feats = leaf_features(result, model.n_leaves, leaf_weight=2.0)
    assert feats.shape == (6, 4 + model.feature_dim)
    assert torch.equal(feats[:, :4].argmax(1), result.leaf)
    torch.testing.assert_close(feats[:, :4].sum(1), torch.full((6,), 2.0))
    torch.testing.assert_close(feats[:, 4:].norm(dim=1), torch.ones(6))


def test_bad_shapes_raise_value_error():
    model = _tiny()
    with pytest.raises(ValueError, match=r"shape \(n, 1, 16, 16\)"):
        model.infer(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="is_spoof"):
        model(torch.zeros(2, 1, 16, 16), torch.zeros(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="n_pool"):
        DeepTreeNetwork(depth=2, n_pool=3)
    with pytest.raises(ValueError, match="shape"):
        SpoofCNN(image_side=16, width=4)(torch.zeros(1, 2, 16, 16))


# ---------------------------------------------------------------- losses by hand


def _node(vectors, visit, center=None, v=(1.0, 0.0)):
    vectors = torch.tensor(vectors, dtype=torch.float64)
    visit = torch.tensor(visit)
    if center is None:
        center = vectors[visit].mean(0)
    d = torch.tensor(v, dtype=torch.float64)
    return NodeRouting(vectors, torch.as_tensor(center, dtype=torch.float64), d / d.norm(), visit)


def test_route_loss_hand_computed():
    # visitors (0,0), (2,0), (1,3): mean (1,1); centred (-1,-1), (1,-1), (0,2)
    node = _node([[0, 0], [2, 0], [1, 3], [9, 9]], [True, True, True, False])
    # v = (1, 0): projections -1, 1, 0 -> v'Cv = 2/3; tr(C) = (2 + 2 + 4)/3 = 8/3
    expected = math.exp(-0.5 * (2 / 3)) + 0.1 * (8 / 3)
    assert _f(route_loss(node, alpha=0.5, beta=0.1)) == pytest.approx(expected, rel=1e-7)


def test_unique_loss_hand_computed():
    # centre (1, 1); v = (0.6, 0.8)
    node = _node([[0, 0], [2, 2], [1, 3], [4, 1]], [True, True, False, False], v=(0.6, 0.8))
    # visitors: (-1,-1).v = -1.4, (1,1).v = 1.4 -> mean r^2 = 1.96
    # others: (0,2).v = 1.6 -> 2.56; (3,0).v = 1.8 -> 3.24; mean 2.9
    assert _f(unique_loss(node)) == pytest.approx(-1.96 + 2.9, rel=1e-7)


@pytest.mark.parametrize("n_visit", [0, 1])
def test_empty_and_single_sample_nodes_contribute_zero_without_nan(n_visit):
    visit = [i < n_visit for i in range(4)]
    vectors = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    center = (
        vectors[torch.tensor(visit)].mean(0) if n_visit else torch.zeros(3, dtype=torch.float64)
    )
    node = NodeRouting(
        vectors, center, torch.tensor([1.0, 0, 0], dtype=torch.float64), torch.tensor(visit)
    )
    for loss in (route_loss(node), unique_loss(node)):
        assert _f(loss) == 0.0
        loss.backward()
        assert vectors.grad is not None and torch.isfinite(vectors.grad).all()


def _training_output(maps, logits, leaf_visit):
    return DTNTraining(
        torch.tensor(maps, dtype=torch.float64),
        torch.tensor(logits, dtype=torch.float64),
        torch.tensor(leaf_visit),
        [],
    )


def test_leaf_map_and_class_losses_hand_computed():
    # 2 leaves, 3 samples (live, spoof, spoof), 1x1 maps
    out = _training_output(
        maps=[[[[0.2]], [[0.9]], [[0.4]]], [[[0.6]], [[0.1]], [[0.7]]]],
        logits=[[0.0, 1.0, -1.0], [2.0, 0.5, 0.0]],
        leaf_visit=[[False, True, False], [False, False, True]],
    )
    is_spoof = torch.tensor([False, True, True])
    targets = torch.tensor([[[0.0]], [[1.0]], [[0.5]]], dtype=torch.float64)
    # leaf 0: live |0.2 - 0| = 0.2, spoof (sample 1) |0.9 - 1| = 0.1 -> 0.5 (0.1 + 0.2) = 0.15
    # leaf 1: live |0.6| = 0.6, spoof (sample 2) |0.7 - 0.5| = 0.2 -> 0.5 (0.2 + 0.6) = 0.4
    assert _f(leaf_map_loss(out, targets, is_spoof)) == pytest.approx((0.15 + 0.4) / 2, rel=1e-6)

    def bce(z, y):
        return math.log1p(math.exp(-z)) if y else math.log1p(math.exp(z))

    leaf0 = 0.5 * (bce(1.0, 1) + bce(0.0, 0))
    leaf1 = 0.5 * (bce(0.0, 1) + bce(2.0, 0))
    assert _f(leaf_class_loss(out, is_spoof)) == pytest.approx((leaf0 + leaf1) / 2, rel=1e-6)


def test_leaf_without_spoof_samples_contributes_nothing():
    out = _training_output(
        maps=[[[[0.3]], [[0.8]]], [[[0.9]], [[0.9]]]],
        logits=[[0.0, 0.0], [5.0, 5.0]],
        leaf_visit=[[False, True], [False, False]],
    )
    is_spoof = torch.tensor([False, True])
    targets = torch.tensor([[[0.0]], [[1.0]]], dtype=torch.float64)
    # leaf 1 has no spoof sample: only leaf 0 counts, 0.5 (0.2 + 0.3), averaged over 2 leaves
    assert _f(leaf_map_loss(out, targets, is_spoof)) == pytest.approx(0.25 / 2, rel=1e-6)


def test_total_loss_weights_and_node_weights():
    model = _tiny(depth=2)
    images, is_spoof = _batch(12)
    out = model(images, is_spoof)
    targets = torch.rand(12, 4, 4) * is_spoof[:, None, None]
    loss = DTNLoss(
        class_weight=0.3, map_weight=0.7, route_weight=2.0, unique_weight=0.5, alpha=0.1, beta=0.2
    )
    parts = loss(out, targets, is_spoof)
    w = [1.0, 0.5, 0.5]
    route = sum(wi * _f(route_loss(n, 0.1, 0.2)) for wi, n in zip(w, out.nodes, strict=True)) / 2.0
    unique = sum(wi * _f(unique_loss(n)) for wi, n in zip(w, out.nodes, strict=True)) / 2.0
    assert _f(parts.route) == pytest.approx(route, rel=1e-5)
    assert _f(parts.unique) == pytest.approx(unique, rel=1e-5)
    expected = 0.3 * _f(parts.cls) + 0.7 * _f(parts.map) + 2.0 * route + 0.5 * unique
    assert _f(parts.total) == pytest.approx(expected, rel=1e-5)
    warm = loss(out, targets, is_spoof, unsupervised=False)
    assert _f(warm.total) == pytest.approx(0.3 * _f(parts.cls) + 0.7 * _f(parts.map), rel=1e-5)
    assert parts.leaf_spoof_counts.sum() == int(is_spoof.sum())


@pytest.mark.parametrize("n_spoof", [0, 1])
def test_batches_with_no_or_one_spoof_sample_stay_finite(n_spoof):
    model = _tiny(depth=2)
    images, is_spoof = _batch(8, n_spoof=n_spoof)
    out = model(images, is_spoof)
    parts = DTNLoss()(out, torch.zeros(8, 4, 4), is_spoof)
    parts.total.backward()
    assert torch.isfinite(parts.total)
    for p in model.parameters():
        assert p.grad is None or torch.isfinite(p.grad).all()


def test_loss_weight_validation():
    with pytest.raises(ValueError, match="route_weight"):
        DTNLoss(route_weight=-1.0)
