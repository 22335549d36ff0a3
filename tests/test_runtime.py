"""Device choice, the quick/full profile, and seeding."""

import pytest
import torch

from cnnlab.runtime import Profile, get_device, get_profile, set_seed


def test_profile_follows_the_environment_variable(monkeypatch):
    monkeypatch.setenv("CNNLAB_PROFILE", "full")
    assert get_profile().name == "full"
    monkeypatch.setenv("CNNLAB_PROFILE", " Quick ")
    assert get_profile().is_quick


def test_profile_defaults_to_quick_on_cpu_and_full_on_a_gpu(monkeypatch):
    monkeypatch.delenv("CNNLAB_PROFILE", raising=False)
    assert get_profile(device=torch.device("cpu")).name == "quick"
    assert get_profile(device=torch.device("cuda")).name == "full"


def test_unknown_profile_is_refused_with_the_allowed_names(monkeypatch):
    monkeypatch.setenv("CNNLAB_PROFILE", "fast")
    with pytest.raises(ValueError, match="unknown profile 'fast'; allowed: quick, full"):
        get_profile()


def test_pick():
    assert Profile("full").pick(quick=1, full=10) == 10


def test_device(monkeypatch):
    assert get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("CNNLAB_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        get_device("tpu")


def test_seed_repeats_and_rejects_nonsense():
    set_seed(7)
    a = torch.randn(3)
    set_seed(7)
    assert torch.equal(a, torch.randn(3))
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="non-negative int"):
            set_seed(bad)
