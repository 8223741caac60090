"""Decoupled operators (DCNet): hand-computed values, bounds, layers against manual patches."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from pyembed.nn.dcnet import (  # noqa: E402
    DecoupledConv1d,
    DecoupledConv2d,
    DecoupledLinear,
    DecoupledOperator,
    angular,
    magnitude,
    project_weights_,
)

MAGNITUDES = ["sphere", "ball", "tanh", "linear", "seg", "log", "mix"]
ANGULARS = ["linear", "cosine", "sigmoid", "square_cosine"]


# -- magnitude and angular functions on hand values --------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("sphere", 2.0),
        ("ball", 2.0 * min(3.0, 1.5) / 1.5),
        ("tanh", 2.0 * math.tanh(3.0 / 1.5)),
        ("linear", 2.0 * 3.0),
        ("seg", 0.5 * 3.0 + 2.0 * 1.5 - 0.5 * 1.5),
        ("log", 2.0 * math.log(4.0)),
        ("mix", 2.0 * 3.0 + 0.5 * math.log(4.0)),
    ],
)
def test_magnitude_functions_hand_values(kind, expected):
    r = torch.tensor([3.0], dtype=torch.float64)
    assert float(magnitude(kind, r, alpha=2.0, beta=0.5, rho=1.5)) == pytest.approx(expected)


def test_seg_and_ball_below_the_radius():
    r = torch.tensor([0.6], dtype=torch.float64)
    assert float(magnitude("seg", r, alpha=2.0, beta=0.5, rho=1.5)) == pytest.approx(1.2)
    assert float(magnitude("ball", r, alpha=2.0, rho=1.5)) == pytest.approx(2.0 * 0.6 / 1.5)


def test_seg_is_continuous_at_rho():
    r = torch.tensor([1.5 - 1e-9, 1.5 + 1e-9], dtype=torch.float64)
    values = magnitude("seg", r, alpha=2.0, beta=0.5, rho=1.5)
    assert float(values[0]) == pytest.approx(float(values[1]), abs=1e-8)


def _sigmoid_reference(theta: float, k: float) -> float:
    a = math.pi / (2 * k)
    return (
        (1 + math.exp(-a))
        / (1 - math.exp(-a))
        * (1 - math.exp(theta / k - a))
        / (1 + math.exp(theta / k - a))
    )


@pytest.mark.parametrize("cos", [0.8, -0.3, 0.0])
def test_angular_activations_hand_values(cos):
    theta = math.acos(cos)
    c = torch.tensor([cos], dtype=torch.float64)
    assert float(angular("linear", c)) == pytest.approx(1 - 2 * theta / math.pi)
    assert float(angular("cosine", c)) == pytest.approx(cos)
    assert float(angular("square_cosine", c)) == pytest.approx(
        math.copysign(cos * cos, cos) if cos else 0.0
    )
    assert float(angular("sigmoid", c, k=0.3)) == pytest.approx(_sigmoid_reference(theta, 0.3))


@pytest.mark.parametrize("kind", ANGULARS)
def test_angular_endpoints(kind):
    c = torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64)
    assert torch.allclose(
        angular(kind, c), torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64), atol=1e-5
    )


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match="magnitude must be one of"):
        DecoupledOperator("cube")
    with pytest.raises(ValueError, match="angular must be one of"):
        DecoupledOperator("tanh", "tangent")
    with pytest.raises(ValueError, match="weighting must be one of"):
        DecoupledOperator(weighting="quadratic")


# -- the operator: weighting and bounds ----------------------------------------------------------


def test_weighted_variants_hand_values():
    cos = torch.tensor([0.8], dtype=torch.float64)
    x_norm = torch.tensor([2.0], dtype=torch.float64)
    w_norm = torch.tensor([5.0], dtype=torch.float64)
    expect = {
        "none": 1.5 * math.tanh(2.0 / 4.0) * 0.8,
        "linear": 1.5 * 5.0 * math.tanh(2.0 / 4.0) * 0.8,
        "nonlinear_joint": 1.5 * math.tanh(2.0 * 5.0 / 4.0) * 0.8,  # Eq. 15
        "nonlinear_separate": 1.5 * math.tanh(5.0 / 4.0) * math.tanh(2.0 / 4.0) * 0.8,  # Eq. 16
    }
    for weighting, value in expect.items():
        op = DecoupledOperator("tanh", "cosine", alpha=1.5, rho=4.0, weighting=weighting).double()
        assert float(op(cos, x_norm, w_norm)) == pytest.approx(value), weighting


@pytest.mark.parametrize("mag", ["sphere", "ball", "tanh"])
@pytest.mark.parametrize("ang", ANGULARS)
@pytest.mark.parametrize("weighting", ["none", "nonlinear_joint", "nonlinear_separate"])
def test_bounded_operators_stay_within_alpha(mag, ang, weighting):
    torch.manual_seed(0)
    layer = DecoupledLinear(
        6, 5, operator=DecoupledOperator(mag, ang, alpha=1.7, rho=0.5, weighting=weighting)
    )
    with torch.no_grad():
        layer.weight.mul_(100.0)
    x = torch.randn(200, 6) * torch.logspace(-3, 4, 200)[:, None]
    out = layer(x)
    assert layer.operator.bound() == 1.7
    assert out.abs().max().item() <= 1.7 * (1 + 1e-6)


@pytest.mark.parametrize("mag", ["linear", "seg", "log", "mix"])
def test_unbounded_operators_report_no_bound_and_grow(mag):
    op = DecoupledOperator(mag, "cosine")
    assert op.bound() is None
    big = op(torch.tensor([1.0]), torch.tensor([1e6]), torch.tensor([1.0]))
    assert big.item() > 10
    assert DecoupledOperator("tanh", weighting="linear").bound() is None


def test_learnable_rho_receives_gradient():
    op = DecoupledOperator("tanh", "cosine", learn_rho=True)
    assert [name for name, _ in op.named_parameters()] == ["rho"]
    op(torch.tensor([0.5]), torch.tensor([2.0]), torch.tensor([1.0])).sum().backward()
    assert op.rho.grad is not None and float(op.rho.grad) != 0
    assert "rho" in dict(DecoupledOperator().named_buffers())  # fixed rho is a buffer


# -- layers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mag", "expected"),
    [
        ("sphere", 0.8),
        ("ball", 1.0 * 0.8),
        ("tanh", math.tanh(2.0) * 0.8),
        ("linear", 2.0 * 0.8),
        ("seg", (0.5 * 2.0 + 1.0 - 0.5) * 0.8),
        ("log", math.log(3.0) * 0.8),
        ("mix", (2.0 + 0.5 * math.log(3.0)) * 0.8),
    ],
)
def test_linear_layer_hand_values(mag, expected):
    layer = DecoupledLinear(
        2, 1, operator=DecoupledOperator(mag, "cosine", alpha=1.0, beta=0.5, rho=1.0)
    ).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 4.0]]))  # ||w|| = 5; x = (0, 2): cos = 8 / 10
    out = layer(torch.tensor([[0.0, 2.0]], dtype=torch.float64))
    assert out.item() == pytest.approx(expected, rel=1e-9)


def test_linear_layer_batches_leading_dims_and_bias():
    layer = DecoupledLinear(3, 4, bias=True)
    assert layer(torch.randn(2, 5, 3)).shape == (2, 5, 4)
    with pytest.raises(ValueError, match="inputs have 2 features but the layer expects 3"):
        layer(torch.randn(2, 2))


def _reference_patches(x, weight, op, unfold):
    patches = unfold(x)  # (n, C*k, L)
    w = weight.flatten(1)
    inner = torch.einsum("ok,nkl->nol", w, patches)
    x_norm = torch.sqrt((patches**2).sum(1, keepdim=True) + 1e-12)
    w_norm = torch.sqrt((w**2).sum(1) + 1e-12)[None, :, None]
    return op((inner / (x_norm * w_norm)).clamp(-1, 1), x_norm, w_norm)


@pytest.mark.parametrize("ang", ANGULARS)
def test_conv2d_matches_manual_patches(ang):
    torch.manual_seed(0)
    op = DecoupledOperator("seg", ang, alpha=0.7, beta=0.2, rho=1.0)
    layer = DecoupledConv2d(3, 4, 3, stride=2, padding=1, operator=op).double()
    x = torch.randn(2, 3, 7, 7, dtype=torch.float64)
    out = layer(x)
    assert out.shape == (2, 4, 4, 4)
    want = _reference_patches(x, layer.weight, op, lambda t: F.unfold(t, 3, padding=1, stride=2))
    assert torch.allclose(out.flatten(2), want, atol=1e-10)


def test_conv1d_matches_manual_patches():
    torch.manual_seed(0)
    op = DecoupledOperator("log", "sigmoid", alpha=1.3)
    layer = DecoupledConv1d(2, 3, 4, stride=1, padding=0, operator=op).double()
    x = torch.randn(2, 2, 9, dtype=torch.float64)
    out = layer(x)
    assert out.shape == (2, 3, 6)
    unfold = lambda t: t.unfold(2, 4, 1).permute(0, 1, 3, 2).reshape(2, 2 * 4, 6)  # noqa: E731
    assert torch.allclose(out, _reference_patches(x, layer.weight, op, unfold), atol=1e-10)


def test_conv_accepts_same_padding_and_rectangular_kernels():
    assert DecoupledConv1d(1, 2, 3, padding="same")(torch.randn(1, 1, 10)).shape == (1, 2, 10)
    assert DecoupledConv2d(1, 2, (3, 1), padding=(1, 0))(torch.randn(1, 1, 6, 5)).shape == (
        1,
        2,
        6,
        5,
    )


@pytest.mark.parametrize("ang", ANGULARS)
def test_zero_input_gives_zero_output_and_finite_gradient(ang):
    layer = DecoupledConv2d(2, 3, 3, padding=1, operator=DecoupledOperator("linear", ang))
    x = torch.zeros(1, 2, 5, 5, requires_grad=True)
    out = layer(x)
    assert torch.allclose(out, torch.zeros_like(out), atol=1e-5)
    out.sum().backward()
    assert torch.all(torch.isfinite(x.grad)) and torch.all(torch.isfinite(layer.weight.grad))


def test_linear_layer_gradcheck():
    torch.manual_seed(0)
    layer = DecoupledLinear(
        4, 3, operator=DecoupledOperator("tanh", "sigmoid", learn_rho=True)
    ).double()
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))


def test_weight_projection_sets_every_kernel_norm():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        DecoupledConv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), DecoupledLinear(4 * 4 * 4, 2)
    )
    assert project_weights_(model, scale=2.0) == 2
    for layer in (model[0], model[3]):
        assert torch.allclose(
            layer.weight.flatten(1).norm(dim=1), torch.full((layer.weight.shape[0],), 2.0)
        )
    with pytest.raises(ValueError, match="scale must be > 0"):
        model[0].project_weights_(0.0)


def test_projection_does_not_change_the_output_of_sphere_operators():
    torch.manual_seed(0)
    layer = DecoupledLinear(5, 3, operator=DecoupledOperator("sphere", "cosine"))
    x = torch.randn(4, 5)
    before = layer(x)
    layer.project_weights_(1.0)
    assert torch.allclose(before, layer(x), atol=1e-6)
