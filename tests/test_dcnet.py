"""Decoupled operators (DCNet): hand-computed values, bounds, layers against the seed's formulas
written out per patch, hand-derived gradients."""

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


@pytest.mark.parametrize(
    ("mag", "expected"),
    [
        ("linear", 1e6),  # alpha r
        ("seg", 0.5 * 1e6 + 1.0 - 0.5),  # beta r + alpha rho - beta rho
        ("log", math.log(1e6 + 1)),  # alpha log(1 + r)
        ("mix", 1e6 + 0.5 * math.log(1e6 + 1)),  # alpha r + beta log(1 + r)
    ],
)
def test_unbounded_operators_report_no_bound_and_grow(mag, expected):
    op = DecoupledOperator(mag, "cosine").double()
    assert op.bound() is None
    one = torch.tensor([1.0], dtype=torch.float64)
    big = op(one, torch.tensor([1e6], dtype=torch.float64), one)
    assert big.item() == pytest.approx(expected, rel=1e-12)
    assert DecoupledOperator("tanh", weighting="linear").bound() is None


def test_learnable_rho_receives_the_hand_derived_gradient():
    op = DecoupledOperator("tanh", "cosine", alpha=1.5, rho=1.0, learn_rho=True).double()
    assert [name for name, _ in op.named_parameters()] == ["rho"]
    cos, r = 0.5, 2.0
    as64 = lambda v: torch.tensor([v], dtype=torch.float64)  # noqa: E731
    op(as64(cos), as64(r), as64(1.0)).sum().backward()
    # f = alpha tanh(r / rho) cos  =>  df/drho = -alpha cos r / rho^2 sech^2(r / rho), at rho = 1
    expected = -1.5 * cos * r * (1 - math.tanh(r) ** 2)
    assert expected == pytest.approx(-0.1059762, rel=1e-6)
    assert float(op.rho.grad) == pytest.approx(expected, rel=1e-9)
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


def _seed_magnitude(kind, r, alpha, beta, rho):
    """The seed's magnitude functions, written out again (not calling pyembed)."""
    if kind == "seg":
        return alpha * r if r <= rho else beta * r + alpha * rho - beta * rho
    if kind == "log":
        return alpha * math.log(1 + r)
    raise AssertionError(kind)


def _seed_angular(kind, cos, k=0.3):
    """The seed's angular activations of theta = acos(cos), written out again."""
    theta = math.acos(max(-1.0, min(1.0, cos)))
    if kind == "linear":
        return -2 / math.pi * theta + 1
    if kind == "cosine":
        return math.cos(theta)
    if kind == "sigmoid":
        return _sigmoid_reference(theta, k)
    if kind == "square_cosine":
        return math.copysign(1.0, cos) * cos**2 if cos != 0 else 0.0
    raise AssertionError(kind)


def _reference_patches(x, weight, unfold, mag, ang, alpha, beta, rho):
    """``h(||x||) g(theta)`` per patch and kernel, one Python float at a time."""
    patches = unfold(x).numpy()  # (n, C*k, L)
    w = weight.detach().flatten(1).numpy()
    n, _, n_patches = patches.shape
    out = torch.zeros(n, w.shape[0], n_patches, dtype=torch.float64)
    for i in range(n):
        for o in range(w.shape[0]):
            for p in range(n_patches):
                patch = [float(v) for v in patches[i, :, p]]
                kernel = [float(v) for v in w[o]]
                r = math.sqrt(sum(v * v for v in patch) + 1e-12)
                w_norm = math.sqrt(sum(v * v for v in kernel) + 1e-12)
                cos = sum(a * b for a, b in zip(kernel, patch, strict=True)) / (r * w_norm)
                out[i, o, p] = _seed_magnitude(mag, r, alpha, beta, rho) * _seed_angular(ang, cos)
    return out


@pytest.mark.parametrize("ang", ANGULARS)
def test_conv2d_matches_the_seed_formulas_per_patch(ang):
    torch.manual_seed(0)
    op = DecoupledOperator("seg", ang, alpha=0.7, beta=0.2, rho=1.5)
    layer = DecoupledConv2d(3, 4, 3, stride=2, padding=1, operator=op).double()
    x = torch.randn(2, 3, 7, 7, dtype=torch.float64)
    out = layer(x)
    assert out.shape == (2, 4, 4, 4)
    want = _reference_patches(
        x, layer.weight, lambda t: F.unfold(t, 3, padding=1, stride=2), "seg", ang, 0.7, 0.2, 1.5
    )
    assert torch.allclose(out.flatten(2), want, atol=1e-8)


def test_conv1d_matches_the_seed_formulas_per_patch():
    torch.manual_seed(0)
    op = DecoupledOperator("log", "sigmoid", alpha=1.3)
    layer = DecoupledConv1d(2, 3, 4, stride=1, padding=0, operator=op).double()
    x = torch.randn(2, 2, 9, dtype=torch.float64)
    out = layer(x)
    assert out.shape == (2, 3, 6)
    unfold = lambda t: t.unfold(2, 4, 1).permute(0, 1, 3, 2).reshape(2, 2 * 4, 6)  # noqa: E731
    want = _reference_patches(x, layer.weight, unfold, "log", "sigmoid", 1.3, 0.5, 1.0)
    assert torch.allclose(out, want, atol=1e-8)


def test_conv2d_hand_value():
    # kernel [[1, 0], [0, 1]] on the patch [[3, 0], [0, 4]]: <w, x> = 7, ||w|| = sqrt 2, ||x|| = 5
    layer = DecoupledConv2d(1, 1, 2, operator=DecoupledOperator("tanh", "cosine")).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]]))
    out = layer(torch.tensor([[[[3.0, 0.0], [0.0, 4.0]]]], dtype=torch.float64))
    assert out.shape == (1, 1, 1, 1)
    assert out.item() == pytest.approx(math.tanh(5.0) * 7 / (5 * math.sqrt(2)), rel=1e-9)
    assert out.item() == pytest.approx(0.9898596, rel=1e-6)


def test_conv1d_hand_value():
    # LinearConv + cosine is <w, x> / ||w||: kernel (1, -1) on the windows (1, 2) and (2, 4)
    layer = DecoupledConv1d(1, 1, 2, operator=DecoupledOperator("linear", "cosine")).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[[1.0, -1.0]]]))
    out = layer(torch.tensor([[[1.0, 2.0, 4.0]]], dtype=torch.float64))
    assert out.flatten().tolist() == pytest.approx([-1 / math.sqrt(2), -2 / math.sqrt(2)])


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


# g'(cos) at cos = 0 (theta = pi / 2), derived by hand from the seed's formulas: linear: 2 / pi;
# cosine: 1; sigmoid: 1 / (2 k tanh(pi / 4k)); square cosine: 2 |cos| = 0.
_SLOPES_AT_ZERO = {
    "linear": 2 / math.pi,
    "cosine": 1.0,
    "sigmoid": 1 / (2 * 0.3 * math.tanh(math.pi / (4 * 0.3))),
    "square_cosine": 0.0,
}


@pytest.mark.parametrize("ang", ANGULARS)
def test_zero_input_gradient_is_the_hand_derived_one(ang):
    # LinearConv at x = 0: f_j = alpha r g(cos_j), r = sqrt(1e-12), cos_j = <w_j, x> / (r ||w_j||).
    # dr/dx = x / r = 0 and dcos_j/dx = w_hat_j / r, so df_j/dx = alpha g'(0) w_hat_j; df_j/dw_j is
    # proportional to x: 0.
    layer = DecoupledLinear(2, 2, operator=DecoupledOperator("linear", ang, alpha=1.5)).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 4.0], [0.0, -2.0]]))  # w_hat: (.6, .8), (0, -1)
    x = torch.zeros(1, 2, dtype=torch.float64, requires_grad=True)
    layer(x).sum().backward()
    slope = 1.5 * _SLOPES_AT_ZERO[ang]
    assert x.grad[0].tolist() == pytest.approx([slope * 0.6, slope * (0.8 - 1.0)], abs=1e-9)
    assert torch.equal(layer.weight.grad, torch.zeros(2, 2, dtype=torch.float64))


def test_backward_matches_the_seed_gradient_of_the_angle():
    # Seed: d(w_hat . x_hat)/dw = (x_hat - (w_hat . x_hat) w_hat) / ||w||. w = (3, 4), x = (0, 2):
    # w_hat = (.6, .8), x_hat = (0, 1), cos = .8: ((0, 1) - .8 (.6, .8)) / 5 = (-.096, .072).
    layer = DecoupledLinear(2, 1, operator=DecoupledOperator("sphere", "cosine")).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 4.0]]))
    x = torch.tensor([[0.0, 2.0]], dtype=torch.float64, requires_grad=True)
    layer(x).sum().backward()
    assert layer.weight.grad[0].tolist() == pytest.approx([-0.096, 0.072], rel=1e-9)
    # d cos / dx = (w_hat - cos x_hat) / ||x|| = ((.6, .8) - .8 (0, 1)) / 2 = (.3, 0)
    assert x.grad[0].tolist() == pytest.approx([0.3, 0.0], abs=1e-12)


def test_backward_of_tanhconv_is_the_hand_derived_one():
    # f = tanh(r) cos with r = ||x|| = 2, cos = .8 (w = (3, 4), x = (0, 2)):
    # df/dx = sech^2(r) cos x_hat + tanh(r) (w_hat - cos x_hat) / r
    #       = (tanh(2) * .3, sech^2(2) * .8);  df/dw = tanh(r) (x_hat - cos w_hat) / ||w||.
    layer = DecoupledLinear(2, 1, operator=DecoupledOperator("tanh", "cosine")).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 4.0]]))
    x = torch.tensor([[0.0, 2.0]], dtype=torch.float64, requires_grad=True)
    layer(x).sum().backward()
    t = math.tanh(2.0)
    assert x.grad[0].tolist() == pytest.approx([t * 0.3, (1 - t * t) * 0.8], rel=1e-9)
    assert x.grad[0].tolist() == pytest.approx([0.2892083, 0.0565207], rel=1e-6)
    assert layer.weight.grad[0].tolist() == pytest.approx([t * -0.096, t * 0.072], rel=1e-9)


@pytest.mark.parametrize("layer_kind", ["linear", "conv1d"])
def test_layer_gradcheck_inputs_weight_and_rho(layer_kind):
    torch.manual_seed(0)
    op = DecoupledOperator("tanh", "sigmoid", learn_rho=True)
    if layer_kind == "linear":
        layer = DecoupledLinear(4, 3, operator=op).double()
        x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    else:
        layer = DecoupledConv1d(2, 3, 3, padding=1, operator=op).double()
        x = torch.randn(2, 2, 6, dtype=torch.float64, requires_grad=True)
    weight = layer.weight.detach().clone().requires_grad_(True)
    rho = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)

    def run(x, weight, rho):
        names = {"params.weight": weight, "params.operator.rho": rho}
        return torch.func.functional_call(layer, names, (x,))

    assert torch.autograd.gradcheck(run, (x, weight, rho))


def test_weight_projection_sets_every_kernel_norm():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        DecoupledConv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), DecoupledLinear(4 * 4 * 4, 2)
    )
    directions = [layer.weight.detach().flatten(1) for layer in (model[0], model[3])]
    directions = [d / d.norm(dim=1, keepdim=True) for d in directions]
    assert project_weights_(model, scale=2.0) == 2
    for layer, direction in zip((model[0], model[3]), directions, strict=True):
        assert torch.allclose(
            layer.weight.flatten(1).norm(dim=1), torch.full((layer.weight.shape[0],), 2.0)
        )
        assert torch.allclose(layer.weight.flatten(1), 2.0 * direction, atol=1e-6)
    with pytest.raises(ValueError, match="scale must be > 0"):
        model[0].project_weights_(0.0)


def test_weight_projection_hand_values():
    # w <- s w / ||w||: (3, 4) -> 2 (.6, .8) = (1.2, 1.6); (0, -.5) -> (0, -2); a 2x2 kernel of
    # ones (norm 2) -> .5 each at s = 1.
    layer = DecoupledLinear(2, 2).double()
    conv = DecoupledConv2d(1, 1, 2).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 4.0], [0.0, -0.5]]))
        conv.weight.fill_(1.0)
    layer.project_weights_(2.0)
    conv.project_weights_(1.0)
    assert layer.weight.tolist() == [pytest.approx([1.2, 1.6]), pytest.approx([0.0, -2.0])]
    assert conv.weight.flatten().tolist() == pytest.approx([0.5] * 4)


def test_projection_does_not_change_the_output_of_sphere_operators():
    torch.manual_seed(0)
    layer = DecoupledLinear(5, 3, operator=DecoupledOperator("sphere", "cosine"))
    x = torch.randn(4, 5)
    before = layer(x)
    layer.project_weights_(1.0)
    assert torch.allclose(before, layer(x), atol=1e-6)
