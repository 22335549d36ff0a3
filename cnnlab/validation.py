"""Argument checks at the door, shared by every public function of cnnlab.

Each check returns the value (converted where that is lossless: numpy ints to int, a device string to
`torch.device`) or raises `TypeError` (wrong kind of thing) / `ValueError` (right kind, wrong value) with a message
that names the argument, what was given and what is allowed. So a learner who passes `"no"` for a flag, a negative
size or a NaN learning rate reads one clear sentence instead of a traceback from deep inside torch.

>>> check_int("num_epochs", 3, ge=0)
3
>>> check_int("num_epochs", -1, ge=0)
Traceback (most recent call last):
    ...
ValueError: num_epochs must be an int >= 0, got -1
>>> check_bool("shuffle", "no")
Traceback (most recent call last):
    ...
TypeError: shuffle must be True or False (a bool), got str 'no'
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

__all__ = [
    "check_bool",
    "check_int",
    "check_float",
    "check_choice",
    "check_str",
    "check_mapping",
    "check_instance",
    "check_path",
    "check_tensor",
    "check_device",
    "check_module",
    "check_callable",
    "module_device",
]

T = TypeVar("T")


def _shown(value: object) -> str:
    """`value` for an error message: its type and a short repr."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _bounds(ge: float | None, gt: float | None, le: float | None, lt: float | None) -> str:
    """The allowed range in words, e.g. '> 0 and <= 1'."""
    parts = [f"{op} {v}" for op, v in ((">=", ge), (">", gt), ("<=", le), ("<", lt)) if v is not None]
    return " and ".join(parts)


def _in_bounds(v: float, ge: float | None, gt: float | None, le: float | None, lt: float | None) -> bool:
    return ((ge is None or v >= ge) and (gt is None or v > gt) and (le is None or v <= le)
            and (lt is None or v < lt))


def check_bool(name: str, value: object) -> bool:
    """`value` if it is a bool; a TypeError for anything else (a flag is never a truthy string or an int).

    >>> check_bool("shuffle", False)
    False
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False (a bool), got {_shown(value)}")
    return value


def check_int(name: str, value: object, *, ge: int | None = None, gt: int | None = None, le: int | None = None,
              lt: int | None = None) -> int:
    """`value` as an int within the given bounds (numpy integers accepted; bools, floats and strings are not).

    >>> check_int("k", 5, ge=2, le=10)
    5
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {_shown(value)}")
    value = int(value)
    if not _in_bounds(value, ge, gt, le, lt):
        positive = (ge, gt, le, lt) in ((1, None, None, None), (None, 0, None, None))
        allowed = "a positive int" if positive else f"an int {_bounds(ge, gt, le, lt)}"
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return value


def check_float(name: str, value: object, *, ge: float | None = None, gt: float | None = None,
                le: float | None = None, lt: float | None = None, finite: bool = True) -> float:
    """`value` as a float within the given bounds; NaN is always refused, and +-inf too unless `finite=False`.

    Ints are accepted (an `lr` of 1 is fine); bools, strings and tensors are not.

    >>> check_float("lr", 0.1, gt=0)
    0.1
    >>> check_float("lr", float("nan"), gt=0)
    Traceback (most recent call last):
        ...
    ValueError: lr must be a finite number > 0, got nan
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {_shown(value)}")
    value = float(value)
    if math.isnan(value) or (finite and math.isinf(value)) or not _in_bounds(value, ge, gt, le, lt):
        rng = _bounds(ge, gt, le, lt)
        kind = "a finite number" if finite else "a number"
        raise ValueError(f"{name} must be {kind}{' ' + rng if rng else ''}, got {value!r}")
    return value


def check_choice(name: str, value: T, options: Collection[T]) -> T:
    """`value` if it is one of `options`; else a ValueError listing them.

    >>> check_choice("step_scheduler", "batch", ("epoch", "batch"))
    'batch'
    >>> check_choice("step_scheduler", "step", ("epoch", "batch"))
    Traceback (most recent call last):
        ...
    ValueError: step_scheduler must be one of 'epoch', 'batch'; got 'step'
    """
    try:
        ok = value in options
    except TypeError:  # unhashable value looked up in a dict or set
        ok = False
    if not ok or isinstance(value, bool) != any(isinstance(o, bool) for o in options if o == value):
        allowed = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}")
    return value


def check_str(name: str, value: object) -> str:
    """`value` if it is a str.

    >>> check_str("title", 3)
    Traceback (most recent call last):
        ...
    TypeError: title must be a str, got int 3
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {_shown(value)}")
    return value


def check_mapping(name: str, value: object, *, str_keys: bool = False) -> Mapping:
    """`value` if it is a non-empty dict (label -> values); with `str_keys`, every label a str.

    >>> check_mapping("runs", {})
    Traceback (most recent call last):
        ...
    ValueError: runs must not be empty
    """
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict of label -> values, got {_shown(value)}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    if str_keys:
        for label in value:
            if not isinstance(label, str):
                raise TypeError(f"{name} labels must be strings, got {_shown(label)}")
    return value


def check_instance(name: str, value: object, types: type | tuple[type, ...], what: str, *,
                   optional: bool = False) -> object:
    """`value` if it is an instance of `types` (described to the learner as `what`); None passes if `optional`.

    >>> check_instance("ax", "left", int, "a matplotlib Axes", optional=True)
    Traceback (most recent call last):
        ...
    TypeError: ax must be a matplotlib Axes or None, got str 'left'
    """
    if value is None and optional:
        return None
    if not isinstance(value, types):
        raise TypeError(f"{name} must be {what}{' or None' if optional else ''}, got {_shown(value)}")
    return value


def check_path(name: str, value: object, *, optional: bool = False) -> Path | None:
    """`value` as a `pathlib.Path` if it is a non-empty str or os.PathLike (None passes through if `optional`).

    >>> check_path("root", "data")
    PosixPath('data')
    """
    if value is None and optional:
        return None
    if isinstance(value, (str, os.PathLike)) and not isinstance(value, bytes):
        if str(value) == "":
            raise ValueError(f"{name} must be a non-empty path, got ''")
        return Path(value)
    raise TypeError(f"{name} must be a non-empty str or pathlib.Path{' or None' if optional else ''}, got {_shown(value)}")


_DTYPE_KINDS: dict[str, Callable[[torch.dtype], bool]] = {
    "float": lambda d: d.is_floating_point,
    "int": lambda d: not d.is_floating_point and not d.is_complex and d != torch.bool,
    "number": lambda d: not d.is_complex and d != torch.bool,
}


def check_tensor(name: str, x: object, *, ndim: int | Sequence[int] | None = None, dtype: str | None = None,
                 finite: bool = False, nonempty: bool = True) -> torch.Tensor:
    """`x` if it is a tensor of an allowed rank (`ndim`: one int or several) and kind (`dtype`: "float", "int" or
    "number"), not empty (unless `nonempty=False`) and, if `finite`, free of NaN and inf.

    >>> check_tensor("X", torch.zeros(2, 3), ndim=(2, 4)).shape
    torch.Size([2, 3])
    >>> check_tensor("X", torch.zeros(3), ndim=(2, 4))
    Traceback (most recent call last):
        ...
    ValueError: X must have 2 or 4 dimensions, got shape (3,)
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_shown(x)}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            words = " or ".join(str(n) for n in allowed)
            raise ValueError(f"{name} must have {words} dimensions, got shape {tuple(x.shape)}")
    if dtype is not None:
        check_choice("dtype", dtype, tuple(_DTYPE_KINDS))
        if not _DTYPE_KINDS[dtype](x.dtype):
            article = "an" if dtype[0] in "aeiou" else "a"
            raise TypeError(f"{name} must be {article} {dtype} tensor, got dtype {x.dtype}")
    if nonempty and x.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    if finite and x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite, got {int((~torch.isfinite(x)).sum())} NaN or inf values")
    return x


def check_device(name: str, device: object, *, optional: bool = True) -> torch.device | None:
    """A `torch.device` from a string ("cpu", "cuda:0", "mps") or a device; None passes through if `optional`.

    >>> check_device("device", "cpu")
    device(type='cpu')
    """
    if device is None and optional:
        return None
    if isinstance(device, torch.device):
        return device
    if isinstance(device, str):
        try:
            return torch.device(device)
        except RuntimeError:
            pass
        raise ValueError(f"{name} must name a device such as 'cpu', 'cuda', 'cuda:0' or 'mps', got {device!r}")
    raise TypeError(f"{name} must be a str or torch.device{' or None' if optional else ''}, got {_shown(device)}")


def check_module(name: str, net: object, *, has_parameters: bool = False) -> nn.Module:
    """`net` if it is an `nn.Module` (with at least one parameter, if `has_parameters`)."""
    if not isinstance(net, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {_shown(net)}")
    if has_parameters and next(net.parameters(), None) is None:
        raise ValueError(f"{name} has no parameters to train ({type(net).__name__})")
    return net


def check_callable(name: str, fn: object, *, optional: bool = True) -> Callable | None:
    """`fn` if it can be called (None passes through if `optional`)."""
    if fn is None and optional:
        return None
    if not callable(fn):
        raise TypeError(f"{name} must be callable{' or None' if optional else ''}, got {_shown(fn)}")
    return fn


def module_device(net: nn.Module) -> torch.device:
    """Where `net` lives: the device of its first parameter or buffer, the CPU if it has neither.

    >>> module_device(nn.ReLU())
    device(type='cpu')
    """
    for t in net.parameters():
        return t.device
    for t in net.buffers():
        return t.device
    return torch.device("cpu")
