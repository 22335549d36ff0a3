"""Transposed convolution ("deconvolution") from scratch, convolutionalization, and two small image-to-image nets.

A convolution is a linear map, so it is a matrix C: `conv(x) == C @ x.flatten()`. Its transpose C^T maps the output
shape back to the input shape, and that is all a transposed convolution is: it is *not* the inverse of a convolution.
Two ways to compute it without the matrix, both written here and both equal to `F.conv_transpose2d`:

* scatter: every input pixel stamps a copy of the kernel, scaled by its value, into the output (overlaps add up);
* zero insertion: put s - 1 zeros between input pixels, pad by d(k - 1) - p, convolve with the flipped kernel.

The rest serves the notebook: the overlap map behind checkerboard artifacts, turning an FC layer into a convolution,
PSNR, a segmentation task built from real MNIST digits, a small FCN and a sub-pixel super-resolution net.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.conv_arith import _pair, conv_output_size, conv2d_naive, transposed_output_size
from cnnlab.models import SubPixelSR, TinyFCN
from cnnlab.train import fit, predict
from cnnlab.validation import check_float, check_int, check_tensor

__all__ = [
    "conv_as_matrix",
    "conv_transpose2d_naive",
    "conv_transpose2d_zero_insert",
    "overlap_map",
    "convolutionalize",
    "psnr",
    "digit_segmentation",
    "run_segmentation",
    "photo_patches",
    "downscale",
    "bicubic",
    "run_super_resolution",
]

# ----------------------------------------------------------------------------------------------------------------------
# Convolution as a matrix


def conv_as_matrix(
    kernel: torch.Tensor, input_size: int | tuple[int, int], stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """The matrix C (H_out*W_out, H*W) with `F.conv2d(x, kernel) == (C @ x.flatten()).reshape(H_out, W_out)`.

    >>> C = conv_as_matrix(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), 3)  # a 2x2 kernel on a 3x3 input: 4 outputs
    >>> C
    tensor([[1., 2., 0., 3., 4., 0., 0., 0., 0.],
            [0., 1., 2., 0., 3., 4., 0., 0., 0.],
            [0., 0., 0., 1., 2., 0., 3., 4., 0.],
            [0., 0., 0., 0., 1., 2., 0., 3., 4.]])
    """
    if not isinstance(kernel, torch.Tensor):
        raise TypeError(f"kernel must be a torch.Tensor, got {type(kernel).__name__}")
    if kernel.dim() != 2 or kernel.numel() == 0 or not kernel.is_floating_point():
        raise ValueError(f"kernel must be a 2-D float tensor (kH, kW), got shape {tuple(kernel.shape)} "
                         f"and dtype {kernel.dtype}")
    H, W = _pair("input_size", input_size, 1)
    (sH, sW), (pH, pW) = _pair("stride", stride, 1), _pair("padding", padding, 0)
    kH, kW = kernel.shape
    if kH > H + 2 * pH or kW > W + 2 * pW:
        raise ValueError(f"kernel {kH}x{kW} larger than the padded input {H + 2 * pH}x{W + 2 * pW}")
    H_out, W_out = conv_output_size(H, kH, sH, pH), conv_output_size(W, kW, sW, pW)
    C = kernel.new_zeros(H_out * W_out, H * W)
    for i in range(H_out):
        for j in range(W_out):
            for a in range(kH):
                for b in range(kW):
                    row, col = i * sH - pH + a, j * sW - pW + b  # the input pixel under kernel entry (a, b)
                    if 0 <= row < H and 0 <= col < W:  # padding pixels are zeros: they add nothing
                        C[i * W_out + j, row * W + col] = kernel[a, b]
    return C


# ----------------------------------------------------------------------------------------------------------------------
# Transposed convolution from scratch, two ways


def _check_transposed_args(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, stride: object, padding: object,
    output_padding: object, dilation: object,
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int], int, int]:
    """Checked (stride, padding, output_padding, dilation) pairs and the output size (H_out, W_out)."""
    for name, tensor in (("x", x), ("w", w), ("b", b)):
        if not isinstance(tensor, torch.Tensor) and not (name == "b" and tensor is None):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if x.dim() != 4:
        raise ValueError(f"x must be 4-D (N, C_in, H, W), got shape {tuple(x.shape)}")
    if w.dim() != 4 or w.numel() == 0:
        raise ValueError(f"w must be 4-D (C_in, C_out, kH, kW) with no empty dimension, got shape {tuple(w.shape)}")
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects C_in = {w.shape[0]} (w has shape "
                         f"{tuple(w.shape)}: a transposed conv's weight is (C_in, C_out, kH, kW))")
    if b is not None and tuple(b.shape) != (w.shape[1],):
        raise ValueError(f"b must have shape (C_out,) = ({w.shape[1]},), got {tuple(b.shape)}")
    tensors = [x, w] if b is None else [x, w, b]
    if not all(t.is_floating_point() and t.dtype == x.dtype for t in tensors):
        raise TypeError(f"x, w and b must have the same floating-point dtype, got {[t.dtype for t in tensors]}")
    s, p = _pair("stride", stride, 1), _pair("padding", padding, 0)
    op, d = _pair("output_padding", output_padding, 0), _pair("dilation", dilation, 1)
    H_out = transposed_output_size(x.shape[2], w.shape[2], s[0], p[0], op[0], d[0])
    W_out = transposed_output_size(x.shape[3], w.shape[3], s[1], p[1], op[1], d[1])
    return s, p, op, d, H_out, W_out


def conv_transpose2d_naive(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None, stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0, output_padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1,
) -> torch.Tensor:
    """`F.conv_transpose2d` by scattering: each input pixel adds (its value x the kernel) to the output, then crop p.

    >>> x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])  # (1, 1, 2, 2)
    >>> conv_transpose2d_naive(x, torch.ones(1, 1, 2, 2), stride=2)[0, 0]  # stride 2 = kernel: no overlap
    tensor([[1., 1., 2., 2.],
            [1., 1., 2., 2.],
            [3., 3., 4., 4.],
            [3., 3., 4., 4.]])
    """
    (sH, sW), (pH, pW), (opH, opW), (dH, dW), H_out, W_out = _check_transposed_args(
        x, w, b, stride, padding, output_padding, dilation)
    N, C_in, H, W = x.shape
    _, C_out, kH, kW = w.shape
    span_h, span_w = dH * (kH - 1) + 1, dW * (kW - 1) + 1  # a dilated kernel covers this many pixels
    full = x.new_zeros(N, C_out, (H - 1) * sH + span_h + opH, (W - 1) * sW + span_w + opW)  # before cropping
    for i in range(H):
        for j in range(W):
            # (N, C_in, 1, 1, 1, 1) * (1, C_in, C_out, kH, kW), summed over C_in -> (N, C_out, kH, kW)
            stamp = (x[:, :, i, j][:, :, None, None, None] * w[None]).sum(dim=1)
            top, left = i * sH, j * sW
            full[:, :, top:top + span_h:dH, left:left + span_w:dW] += stamp
    out = full[:, :, pH:pH + H_out, pW:pW + W_out]  # padding p *removes* p rows/columns on each side
    if b is not None:
        out = out + b[:, None, None]
    return out


def conv_transpose2d_zero_insert(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None, stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0, output_padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1,
) -> torch.Tensor:
    """`F.conv_transpose2d` as a plain convolution: insert s-1 zeros, pad by d(k-1)-p, convolve with the flipped kernel.

    >>> x = torch.arange(4.0).reshape(1, 1, 2, 2)  # lecture: i' = 2, k = 3, p' = k - 1 = 2 -> o' = 4
    >>> conv_transpose2d_zero_insert(x, torch.ones(1, 1, 3, 3)).shape
    torch.Size([1, 1, 4, 4])
    """
    (sH, sW), (pH, pW), (opH, opW), (dH, dW), _, _ = _check_transposed_args(
        x, w, b, stride, padding, output_padding, dilation)
    N, C_in, H, W = x.shape
    _, C_out, kH, kW = w.shape
    spread = x.new_zeros(N, C_in, (H - 1) * sH + 1, (W - 1) * sW + 1)  # (N, C_in, s(H-1)+1, s(W-1)+1)
    spread[:, :, ::sH, ::sW] = x  # s - 1 zeros between neighbouring input pixels
    ph, pw = dH * (kH - 1) - pH, dW * (kW - 1) - pW  # p' = k - p - 1 for d = 1; negative p' crops
    spread = F.pad(spread, (pw, pw + opW, ph, ph + opH))  # output_padding adds rows/columns at the bottom/right only
    w_conv = w.flip(2, 3).transpose(0, 1)  # (C_in, C_out, kH, kW) -> (C_out, C_in, kH, kW), rotated by 180 degrees
    return conv2d_naive(spread, w_conv, b, dilation=(dH, dW))


# ----------------------------------------------------------------------------------------------------------------------
# Checkerboard artifacts


def overlap_map(input_size: int, kernel_size: int, stride: int, padding: int = 0) -> torch.Tensor:
    """How many (input pixel, kernel entry) pairs land on each output pixel of a transposed conv (H_out, W_out).

    >>> overlap_map(3, 3, 2)[0]  # kernel 3, stride 2: odd columns get one stamp, even ones two
    tensor([1., 1., 2., 1., 2., 1., 1.])
    >>> overlap_map(3, 4, 2, padding=1)[0]  # kernel 4, stride 2: even overlap inside
    tensor([1., 2., 2., 2., 2., 1.])
    """
    n, k = check_int("input_size", input_size, ge=1), check_int("kernel_size", kernel_size, ge=1)
    s, p = check_int("stride", stride, ge=1), check_int("padding", padding, ge=0)
    transposed_output_size(n, k, s, p)  # a clear error if padding leaves no output
    ones = torch.ones(1, 1, n, n)  # (1, 1, n, n): every input pixel 1 ...
    return F.conv_transpose2d(ones, torch.ones(1, 1, k, k), stride=s, padding=p)[0, 0]  # ... every kernel entry 1


# ----------------------------------------------------------------------------------------------------------------------
# Convolutionalization


def convolutionalize(linear: nn.Linear, in_channels: int, kernel_size: int | tuple[int, int]) -> nn.Conv2d:
    """The conv layer with the same weights as `linear`, which read a flattened (in_channels, kH, kW) feature map.

    >>> fc = nn.Linear(2 * 3 * 3, 5)
    >>> conv = convolutionalize(fc, 2, 3)
    >>> x = torch.randn(4, 2, 3, 3)
    >>> torch.allclose(conv(x).flatten(1), fc(x.flatten(1)), atol=1e-6)
    True
    """
    if not isinstance(linear, nn.Linear):
        raise TypeError(f"linear must be an nn.Linear, got {type(linear).__name__}")
    C, (kH, kW) = check_int("in_channels", in_channels, ge=1), _pair("kernel_size", kernel_size, 1)
    if linear.in_features != C * kH * kW:
        raise ValueError(f"linear has in_features {linear.in_features}, but a {C}x{kH}x{kW} feature map flattens to "
                         f"{C * kH * kW}; in_channels * kH * kW must equal in_features")
    conv = nn.Conv2d(C, linear.out_features, (kH, kW), bias=linear.bias is not None,
                     device=linear.weight.device, dtype=linear.weight.dtype)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.reshape(linear.out_features, C, kH, kW))  # row i of W is filter i
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


# ----------------------------------------------------------------------------------------------------------------------
# Image-to-image tasks from real images: digit segmentation and super-resolution


def psnr(pred: torch.Tensor, target: torch.Tensor, max_value: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB: 10 log10(max^2 / MSE); higher is better.

    >>> psnr(torch.zeros(4), torch.full((4,), 0.1))  # MSE 0.01 -> 20 dB
    20.0
    """
    check_tensor("pred", pred, dtype="number")
    check_tensor("target", target, dtype="number")
    check_float("max_value", max_value, gt=0)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    mse = F.mse_loss(pred.float(), target.float()).item()
    return float("inf") if mse == 0 else round(10 * torch.log10(torch.tensor(max_value**2 / mse)).item(), 6)


def digit_segmentation(
    X: torch.Tensor, y: torch.Tensor, num_images: int, canvas_size: int = 48, digits_per_image: int = 2, seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Real digits pasted at random places on a black canvas -> images uint8 (N, 1, S, S) and masks int64 (N, S, S).

    A mask pixel is 0 (background) or 1 + the digit's label where that digit's stroke is brighter than 127.
    """
    check_tensor("X", X)
    check_tensor("y", y, ndim=1, dtype="int")
    check_int("seed", seed, ge=0)
    if X.dim() != 4 or X.shape[1] != 1 or X.dtype != torch.uint8 or len(X) != len(y):
        raise ValueError(f"X must be uint8 (N, 1, h, w) digits with one label each, got {tuple(X.shape)} {X.dtype} "
                         f"and {len(y)} labels")
    N, S = check_int("num_images", num_images, ge=1), check_int("canvas_size", canvas_size, ge=1)
    k = check_int("digits_per_image", digits_per_image, ge=1)
    h, w = X.shape[2:]
    if S < max(h, w):
        raise ValueError(f"canvas_size {S} must be at least the digit size {max(h, w)}")
    g = torch.Generator().manual_seed(seed)
    images = torch.zeros(N, 1, S, S, dtype=torch.uint8)
    masks = torch.zeros(N, S, S, dtype=torch.int64)
    for n in range(N):
        for _ in range(k):
            i = int(torch.randint(len(X), (1,), generator=g))
            top, left = (int(v) for v in torch.randint(0, S - max(h, w) + 1, (2,), generator=g))
            digit = X[i, 0]  # (h, w)
            window = images[n, 0, top:top + h, left:left + w]
            torch.maximum(window, digit, out=window)  # overlapping strokes: the brighter one shows
            masks[n, top:top + h, left:left + w][digit > 127] = 1 + int(y[i])  # the later digit owns its strokes
    return images, masks


def segmentation_scores(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> tuple[float, float]:
    """(pixel accuracy, mean IoU over the classes present in `target` or `pred`) of integer label maps.

    >>> segmentation_scores(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1]), 2)  # IoU 1/2 and 2/3
    (0.75, 0.583333)
    """
    check_tensor("pred", pred, dtype="int")
    check_tensor("target", target, dtype="int")
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    accuracy = (pred == target).float().mean().item()
    ious = []
    for c in range(check_int("num_classes", num_classes, ge=2)):
        union = ((pred == c) | (target == c)).sum().item()
        if union > 0:
            ious.append(((pred == c) & (target == c)).sum().item() / union)
    return round(accuracy, 6), round(sum(ious) / len(ious), 6)


@dataclass(frozen=True)
class SegmentationResult:
    """Scores of a trained FCN and of the all-background baseline on held-out canvases."""

    fcn_accuracy: float
    fcn_miou: float
    baseline_accuracy: float
    baseline_miou: float

    def beats_baseline(self, margin: float = 0.1) -> bool:
        """True if the FCN wins in pixel accuracy and beats the baseline's mean IoU by `margin`."""
        return self.fcn_accuracy > self.baseline_accuracy and self.fcn_miou > self.baseline_miou + margin


def run_segmentation(
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], seed: int = 0, num_epochs: int = 4,
    width: int = 16, lr: float = 3e-3, batch_size: int = 32, device: torch.device | str | None = None,
) -> tuple[TinyFCN, SegmentationResult]:
    """Train a TinyFCN on (X_train, masks_train) with Adam; score it and all-background on (X_test, masks_test)."""
    if not isinstance(data, (tuple, list)) or len(data) != 4:
        raise TypeError(f"data must be (X_train, masks_train, X_test, masks_test), got {type(data).__name__}")
    check_int("seed", seed, ge=0)
    X_train, M_train, X_test, M_test = data
    torch.manual_seed(seed)
    net = TinyFCN(num_classes=11, width=width)
    fit(net, (X_train, M_train), num_epochs=num_epochs, optimizer=torch.optim.Adam(net.parameters(), lr=lr),
        batch_size=batch_size, device=device, seed=seed, progress=False)
    pred = predict(net, X_test, batch_size=256).argmax(1)  # (N, K, H, W) scores -> (N, H, W) classes
    acc, miou = segmentation_scores(pred, M_test, 11)
    base_acc, base_miou = segmentation_scores(torch.zeros_like(M_test), M_test, 11)
    return net, SegmentationResult(acc, miou, base_acc, base_miou)


def photo_patches(photos: list[torch.Tensor], patch_size: int, num_patches: int, seed: int = 0) -> torch.Tensor:
    """Random gray patches (N, 1, P, P) in [0, 1] cut from uint8 RGB photos (H, W, 3), equally many from each."""
    P, N = check_int("patch_size", patch_size, ge=2), check_int("num_patches", num_patches, ge=1)
    if not isinstance(photos, (list, tuple)) or not photos or not all(isinstance(p, torch.Tensor) for p in photos):
        raise TypeError(f"photos must be a non-empty list of uint8 (H, W, 3) tensors, got {photos!r:.40}")
    check_int("seed", seed, ge=0)
    g = torch.Generator().manual_seed(seed)
    patches = []
    for n in range(N):
        photo = photos[n % len(photos)]
        if photo.dim() != 3 or photo.shape[2] != 3 or min(photo.shape[:2]) < P:
            raise ValueError(f"photos must be (H, W, 3) with H, W >= patch_size {P}, got {tuple(photo.shape)}")
        gray = photo.float().mean(dim=2) / 255  # (H, W)
        top = int(torch.randint(0, gray.shape[0] - P + 1, (1,), generator=g))
        left = int(torch.randint(0, gray.shape[1] - P + 1, (1,), generator=g))
        patches.append(gray[top:top + P, left:left + P])
    return torch.stack(patches)[:, None]  # (N, 1, P, P)


def downscale(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """The low-resolution input: average over scale x scale blocks, (N, C, H, W) -> (N, C, H/scale, W/scale)."""
    check_tensor("hr", hr, ndim=(3, 4), dtype="float")
    return F.avg_pool2d(hr, check_int("scale", scale, ge=1))


def bicubic(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic upsampling by `scale`, clamped to [0, 1]: the baseline a learned upsampler must beat."""
    check_tensor("lr", lr, ndim=4, dtype="float")
    check_int("scale", scale, ge=1)
    return F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)


@dataclass(frozen=True)
class SuperResolutionResult:
    """PSNR (dB) of the sub-pixel net and of bicubic upsampling on held-out patches."""

    net_psnr: float
    bicubic_psnr: float

    def beats_bicubic(self, margin: float = 0.2) -> bool:
        """True if the net's PSNR beats bicubic's by more than `margin` dB."""
        return self.net_psnr > self.bicubic_psnr + margin


def run_super_resolution(
    train_hr: torch.Tensor, test_hr: torch.Tensor, scale: int = 2, seed: int = 0, num_epochs: int = 5,
    width: int = 32, lr: float = 1e-3, device: torch.device | str | None = None,
) -> tuple[SubPixelSR, SuperResolutionResult]:
    """Train a SubPixelSR (MSE, Adam) on HR patches (N, 1, P, P) and compare its test PSNR with bicubic's."""
    check_tensor("train_hr", train_hr, ndim=4, dtype="float")
    check_tensor("test_hr", test_hr, ndim=4, dtype="float")
    check_int("seed", seed, ge=0)
    torch.manual_seed(seed)
    net = SubPixelSR(scale, width)
    fit(net, (downscale(train_hr, scale), train_hr), num_epochs=num_epochs, loss_fn=F.mse_loss,
        optimizer=torch.optim.Adam(net.parameters(), lr=lr), batch_size=32, device=device, seed=seed, progress=False)
    net.eval()
    test_lr = downscale(test_hr, scale)
    with torch.no_grad():
        out = net(test_lr.to(next(net.parameters()).device)).cpu().clamp(0, 1)
    return net, SuperResolutionResult(psnr(out, test_hr), psnr(bicubic(test_lr, scale), test_hr))
