"""cnnlab.transposed against PyTorch: C and C^T, both naive transposed convs, convolutionalization, the claims."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.conv_arith import transposed_output_size
from cnnlab.transposed import (bicubic, conv_as_matrix, conv_transpose2d_naive,
                               conv_transpose2d_zero_insert, convolutionalize, digit_segmentation, downscale,
                               overlap_map, photo_patches, psnr, run_segmentation, run_super_resolution,
                               segmentation_scores)

# (input H, W), (kernel kH, kW), stride, padding: non-square shapes and kernels included, d2l's 3x3 / 2x2 case too
MATRIX_GRID = [((3, 3), (2, 2), 1, 0), ((5, 7), (3, 2), 2, 1), ((4, 4), (4, 4), 1, 2), ((6, 5), (1, 3), (2, 1), 0),
               ((7, 7), (3, 3), 3, 1), ((2, 9), (2, 4), 1, (0, 2))]


@pytest.mark.parametrize("input_size, kernel_size, stride, padding", MATRIX_GRID)
def test_conv_as_matrix_is_conv2d_and_its_transpose_is_conv_transpose2d(input_size, kernel_size, stride, padding):
    torch.manual_seed(0)
    kernel = torch.randn(kernel_size, dtype=torch.float64)
    x = torch.randn(1, 1, *input_size, dtype=torch.float64)
    C = conv_as_matrix(kernel, input_size, stride, padding)
    y = F.conv2d(x, kernel[None, None], stride=stride, padding=padding)  # (1, 1, H_out, W_out)
    assert C.shape == (y[0, 0].numel(), x[0, 0].numel())
    torch.testing.assert_close((C @ x.flatten()).reshape(y.shape), y)
    z = torch.randn_like(y)  # C^T maps the output shape back to the input shape ...
    (sH, sW), (pH, pW) = [(v, v) if isinstance(v, int) else v for v in (stride, padding)]
    # ... which, under stride > 1, several input sizes share: output_padding picks ours
    op = (input_size[0] - transposed_output_size(y.shape[2], kernel_size[0], sH, pH),
          input_size[1] - transposed_output_size(y.shape[3], kernel_size[1], sW, pW))
    expected = F.conv_transpose2d(z, kernel[None, None], stride=stride, padding=padding, output_padding=op)
    torch.testing.assert_close((C.T @ z.flatten()).reshape(1, 1, *input_size), expected)


def test_conv_as_matrix_errors():
    with pytest.raises(TypeError, match="kernel must be a torch.Tensor"):
        conv_as_matrix([[1.0]], 3)
    with pytest.raises(ValueError, match="2-D float tensor"):
        conv_as_matrix(torch.ones(1, 1, 2, 2), 3)
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv_as_matrix(torch.ones(4, 4), 3)
    with pytest.raises(ValueError, match=r"stride must be a positive int, got 0"):
        conv_as_matrix(torch.ones(2, 2), 3, stride=0)


# (C_in, C_out, H, W, kernel, stride, padding, output_padding, dilation)
TRANSPOSED_GRID = [
    (1, 1, 2, 2, 3, 1, 0, 0, 1),  # lecture: i' = 2, k = 3 -> o' = 4
    (1, 1, 6, 6, 4, 1, 2, 0, 1),  # lecture: i' = 6, k = 4, p = 2 -> o' = 5
    (2, 3, 3, 4, 3, 2, 1, 1, 1),
    (3, 2, 4, 3, (2, 3), (2, 1), (0, 1), (1, 0), 1),
    (2, 2, 3, 3, 4, 2, 1, 0, 1),
    (1, 2, 3, 5, 3, 3, 0, 2, 1),
    (2, 1, 4, 4, 3, 1, 3, 0, 2),  # padding past d(k-1): the zero-insertion form crops instead of padding
    (2, 2, 3, 3, 2, 2, 1, 1, 2),
]


@pytest.mark.parametrize("C_in, C_out, H, W, k, s, p, op, d", TRANSPOSED_GRID)
@pytest.mark.parametrize("naive", [conv_transpose2d_naive, conv_transpose2d_zero_insert])
def test_naive_transposed_convs_equal_pytorch(naive, C_in, C_out, H, W, k, s, p, op, d):
    torch.manual_seed(0)
    kH, kW = (k, k) if isinstance(k, int) else k
    x = torch.randn(2, C_in, H, W, dtype=torch.float64)
    w = torch.randn(C_in, C_out, kH, kW, dtype=torch.float64)
    b = torch.randn(C_out, dtype=torch.float64)
    expected = F.conv_transpose2d(x, w, b, stride=s, padding=p, output_padding=op, dilation=d)
    torch.testing.assert_close(naive(x, w, b, stride=s, padding=p, output_padding=op, dilation=d), expected)
    torch.testing.assert_close(naive(x, w, stride=s, padding=p, output_padding=op, dilation=d),
                               expected - b[:, None, None])


def test_transposed_conv_matches_module_and_output_size():
    layer = nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1)
    x = torch.randn(1, 3, 5, 5)
    out = conv_transpose2d_naive(x, layer.weight.detach(), layer.bias.detach(), stride=2, padding=1, output_padding=1)
    torch.testing.assert_close(out, layer(x).detach())
    assert out.shape[-1] == transposed_output_size(5, 3, 2, 1, 1) == 10


@pytest.mark.parametrize("naive", [conv_transpose2d_naive, conv_transpose2d_zero_insert])
def test_transposed_conv_errors(naive):
    x, w = torch.randn(1, 2, 3, 3), torch.randn(2, 1, 3, 3)
    with pytest.raises(ValueError, match="must be 4-D"):
        naive(x[0], w)
    with pytest.raises(ValueError, match=r"\(C_in, C_out, kH, kW\)"):
        naive(torch.randn(1, 3, 3, 3), w)
    with pytest.raises(ValueError, match="b must have shape"):
        naive(x, w, torch.randn(2))
    with pytest.raises(ValueError, match="output_padding 2 must be smaller than stride"):
        naive(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="use less padding"):
        naive(x, w, padding=5)
    with pytest.raises(TypeError, match="same floating-point dtype"):
        naive(x.double(), w)
    with pytest.raises(TypeError, match="w must be a torch.Tensor"):
        naive(x, None)


def test_overlap_map():
    even = overlap_map(4, 4, 2, padding=1)
    assert even[1:-1, 1:-1].unique().tolist() == [4.0]  # kernel divisible by stride: even coverage inside
    uneven = overlap_map(4, 3, 2)
    assert uneven[1:-1, 1:-1].unique().tolist() == [1.0, 2.0, 4.0]  # the checkerboard
    with pytest.raises(ValueError, match=r"stride must be a positive int, got 0"):
        overlap_map(4, 3, 0)


def test_convolutionalize_same_outputs_and_score_map():
    torch.manual_seed(0)
    fc = nn.Linear(8 * 7 * 7, 16)
    conv = convolutionalize(fc, 8, 7)
    features = torch.randn(2, 8, 7, 7)
    torch.testing.assert_close(conv(features).flatten(1), fc(features.flatten(1)))
    bigger = torch.randn(1, 8, 10, 9)
    scores = conv(bigger)  # (1, 16, 4, 3): one FC output per 7x7 window
    assert scores.shape == (1, 16, 4, 3)
    torch.testing.assert_close(scores[0, :, 2, 1], fc(bigger[:, :, 2:9, 1:8].flatten(1))[0])
    with pytest.raises(ValueError, match="must equal in_features"):
        convolutionalize(fc, 8, 6)
    with pytest.raises(TypeError, match="nn.Linear"):
        convolutionalize(conv, 8, 7)


def test_psnr_and_scores():
    assert psnr(torch.zeros(4), torch.full((4,), 0.1)) == pytest.approx(20.0)
    assert psnr(torch.ones(3), torch.ones(3)) == float("inf")
    with pytest.raises(ValueError, match="same shape"):
        psnr(torch.zeros(3), torch.zeros(4))
    zeros = torch.zeros(2, 2, dtype=torch.long)
    assert segmentation_scores(zeros, zeros, 3) == (1.0, 1.0)


def test_digit_segmentation_masks_follow_strokes():
    X = torch.zeros(3, 1, 4, 4, dtype=torch.uint8)
    X[:, 0, 1, 1] = 200
    images, masks = digit_segmentation(X, torch.tensor([3, 3, 3]), 5, canvas_size=6, digits_per_image=1, seed=0)
    assert images.shape == (5, 1, 6, 6) and masks.shape == (5, 6, 6)
    assert ((masks == 4) == (images[:, 0] == 200)).all() and set(masks.unique().tolist()) == {0, 4}
    with pytest.raises(ValueError, match="at least the digit size"):
        digit_segmentation(X, torch.tensor([3, 3, 3]), 5, canvas_size=3)


def test_downscale_and_bicubic():
    lr = torch.rand(2, 1, 8, 8)
    assert downscale(torch.zeros(1, 1, 8, 8), 2).shape == (1, 1, 4, 4) and bicubic(lr, 2).max() <= 1


@pytest.fixture(scope="module")
def real_digits():
    from cnnlab.data import load_mnist

    X, y = load_mnist("train")
    Xt, yt = load_mnist("test")
    return (*digit_segmentation(X, y, 800, canvas_size=32, digits_per_image=1, seed=0),
            *digit_segmentation(Xt, yt, 200, canvas_size=32, digits_per_image=1, seed=1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fcn_beats_all_background_baseline(real_digits, seed):
    _, result = run_segmentation(real_digits, seed=seed, num_epochs=5, width=8, lr=1e-2, device="cpu")
    assert result.beats_baseline(margin=0.05), result


@pytest.fixture(scope="module")
def photo_data():
    from cnnlab.data import load_photo
    from cnnlab.transposed import photo_patches

    train = photo_patches([load_photo(n) for n in ("camera", "astronaut", "coffee", "chelsea")], 24, 1000, seed=0)
    test = photo_patches([load_photo(n) for n in ("grace_hopper", "flower")], 24, 200, seed=1)
    return train, test


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_subpixel_net_beats_bicubic(photo_data, seed):
    _, result = run_super_resolution(*photo_data, seed=seed, num_epochs=5, device="cpu")
    assert result.beats_bicubic(margin=0.1), result


@pytest.mark.parametrize("call, error, match", [
    (lambda: psnr([1.0], torch.zeros(1)), TypeError, "pred must be a torch.Tensor"),
    (lambda: psnr(torch.zeros(2), torch.ones(2), max_value=float("nan")), ValueError, "max_value must be"),
    (lambda: segmentation_scores(torch.zeros(4), torch.zeros(4, dtype=torch.long), 2), TypeError,
     "pred must be an int tensor"),
    (lambda: bicubic(torch.zeros(1, 1, 4, 4), "2"), TypeError, "scale must be an int"),
    (lambda: downscale([[0.0]], 2), TypeError, "hr must be a torch.Tensor"),
    (lambda: photo_patches([], 4, 2), TypeError, "photos must be a non-empty list"),
    (lambda: photo_patches([torch.zeros(8, 8, 3, dtype=torch.uint8)], 4, 2, seed=-1), ValueError,
     "seed must be an int >= 0"),
    (lambda: run_segmentation(None), TypeError, r"data must be \(X_train, masks_train, X_test, masks_test\)"),
    (lambda: run_super_resolution(torch.zeros(2, 1, 4, 4), None), TypeError, "test_hr must be a torch.Tensor"),
])
def test_image_to_image_helpers_check_their_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
