"""Embedding networks: output shapes, channel arithmetic, input checks, gradients."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from pyembed.nn import DenseNetEmbedding, TimeSeriesEmbedding  # noqa: E402


def test_densenet_shapes_and_channel_arithmetic():
    torch.manual_seed(0)
    model = DenseNetEmbedding(embedding_dim=7, growth_rate=4, block_sizes=(2, 2), compression=0.5)
    # stem 2k = 8, +2 units x 4 = 16, transition floor(0.5 * 16) = 8, +2 x 4 = 16
    assert model.head.in_features == 16
    out = model(torch.randn(3, 1, 16, 16))
    assert out.shape == (3, 7)
    assert model(torch.randn(2, 16, 16)).shape == (2, 7)  # (n, H, W) for one channel


def test_densenet_unit_layout_is_bn_relu_1x1_bn_relu_3x3():
    from pyembed.nn._dense import DenseUnit

    unit = DenseUnit(8, growth_rate=4, bottleneck_width=4, kernel_size=3, dims=2)
    kinds = [type(m).__name__ for m in unit.layers]
    assert kinds == ["BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU", "Conv2d"]
    assert unit.layers[2].kernel_size == (1, 1) and unit.layers[2].out_channels == 16
    assert unit.layers[5].kernel_size == (3, 3) and unit.layers[5].out_channels == 4
    assert unit(torch.randn(1, 8, 5, 5)).shape == (1, 12, 5, 5)


def test_densenet_normalize_option_and_default_unnormalized():
    torch.manual_seed(0)
    x = torch.randn(4, 1, 8, 8)
    raw = DenseNetEmbedding(embedding_dim=5, growth_rate=4, block_sizes=(1,))
    assert not torch.allclose(raw(x).norm(dim=1), torch.ones(4))
    unit = DenseNetEmbedding(embedding_dim=5, growth_rate=4, block_sizes=(1,), normalize=True)
    assert torch.allclose(unit(x).norm(dim=1), torch.ones(4), atol=1e-6)


def test_densenet_rejects_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="compression"):
        DenseNetEmbedding(compression=0.0)
    with pytest.raises(ValueError, match="block_sizes"):
        DenseNetEmbedding(block_sizes=())
    with pytest.raises(ValueError, match=r"inputs must have shape \(n, 3, H, W\)"):
        DenseNetEmbedding(in_channels=3, growth_rate=4, block_sizes=(1,))(torch.zeros(2, 1, 8, 8))


@pytest.mark.parametrize("kind", ["faces", "series"])
def test_densenet_backward_reaches_every_parameter_finitely(kind):
    torch.manual_seed(0)
    if kind == "faces":
        model = DenseNetEmbedding(embedding_dim=4, growth_rate=4, block_sizes=(1, 1), stem_stride=2)
        inputs = torch.randn(2, 1, 12, 12)
    else:
        model = TimeSeriesEmbedding(embedding_dim=4, growth_rate=4, block_sizes=(1, 1))
        inputs = torch.randn(2, 1, 20)
    model(inputs).pow(2).sum().backward()
    for name, p in model.named_parameters():
        # a parameter without a gradient (None) or with an all-zero one means no gradient flows
        assert p.grad is not None, name
        assert torch.all(torch.isfinite(p.grad)), name
        assert p.grad.abs().sum() > 0, name


def test_timeseries_embedding_shapes_and_lengths():
    torch.manual_seed(0)
    model = TimeSeriesEmbedding(embedding_dim=6, growth_rate=4, block_sizes=(1, 1, 1))
    assert model(torch.randn(3, 50)).shape == (3, 6)
    assert model(torch.randn(2, 1, 24)).shape == (2, 6)  # any length >= 4
    with pytest.raises(ValueError, match="series length must be >= 4"):
        model(torch.randn(2, 3))
    with pytest.raises(ValueError, match="odd"):
        TimeSeriesEmbedding(kernel_size=4)
