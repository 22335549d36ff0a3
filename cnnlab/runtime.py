"""Where and how big a run is: device choice, the quick/full profile, and seeding."""

from __future__ import annotations

import os
import random
import warnings
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from cnnlab.validation import check_choice, check_device, check_int

__all__ = ["Profile", "get_device", "get_profile", "set_seed", "FullProfileOnCPUWarning"]

T = TypeVar("T")

PROFILES = ("quick", "full")
DEVICE_TYPES = ("cpu", "cuda", "mps")


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """The best device here: CUDA, then Apple MPS, then CPU (or `prefer`, or $CNNLAB_DEVICE, if given).

    >>> get_device("cpu"), get_device(torch.device("cpu"))
    (device(type='cpu'), device(type='cpu'))
    >>> get_device("tpu")
    Traceback (most recent call last):
        ...
    ValueError: prefer: unknown device 'tpu'; allowed: cpu, cuda, mps (e.g. 'cuda:1')
    """
    name, choice = "prefer", prefer
    if choice is None and os.environ.get("CNNLAB_DEVICE"):
        name, choice = "$CNNLAB_DEVICE", os.environ["CNNLAB_DEVICE"]
    if choice is not None:
        if isinstance(choice, str) and choice.split(":")[0] not in DEVICE_TYPES:
            raise ValueError(f"{name}: unknown device {choice!r}; allowed: {', '.join(DEVICE_TYPES)} (e.g. 'cuda:1')")
        device = check_device(name, choice)
        if device.type not in DEVICE_TYPES:
            raise ValueError(f"{name}: unknown device {str(device)!r}; allowed: {', '.join(DEVICE_TYPES)}")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@dataclass(frozen=True)
class Profile:
    """How big experiments are: `quick` runs in seconds on a 2-core laptop, `full` is the real size."""

    name: str

    def __post_init__(self) -> None:
        check_choice("name", self.name, PROFILES)

    def pick(self, quick: T, full: T) -> T:
        """The value for this profile, e.g. ``num_epochs = PROFILE.pick(quick=2, full=20)``.

        >>> Profile("quick").pick(quick=2, full=20)
        2
        """
        return quick if self.name == "quick" else full

    @property
    def is_quick(self) -> bool:
        """True in the quick profile."""
        return self.name == "quick"


class FullProfileOnCPUWarning(UserWarning):
    """The full profile was chosen where the runs will happen on a CPU: each notebook will take far longer."""


def get_profile(name: str | None = None, device: str | torch.device | None = None) -> Profile:
    """The run profile: `name`, else $CNNLAB_PROFILE, else quick on CPU and full on a GPU.

    Choosing `full` for a CPU (the `device` given, else the one `get_device` picks) warns once with
    `FullProfileOnCPUWarning`: the full profile trains on whole datasets for many epochs, sized for a GPU.

    >>> get_profile("full", device="cuda").name
    'full'
    """
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str ({' or '.join(map(repr, PROFILES))}) or None, "
                        f"got {type(name).__name__} {name!r}")
    device = check_device("device", device)
    chosen = name if name is not None else os.environ.get("CNNLAB_PROFILE")
    if chosen is None or chosen == "":
        device = device if device is not None else get_device()
        chosen = "quick" if device.type == "cpu" else "full"
    chosen = chosen.strip().lower()
    if chosen not in PROFILES:
        raise ValueError(f"unknown profile {chosen!r}; allowed: {', '.join(PROFILES)} (set CNNLAB_PROFILE)")
    if chosen == "full" and (device if device is not None else get_device()).type == "cpu":
        warnings.warn("the full profile on a CPU: every experiment runs at the size meant for a GPU (whole datasets, "
                      "more epochs); measured on a 2-core CPU, notebook 06 took 61 s instead of 21 s, and notebook 09 "
                      "had not finished after 6 minutes (about 1.5 in the quick profile). "
                      "Unset CNNLAB_PROFILE (or set it to quick) unless that is what you want.",
                      FullProfileOnCPUWarning, stacklevel=2)
    return Profile(chosen)


def set_seed(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices) so a run repeats; returns a torch.Generator seeded the same.

    >>> g = set_seed(0); a = torch.rand(2); g = set_seed(0); torch.equal(a, torch.rand(2))
    True
    """
    seed = check_int("seed", seed, ge=0, lt=2**64)  # torch.manual_seed takes at most 64 bits
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds CUDA and MPS
    return torch.Generator().manual_seed(seed)
