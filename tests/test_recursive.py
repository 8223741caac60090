"""The recursive autoencoder and the neural grammar (pyembed.nn.recursive, pyembed.train.recursive):
frames, trees, hand-computed merges, the batched greedy parse against a plain loop over pairs (the
seed's algorithm), the losses, splicing and merge labels, and training that improves its loss."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pyembed.nn.recursive import (  # noqa: E402
    MergeTree,
    NeuralGrammar,
    RecursiveAutoencoder,
    frame_series,
)
from pyembed.train.recursive import (  # noqa: E402
    RecursiveConfig,
    autoencoder_loss,
    fit_recursive,
    grammar_loss,
    merge_labels,
    splice,
)


def _mean_autoencoder() -> RecursiveAutoencoder:
    """dim 1, linear, parent (a + b) / 2 and reconstruction [h, h]: error (a - b)^2 / 4."""
    model = RecursiveAutoencoder(1, activation="identity", normalize_nodes=False)
    with torch.no_grad():
        model.encoder.weight.copy_(torch.tensor([[0.5, 0.5]]))
        model.encoder.bias.zero_()
        model.decoder.weight.copy_(torch.tensor([[1.0], [1.0]]))
        model.decoder.bias.zero_()
    return model


# -- frames and trees ---------------------------------------------------------------------------


def test_frame_series_cuts_side_by_side_frames_and_drops_the_tail():
    x = torch.arange(10.0).reshape(1, 10)
    frames = frame_series(x, 3)
    assert frames.tolist() == [[[0, 1, 2], [3, 4, 5], [6, 7, 8]]]
    assert frame_series(x, 4, stride=3).tolist() == [[[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]]


def test_frame_series_puts_channels_one_after_the_other():
    x = torch.tensor([[[0.0, 1, 2, 3], [10, 11, 12, 13]]])  # (1, 2 channels, 4)
    assert frame_series(x, 2).tolist() == [[[0, 1, 10, 11], [2, 3, 12, 13]]]


@pytest.mark.parametrize(
    ("shape", "width", "stride", "message"),
    [
        ((2, 5), 6, None, "width must be between 1 and the length 5"),
        ((2, 5), 0, None, "width must be between 1"),
        ((2, 5), 2, 0, "stride must be >= 1"),
        ((2, 1, 1, 5), 2, None, "series must have shape"),
    ],
)
def test_frame_series_rejects_bad_arguments(shape, width, stride, message):
    with pytest.raises(ValueError, match=message):
        frame_series(torch.zeros(shape), width, stride)


def test_merge_tree_spans_depth_newick_dict_and_outline():
    # leaves 0..3; merge 4 = (2, 3), merge 5 = (0, 1), root 6 = (5, 4)
    tree = MergeTree(
        children=np.array([[2, 3], [0, 1], [5, 4]]),
        scores=np.array([0.16, 0.25, 6.0025]),
        n_leaves=4,
    )
    assert tree.root == 6
    assert tree.spans.tolist() == [[0, 1], [1, 2], [2, 3], [3, 4], [2, 4], [0, 2], [0, 4]]
    assert tree.depth() == 2
    assert tree.to_newick() == "((0,1),(2,3));"
    record = tree.to_dict()
    assert record["merges"][2] == {
        "node": 6,
        "left": 5,
        "right": 4,
        "start": 0,
        "stop": 4,
        "score": 6.0025,
    }
    back = MergeTree.from_dict(json.loads(json.dumps(record)))
    assert back.children.tolist() == tree.children.tolist()
    assert back.scores.tolist() == tree.scores.tolist()
    assert str(tree).splitlines() == [
        "node 6 frames [0, 4) score 6.003",
        "  node 5 frames [0, 2) score 0.25",
        "    leaf 0",
        "    leaf 1",
        "  node 4 frames [2, 4) score 0.16",
        "    leaf 2",
        "    leaf 3",
    ]


@pytest.mark.parametrize(
    ("children", "message"),
    [
        ([[0, 4], [1, 2], [3, 5]], "merge 0 joins nodes 0 and 4, not yet made"),
        ([[0, 1], [0, 2], [4, 5]], "a node is merged twice"),
    ],
)
def test_merge_tree_rejects_impossible_trees(children, message):
    with pytest.raises(ValueError, match=message):
        MergeTree(children=np.array(children), scores=np.zeros(3), n_leaves=4)


def test_single_leaf_tree_and_parse():
    model = RecursiveAutoencoder(3)
    parse = model.parse_series(torch.randn(2, 4))  # one frame of 3
    assert parse.scores.shape == (2, 0) and parse.nodes.shape == (2, 1, 3)
    torch.testing.assert_close(parse.pooled("mean"), parse.nodes[:, 0])
    assert parse.tree(0).to_newick() == "0;"


# -- merges against hand-computed values ----------------------------------------------------------


def test_autoencoder_merge_hand_computed():
    model = RecursiveAutoencoder(1, activation="tanh", normalize_nodes=False)
    with torch.no_grad():
        model.encoder.weight.copy_(torch.tensor([[0.5, 0.25]]))
        model.encoder.bias.fill_(0.1)
        model.decoder.weight.copy_(torch.tensor([[1.0], [2.0]]))
        model.decoder.bias.copy_(torch.tensor([0.0, -0.5]))
    # c = [1, 2]; h = tanh(0.5 + 0.5 + 0.1) = tanh(1.1) = 0.800499; o = [0.800499, 1.100998]
    h, error = model.merge(torch.tensor([[1.0]]), torch.tensor([[2.0]]))
    assert h.item() == pytest.approx(0.8004990218, abs=1e-6)
    expected = 0.5 * ((0.8004990218 - 1.0) ** 2 + (2 * 0.8004990218 - 0.5 - 2.0) ** 2)
    assert error.item() == pytest.approx(expected, abs=1e-6)  # 0.42340...


def test_autoencoder_normalize_nodes_gives_rms_one_parents():
    torch.manual_seed(0)
    model = RecursiveAutoencoder(5)
    h, _ = model.merge(torch.randn(7, 5), torch.randn(7, 5))
    torch.testing.assert_close(h.pow(2).mean(dim=1), torch.ones(7))


def test_grammar_merge_hand_computed():
    model = NeuralGrammar(1, hidden=1)
    with torch.no_grad():
        model.left.weight.fill_(1.0)
        model.left.bias.zero_()
        model.right.weight.fill_(2.0)
        model.right.bias.fill_(-1.0)
        model.parent.weight.copy_(torch.tensor([[1.0, 1.0]]))
        model.parent.bias.zero_()
        model.projection.weight.fill_(3.0)
        model.projection.bias.fill_(-1.0)
    # relu(0.5) = 0.5, relu(2 * 0.75 - 1) = 0.5; p = tanh(1.0) = 0.761594; s = 3p - 1
    p, s = model.merge(torch.tensor([[0.5]]), torch.tensor([[0.75]]))
    assert p.item() == pytest.approx(math.tanh(1.0), abs=1e-6)
    assert s.item() == pytest.approx(3 * math.tanh(1.0) - 1, abs=1e-6)
    # the right projection's relu cuts a negative input to 0: p = tanh(0.5)
    p, _ = model.merge(torch.tensor([[0.5]]), torch.tensor([[0.25]]))
    assert p.item() == pytest.approx(math.tanh(0.5), abs=1e-6)


def test_autoencoder_greedy_tree_hand_computed():
    """Leaves 0, 1, 5, 5.8 with error (a - b)^2 / 4 and the seed's subtree criterion:
    level 1 errors 0.25, 4, 0.16 -> merge (5, 5.8) = 5.4 (subtree 0.16); level 2 (0, 1): 0.25,
    (1, 5.4): 4.84 + 0.16 -> merge (0, 1) = 0.5; root (0.5, 5.4): 4.9^2 / 4 = 6.0025."""
    model = _mean_autoencoder()
    leaves = torch.tensor([[[0.0], [1.0], [5.0], [5.8]]])
    parse = model.parse(leaves)
    tree = parse.tree(0)
    assert tree.children.tolist() == [[2, 3], [0, 1], [5, 4]]
    np.testing.assert_allclose(tree.scores, [0.16, 0.25, 6.0025], rtol=1e-5)
    np.testing.assert_allclose(parse.nodes[0, :, 0].detach(), [0, 1, 5, 5.8, 5.4, 0.5, 2.95])
    loss, stats = autoencoder_loss(model, leaves)
    assert loss.item() == pytest.approx((0.16 + 0.25 + 6.0025) / 3, rel=1e-5)
    assert stats["root_error"] == pytest.approx(6.4125, rel=1e-5)
    assert stats["depth"] == 2


def test_autoencoder_merges_by_subtree_error_not_own_error():
    """Leaves 2, 11, 1, 7 (error (a - b)^2 / 4): level 1 costs 20.25, 25, 9 -> (1, 7) = 4 with
    subtree 9. Level 2: (2, 11) costs 20.25; (11, 4) costs 12.25 of its own but 12.25 + 9 =
    21.25 as a subtree, so the seed's rule merges (2, 11) = 6.5 (merging by the own error alone
    would take (11, 4)). Root (6.5, 4): 1.5625."""
    model = _mean_autoencoder()
    tree = model.parse(torch.tensor([[[2.0], [11.0], [1.0], [7.0]]])).tree(0)
    assert tree.children.tolist() == [[2, 3], [0, 1], [5, 4]]
    np.testing.assert_allclose(tree.scores, [9.0, 20.25, 1.5625], rtol=1e-6)


def _reference_parse(model, leaves, lowest: bool):
    """The seed's greedy loop, one sequence at a time and one pair at a time (adjacent pairs):
    every pair's score is computed alone; the autoencoder adds the children's subtree scores."""
    nodes = [(i, leaves[i], 0.0) for i in range(leaves.shape[0])]
    merges = []
    next_id = leaves.shape[0]
    while len(nodes) > 1:
        best = None
        for i in range(len(nodes) - 1):
            (li, lv, ls), (ri, rv, rs) = nodes[i], nodes[i + 1]
            parent, score = model.merge(lv[None], rv[None])
            key = float(score) + (ls + rs if lowest else 0.0)
            better = best is None or (key < best[0] if lowest else key > best[0])
            if better:
                best = (key, i, parent[0], float(score), li, ri)
        key, i, parent, score, li, ri = best
        subtree = key if lowest else score
        nodes[i : i + 2] = [(next_id, parent, subtree)]
        merges.append((li, ri, score, parent))
        next_id += 1
    return merges


@pytest.mark.parametrize("kind", ["autoencoder", "grammar"])
def test_batched_greedy_parse_equals_a_plain_loop_over_pairs(kind):
    torch.manual_seed(3)
    model = RecursiveAutoencoder(3) if kind == "autoencoder" else NeuralGrammar(3, hidden=5)
    leaves = torch.randn(6, 9, 3)
    with torch.no_grad():
        parse = model.parse(leaves)
        with_hypotheses = model.parse(leaves, hypotheses=True)
        for b in range(leaves.shape[0]):
            want = _reference_parse(model, leaves[b], lowest=kind == "autoencoder")
            assert parse.children[b].tolist() == [[li, ri] for li, ri, _, _ in want]
            assert with_hypotheses.children[b].tolist() == parse.children[b].tolist()
            torch.testing.assert_close(
                parse.scores[b], torch.tensor([s for _, _, s, _ in want]), rtol=1e-5, atol=1e-5
            )
            torch.testing.assert_close(
                parse.nodes[b, 9:], torch.stack([p for _, _, _, p in want]), rtol=1e-5, atol=1e-5
            )


def test_hypotheses_hold_every_adjacent_pair_of_every_level():
    torch.manual_seed(0)
    model = NeuralGrammar(2, hidden=4)
    parse = model.parse(torch.randn(3, 6, 2), hypotheses=True)
    assert [h[0].shape for h in parse.hypotheses] == [(3, m - 1) for m in range(6, 1, -1)]
    # level 0 pairs are the leaves (0,1), (1,2), ...; each level's chosen pair is among them
    assert parse.hypotheses[0][1][0].tolist() == [0, 1, 2, 3, 4]
    assert parse.hypotheses[0][2][0].tolist() == [1, 2, 3, 4, 5]
    for level, (scores, left, right) in enumerate(parse.hypotheses):
        chosen = parse.children[:, level]
        pick = scores.argmax(dim=1)
        rows = torch.arange(3)
        assert left[rows, pick].tolist() == chosen[:, 0].tolist()
        assert right[rows, pick].tolist() == chosen[:, 1].tolist()


def test_embedding_is_the_pooled_parse():
    torch.manual_seed(1)
    x = torch.randn(4, 20)
    for pool in ("root", "mean"):
        model = RecursiveAutoencoder(4, pool=pool)
        parse = model.parse_series(x)
        want = parse.nodes[:, -1] if pool == "root" else parse.nodes[:, 5:].mean(dim=1)
        torch.testing.assert_close(model(x), want)
        assert model(x).shape == (4, 4)


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="pool must be one of"):
        RecursiveAutoencoder(4, pool="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="activation must be"):
        RecursiveAutoencoder(4, activation="relu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="hidden must be >= 1"):
        NeuralGrammar(4, hidden=0)
    with pytest.raises(ValueError, match="frame_width and in_channels must be >= 1"):
        NeuralGrammar(0)
    model = RecursiveAutoencoder(4, in_channels=2)
    with pytest.raises(ValueError, match=r"series must have shape \(n, 2, length\)"):
        model(torch.randn(3, 20))
    with pytest.raises(ValueError, match=r"leaves must have shape \(B, T >= 1, 8\)"):
        model.parse(torch.randn(3, 5, 4))


# -- losses, splices, labels -------------------------------------------------------------------


def test_autoencoder_loss_gradients_are_the_hand_derived_ones():
    """For the mean autoencoder on leaves (0, 2): h = w1 a + w2 b, o = [d1 h, d2 h], error
    0.5 ((d1 h - a)^2 + (d2 h - b)^2). At w = (0.5, 0.5), d = (1, 1): h = 1, residuals (1, -1):
    dE/dd1 = 1 * h = 1, dE/dd2 = -1, dE/dh = d1 * 1 + d2 * (-1) = 0, so dE/dw = 0."""
    model = _mean_autoencoder()
    loss, _ = autoencoder_loss(model, torch.tensor([[[0.0], [2.0]]]))
    loss.backward()
    torch.testing.assert_close(model.decoder.weight.grad, torch.tensor([[1.0], [-1.0]]))
    torch.testing.assert_close(model.decoder.bias.grad, torch.tensor([1.0, -1.0]))
    torch.testing.assert_close(model.encoder.weight.grad, torch.zeros(1, 2))


def test_autoencoder_gradient_reaches_the_encoder_through_the_tree():
    torch.manual_seed(0)
    model = RecursiveAutoencoder(3)
    loss, _ = autoencoder_loss(model, torch.randn(4, 6, 3))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_merge_labels_hand_computed():
    segments = torch.tensor([[0, 0, 1, 1]])
    # merges: (1, 2) mixes segments -> -1; (0, 4) then -1; (3, 5) -1
    node = merge_labels(segments, torch.tensor([[[1, 2], [0, 4], [3, 5]]]))
    assert node.tolist() == [[0, 0, 1, 1, -1, -1, -1]]
    node = merge_labels(segments, torch.tensor([[[0, 1], [2, 3], [4, 5]]]))
    assert node.tolist() == [[0, 0, 1, 1, 0, 1, -1]]


def test_splice_segments_are_contiguous_runs_of_distinct_series_at_their_own_times():
    n, t, dim = 7, 10, 2
    # frame values encode (series, time): series * 100 + time
    frames = (torch.arange(n)[:, None] * 100 + torch.arange(t)[None, :]).float()
    frames = frames[:, :, None].expand(n, t, dim).contiguous()
    leaves, segments = splice(frames, 50, np.random.default_rng(0), max_segments=4)
    assert leaves.shape == (50, t, dim) and segments.shape == (50, t)
    values = leaves[:, :, 0]
    assert torch.equal(values % 100, torch.arange(t).float().expand(50, t))  # own time
    series = (values // 100).long()
    counts = []
    for b in range(50):
        seg = segments[b]
        assert seg[0] == 0 and bool((seg.diff() >= 0).all()) and bool((seg.diff() <= 1).all())
        k = int(seg.max()) + 1
        counts.append(k)
        per_segment = [set(series[b][seg == j].tolist()) for j in range(k)]
        assert all(len(s) == 1 for s in per_segment)  # one series per segment
        assert len(set().union(*per_segment)) == k  # distinct series
    assert set(counts) == {2, 3, 4}
    again, _ = splice(frames, 50, np.random.default_rng(0), max_segments=4)
    assert torch.equal(again, leaves)


def test_grammar_loss_is_the_mean_bce_over_every_hypothesis():
    torch.manual_seed(0)
    model = NeuralGrammar(2, hidden=3)
    leaves = torch.randn(2, 5, 2)
    segments = torch.tensor([[0, 0, 0, 1, 1], [0, 1, 1, 1, 1]])
    loss, stats = grammar_loss(model, leaves, segments)
    parse = model.parse(leaves, hypotheses=True)
    node = merge_labels(segments, parse.children).tolist()
    terms = []
    for scores, left, right in parse.hypotheses:
        for b in range(2):
            for j in range(scores.shape[1]):
                sl, sr = node[b][int(left[b, j])], node[b][int(right[b, j])]
                y = 1.0 if sl == sr and sl >= 0 else 0.0
                q = 1 / (1 + math.exp(-float(scores[b, j].detach())))  # sigmoid of the logit
                terms.append(-(y * math.log(q) + (1 - y) * math.log(1 - q)))
    assert len(terms) == 2 * (4 + 3 + 2 + 1)
    assert loss.item() == pytest.approx(sum(terms) / len(terms), rel=1e-5)
    made = [node[b][5:] for b in range(2)]
    assert stats["merge_accuracy"] == pytest.approx(sum(v >= 0 for m in made for v in m) / 8)


# -- training -----------------------------------------------------------------------------------


def _waves(n: int = 24, length: int = 64, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    freq = rng.uniform(0.05, 0.2, size=(n, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    x = np.sin(2 * np.pi * freq * t + phase) + 0.05 * rng.standard_normal((n, length))
    return torch.from_numpy(x.astype(np.float32))


def test_fit_autoencoder_lowers_its_reconstruction_error():
    torch.manual_seed(0)
    model = RecursiveAutoencoder(4)
    history = fit_recursive(
        model, _waves(), RecursiveConfig(epochs=8, batches_per_epoch=5, lr=1e-2), progress=False
    )
    assert len(history) == 8
    assert history[-1]["loss"] < 0.6 * history[0]["loss"]
    assert not model.training


def test_fit_grammar_learns_to_find_splice_boundaries():
    torch.manual_seed(0)
    model = NeuralGrammar(4, hidden=16)
    series = _waves()
    config = RecursiveConfig(epochs=10, batches_per_epoch=8, lr=1e-2, seed=1)
    history = fit_recursive(model, series, config, progress=False)
    assert history[-1]["loss"] < history[0]["loss"]
    # held-out splices of other waves: the chosen merges are more often correct than at the start
    frames = model.leaves(_waves(seed=5))
    leaves, segments = splice(frames, 64, np.random.default_rng(9))
    trained = grammar_loss(model, leaves, segments)[1]["merge_accuracy"]
    torch.manual_seed(0)
    fresh = grammar_loss(NeuralGrammar(4, hidden=16), leaves, segments)[1]["merge_accuracy"]
    assert trained > fresh + 0.05


def test_fit_rejects_what_it_cannot_train():
    with pytest.raises(TypeError, match="RecursiveAutoencoder or a NeuralGrammar"):
        fit_recursive(torch.nn.Linear(2, 2), torch.zeros(3, 8), RecursiveConfig())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 2 series of at least 2 frames"):
        fit_recursive(NeuralGrammar(8), torch.zeros(3, 8), RecursiveConfig(), progress=False)
    with pytest.raises(ValueError, match="max_segments must be >= 2"):
        RecursiveConfig(max_segments=1)
