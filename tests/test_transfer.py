"""cnnlab.transfer: freezing, heads, discriminative learning rates, frozen BatchNorm, cached features, the claims."""

import shutil

import pytest
import torch
from torch import nn
from torchvision.models import mobilenet_v2, resnet18

from cnnlab import transfer
from cnnlab.models import small_cnn
from cnnlab.train import fit
from cnnlab.weights import WeightsNotFoundError, find_mobilenet_v2_weights


def weights_available() -> bool:
    try:
        find_mobilenet_v2_weights()
    except WeightsNotFoundError:
        return False
    return True


needs_weights = pytest.mark.skipif(not weights_available(),
                                   reason="MobileNetV2 ImageNet weights missing (python -m cnnlab.weights)")


def bn_layers(net):
    return [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]


# ------------------------------------------------------------------------------------------------ freezing


@pytest.mark.parametrize("build, head", [(lambda: mobilenet_v2(), "classifier.1"), (lambda: resnet18(), "fc"),
                                         (lambda: small_cnn(), "7")])
def test_after_freeze_only_the_head_requires_grad(build, head):
    net = transfer.freeze(build())
    trainable = {name for name, p in net.named_parameters() if p.requires_grad}
    assert trainable == {f"{head}.weight", f"{head}.bias"}
    assert transfer.count_trainable(net) == net.get_submodule(head).weight.numel() + net.get_submodule(head).out_features


def test_freeze_up_to_freezes_the_first_children_only():
    net = transfer.freeze(small_cnn(), up_to=2)  # conv block 1 and its pool
    assert not any(p.requires_grad for p in net[0].parameters())
    assert all(p.requires_grad for m in list(net)[2:] for p in m.parameters())


def test_unfreeze_restores_everything():
    net = transfer.unfreeze(transfer.freeze(mobilenet_v2()))
    assert transfer.count_trainable(net) == sum(p.numel() for p in net.parameters())
    net.train()
    net(torch.randn(2, 3, 32, 32))
    assert all(m.training for m in bn_layers(net))  # the hooks are gone


def test_replace_head_gives_a_fresh_trainable_layer():
    net = transfer.replace_head(transfer.freeze(resnet18()), 3)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 3)
    assert transfer.count_trainable(net) == 512 * 3 + 3


@pytest.mark.parametrize("call, match", [
    (lambda: transfer.freeze("net"), "nn.Module"),
    (lambda: transfer.freeze(small_cnn(), up_to=99), "up_to"),
    (lambda: transfer.freeze(nn.Conv2d(1, 1, 3)), "no nn.Linear"),
    (lambda: transfer.replace_head(small_cnn(), 0), "num_classes"),
    (lambda: transfer.param_groups(small_cnn(), lr_head=0.1, lr_body=-1), "lr_body"),
    (lambda: transfer.extract_features(small_cnn(), torch.zeros(2, 1, 28, 28), batch_size=0), "batch_size"),
    (lambda: transfer.run_strategy("magic", (None, None), (None, None), num_epochs=1), "strategy"),
])
def test_bad_input_says_what_is_allowed(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# ------------------------------------------------------------------------------------------ the optimizer


def test_the_optimizer_sees_only_trainable_parameters():
    net = transfer.freeze(small_cnn(), up_to=3)
    groups = transfer.param_groups(net, lr_head=0.1, lr_body=0.01)
    opt = torch.optim.SGD(groups, lr=0.5, momentum=0.9)
    seen = {id(p) for g in opt.param_groups for p in g["params"]}
    assert seen == {id(p) for p in net.parameters() if p.requires_grad}
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]  # body, head
    assert {id(p) for p in opt.param_groups[1]["params"]} == {id(p) for p in net[7].parameters()}


def test_frozen_weights_do_not_move_when_training():
    torch.manual_seed(0)
    net = transfer.replace_head(transfer.freeze(small_cnn()), 2)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    X, y = torch.randn(32, 1, 28, 28), torch.randint(0, 2, (32,))
    opt = torch.optim.SGD(transfer.param_groups(net, lr_head=0.1, lr_body=0.01), momentum=0.9)
    fit(net, (X, y), num_epochs=2, optimizer=opt, batch_size=8, device="cpu", progress=False)
    after = net.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"7.weight", "7.bias"}  # running statistics included: BatchNorm stayed in eval mode


# ------------------------------------------------------------------------------------- frozen BatchNorm


def test_the_classic_bug_requires_grad_alone_lets_bn_statistics_drift():
    net = small_cnn()
    for p in net[:-1].parameters():
        p.requires_grad_(False)  # frozen "by hand"
    mean_before = net[0][1].running_mean.clone()
    net.train()
    net(torch.randn(8, 1, 28, 28) + 3)
    assert not torch.equal(mean_before, net[0][1].running_mean)


def test_frozen_bn_stays_in_eval_mode_after_net_train():
    torch.manual_seed(0)
    net = transfer.freeze(small_cnn())
    X = torch.randn(8, 1, 28, 28) + 3
    net.eval()
    expected = net(X)
    stats = [m.running_mean.clone() for m in bn_layers(net)]
    net.train()
    torch.testing.assert_close(net(X), expected)  # same as eval: running statistics, not batch statistics
    assert not any(m.training for m in bn_layers(net))
    assert transfer.frozen_bn_in_train_mode(net) == []
    for m, s in zip(bn_layers(net), stats):
        torch.testing.assert_close(m.running_mean, s)


def test_set_train_mode_reapplies_eval_before_any_forward():
    net = transfer.freeze(mobilenet_v2())
    net.train()
    assert transfer.frozen_bn_in_train_mode(net)  # nn.Module.train() flips them; the hook only acts on forward
    transfer.set_train_mode(net)
    assert transfer.frozen_bn_in_train_mode(net) == []
    assert net.classifier.training  # the rest of the net is in train mode (dropout on)


def test_partly_frozen_net_keeps_trainable_bn_in_train_mode():
    net = transfer.freeze(small_cnn(), up_to=2)
    transfer.set_train_mode(net)
    assert [m.training for m in bn_layers(net)] == [False, True, True]


# ---------------------------------------------------------------------------------------- feature cache


def test_extract_features_matches_the_net_and_is_cached(tmp_path):
    torch.manual_seed(0)
    body = small_cnn()[:-1]  # (N, 1, 28, 28) -> (N, 128)
    X = torch.randn(10, 1, 28, 28)
    calls = []
    body.register_forward_hook(lambda m, i, o: calls.append(len(o)))
    first = transfer.extract_features(body, X, batch_size=4, cache_dir=tmp_path)
    body.eval()
    torch.testing.assert_close(first, body(X).detach())
    calls.clear()
    second = transfer.extract_features(body, X, batch_size=4, cache_dir=tmp_path)
    assert torch.equal(first, second) and calls == []  # loaded, not recomputed
    assert len(list(tmp_path.glob("*.pt"))) == 1


@pytest.mark.parametrize("change", ["input", "weight", "buffer"])
def test_feature_cache_is_invalidated_when_inputs_change(tmp_path, change):
    torch.manual_seed(0)
    body = small_cnn()[:-1]
    X = torch.randn(6, 1, 28, 28)
    first = transfer.extract_features(body, X, cache_dir=tmp_path)
    if change == "input":
        X = X.clone()
        X[0, 0, 0, 0] += 1
    elif change == "weight":
        with torch.no_grad():
            body[0][0].weight[0, 0, 0, 0] += 1
    else:
        body[0][1].running_var.mul_(4)
    second = transfer.extract_features(body, X, cache_dir=tmp_path)
    assert not torch.equal(first, second)
    assert len(list(tmp_path.glob("*.pt"))) == 2
    body.eval()
    torch.testing.assert_close(second, body(X).detach())


def cached_features(tmp_path):
    """A small body, its input, its features and the one cache file they were written to."""
    torch.manual_seed(0)
    body = small_cnn(width=4)[:-1]
    X = torch.randn(6, 1, 28, 28)
    first = transfer.extract_features(body, X, cache_dir=tmp_path)
    (path,) = tmp_path.glob("*.pt")
    return body, X, first, path


def test_a_flipped_byte_in_the_feature_cache_is_recomputed_with_a_warning(tmp_path):
    body, X, first, path = cached_features(tmp_path)
    raw = bytearray(path.read_bytes())
    at = raw.find(first.numpy().tobytes()[:64])  # where the feature values are stored in the file
    assert at > 0
    raw[at + 5] ^= 0x40  # one bit of one feature value
    path.write_bytes(bytes(raw))
    tampered = torch.load(path, weights_only=True)["features"]
    assert not torch.equal(tampered, first)  # torch itself loads the damaged file without complaint
    with pytest.warns(transfer.FeatureCacheWarning, match=rf"{path.name} is corrupted: the sha256.*recomputed"):
        again = transfer.extract_features(body, X, cache_dir=tmp_path)
    assert torch.equal(again, first)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the cache was rewritten: no warning the next time
        assert torch.equal(transfer.extract_features(body, X, cache_dir=tmp_path), first)


@pytest.mark.parametrize("keep", [0.5, 0.02, 0.0])
def test_a_truncated_feature_cache_is_recomputed_with_a_warning(tmp_path, keep):
    body, X, first, path = cached_features(tmp_path)
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.warns(transfer.FeatureCacheWarning, match=rf"{path.name} cannot be read.*recomputed the features"):
        again = transfer.extract_features(body, X, cache_dir=tmp_path)
    assert torch.equal(again, first)
    assert path.read_bytes() == raw  # rewritten whole


def test_a_cache_file_copied_from_another_entry_or_in_the_old_format_is_not_trusted(tmp_path):
    body, X, first, path = cached_features(tmp_path)
    other = transfer.extract_features(body, X + 1, cache_dir=tmp_path)
    (other_path,) = set(tmp_path.glob("*.pt")) - {path}
    other_path.write_bytes(path.read_bytes())  # a valid cache file, but of other data
    with pytest.warns(transfer.FeatureCacheWarning, match=r"made from another network or data"):
        assert torch.equal(transfer.extract_features(body, X + 1, cache_dir=tmp_path), other)
    torch.save(first + 1, path)  # a bare tensor, as older versions wrote: nothing to check it against
    with pytest.warns(transfer.FeatureCacheWarning, match=r"not a checksummed features cache"):
        assert torch.equal(transfer.extract_features(body, X, cache_dir=tmp_path), first)


def test_extract_features_of_a_net_without_parameters(tmp_path):
    X = torch.randn(3, 2, 4, 4)
    torch.testing.assert_close(transfer.extract_features(nn.Flatten(), X, cache_dir=tmp_path), X.flatten(1))


def test_checksum_depends_on_values_not_identity():
    net = small_cnn()
    X = torch.zeros(2, 1, 28, 28)
    assert transfer.checksum(net, X) == transfer.checksum(net, X.clone())
    assert transfer.checksum(net, X) != transfer.checksum(net, X.double())


# --------------------------------------------------------------------------------- pretrained weights, checked


def _package_weights_file():
    from cnnlab.weights import MOBILENET_V2_FILE, package_weights_dir

    folder = package_weights_dir()
    return folder / MOBILENET_V2_FILE if folder is not None and (folder / MOBILENET_V2_FILE).is_file() else None


PACKAGE_FILE = _package_weights_file()  # found once: the tmp_hub fixture hides the package from cnnlab.weights
needs_package = pytest.mark.skipif(PACKAGE_FILE is None, reason="weights package not installed")


@pytest.fixture
def tmp_hub(tmp_path, monkeypatch):
    """torch's hub cache pointed at tmp_path (the real cache is never touched), and no pip-package fallback."""
    from cnnlab import weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    if not torch.hub.get_dir().startswith(str(tmp_path)):
        pytest.skip("torch.hub.set_dir() was called in this process; TORCH_HOME is ignored")
    monkeypatch.setattr(weights, "package_weights_dir", lambda: None)
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    return folder


@needs_package
def test_pretrained_mobilenet_refuses_a_corrupted_hub_cache(tmp_hub):
    from cnnlab.weights import MOBILENET_V2_FILE, WeightsChecksumError

    raw = bytearray(PACKAGE_FILE.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one bit: torchvision alone would load weights that are a little off
    (tmp_hub / MOBILENET_V2_FILE).write_bytes(bytes(raw))
    with pytest.raises(WeightsChecksumError, match=rf"{MOBILENET_V2_FILE} is corrupted.*Fix: delete it, then: pip "
                       r"install --force-reinstall.*python -m cnnlab\.weights"):
        transfer.pretrained_mobilenet_v2()
    with pytest.raises(WeightsChecksumError, match=MOBILENET_V2_FILE):
        transfer.block_inputs(torch.zeros(1, 3, 32, 32), 2)  # every loader of pretrained weights goes the same way


@needs_package
def test_pretrained_mobilenet_from_the_hub_cache_is_torchvisions_net_and_random_state(tmp_hub):
    from torchvision.models import MobileNet_V2_Weights

    shutil.copyfile(PACKAGE_FILE, tmp_hub / PACKAGE_FILE.name)
    torch.manual_seed(0)
    ours = transfer.pretrained_mobilenet_v2()
    after_ours = torch.rand(3)
    torch.manual_seed(0)
    theirs = mobilenet_v2(weights=MobileNet_V2_Weights.IMAGENET1K_V1)
    after_theirs = torch.rand(3)
    assert torch.equal(after_ours, after_theirs)  # the same random numbers drawn: notebooks' results unchanged
    for (k, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(a, b), k


# ------------------------------------------------------------------------------------------ inputs


def test_the_two_normalisation_conventions_agree():
    torch.manual_seed(0)
    X = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    mean255, std255 = (torch.tensor(v).reshape(1, 3, 1, 1) for v in (transfer.IMAGENET_MEAN_255, transfer.IMAGENET_STD_255))
    mean1, std1 = (torch.tensor(v).reshape(1, 3, 1, 1) for v in (transfer.IMAGENET_MEAN, transfer.IMAGENET_STD))
    a = (X.float() - mean255) / std255
    b = (X.float() / 255 - mean1) / std1
    torch.testing.assert_close(a, b, atol=0.01, rtol=0)  # VGG's means 116.779, 103.939 vs 0.456 * 255 = 116.28, ...
    assert (a - b).abs().max() > 1e-3  # not identical: the two decks' constants come from different sources
    torch.testing.assert_close(transfer.to_imagenet_input(X, 8), b)


def test_load_faces_and_split():
    X, y = transfer.load_faces()
    assert X.shape == (200, 1, 25, 25) and 0 <= X.min() and X.max() <= 1
    (Xtr, ytr), (Xte, yte) = transfer.split(X, y, 150, seed=1)
    assert len(ytr) == 150 and len(yte) == 50
    assert transfer.to_imagenet_input(Xtr, 48).shape == (150, 3, 48, 48)


# ------------------------------------------------------------------------------------- the claims, 3 seeds


@needs_weights
def test_pretrained_mobilenet_predicts_the_cat():
    from torchvision.models import MobileNet_V2_Weights

    from cnnlab.data import load_photo

    net = transfer.pretrained_mobilenet_v2().eval()
    X = load_photo("chelsea").permute(2, 0, 1)[None]  # (H, W, 3) -> (1, 3, H, W)
    x = MobileNet_V2_Weights.IMAGENET1K_V1.transforms()(X)
    top5 = net(x).topk(5).indices[0].tolist()
    names = MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"]
    assert "cat" in names[top5[0]]


@needs_weights
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_claim_feature_extractor_beats_scratch_on_few_faces(seed, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))  # feature cache in tmp
    X, y = transfer.load_faces()
    train, test = transfer.split(transfer.to_imagenet_input(X, 40), y, 60, seed=seed)
    test = (test[0][:60], test[1][:60])
    kw = dict(num_epochs=5, seed=seed, batch_size=20, device=torch.device("cpu"))
    features = transfer.run_strategy("features", train, test, **kw)
    scratch = transfer.run_strategy("scratch", train, test, **kw)
    assert features["acc"] > scratch["acc"] + 0.15
    assert features["trainable"] * 800 < scratch["trainable"]


@needs_weights
def test_claim_imagenet_features_beat_scratch_on_100_fashion_images(tmp_path, monkeypatch):
    from cnnlab.data import load_fashion_mnist

    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))
    X, y = load_fashion_mnist("train", subset=100)
    X_test, y_test = load_fashion_mnist("test", subset=300)
    body = transfer.mobilenet_body(transfer.pretrained_mobilenet_v2())
    F, F_test = (transfer.extract_features(body, transfer.to_imagenet_input(x, 48)) for x in (X, X_test))
    for seed in (0, 1, 2):
        acc_features, acc_scratch = transfer.features_vs_scratch((F, y), (X, y), F_test, X_test, y_test,
                                                                 num_epochs=8, seed=seed, device=torch.device("cpu"))
        assert acc_features > acc_scratch + 0.03, seed


# ------------------------------------------------------------------------------- Yosinski et al. (2014)


def test_split_classes_keeps_and_relabels():
    X, y = torch.arange(10.0)[:, None], torch.tensor([0, 5, 1, 6, 5, 9, 0, 6, 2, 5])
    Xb, yb = transfer.split_classes(X, y, (5, 6, 9))
    assert Xb.flatten().tolist() == [1.0, 3.0, 4.0, 5.0, 7.0, 9.0]
    assert yb.tolist() == [0, 1, 0, 2, 1, 0]


def test_copy_first_layers_copies_weights_and_statistics_of_the_first_n_only():
    torch.manual_seed(0)
    source, target = small_cnn(width=4), small_cnn(width=4)
    source[0][1].running_mean.add_(1)
    transfer.copy_first_layers(source, target, 2)
    for i in (0, 2):  # conv blocks 1 and 2
        for (k, a), b in zip(source[i].state_dict().items(), target[i].state_dict().values()):
            assert torch.equal(a, b), k
    assert not torch.equal(source[4][0].weight, target[4][0].weight)
    assert not torch.equal(source[7].weight, target[7].weight)


def test_accuracy_on_accepts_a_device_string_or_a_device():
    torch.manual_seed(0)
    net = nn.Linear(3, 2)
    X, y = torch.randn(20, 3), torch.randint(0, 2, (20,))
    expected = float((net(X).argmax(1) == y).float().mean())
    for device in ("cpu", torch.device("cpu")):
        assert transfer._accuracy_on(net, (X, y), device=device) == pytest.approx(expected)


X4, Y4 = torch.zeros(4, 1, 28, 28), torch.tensor([0, 1, 0, 1])


@pytest.mark.parametrize("call, error, match", [
    (lambda: transfer._accuracy_on(nn.Linear(3, 2), (torch.zeros(2, 3), torch.zeros(2, dtype=torch.int64)),
                                  device="gpu0"), ValueError, r"device must name a device.*got 'gpu0'"),
    (lambda: transfer._accuracy_on(nn.Linear(3, 2), (torch.zeros(2, 3), torch.zeros(2, dtype=torch.int64)),
                                  device=0), TypeError, r"device must be a str or torch.device or None, got int 0"),
    (lambda: transfer._accuracy_on("net", (X4, Y4)), TypeError, r"net must be a torch.nn.Module, got str"),
    (lambda: transfer._accuracy_on(small_cnn(), X4), TypeError, r"test must be a pair \(X, y\) of tensors, got Tensor"),
    (lambda: transfer._accuracy_on(small_cnn(), (X4, Y4[:3])), ValueError, r"same number of examples"),
    (lambda: transfer._accuracy_on(small_cnn(), (X4, Y4.float())), TypeError, r"test\[1\] \(y\) must be an int tensor"),
    (lambda: transfer.head_name(None), TypeError, r"net must be a torch.nn.Module, got NoneType"),
    (lambda: transfer.count_trainable([nn.Linear(2, 2)]), TypeError, r"net must be a torch.nn.Module, got list"),
    (lambda: transfer.replace_head("resnet", 2), TypeError, r"net must be a torch.nn.Module"),
    (lambda: transfer.replace_head(small_cnn(), 2.0), TypeError, r"num_classes must be an int, got float 2.0"),
    (lambda: transfer.replace_head(small_cnn(), -3), ValueError, r"num_classes must be a positive int, got -3"),
    (lambda: transfer.freeze(small_cnn(), up_to="all"), TypeError, r"up_to must be None .*or an int, got str"),
    (lambda: transfer.unfreeze(3), TypeError, r"net must be a torch.nn.Module"),
    (lambda: transfer.set_train_mode(None), TypeError, r"net must be a torch.nn.Module"),
    (lambda: transfer.frozen_bn_in_train_mode("x"), TypeError, r"net must be a torch.nn.Module"),
    (lambda: transfer.param_groups(small_cnn(), lr_head="0.1", lr_body=0.01), TypeError, r"lr_head must be a number"),
    (lambda: transfer.param_groups(small_cnn(), lr_head=float("nan"), lr_body=0.01), ValueError, r"lr_head.*got nan"),
    (lambda: transfer.checksum(small_cnn(), [1, 2]), TypeError, r"X must be a torch.Tensor, got list"),
    (lambda: transfer.extract_features(small_cnn(), torch.zeros(3)), ValueError, r"at least 2 dimensions"),
    (lambda: transfer.extract_features(small_cnn(), X4.numpy()), TypeError, r"data must be a torch.Tensor"),
    (lambda: transfer.extract_features(small_cnn(), X4, use_cache="no"), TypeError, r"use_cache must be True or False"),
    (lambda: transfer.extract_features(small_cnn(), X4, cache_dir=5), TypeError, r"cache_dir must be"),
    (lambda: transfer.to_imagenet_input(X4, 0), ValueError, r"size must be a positive int, got 0"),
    (lambda: transfer.to_imagenet_input(torch.zeros(2, 2, 8, 8), 8), ValueError, r"\(N, 1 or 3, H, W\)"),
    (lambda: transfer.to_imagenet_input([1], 8), TypeError, r"X must be a torch.Tensor"),
    (lambda: transfer.mobilenet_body(resnet18()), TypeError, r"net must be a MobileNetV2.*got ResNet"),
    (lambda: transfer.ImageNetAugment(scale=(0.5, 0.1)), ValueError, r"scale must be \(low, high\)"),
    (lambda: transfer.ImageNetAugment(ratio=1.0), TypeError, r"ratio must be a pair"),
    (lambda: transfer.ImageNetAugment(hflip="yes"), TypeError, r"hflip must be True or False"),
    (lambda: transfer.ImageNetAugment(jitter=1.5), ValueError, r"jitter must be a finite number >= 0 and < 1"),
    (lambda: transfer.ImageNetAugment()(X4, None), TypeError, r"generator must be a torch.Generator"),
    (lambda: transfer.ImageNetAugment(lighting=0.1), ValueError, r"lighting=0.1 needs pca=\(eigvals, eigvecs\)"),
    (lambda: transfer.ImageNetAugment(lighting=-0.1), ValueError, r"lighting must be a finite number >= 0"),
    (lambda: transfer.ImageNetAugment(lighting=0.1, pca=(1.0, 2.0, 3.0)), TypeError, r"pca must be a pair"),
    (lambda: transfer.ImageNetAugment(lighting=0.1, pca=(torch.ones(2), torch.eye(3))), ValueError,
     r"eigvals of shape \(3,\)"),
    (lambda: transfer.ImageNetAugment(lighting=0.1, pca=(-torch.ones(3), torch.eye(3))), ValueError,
     r"eigvals\) must be >= 0"),
    (lambda: transfer.run_strategy("features", (X4, Y4), (X4, Y4), num_epochs=0), ValueError, r"num_epochs"),
    (lambda: transfer.run_strategy("scratch", (X4, Y4), (X4, Y4), num_epochs=1, lr=0), ValueError, r"lr must be"),
    (lambda: transfer.run_strategy("scratch", (X4, Y4), (X4, Y4), num_epochs=1, device=1), TypeError, r"device must"),
    (lambda: transfer.run_strategy(None, (X4, Y4), (X4, Y4), num_epochs=1), ValueError, r"strategy must be one of"),
    (lambda: transfer.split(X4, Y4, 2.5), TypeError, r"num_train must be an int"),
    (lambda: transfer.split(X4, Y4, 2, seed=-1), ValueError, r"seed must be an int >= 0"),
    (lambda: transfer.split_classes(X4, Y4, "01"), TypeError, r"classes must be a tuple of int"),
    (lambda: transfer.conv_cuts(resnet18()), TypeError, r"net must be an nn.Sequential"),
    (lambda: transfer.copy_first_layers(small_cnn(), small_cnn(), 1.0), TypeError, r"n must be an int"),
    (lambda: transfer.copy_first_layers(resnet18(), small_cnn(), 1), TypeError, r"source must be an nn.Sequential"),
    (lambda: transfer.per_class_subset(Y4, 0), ValueError, r"n_per_class must be a positive int"),
    (lambda: transfer.per_class_subset(Y4.float(), 1), TypeError, r"y must be an int tensor"),
    (lambda: transfer.photo_patches("coffee", 2, "train"), TypeError, r"names must be a non-empty tuple"),
    (lambda: transfer.photo_patches(("coffee",), 2, "train", patch=301), ValueError, r"patch must fit.*at most 300"),
    (lambda: transfer.linear_probe(X4, Y4, X4, Y4, num_epochs=1), ValueError, r"F must have 2 dimensions"),
    (lambda: transfer.scratch_cnn((X4, Y4), (X4, Y4), num_epochs=1, mean=0.5, std=0.5, augment="flip"), TypeError,
     r"augment must be callable"),
    (lambda: transfer.finetune_top(X4, Y4, X4, Y4, first="14", num_epochs=1), TypeError, r"first must be an int"),
    (lambda: transfer.block_inputs(torch.zeros(1, 3, 8, 8), 2, batch_size=0), ValueError, r"batch_size"),
    (lambda: transfer.yosinski((X4, Y4), (X4, Y4), (X4, Y4), num_epochs=1, std=0), ValueError, r"std must be"),
    (lambda: transfer.features_vs_scratch((X4, Y4), (X4, Y4), X4, X4, Y4, num_epochs=1), ValueError,
     r"features\[0\] \(X\) must have 2 dimensions"),
    (lambda: transfer.best_of({}), ValueError, r"accs must not be empty"),
    (lambda: transfer.best_of({"features": []}), ValueError, r"accs\['features'\] must be a non-empty list"),
    (lambda: transfer.best_of([0.5]), TypeError, r"accs must be a dict"),
])
def test_every_public_function_checks_its_arguments_at_the_door(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("call, match", [
    (lambda: transfer.copy_first_layers(small_cnn(), small_cnn(), 4), "n must be"),
    (lambda: transfer.split_classes(torch.zeros(2, 1), torch.zeros(2, dtype=torch.int64), (1, 1)), "distinct"),
    (lambda: transfer.per_class_subset(torch.tensor([0, 0, 1]), 2), "fewer than"),
    (lambda: transfer.photo_patches(("coffee",), 2, "middle"), "region"),
    (lambda: transfer.block_inputs(torch.zeros(1, 3, 32, 32), 19), "first"),
])
def test_new_helpers_reject_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def fashion_tasks(num_train: int, num_test: int):
    from cnnlab.data import load_fashion_mnist

    X, y = load_fashion_mnist("train", subset=num_train)
    X_t, y_t = load_fashion_mnist("test", subset=num_test)
    A = transfer.split_classes(X, y, (0, 1, 2, 3, 4))
    B = transfer.split_classes(X, y, (5, 6, 7, 8, 9))
    return A, B, transfer.split_classes(X_t, y_t, (5, 6, 7, 8, 9))


# ---------------------------------------------------------------------- the size-similarity matrix helpers


def test_per_class_subset_is_balanced_and_seeded():
    y = torch.arange(50) % 5
    idx = transfer.per_class_subset(y, 3, seed=1)
    assert torch.bincount(y[idx]).tolist() == [3] * 5
    assert torch.equal(idx, transfer.per_class_subset(y, 3, seed=1))
    assert not torch.equal(idx, transfer.per_class_subset(y, 3, seed=2))


def test_photo_patches_are_labelled_by_photo_and_come_from_their_half():
    from cnnlab.data import load_photo

    X, y = transfer.photo_patches(("coffee", "brick"), 3, "test", patch=64, size=64, seed=0)
    assert X.shape == (6, 3, 64, 64) and X.dtype == torch.uint8 and y.tolist() == [0, 0, 0, 1, 1, 1]
    photo = load_photo("coffee").permute(2, 0, 1)  # (3, 400, 600)
    rows = photo[0].unfold(1, 64, 1)  # (H, W-63, 64): every 64 px run of every red row
    starts = (rows == X[0][0, 0]).all(-1).nonzero()  # where the patch's first row can start (patch=size: exact crop)
    exact = [(i, j) for i, j in starts.tolist() if torch.equal(photo[:, i:i + 64, j:j + 64], X[0])]
    assert exact and all(j >= 300 for _, j in exact)  # its left edge is in the right half


@needs_weights
def test_block_inputs_are_what_the_block_sees(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))  # feature cache in tmp
    torch.manual_seed(0)
    X = torch.randn(4, 3, 48, 48)
    assert transfer.block_inputs(X, 0) is X
    M = transfer.block_inputs(X, 14)  # (4, 3, 48, 48) -> (4, 96, 3, 3)
    assert M.shape == (4, 96, 3, 3)
    with torch.no_grad():
        torch.testing.assert_close(M, transfer.pretrained_mobilenet_v2().eval().features[:14](X))


# -------------------------------------------------------------- the notebook's new claims, 3 seeds, small


def test_claims_yosinski_over_three_seeds():
    from cnnlab.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD

    A, B, B_test = fashion_tasks(2000, 1000)
    for seed in (0, 1, 2):
        r = transfer.yosinski(A, B, B_test, num_epochs=2, width=8, seed=seed, mean=FASHION_MNIST_MEAN,
                              std=FASHION_MNIST_STD, device=torch.device("cpu"))
        assert len(r["AnB"]) == 4 and r["AnB"][0] == r["AnB+"][0] == r["BnB"][0], seed
        assert r["AnB"][1] > r["AnB"][0] - 0.03, seed  # a frozen first layer from A costs < 3 points
        assert r["AnB"][1] - r["AnB"][3] > 0.05, seed  # freezing all three loses > 0.05 vs only the first
        assert r["AnB+"][3] >= r["AnB"][3], seed  # fine-tuning >= frozen at the deepest n
        assert r["BnB"][3] - r["AnB"][3] > 0.05, seed  # the top layer is specific to A


@needs_weights
def test_claims_small_dissimilar_cell_and_the_recipe_over_three_seeds(tmp_path, monkeypatch):
    from cnnlab.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD

    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))  # feature cache in tmp
    _, (X, y), (X_t, y_t) = fashion_tasks(600, 600)
    X_t, y_t = X_t[:300], y_t[:300]
    body = transfer.mobilenet_body(transfer.pretrained_mobilenet_v2())
    I, I_t = transfer.to_imagenet_input(X, 48), transfer.to_imagenet_input(X_t, 48)
    F, F_t = transfer.extract_features(body, I), transfer.extract_features(body, I_t)
    M, M_t = transfer.block_inputs(I, 14), transfer.block_inputs(I_t, 14)
    kw = dict(num_epochs=10, device=torch.device("cpu"))
    for seed in (0, 1, 2):
        idx = transfer.per_class_subset(y, 10, seed)
        features = transfer.linear_probe(F[idx], y[idx], F_t, y_t, seed=seed, **kw)
        recipe = transfer.finetune_top(M[idx], y[idx], M_t, y_t, first=14, seed=seed, **kw)
        same_lr = transfer.finetune_top(M[idx], y[idx], M_t, y_t, first=14, body_lr_factor=1.0, step_size=10**6,
                                        seed=seed, **kw)
        scratch = transfer.scratch_cnn((X[idx], y[idx]), (X_t, y_t), mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD,
                                       seed=seed, **kw)
        assert min(features, recipe) > scratch + 0.05, seed  # both ImageNet strategies beat scratch
        assert same_lr > recipe, seed  # far from ImageNet the 1/10 recipe under-trains in 10 epochs


@needs_weights
def test_claim_small_similar_cell_fine_tuning_gains_little_over_features(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path))  # feature cache in tmp
    photos = ("brick", "coffee", "chelsea", "coins", "astronaut")
    (X, y), (X_t, y_t) = (transfer.photo_patches(photos, n, region, seed=s)
                          for n, region, s in ((20, "train", 0), (40, "test", 1)))
    body = transfer.mobilenet_body(transfer.pretrained_mobilenet_v2())
    I, I_t = transfer.to_imagenet_input(X, 48), transfer.to_imagenet_input(X_t, 48)
    F, F_t = transfer.extract_features(body, I), transfer.extract_features(body, I_t)
    M, M_t = transfer.block_inputs(I, 14), transfer.block_inputs(I_t, 14)
    for seed in (0, 1, 2):
        idx = transfer.per_class_subset(y, 10, seed)
        features = transfer.linear_probe(F[idx], y[idx], F_t, y_t, num_epochs=10, seed=seed, device=torch.device("cpu"))
        finetune = transfer.finetune_top(M[idx], y[idx], M_t, y_t, first=14, num_epochs=10, seed=seed,
                                         device=torch.device("cpu"))
        assert finetune - features < 0.03, seed
        assert features > 0.5, seed  # 5 photos: chance is 0.2


def test_imagenet_augment_adds_pca_lighting_last_and_leaves_the_other_draws_alone():
    """With lighting on, each image differs from the same seed's output without it by one colour shift per image:
    alpha * lambda in the eigenbasis, drawn after the crop, flip and jitter draws (pca_lighting is the oracle)."""
    from cnnlab.train import pca_lighting, pixel_pca

    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 12, 16, generator=g) * torch.tensor([1.0, 0.8, 0.6])[:, None, None]
    eigvals, eigvecs = pixel_pca(x)
    plain, g_plain = transfer.ImageNetAugment(), torch.Generator().manual_seed(7)
    lit = transfer.ImageNetAugment(lighting=0.1, pca=(eigvals, eigvecs))
    without, with_light = plain(x, g_plain), lit(x, torch.Generator().manual_seed(7))
    shift = pca_lighting(torch.zeros(6, 3, 1, 1), eigvals, eigvecs, 0.1, g_plain)  # the next draws of that seed
    torch.testing.assert_close(with_light, without + shift, rtol=0, atol=1e-6)
    assert float(shift.abs().min()) > 0
    assert lit.pca[0] == tuple(eigvals.tolist())  # kept as plain tuples: the dataclass stays frozen and hashable
    hash(lit)
    with pytest.raises(ValueError, match=r"lighting works on RGB images"):
        lit(torch.rand(2, 1, 8, 8), torch.Generator())
