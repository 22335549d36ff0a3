"""Where and how big a run is: device choice, the quick/full profile, and seeding."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

PROFILES = ("quick", "full")


def get_device(prefer: str | None = None) -> torch.device:
    """The best device here: CUDA, then Apple MPS, then CPU (or `prefer`, or $CNNLAB_DEVICE, if given)."""
    choice = prefer if prefer is not None else os.environ.get("CNNLAB_DEVICE")
    if choice is not None:
        allowed = ("cpu", "cuda", "mps")
        if choice.split(":")[0] not in allowed:
            raise ValueError(f"unknown device {choice!r}; allowed: {', '.join(allowed)} (e.g. 'cuda:1')")
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@dataclass(frozen=True)
class Profile:
    """How big experiments are: `quick` runs in seconds on a 2-core laptop, `full` is the real size."""

    name: str

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


def get_profile(name: str | None = None, device: torch.device | None = None) -> Profile:
    """The run profile: `name`, else $CNNLAB_PROFILE, else quick on CPU and full on a GPU.

    >>> get_profile("full").name
    'full'
    """
    chosen = name if name is not None else os.environ.get("CNNLAB_PROFILE")
    if chosen is None or chosen == "":
        device = device if device is not None else get_device()
        chosen = "quick" if device.type == "cpu" else "full"
    chosen = chosen.strip().lower()
    if chosen not in PROFILES:
        raise ValueError(f"unknown profile {chosen!r}; allowed: {', '.join(PROFILES)} (set CNNLAB_PROFILE)")
    return Profile(chosen)


def set_seed(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices) so a run repeats; returns a torch.Generator seeded the same.

    >>> g = set_seed(0); a = torch.rand(2); g = set_seed(0); torch.equal(a, torch.rand(2))
    True
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds CUDA and MPS
    return torch.Generator().manual_seed(seed)
