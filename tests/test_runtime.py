"""Device choice, the quick/full profile, and seeding."""

import warnings

import pytest
import torch

from cnnlab.runtime import FullProfileOnCPUWarning, Profile, get_device, get_profile, set_seed


def test_profile_follows_the_environment_variable(monkeypatch):
    monkeypatch.setenv("CNNLAB_PROFILE", "full")
    assert get_profile(device="cuda").name == "full"
    monkeypatch.setenv("CNNLAB_PROFILE", " Quick ")
    assert get_profile().is_quick


def test_the_full_profile_on_a_cpu_warns_and_says_how_to_go_back(monkeypatch):
    monkeypatch.setenv("CNNLAB_PROFILE", "full")
    monkeypatch.setenv("CNNLAB_DEVICE", "cpu")
    with pytest.warns(FullProfileOnCPUWarning, match="full profile on a CPU.*Unset CNNLAB_PROFILE"):
        assert get_profile().name == "full"
    with pytest.warns(FullProfileOnCPUWarning):
        get_profile("full", device="cpu")
    monkeypatch.delenv("CNNLAB_PROFILE")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning where the profile fits the device
        get_profile("full", device="cuda"), get_profile("quick", device="cpu"), get_profile(device="cpu")


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
    assert get_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match="prefer: unknown device 'tpu'"):
        get_device("tpu")
    with pytest.raises(ValueError, match="prefer must name a device such as 'cpu'.*got 'cuda:x'"):
        get_device("cuda:x")
    with pytest.raises(TypeError, match="prefer must be a str or torch.device or None, got int 0"):
        get_device(0)
    monkeypatch.setenv("CNNLAB_DEVICE", "gpu")
    with pytest.raises(ValueError, match=r"\$CNNLAB_DEVICE: unknown device 'gpu'"):
        get_device()


def test_profile_arguments_are_checked():
    assert get_profile(device="cpu").name in ("quick", "full")  # a device may be a string
    with pytest.raises(TypeError, match="name must be a str .* got int 1"):
        get_profile(1)
    with pytest.raises(TypeError, match="device must be a str or torch.device or None, got int 0"):
        get_profile(device=0)
    with pytest.raises(ValueError, match="name must be one of 'quick', 'full'; got 'fast'"):
        Profile("fast")


def test_seed_repeats_and_rejects_nonsense():
    set_seed(7)
    a = torch.randn(3)
    set_seed(7)
    assert torch.equal(a, torch.randn(3))
    for bad, error in ((-1, ValueError), (2**64, ValueError), (1.5, TypeError), (True, TypeError), ("0", TypeError)):
        with pytest.raises(error, match="seed must be an int"):
            set_seed(bad)
