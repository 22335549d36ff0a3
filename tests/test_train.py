"""The training loop: batches, shuffling, augmentation, determinism, and that it actually learns."""

import pytest
import torch
from torch import nn

from cnnlab.runtime import set_seed
from cnnlab.train import (
    Augment,
    History,
    EarlyStopping,
    Snapshots,
    TensorLoader,
    evaluate,
    predict,
    fit,
    pca_lighting,
    pixel_pca,
    random_crop,
    random_hflip,
    random_rotate,
    random_vflip,
    rotate,
)

CPU = torch.device("cpu")


def labels_seen(loader):
    return torch.cat([yb for _, yb in loader]).tolist()


def test_loader_covers_every_sample_once_and_only_shuffles_when_asked():
    X, y = torch.zeros(10, 1), torch.arange(10)
    assert labels_seen(TensorLoader(X, y, batch_size=3, device=CPU)) == list(range(10))
    shuffled = labels_seen(TensorLoader(X, y, batch_size=3, shuffle=True, device=CPU))
    assert sorted(shuffled) == list(range(10)) and shuffled != list(range(10))


def test_loader_order_repeats_with_the_same_seed_and_changes_between_epochs():
    X, y = torch.zeros(50, 1), torch.arange(50)
    a = TensorLoader(X, y, 8, shuffle=True, seed=1, device=CPU)
    b = TensorLoader(X, y, 8, shuffle=True, seed=1, device=CPU)
    first = labels_seen(a)
    assert first == labels_seen(b)
    assert labels_seen(a) != first  # a new order every epoch


def test_loader_drop_last_and_len():
    X, y = torch.zeros(10, 1), torch.arange(10)
    assert len(TensorLoader(X, y, 4, device=CPU)) == 3
    assert [len(yb) for _, yb in TensorLoader(X, y, 4, drop_last=True, device=CPU)] == [4, 4]


def test_loader_turns_uint8_images_into_normalised_floats():
    X = torch.tensor([0, 255], dtype=torch.uint8).reshape(2, 1, 1, 1)
    (xb, _), = TensorLoader(X, torch.zeros(2), device=CPU)
    assert xb.dtype == torch.float32 and xb.flatten().tolist() == [0.0, 1.0]
    (xb, _), = TensorLoader(X, torch.zeros(2), mean=0.5, std=0.5, device=CPU)
    assert xb.flatten().tolist() == [-1.0, 1.0]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(X=[1, 2], y=torch.zeros(2)), TypeError, "X must be a torch.Tensor, got list"),
        (dict(X=torch.zeros(3, 1), y=torch.zeros(2)), ValueError, "N = len"),
        (dict(batch_size=0), ValueError, "batch_size must be a positive int, got 0"),
        (dict(mean=0.5), ValueError, "both mean and std"),
    ],
)
def test_loader_rejects_bad_input(kwargs, error, match):
    args = dict(X=torch.zeros(2, 1), y=torch.zeros(2), device=CPU) | kwargs
    with pytest.raises(error, match=match):
        TensorLoader(**args)


def test_random_crop_is_a_shift_with_zero_fill():
    x = torch.arange(1, 17.0).reshape(1, 1, 4, 4).repeat(64, 1, 1, 1)
    out = random_crop(x, padding=1, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    # every crop is the image shifted by (dy, dx) in {-1, 0, 1}^2 with zeros coming in: check against all 9 shifts
    padded = nn.functional.pad(x[:1], (1, 1, 1, 1))
    shifts = [padded[0, 0, dy : dy + 4, dx : dx + 4] for dy in range(3) for dx in range(3)]
    found = {next(i for i, s in enumerate(shifts) if torch.equal(o[0], s)) for o in out}
    assert len(found) == 9  # 64 draws hit all 9 offsets
    assert torch.equal(random_crop(x, 0, torch.Generator()), x)


@pytest.mark.parametrize("padding, shape", [(1, (5, 1, 4, 4)), (3, (7, 3, 6, 9)), (4, (4, 2, 5, 3))])
def test_random_crop_equals_torchvision_pad_then_crop_at_the_drawn_offsets(padding, shape):
    import torchvision.transforms.functional as TF

    N, C, H, W = shape
    x = torch.rand(shape, generator=torch.Generator().manual_seed(1)) + 0.5  # no zeros: padding is visible
    out = random_crop(x, padding, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)  # the same draws as random_crop: all rows (dy), then all columns (dx)
    dy = torch.randint(0, 2 * padding + 1, (N,), generator=g)
    dx = torch.randint(0, 2 * padding + 1, (N,), generator=g)
    assert len(set(zip(dy.tolist(), dx.tolist()))) > 1  # the offsets differ between images
    for i in range(N):
        padded = TF.pad(x[i], [padding], fill=0)  # torchvision's zero padding on all four sides
        expected = TF.crop(padded, int(dy[i]), int(dx[i]), H, W)
        assert torch.equal(out[i], expected), i


def test_random_flips_equal_torchvision_flips_of_the_drawn_images():
    import torchvision.transforms.functional as TF

    x = torch.rand(24, 2, 3, 5, generator=torch.Generator().manual_seed(0))
    for ours, theirs in ((random_hflip, TF.hflip), (random_vflip, TF.vflip)):
        out = ours(x, torch.Generator().manual_seed(4), p=0.3)
        flip = torch.rand(24, generator=torch.Generator().manual_seed(4)) < 0.3  # the draw random_*flip makes
        assert 0 < int(flip.sum()) < 24
        for i in range(24):
            assert torch.equal(out[i], theirs(x[i]) if flip[i] else x[i]), (ours.__name__, i)


def test_random_hflip_mirrors_some_images_exactly():
    x = torch.arange(6.0).reshape(1, 1, 2, 3).repeat(40, 1, 1, 1)
    out = random_hflip(x, torch.Generator().manual_seed(0))
    flipped = [torch.equal(o, x[0].flip(2)) for o in out]
    kept = [torch.equal(o, x[0]) for o in out]
    assert all(f or k for f, k in zip(flipped, kept)) and 5 < sum(flipped) < 35


def test_augment_composes_crop_and_flip():
    x = torch.rand(8, 1, 5, 5)
    assert Augment()(x, torch.Generator()) is x
    assert Augment(crop_padding=2, hflip=True)(x, torch.Generator()).shape == x.shape


@pytest.mark.parametrize("angle", [30.0, -45.0, 90.0, 180.0, 7.5])
@pytest.mark.parametrize("H, W", [(28, 28), (20, 31), (7, 5)])
def test_rotate_matches_torchvision(angle, H, W):
    import torchvision.transforms.functional as TF
    from torchvision.transforms import InterpolationMode

    x = torch.rand(3, 2, H, W, generator=torch.Generator().manual_seed(0))
    expected = TF.rotate(x, angle, interpolation=InterpolationMode.BILINEAR)  # counter-clockwise, zeros come in
    torch.testing.assert_close(rotate(x, torch.full((3,), angle)), expected, rtol=0, atol=1e-5)


def test_random_rotate_uses_one_angle_per_image_within_range():
    x = torch.rand(16, 1, 9, 9)
    out = random_rotate(x, 20.0, torch.Generator().manual_seed(1))
    angles = (torch.rand(16, generator=torch.Generator().manual_seed(1)) * 2 - 1) * 20.0
    assert angles.abs().max() <= 20 and len(set(angles.tolist())) == 16
    torch.testing.assert_close(out, torch.stack([rotate(x[i : i + 1], angles[i : i + 1])[0] for i in range(16)]))


def test_random_vflip_turns_some_images_upside_down_exactly():
    x = torch.arange(6.0).reshape(1, 1, 3, 2).repeat(40, 1, 1, 1)
    out = random_vflip(x, torch.Generator().manual_seed(0))
    flipped = [torch.equal(o, x[0].flip(1)) for o in out]
    assert all(f or torch.equal(o, x[0]) for f, o in zip(flipped, out)) and 5 < sum(flipped) < 35


def test_augment_defaults_leave_earlier_results_byte_identical():
    """rotation=0 and vflip=False draw no random numbers: crop + flip give the same bytes, and the generator is left
    in the same state, as before the options existed (so the notebooks' stored outputs do not change)."""
    x = torch.rand(32, 1, 12, 12)
    g_old, g_new = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    old = random_hflip(random_crop(x, 2, g_old), g_old)  # what Augment(crop_padding=2, hflip=True) did before
    new = Augment(crop_padding=2, hflip=True, rotation=0, vflip=False)(x, g_new)
    assert torch.equal(old, new) and torch.equal(g_old.get_state(), g_new.get_state())
    assert Augment(crop_padding=2, hflip=True) == Augment(crop_padding=2, hflip=True, rotation=0.0, vflip=False)


def test_augment_with_rotation_and_bad_rotation():
    x = torch.rand(8, 1, 10, 10)
    assert not torch.equal(Augment(rotation=15)(x, torch.Generator().manual_seed(0)), x)
    with pytest.raises(ValueError, match="rotation must be a finite number >= 0 and <= 180"):
        Augment(rotation=-5)


def blobs(n=400, seed=0):
    """Two well-separated Gaussian blobs in 2-D: any working loop gets near 100% on them."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    X = torch.randn(n, 2, generator=g) + 3 * (2 * y[:, None] - 1)
    return X, y


def test_fit_learns_and_records_history():
    set_seed(0)
    net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    h = fit(net, blobs(), blobs(seed=1), num_epochs=3, lr=0.05, batch_size=32, device=CPU, progress=False)
    assert h.epoch == [1, 2, 3] and len(h.val_acc) == 3 and len(h.time) == 3
    assert h.val_acc[-1] > 0.95 and h.train_loss[-1] < h.train_loss[0]
    assert h.time == sorted(h.time)


def test_fit_is_deterministic_for_a_seed():
    def run():
        set_seed(3)
        net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
        h = fit(net, blobs(), blobs(seed=1), num_epochs=2, lr=0.1, batch_size=16, device=CPU, progress=False, seed=5)
        return h.train_loss + h.val_loss

    assert run() == run()


def test_fit_shuffles_training_batches_but_not_evaluation_batches_on_cpu():
    """pytorch/examples once turned shuffling off on CPU by accident: here the order seen by the loss is checked."""
    N = 12
    X, y = torch.zeros(N, 1), torch.arange(N)  # one class per sample, so the labels reveal the order
    seen = {"train": [], "eval": []}

    def recording_loss(logits, target):
        seen["train" if torch.is_grad_enabled() else "eval"].extend(target.tolist())
        return nn.functional.cross_entropy(logits, target)

    fit(nn.Linear(1, N), (X, y), (X, y), num_epochs=2, lr=0.1, batch_size=4, loss_fn=recording_loss,
        device=CPU, progress=False)
    epochs_train = [seen["train"][:N], seen["train"][N:]]
    assert all(sorted(e) == list(range(N)) for e in epochs_train)
    assert all(e != list(range(N)) for e in epochs_train) and epochs_train[0] != epochs_train[1]
    assert seen["eval"] == list(range(N)) * 2


def test_fit_steps_an_epoch_scheduler_and_records_the_lr_used():
    net = nn.Linear(2, 2)
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    h = fit(net, blobs(64), num_epochs=3, optimizer=opt, scheduler=sched, device=CPU, progress=False)
    assert h.lr == [1.0, 0.5, 0.25] and h.val_loss == []


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_epochs=-1, lr=0.1), "num_epochs must be an int >= 0"),
        (dict(num_epochs=1), "exactly one of `optimizer` or `lr`"),
        (dict(num_epochs=1, lr=-0.1), "lr must be a finite number > 0"),
        (dict(num_epochs=1, lr=0.1, step_scheduler="step"), "step_scheduler must be one of 'epoch', 'batch'"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit(nn.Linear(2, 2), blobs(8), device=CPU, progress=False, **kwargs)


def test_evaluate_is_in_eval_mode_without_gradients():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.9))
    loader = TensorLoader(*blobs(64), device=CPU)
    first = evaluate(net, loader)
    assert evaluate(net, loader) == first  # dropout off: the same numbers twice
    assert not net.training


def test_history_best_epoch_and_accuracy():
    h = History(epoch=[1, 2, 3], val_loss=[0.5, 0.3, 0.4], val_acc=[0.7, 0.8, 0.9])
    assert h.best_epoch() == 2 and h.best_epoch("val_acc") == 3
    with pytest.raises(ValueError, match="metric must be one of"):
        h.best_epoch("lr")
    net = nn.Linear(3, 3)
    with torch.no_grad():
        net.weight.copy_(torch.eye(3)), net.bias.zero_()
    _, acc = evaluate(net, TensorLoader(torch.eye(3), torch.tensor([0, 1, 1]), device="cpu"))
    assert acc == pytest.approx(2 / 3)


def test_accuracy_is_per_pixel_for_masks_and_nan_for_regression():
    seg = nn.Conv2d(1, 3, 1)  # (N, 1, H, W) -> (N, 3, H, W) class scores per pixel
    X, masks = torch.rand(8, 1, 4, 4), torch.randint(0, 3, (8, 4, 4))
    loader = TensorLoader(X, masks, batch_size=3, device=CPU)
    _, acc = evaluate(seg, loader)
    with torch.no_grad():
        expected = (seg(X).argmax(1) == masks).float().mean().item()
    assert acc == pytest.approx(expected)
    regression = TensorLoader(X, torch.rand(8, 1, 4, 4), batch_size=3, device=CPU)
    loss, acc = evaluate(nn.Conv2d(1, 1, 1), regression, loss_fn=nn.functional.mse_loss)
    assert loss > 0 and acc != acc  # nan: accuracy means nothing for regression


def test_fit_drop_last_skips_the_small_last_training_batch():
    seen = []

    def recording_loss(logits, target):
        if torch.is_grad_enabled():
            seen.append(len(target))
        return nn.functional.cross_entropy(logits, target)

    fit(nn.Linear(2, 2), blobs(10), num_epochs=1, lr=0.1, batch_size=4, drop_last=True, loss_fn=recording_loss,
        device=CPU, progress=False)
    assert seen == [4, 4]


# ----------------------------------------------------------------------------------------------------------
# Callbacks and predict
# ----------------------------------------------------------------------------------------------------------
def _digits_like(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 1, 4, 4, generator=g)
    y = (X.flatten(1).sum(1) > 0).long()  # a learnable rule
    return X, y


def test_early_stopping_stops_after_patience_and_restores_the_best_weights():
    X, y = _digits_like()
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    # an lr so large the validation loss rises after the first epochs: early stopping must fire
    stopper = EarlyStopping(patience=2)
    h = fit(net, (X, y), (X[:32], y[:32]), num_epochs=40, lr=5.0, batch_size=16, callbacks=[stopper], device="cpu",
            progress=False)
    assert stopper.best_epoch == h.best_epoch("val_loss")
    assert len(h.epoch) == stopper.best_epoch + 2 < 40
    loss, _ = evaluate(net, TensorLoader(X[:32], y[:32], device="cpu"))
    assert loss == pytest.approx(min(h.val_loss), rel=1e-5)


def test_early_stopping_needs_validation_data():
    X, y = _digits_like(16)
    with pytest.raises(ValueError, match="give val_data"):
        fit(nn.Linear(16, 2), (X.flatten(1), y), num_epochs=2, lr=0.1, callbacks=[EarlyStopping()], device="cpu",
            progress=False)


def test_snapshots_keep_copies_every_k_epochs():
    X, y = _digits_like()
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    snaps = Snapshots(every=2)
    fit(net, (X, y), num_epochs=6, lr=0.1, callbacks=[snaps], device="cpu", progress=False)
    assert len(snaps.states) == 3
    assert not torch.equal(snaps.states[0]["1.weight"], snaps.states[2]["1.weight"])  # copies, not references
    assert torch.equal(snaps.states[2]["1.weight"], net[1].weight.detach())


def test_predict_equals_the_net_on_normalised_inputs():
    X = torch.randint(0, 256, (10, 1, 4, 4), dtype=torch.uint8)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    expected = net((X.float() / 255 - 0.5) / 0.25)
    torch.testing.assert_close(predict(net, X, batch_size=3, mean=0.5, std=0.25, device="cpu"), expected.detach())


@pytest.mark.parametrize("bad, err, match", [
    (dict(lr=float("inf")), ValueError, "lr must be a finite number > 0"),
    (dict(lr=float("nan")), ValueError, "lr must be a finite number > 0"),
    (dict(lr=-0.1), ValueError, "lr must be"),
    (dict(lr=0.1, batch_size=0), ValueError, "batch_size must be a positive int"),
    (dict(lr=0.1, progress="no"), TypeError, "progress must be True or False"),
    (dict(lr=0.1, drop_last="yes"), TypeError, "drop_last must be True or False"),
    (dict(lr=0.1, device=3), TypeError, "device must be a str or torch.device"),
    (dict(lr=0.1, step_scheduler="step"), ValueError, "step_scheduler must be one of"),
    (dict(lr=0.1, callbacks=[print]), TypeError, r"callbacks\[0\] must be a cnnlab.train.Callback"),
])
def test_fit_checks_its_arguments_at_the_door(bad, err, match):
    X, y = _digits_like(16)
    with pytest.raises(err, match=match):
        fit(nn.Sequential(nn.Flatten(), nn.Linear(16, 2)), (X, y), num_epochs=1, **bad)


def test_fit_refuses_a_net_without_parameters_and_nan_images():
    X, y = _digits_like(16)
    with pytest.raises(ValueError, match="no parameters"):
        fit(nn.Flatten(), (X, y), num_epochs=1, lr=0.1)
    X[3, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="X must be finite"):
        fit(nn.Sequential(nn.Flatten(), nn.Linear(16, 2)), (X, y), num_epochs=1, lr=0.1)


def test_tensor_loader_flags_are_bools():
    X, y = _digits_like(16)
    with pytest.raises(TypeError, match="shuffle must be True or False"):
        TensorLoader(X, y, shuffle="no")


def test_evaluate_accepts_a_device_string_and_a_parameterless_net():
    X, y = _digits_like(16)
    loss, acc = evaluate(nn.Sequential(nn.Flatten(), nn.Linear(16, 2)), TensorLoader(X, y, device="cpu"), device="cpu")
    assert loss > 0 and 0 <= acc <= 1
    logits = predict(nn.Flatten(), X, device="cpu")  # no parameters: runs on the CPU instead of StopIteration
    assert logits.shape == (16, 16)


# ----------------------------------------------------------------------------------------------------------
# PCA lighting noise (AlexNet) and input centring (notebooks 01 and 09)
# ----------------------------------------------------------------------------------------------------------
def _colour_images(seed: int = 0, n: int = 6) -> torch.Tensor:
    """Images whose R, G, B are correlated (a shared brightness plus a little colour of their own), like photos."""
    g = torch.Generator().manual_seed(seed)
    grey = torch.rand(n, 1, 8, 9, generator=g)
    return (0.8 * grey + 0.2 * torch.rand(n, 3, 8, 9, generator=g)) * torch.tensor([1.0, 0.9, 0.7])[:, None, None]


def test_pixel_pca_equals_numpys_eigendecomposition_of_the_pixel_covariance():
    import numpy as np

    X = _colour_images()
    eigvals, eigvecs = pixel_pca(X)
    pixels = X.permute(0, 2, 3, 1).reshape(-1, 3).double().numpy()  # one row per pixel
    want_vals, want_vecs = np.linalg.eigh(np.cov(pixels, rowvar=False))  # ascending
    torch.testing.assert_close(eigvals.double(), torch.from_numpy(want_vals[::-1].copy()), rtol=1e-5, atol=1e-8)
    for i in range(3):  # the same directions, up to the sign an eigenvector is free to take
        v, w = eigvecs[:, i].double(), torch.from_numpy(want_vecs[:, 2 - i].copy())
        torch.testing.assert_close(v * torch.sign(v @ w), w, rtol=0, atol=1e-5)
    assert eigvals[0] > 10 * eigvals[1]  # the correlated channels: one dominant (brightness) direction


def test_pca_lighting_shifts_every_pixel_of_an_image_by_its_own_alpha_lambda_v():
    X = _colour_images()
    eigvals, eigvecs = pixel_pca(X)
    out = pca_lighting(X, eigvals, eigvecs, 0.1, torch.Generator().manual_seed(5))
    shift = out - X  # (N, 3, H, W)
    torch.testing.assert_close(shift, shift[:, :, :1, :1].expand_as(shift))  # one colour shift per image
    coords = shift[:, :, 0, 0] @ eigvecs  # the shift in the eigenbasis: alpha_i * lambda_i
    alpha = 0.1 * torch.randn(len(X), 3, generator=torch.Generator().manual_seed(5))  # AlexNet's alpha ~ N(0, 0.1)
    torch.testing.assert_close(coords, alpha * eigvals, rtol=1e-4, atol=1e-7)
    assert torch.equal(out, pca_lighting(X, eigvals, eigvecs, 0.1, torch.Generator().manual_seed(5)))  # seeded
    assert torch.equal(pca_lighting(X, eigvals, eigvecs, 0.0, torch.Generator()), X)


def test_pca_lighting_of_grey_images_changes_only_the_brightness():
    """Grey pixels vary only along (1, 1, 1): the other eigenvalues are 0, so the shift lies in that eigenvector's
    span: every image gets lighter or darker, never coloured."""
    X = torch.rand(5, 1, 6, 6, generator=torch.Generator().manual_seed(0)).expand(-1, 3, -1, -1)
    eigvals, eigvecs = pixel_pca(X)
    assert float(eigvals[1:].abs().max()) < 1e-6 * float(eigvals[0])
    shift = (pca_lighting(X, eigvals, eigvecs, 0.5, torch.Generator().manual_seed(1)) - X)[:, :, 0, 0]  # (N, 3)
    assert float(shift.abs().min()) > 0
    torch.testing.assert_close(shift, shift[:, :1].expand_as(shift), rtol=1e-4, atol=1e-7)  # R = G = B


def test_pca_lighting_covariance_over_many_draws_is_sigma_squared_lambda_squared():
    """Cov(shift in the eigenbasis) = sigma^2 diag(lambda^2). With N = 20,000 draws a variance estimate is off by
    about sqrt(2 / N) = 1% (one standard error) and a correlation by about 1 / sqrt(N) = 0.007: allow 5 of each."""
    eigvals, eigvecs = pixel_pca(_colour_images())
    N, sigma = 20_000, 0.1
    shift = pca_lighting(torch.zeros(N, 3, 1, 1), eigvals, eigvecs, sigma, torch.Generator().manual_seed(2))
    coords = shift[:, :, 0, 0].double() @ eigvecs.double()  # (N, 3)
    cov = torch.cov(coords.T)
    torch.testing.assert_close(cov.diagonal(), (sigma * eigvals.double()) ** 2, rtol=0.05, atol=0)
    corr = cov / cov.diagonal().sqrt().outer(cov.diagonal().sqrt())
    assert float((corr - torch.eye(3, dtype=corr.dtype)).abs().max()) < 0.035


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_pca_lighting_on_cuda_draws_what_it_draws_on_the_cpu():
    X = _colour_images()
    eigvals, eigvecs = pixel_pca(X)
    cpu = pca_lighting(X, eigvals, eigvecs, 0.1, torch.Generator().manual_seed(3))
    gpu = pca_lighting(X.cuda(), eigvals.cuda(), eigvecs.cuda(), 0.1, torch.Generator().manual_seed(3))
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu)


@pytest.mark.parametrize("call, error, match", [
    (lambda e, v: pixel_pca(torch.zeros(3, 8, 8)), ValueError, r"X must have 4 dimensions"),
    (lambda e, v: pixel_pca(torch.zeros(1, 3, 1, 1)), ValueError, r"X must hold at least 2 pixels"),
    (lambda e, v: pca_lighting(torch.zeros(2, 3, 4, 4), e[:2], v, 0.1, torch.Generator()), ValueError,
     r"eigvals must have shape \(3,\) and eigvecs \(3, 3\)"),
    (lambda e, v: pca_lighting(torch.zeros(2, 3, 4, 4), e, v, -0.1, torch.Generator()), ValueError, r"sigma must be"),
    (lambda e, v: pca_lighting(torch.zeros(2, 3, 4, 4), e, v, 0.1, 0), TypeError, r"generator must be a torch"),
    (lambda e, v: pca_lighting(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), e, v, 0.1, torch.Generator()),
     TypeError, r"x must be a float tensor"),
])
def test_pca_helpers_check_their_arguments(call, error, match):
    eigvals, eigvecs = pixel_pca(_colour_images())
    with pytest.raises(error, match=match):
        call(eigvals, eigvecs)


@pytest.mark.parametrize("seed", [30, 31, 32])
def test_claim_a_white_background_input_trains_slower_than_centred_or_black(seed):
    """Notebook 01, section 8, at its quick size (4,000 images, one epoch of 63 steps at lr 0.1; the full profile
    trains on 60,000) and on seeds it does not run: Fashion-MNIST with a white background (255 - X, mean 0.71 on
    [0, 1]) ends with a higher test loss than the same images centred, and than the raw black-background images
    (mean 0.29). The claims are orderings, so no threshold; seeds 0-4 and 20-29 of this size, looked at while writing
    them, all agreed (at 3,000 images, white vs centred disagreed on 2 of 10)."""
    from cnnlab.data import FASHION_MNIST_MEAN, load_fashion_mnist
    from cnnlab.models import fast_cnn

    X, y = load_fashion_mnist("train", subset=4_000)
    Xt, yt = load_fashion_mnist("test", subset=2_000)
    losses = {}
    for name, (train_X, test_X, norm) in {"white, raw": (255 - X, 255 - Xt, {}), "black, raw": (X, Xt, {}),
                                          "centred": (X, Xt, dict(mean=FASHION_MNIST_MEAN, std=1.0))}.items():
        set_seed(seed)
        net = fast_cnn(width=8)
        history = fit(net, (train_X, y), (test_X, yt), num_epochs=1, lr=0.1, batch_size=64, seed=seed,
                      progress=False, device=CPU, **norm)
        losses[name] = history.val_loss[-1]
    assert losses["white, raw"] > losses["centred"], losses
    assert losses["white, raw"] > losses["black, raw"], losses
