"""The grading child: runs a submission's code cells, then the probes on the hidden tests' inputs; writes plain data.

Copied into the sandbox's box folder and run there by tools/assignments.py (`python -I child.py`), never imported
by the grader. Everything it needs is taken before the submission's code runs, so patching `json`, `numpy`,
`pickle` or `builtins` from the submission changes only what the submission itself reports. It decides nothing:
the box holds no tests and no expected values, only `job.json` (cells, probes, time limits) and `inputs/*.npz`.

Writes `out/status.json` ({"cells": [errors], "cases": {id: error or null}, "running": "cell 3" or "case ID" or
null}) before and after every cell and case (the grader's watchdog reads "running"), and one
`out/ID.npz` of numbers or text per case that ran. Stdlib and numpy only (torch tensors are converted if present).
"""

import builtins
import json
import os
import signal
import sys
import traceback

import numpy as np

__all__ = ["main"]

_dumps, _open, _replace, _savez, _load = json.dumps, builtins.open, os.replace, np.savez, np.load
_asarray, _signal, _alarm, _exec, _compile = np.asarray, signal.signal, signal.alarm, builtins.exec, builtins.compile
_isinstance, _dict, _str, _repr, _type = builtins.isinstance, builtins.dict, builtins.str, builtins.repr, builtins.type
PLAIN_KINDS = "biufcU"  # bool, ints, floats, complex, text: nothing that needs pickle


class OutOfTime(BaseException):
    """Raised by the alarm; a BaseException so `except Exception` in the submission does not swallow it."""


def _first_line(exc: BaseException) -> str:
    text = f"{_type(exc).__name__}: {exc}".strip().splitlines()
    return (text[0] if text else _type(exc).__name__)[:300]


def _out_of_time(signum, frame):
    raise OutOfTime("ran over its time limit")


def _with_alarm(seconds: int, fn):
    """fn() with a SIGALRM limit; returns (value, None) or (None, first line of the error)."""
    _signal(signal.SIGALRM, _out_of_time)
    _alarm(seconds)
    try:
        return fn(), None
    except OutOfTime:
        return None, f"TimeoutError: ran over its {seconds} s limit"
    except BaseException as e:  # noqa: BLE001 - the submission may raise anything, SystemExit included
        return None, _first_line(e)
    finally:
        _alarm(0)


def _plain(value):
    """A numpy array of numbers or text, or ValueError: torch tensors are detached, objects are refused."""
    if hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "numpy"):
        value = value.detach().cpu().numpy()
    array = _asarray(value)
    if array.dtype.kind not in PLAIN_KINDS:
        raise ValueError(f"returned {_type(value).__name__} (dtype {array.dtype}), not numbers or text")
    return array


_fchdir = os.fchdir
_box = []  # the box's folder descriptor, opened by main(): a submission that changes folder only moves itself


def _home() -> None:
    _fchdir(_box[0])


def _write_status(status) -> None:
    _home()
    with _open("out/status.json.tmp", "w") as f:
        f.write(_dumps(status))
    _replace("out/status.json.tmp", "out/status.json")


def main() -> None:
    """Run job.json from the current folder (the box)."""
    _box.append(os.open(".", os.O_RDONLY))
    with _open("job.json") as f:
        job = json.load(f)
    status = {"cells": [], "cases": {}, "running": None}
    skip_cells, skip_cases = job.get("skip_cells", {}), job.get("skip_cases", {})
    for module in job.get("preload", []):  # what the probes import, loaded before any time limit applies
        try:
            __import__(module)
        except Exception:  # noqa: BLE001 - the probe that needs it will say so
            pass
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    sys.argv = ["submission"]
    for index, source in enumerate(job["cells"]):
        if _str(index) in skip_cells:  # it hung a previous run: the grader stopped it and skips it now
            status["cells"].append(skip_cells[_str(index)])
            continue
        code = "\n".join(line for line in source.splitlines()
                         if not line.lstrip().startswith(("%", "!")))  # IPython magics and shell escapes
        status["running"] = f"cell {index}"
        _write_status(status)
        _, error = _with_alarm(job["cell_timeout"], lambda: _exec(_compile(code, f"<cell {index}>", "exec"),
                                                                   namespace))
        status["cells"].append(error)
        _write_status(status)
    for case in job["cases"]:
        if case["id"] in skip_cases:
            status["cases"][case["id"]] = skip_cases[case["id"]]
            continue
        status["running"] = f"case {case['id']}"
        _write_status(status)

        def run(case=case):
            _home()
            inputs = {}
            if case["inputs"]:
                with _load(case["inputs"], allow_pickle=False) as data:
                    inputs = {key: data[key] for key in data.files}
            scope = {"__name__": "probe", "__builtins__": builtins}
            _exec(_compile(case["probe"], f"<probe {case['id']}>", "exec"), scope)
            result = scope[case["function"]](namespace, inputs)
            if not _isinstance(result, _dict):
                raise TypeError(f"the probe returned {_type(result).__name__}, not a dict")
            arrays = {_str(key): _plain(value) for key, value in result.items()}
            _home()
            _savez(f"out/{case['id']}.npz", **arrays)
        _, error = _with_alarm(job["case_timeout"], run)
        status["cases"][case["id"]] = error
        _write_status(status)
    status["running"] = None
    _write_status(status)


if __name__ == "__main__":
    try:
        main()
    except BaseException:  # noqa: BLE001 - the grader reads the status; this is for the log only
        traceback.print_exc()
        raise
