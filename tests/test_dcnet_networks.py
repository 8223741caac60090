"""DCNet weighted gradients (hand-computed 2x2 examples), the decoupled DenseNet and series
networks, and their model specs."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from pyembed.nn import (  # noqa: E402
    DecoupledConv1d,
    DecoupledConv2d,
    DecoupledDenseNetEmbedding,
    DecoupledLinear,
    DecoupledOperator,
    DecoupledTimeSeriesEmbedding,
    DenseNetEmbedding,
    TimeSeriesEmbedding,
)
from pyembed.nn.dcnet import weighted_gradient  # noqa: E402
from pyembed.train import build_model  # noqa: E402

F64 = torch.float64

# -- weighted gradients ---------------------------------------------------------------------------

# The 2x2 example. Kernels w_1 = (3, 4) (norm 5, w_hat = (.6, .8)) and w_2 = (-2, 0) (norm 2,
# w_hat = (-1, 0)); input x = (0, 2) (x_hat = (0, 1)). SphereConv + cosine: f_j = w_hat_j . x_hat,
# so f = (.8, 0). The seed: d f_j / d w_j = (x_hat - cos_j w_hat_j) / ||w_j||, and weighted
# gradients replace it by ||w_j|| times that, x_hat - cos_j w_hat_j:
#   w_1: (0, 1) - .8 (.6, .8) = (-.48, .36)  -> standard (-.096, .072), weighted (-.48, .36)
#   w_2: (0, 1) - 0 (-1, 0)   = (0, 1)       -> standard (0, .5),       weighted (0, 1)
STANDARD = [[-0.096, 0.072], [0.0, 0.5]]
WEIGHTED = [[-0.48, 0.36], [0.0, 1.0]]
KERNELS = [[3.0, 4.0], [-2.0, 0.0]]


def _grads_2x2(layer, x):
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(KERNELS, dtype=F64).view_as(layer.weight))
    x = x.clone().requires_grad_(True)
    out = layer(x)
    out.sum().backward()
    return out.detach().flatten().tolist(), layer.weight.grad.flatten(1).tolist(), x.grad


@pytest.mark.parametrize("weighted", [False, True])
def test_weighted_gradients_on_the_2x2_example(weighted):
    op = DecoupledOperator("sphere", "cosine")
    layer = DecoupledLinear(2, 2, operator=op, weighted_gradients=weighted).double()
    out, grads, x_grad = _grads_2x2(layer, torch.tensor([[0.0, 2.0]], dtype=F64))
    assert out == pytest.approx([0.8, 0.0], abs=1e-12)  # the forward pass is the same
    expected = WEIGHTED if weighted else STANDARD
    for got, want in zip(grads, expected, strict=True):
        assert got == pytest.approx(want, abs=1e-9)
    assert any(abs(v) > 0.1 for row in grads for v in row)
    # the input's gradient is not scaled: d/dx sum_j w_hat_j . x_hat = ((.6, .8) - .8 (0, 1)) / 2
    # + ((-1, 0) - 0) / 2 = (.3 - .5, 0)
    assert x_grad[0].tolist() == pytest.approx([-0.2, 0.0], abs=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_weighted_gradients_of_the_convolutions_on_the_2x2_example(weighted):
    # the same kernels as 1x2 convolution kernels over a single window (0, 2): the same numbers,
    # so <w, x> and ||w|| both go through the scaled weight
    op = DecoupledOperator("sphere", "cosine")
    conv2 = DecoupledConv2d(1, 2, (1, 2), operator=op, weighted_gradients=weighted).double()
    conv1 = DecoupledConv1d(1, 2, 2, operator=op, weighted_gradients=weighted).double()
    expected = WEIGHTED if weighted else STANDARD
    for layer, x in (
        (conv2, torch.tensor([[[[0.0, 2.0]]]], dtype=F64)),
        (conv1, torch.tensor([[[0.0, 2.0]]], dtype=F64)),
    ):
        out, grads, _ = _grads_2x2(layer, x)
        assert out == pytest.approx([0.8, 0.0], abs=1e-12)
        for got, want in zip(grads, expected, strict=True):
            assert got == pytest.approx(want, abs=1e-9)


def test_weighted_gradients_scale_the_whole_kernel_gradient_of_weighted_operators():
    # with ||w|| in the magnitude (linear weighting), the scaled gradient is still ||w_j|| times
    # the true one, row by row
    torch.manual_seed(0)
    grads = []
    for weighted in (False, True):
        torch.manual_seed(1)
        op = DecoupledOperator("tanh", "sigmoid", weighting="linear")
        layer = DecoupledLinear(3, 4, operator=op, weighted_gradients=weighted).double()
        x = torch.randn(5, 3, dtype=F64, generator=torch.Generator().manual_seed(2))
        layer(x).pow(2).sum().backward()
        grads.append(layer.weight.grad)
        norms = layer.weight.detach().norm(dim=1, keepdim=True)
    assert torch.all(grads[0].abs().sum(dim=1) > 0)
    assert torch.allclose(grads[1], grads[0] * norms, rtol=1e-10, atol=1e-14)


def test_weighted_gradient_function_is_identity_forward_and_scales_backward():
    w = torch.tensor([[3.0, 4.0], [1.0, 0.0]], dtype=F64, requires_grad=True)
    out = weighted_gradient(w)
    assert torch.equal(out, w)
    out.backward(torch.ones_like(w))
    # ||w_j|| = sqrt(sum w_j^2 + 1e-12): 5 and 1 to 1e-12
    assert w.grad.tolist() == [pytest.approx([5.0, 5.0]), pytest.approx([1.0, 1.0])]


def test_sgd_step_with_weighted_gradients_moves_by_the_unit_norm_gradient():
    # SGD (lr .1): w_1 <- (3, 4) - .1 (-.48, .36) = (3.048, 3.964)
    op = DecoupledOperator("sphere", "cosine")
    layer = DecoupledLinear(2, 2, operator=op, weighted_gradients=True).double()
    _grads_2x2(layer, torch.tensor([[0.0, 2.0]], dtype=F64))
    torch.optim.SGD(layer.parameters(), lr=0.1).step()
    assert layer.weight.tolist() == [pytest.approx([3.048, 3.964]), pytest.approx([-2.0, -0.1])]


def test_adam_cancels_the_per_kernel_scale_of_weighted_gradients():
    # Adam divides by the root mean square of each entry's gradient, so a per-kernel constant
    # scale drops out: the first step is lr * sign(g) with or without weighted gradients
    weights = []
    for weighted in (False, True):
        op = DecoupledOperator("sphere", "cosine")
        layer = DecoupledLinear(2, 2, operator=op, weighted_gradients=weighted).double()
        _grads_2x2(layer, torch.tensor([[0.0, 2.0]], dtype=F64))
        torch.optim.Adam(layer.parameters(), lr=0.01).step()
        weights.append(layer.weight.detach())
    assert torch.allclose(weights[0], weights[1], atol=1e-7)
    assert weights[0][0].tolist() == pytest.approx([3.01, 3.99], abs=1e-6)


# -- networks -------------------------------------------------------------------------------------

TINY_2D = {"embedding_dim": 8, "growth_rate": 4, "block_sizes": (1, 2), "stem_stride": 2}
TINY_1D = {"embedding_dim": 8, "growth_rate": 4, "block_sizes": (1, 1)}


def _count(model, kind):
    return sum(isinstance(m, kind) for m in model.modules())


def test_plain_version_is_exactly_the_densenet():
    torch.manual_seed(0)
    reference = DenseNetEmbedding(**TINY_2D)
    torch.manual_seed(0)
    plain = DecoupledDenseNetEmbedding(**TINY_2D, decoupled=False)
    x = torch.rand(3, 1, 16, 16)
    assert torch.equal(reference(x), plain(x))
    torch.manual_seed(0)
    reference_1d = TimeSeriesEmbedding(**TINY_1D)
    torch.manual_seed(0)
    plain_1d = DecoupledTimeSeriesEmbedding(**TINY_1D, decoupled=False)
    series = torch.randn(3, 1, 20)
    assert torch.equal(reference_1d(series), plain_1d(series))


def test_every_convolution_is_decoupled_and_batch_norm_can_go():
    # stem + 2 per dense unit (3 units) + 1 per transition (1) = 8 convolutions
    model = DecoupledDenseNetEmbedding(**TINY_2D)
    assert _count(model, DecoupledConv2d) == 8 and _count(model, torch.nn.Conv2d) == 0
    assert _count(model, torch.nn.BatchNorm2d) == 2 * 3 + 1 + 1
    bare = DecoupledDenseNetEmbedding(**TINY_2D, batch_norm=False)
    assert _count(bare, torch.nn.BatchNorm2d) == 0 and _count(bare, DecoupledConv2d) == 8
    plain_bare = DecoupledDenseNetEmbedding(**TINY_2D, batch_norm=False, decoupled=False)
    convs = [m for m in plain_bare.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 8 and all(c.bias is not None for c in convs)
    series = DecoupledTimeSeriesEmbedding(**TINY_1D, batch_norm=False)
    assert _count(series, DecoupledConv1d) == 1 + 2 * 2 + 1
    assert _count(series, torch.nn.BatchNorm1d) == 0


@pytest.mark.parametrize("mag", ["sphere", "ball", "tanh"])
def test_bounded_operators_bound_every_layer_without_batch_norm(mag):
    torch.manual_seed(0)
    model = DecoupledDenseNetEmbedding(
        **TINY_2D, batch_norm=False, magnitude=mag, angular="square_cosine", alpha=1.5
    )
    outputs = []
    for m in model.modules():
        if isinstance(m, DecoupledConv2d):
            m.register_forward_hook(lambda _m, _i, out: outputs.append(out.detach()))
    model(torch.rand(4, 1, 16, 16) * 1000)
    assert len(outputs) == 8
    assert max(float(o.abs().max()) for o in outputs) <= 1.5 * (1 + 1e-6)
    assert min(float(o.abs().max()) for o in outputs) > 0.01


@pytest.mark.parametrize("batch_norm", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_networks_train_a_step_with_gradients_everywhere(batch_norm, weighted):
    torch.manual_seed(0)
    for model, x in (
        (
            DecoupledDenseNetEmbedding(
                **TINY_2D, batch_norm=batch_norm, weighted_gradients=weighted, learn_rho=True
            ),
            torch.rand(4, 1, 16, 16),
        ),
        (
            DecoupledTimeSeriesEmbedding(
                **TINY_1D, batch_norm=batch_norm, weighted_gradients=weighted
            ),
            torch.randn(4, 20),
        ),
    ):
        out = model(x)
        assert out.shape == (4, 8) and torch.all(torch.isfinite(out))
        out.pow(2).sum().backward()  # an in-place ReLU on a reused tensor would raise here
        for name, p in model.named_parameters():
            assert p.grad is not None and torch.all(torch.isfinite(p.grad)), name
            assert p.grad.abs().sum() > 0, name


def test_learnable_rho_is_one_parameter_per_layer():
    model = DecoupledTimeSeriesEmbedding(**TINY_1D, learn_rho=True, rho=2.0)
    rhos = [p for name, p in model.named_parameters() if name.endswith("rho")]
    assert len(rhos) == 6 and all(float(r.detach()) == 2.0 for r in rhos)
    assert len({id(r) for r in rhos}) == 6


def test_operator_settings_reach_every_layer():
    model = DecoupledDenseNetEmbedding(
        **TINY_2D, magnitude="seg", angular="sigmoid", weighting="nonlinear_separate", beta=0.2
    )
    ops = [m for m in model.modules() if isinstance(m, DecoupledOperator)]
    assert len(ops) == 8
    assert {(o.magnitude_kind, o.angular_kind, o.weighting, o.beta) for o in ops} == {
        ("seg", "sigmoid", "nonlinear_separate", 0.2)
    }


def test_network_errors_name_the_argument():
    with pytest.raises(ValueError, match="magnitude must be one of"):
        DecoupledDenseNetEmbedding(magnitude="cube")
    with pytest.raises(ValueError, match="angular must be one of"):
        DecoupledTimeSeriesEmbedding(angular="tangent")
    with pytest.raises(ValueError, match="weighted_gradients needs decoupled=True"):
        DecoupledDenseNetEmbedding(decoupled=False, weighted_gradients=True)
    with pytest.raises(ValueError, match="kernel_size and stem_kernel_size must be odd"):
        DecoupledTimeSeriesEmbedding(kernel_size=4)
    with pytest.raises(ValueError, match="growth_rate"):
        DecoupledDenseNetEmbedding(growth_rate=0)
    with pytest.raises(ValueError, match=r"inputs must have shape \(n, 1, H, W\)"):
        DecoupledDenseNetEmbedding(**TINY_2D)(torch.rand(2, 2, 16, 16))
    with pytest.raises(ValueError, match="series length must be >= 2"):
        DecoupledTimeSeriesEmbedding(**TINY_1D)(torch.rand(2, 1))


def test_model_specs_rebuild_the_decoupled_networks():
    spec = {
        "class": "DecoupledDenseNetEmbedding",
        "kwargs": {
            **TINY_2D,
            "block_sizes": [1, 2],
            "magnitude": "linear",
            "angular": "square_cosine",
            "weighted_gradients": True,
            "batch_norm": False,
        },
    }
    torch.manual_seed(0)
    model = build_model(spec)
    rebuilt = build_model(spec)
    rebuilt.load_state_dict(model.state_dict())
    x = torch.rand(2, 1, 16, 16)
    assert torch.equal(model(x), rebuilt(x))
    assert isinstance(model, DecoupledDenseNetEmbedding) and not model.settings.batch_norm
    series = build_model({"class": "DecoupledTimeSeriesEmbedding", "kwargs": TINY_1D})
    assert isinstance(series, DecoupledTimeSeriesEmbedding)
    with pytest.raises(ValueError, match="magnitude must be one of"):
        build_model({"class": "DecoupledTimeSeriesEmbedding", "kwargs": {"magnitude": "x"}})
    with pytest.raises(ValueError, match="bad arguments for DecoupledDenseNetEmbedding"):
        build_model({"class": "DecoupledDenseNetEmbedding", "kwargs": {"colour": 1}})


def test_projection_keeps_the_output_of_unweighted_operators():
    # f depends on w only through w_hat when ||w|| is not in the operator: projection changes the
    # training dynamics, not the function
    torch.manual_seed(0)
    model = DecoupledDenseNetEmbedding(**TINY_2D).eval()
    x = torch.rand(3, 1, 16, 16)
    before = model(x)
    from pyembed.nn import project_weights_

    assert project_weights_(model, 1.0) == 8
    assert torch.allclose(before, model(x), atol=1e-5)
    norms = [m.weight.flatten(1).norm(dim=1) for m in model.modules() if hasattr(m, "params")]
    assert all(torch.allclose(n, torch.ones_like(n), atol=1e-6) for n in norms)
    assert not math.isclose(float(before.detach().abs().sum()), 0.0)
