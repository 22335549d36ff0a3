"""The grader's test cases for hw3_layer_backprop (instructors only: never hand this file out).

Every case runs one probe, `probe_layers`, in the student's process: it calls the student's functions on inputs
drawn here (float64, shapes the notebook never shows) and returns the numbers. The checks run in the grader and
compare them with PyTorch: torch.nn.functional for forward passes, autograd for backward passes.

The probe is the "from scratch" rule. While the student's code runs it
* watches every aten operator (a TorchDispatchMode): a convolution, pooling, batch-norm, dropout or Bernoulli
  operator, any `*_backward` operator, or any operator on a tensor that requires grad (an autograd graph being
  built) is a use of what the question asks to write;
* patches the Python entry points (F.conv2d, F.conv_transpose2d, F.max_pool2d, F.batch_norm, F.dropout, autograd's
  grad/backward, torch.func's transforms, forward-mode AD, and cnnlab's own convolution, transposed convolution,
  BatchNorm and autograd helpers) so that they raise.
* looks through the names the student's functions use (and the functions of the submission they call) for one of
  those entry points bound before the patches, e.g. `from torch.func import vjp` in a cell: torch.func works
  below the operator watch, so this is what catches it.
A use is recorded even when the student's code catches the error, and the probe then returns only
`forbidden` (what was used), which the check turns into a failure that names it. The probe must stay
self-contained (only its source reaches the child), so the guard lives inside it and one probe serves every case:
`inputs["task"]` says which functions to call. What it cannot see: a forbidden function reached in a way that
leaves no name in the code (e.g. looked up with getattr on a string built at run time) and that never shows
itself as an operator or a tensor requiring grad.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from tools.assignments import Case

RNG = np.random.default_rng(20261219)  # every input below is drawn from this one generator, in order


def _randn(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)  # float64: continuous values, so no two entries of a window tie


def _t(array) -> torch.Tensor:
    return torch.from_numpy(np.array(array, dtype=np.float64))


# ------------------------------------------------------------------------------------------------------ the probe


def probe_layers(ns, inputs):
    task = str(inputs["task"])
    wanted = {"conv_forward": ["conv2d_forward"], "conv_backward": ["conv2d_backward"],
              "pool_forward": ["maxpool_forward"], "pool_backward": ["maxpool_backward"],
              "bn_forward": ["batchnorm_forward"], "bn_backward": ["batchnorm_backward"],
              "dropout": ["dropout_forward", "dropout_backward"], "conv_transpose": ["conv_transpose2d"]}[task]
    fns = {name: ns[name] for name in wanted}  # first: a missing answer fails at once
    import contextlib
    from unittest import mock

    import torch
    import torch.nn.functional as F
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    import cnnlab.activations
    import cnnlab.conv_arith
    import cnnlab.normalization
    import cnnlab.transposed

    used = []
    ops = ("conv", "pool", "batch_norm", "dropout", "bernoulli", "_backward", "_make_dual")

    def forbid(what):
        def forbidden(*args, **kwargs):
            used.append(what)
            raise AssertionError(f"{what} is not allowed here: write it from scratch")
        return forbidden

    class Guard(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            name = str(func).split(".")[1] if "." in str(func) else str(func)
            if any(op in name for op in ops):
                return forbid(f"a library operator ({name})")()
            if any(isinstance(a, torch.Tensor) and a.requires_grad for a in tree_leaves((args, kwargs))):
                return forbid("autograd (a tensor that requires grad)")()
            return func(*args, **kwargs)

    patches = [(F, n) for n in ("conv2d", "conv_transpose2d", "max_pool2d", "max_pool2d_with_indices",
                                "batch_norm", "dropout")]
    patches += [(torch, n) for n in ("conv2d", "conv_transpose2d", "max_pool2d", "batch_norm", "dropout")]
    patches += [(torch.autograd, "grad"), (torch.autograd, "backward"), (torch.Tensor, "backward"),
                (torch.autograd.forward_ad, "make_dual")]
    patches += [(torch.func, n) for n in ("grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian",
                                          "linearize")]
    patches += [(cnnlab.conv_arith, "conv2d_naive"), (cnnlab.conv_arith, "conv2d_im2col"),
                (cnnlab.transposed, "conv_transpose2d_naive"), (cnnlab.transposed, "conv_transpose2d_zero_insert"),
                (cnnlab.transposed, "conv_as_matrix"), (cnnlab.normalization.BatchNorm, "forward"),
                (cnnlab.activations, "autograd_grad")]

    originals = {id(getattr(owner, attr)): f"{getattr(owner, '__name__', owner)}.{attr}"
                 for owner, attr in patches if hasattr(owner, attr)}

    def saved_references(fn, seen):
        """Forbidden functions the student's code reaches through a name bound before the patches (e.g.
        `from torch.func import vjp` in a cell): the names its code uses, its closure and defaults, recursively
        through the submission's own functions."""
        code = getattr(fn, "__code__", None)
        if code is None or id(fn) in seen:
            return
        seen.add(id(fn))
        names, codes = set(), [code]
        while codes:
            c = codes.pop()
            names |= set(c.co_names)
            codes += [k for k in c.co_consts if hasattr(k, "co_names")]
        values = [fn.__globals__[n] for n in names if n in fn.__globals__]
        values += [cell.cell_contents for cell in fn.__closure__ or () if cell.cell_contents is not None]
        values += list(fn.__defaults__ or ())
        for value in values:
            if id(value) in originals:
                used.append(f"{originals[id(value)]} (through a name saved before the grader switched it off)")
            elif getattr(value, "__globals__", None) is ns:
                saved_references(value, seen)

    for fn in fns.values():
        saved_references(fn, set())

    def call(fn, *args, **kwargs):
        """fn(*args) with the guard on; re-raises the student's own errors, records forbidden uses."""
        with contextlib.ExitStack() as stack:
            for owner, attr in patches:
                if hasattr(owner, attr):
                    where = getattr(owner, "__name__", str(owner))
                    stack.enter_context(mock.patch.object(owner, attr, forbid(f"{where}.{attr}")))
            stack.enter_context(Guard())
            try:
                return fn(*args, **kwargs)
            except Exception:
                if used:
                    return None
                raise

    t = {k: torch.from_numpy(v) for k, v in inputs.items() if v.dtype.kind == "f"}
    configs = sorted({k[len("X"):] for k in inputs if k.startswith("X")} |
                     {k[len("x"):] for k in inputs if k.startswith("x")})
    out = {}
    for i in configs:
        if task == "conv_forward":
            stride, padding = (int(v) for v in inputs[f"sp{i}"])
            out[f"out{i}"] = call(fns["conv2d_forward"], t[f"X{i}"], t[f"W{i}"], t[f"b{i}"], stride, padding)
        elif task == "conv_backward":
            stride, padding = (int(v) for v in inputs[f"sp{i}"])
            grads = call(fns["conv2d_backward"], t[f"dout{i}"], t[f"X{i}"], t[f"W{i}"], stride, padding)
            if not used:
                out[f"dX{i}"], out[f"dW{i}"], out[f"db{i}"] = grads
        elif task == "pool_forward":
            k, s = (int(v) for v in inputs[f"ks{i}"])
            out[f"out{i}"] = call(fns["maxpool_forward"], t[f"X{i}"], k, s)
        elif task == "pool_backward":
            k, s = (int(v) for v in inputs[f"ks{i}"])
            out[f"dX{i}"] = call(fns["maxpool_backward"], t[f"dout{i}"], t[f"X{i}"], k, s)
        elif task == "bn_forward":
            training, momentum = bool(inputs[f"training{i}"]), float(inputs[f"momentum{i}"])
            rm, rv = t[f"rm{i}"].clone(), t[f"rv{i}"].clone()
            batches = t[f"X{i}"]  # (B, ...): B batches in a row, with the same running statistics
            outs = [call(fns["batchnorm_forward"], X, t[f"gamma{i}"], t[f"beta{i}"], rm, rv, training, momentum)
                    for X in batches]
            if not used:
                out[f"out{i}"], out[f"rm{i}"], out[f"rv{i}"] = outs[-1], rm, rv
        elif task == "bn_backward":
            grads = call(fns["batchnorm_backward"], t[f"dout{i}"], t[f"X{i}"], t[f"gamma{i}"])
            if not used:
                out[f"dX{i}"], out[f"dgamma{i}"], out[f"dbeta{i}"] = grads
        elif task == "dropout":
            p, training = float(inputs[f"p{i}"]), bool(inputs[f"training{i}"])
            mask = torch.from_numpy(inputs[f"mask{i}"])
            out[f"out{i}"] = call(fns["dropout_forward"], t[f"x{i}"], p, mask, training)
            out[f"dx{i}"] = call(fns["dropout_backward"], t[f"dout{i}"], p, mask, training)
        elif task == "conv_transpose":
            stride, padding = (int(v) for v in inputs[f"sp{i}"])
            out[f"out{i}"] = call(fns["conv_transpose2d"], t[f"x{i}"], t[f"W{i}"], stride, padding)
        if used:
            return {"forbidden": "; ".join(sorted(set(used)))}
    return out


# ------------------------------------------------------------------------------------------------------ checks


def _no_forbidden(out) -> None:
    assert "forbidden" not in out, f"your code used {out['forbidden']}: this question asks you to write it yourself"


def _close(out, key: str, expected: torch.Tensor, what: str) -> None:
    assert key in out, f"{what}: nothing returned"
    actual, expected = np.asarray(out[key]), expected.detach().numpy()
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    assert actual.dtype.kind in "fiu", f"{what}: not numbers (dtype {actual.dtype})"
    assert np.allclose(actual.astype(np.float64), expected, rtol=1e-7, atol=1e-9), \
        f"{what}: values differ from PyTorch's (largest difference {np.abs(actual - expected).max():.3g})"


def _configs(inputs, prefix: str = "X") -> list[str]:
    return sorted(k[len(prefix):] for k in inputs if k.startswith(prefix))


def _setting(inputs, i: str, kind: str = "conv") -> str:
    if kind == "pool":
        k, s = (int(v) for v in inputs[f"ks{i}"])
        return f"input {'x'.join(map(str, inputs[f'X{i}'].shape[2:]))}, kernel {k}, stride {s}"
    stride, padding = (int(v) for v in inputs[f"sp{i}"])
    key = "X" if f"X{i}" in inputs else "x"
    kh, kw = inputs[f"W{i}"].shape[2:]
    return (f"input {'x'.join(map(str, inputs[f'{key}{i}'].shape[2:]))}, kernel {kh}x{kw}, stride {stride}, "
            f"padding {padding}")


def _conv_grads(inputs, i: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """dX, dW, db of sum(F.conv2d(X, W, b) * dout) by autograd."""
    stride, padding = (int(v) for v in inputs[f"sp{i}"])
    X, W = _t(inputs[f"X{i}"]).requires_grad_(), _t(inputs[f"W{i}"]).requires_grad_()
    b = torch.zeros(W.shape[0], dtype=torch.float64, requires_grad=True)
    (F.conv2d(X, W, b, stride=stride, padding=padding) * _t(inputs[f"dout{i}"])).sum().backward()
    return X.grad, W.grad, b.grad


def check_conv_forward(out, inputs):
    _no_forbidden(out)
    for i in _configs(inputs):
        stride, padding = (int(v) for v in inputs[f"sp{i}"])
        expected = F.conv2d(_t(inputs[f"X{i}"]), _t(inputs[f"W{i}"]), _t(inputs[f"b{i}"]), stride=stride,
                            padding=padding)
        _close(out, f"out{i}", expected, f"conv2d_forward, {_setting(inputs, i)}")


def _check_conv_backward(which: str):
    def check(out, inputs):
        _no_forbidden(out)
        for i in _configs(inputs):
            dX, dW, db = _conv_grads(inputs, i)
            expected = {"dX": dX, "dW": dW, "db": db}
            for name in which.split(","):
                _close(out, f"{name}{i}", expected[name], f"{name} of conv2d_backward, {_setting(inputs, i)}")
    check.__name__ = f"check_conv_backward_{which.replace(',', '_')}"
    return check


def check_pool_forward(out, inputs):
    _no_forbidden(out)
    for i in _configs(inputs):
        k, s = (int(v) for v in inputs[f"ks{i}"])
        _close(out, f"out{i}", F.max_pool2d(_t(inputs[f"X{i}"]), k, s),
               f"maxpool_forward, {_setting(inputs, i, 'pool')}")


def check_pool_backward(out, inputs):
    _no_forbidden(out)
    for i in _configs(inputs):
        k, s = (int(v) for v in inputs[f"ks{i}"])
        X = _t(inputs[f"X{i}"]).requires_grad_()
        (F.max_pool2d(X, k, s) * _t(inputs[f"dout{i}"])).sum().backward()
        hint = " (a value that is the max of several windows gets all their gradients)" if k > s else ""
        _close(out, f"dX{i}", X.grad, f"maxpool_backward, {_setting(inputs, i, 'pool')}{hint}")


def _check_bn_forward(what: str):
    def check(out, inputs):
        _no_forbidden(out)
        for i in _configs(inputs):
            training, momentum = bool(inputs[f"training{i}"]), float(inputs[f"momentum{i}"])
            rm, rv = _t(inputs[f"rm{i}"]), _t(inputs[f"rv{i}"])
            shape = "x".join(map(str, inputs[f"X{i}"].shape[1:]))
            mode = f"{'training' if training else 'eval'} mode, input {shape}"
            for X in _t(inputs[f"X{i}"]):
                y = F.batch_norm(X, rm, rv, _t(inputs[f"gamma{i}"]), _t(inputs[f"beta{i}"]), training=training,
                                 momentum=momentum)
            if "out" in what:
                _close(out, f"out{i}", y, f"batchnorm_forward's output, {mode}")
            if "running" in what:
                after = f" after {inputs[f'X{i}'].shape[0]} batch(es), momentum {momentum:g}"
                _close(out, f"rm{i}", rm, f"running_mean, {mode}{after}")
                _close(out, f"rv{i}", rv, f"running_var, {mode}{after} (the variance stored is unbiased)")
    check.__name__ = f"check_bn_{what.replace(',', '_')}"
    return check


def _check_bn_backward(which: str):
    def check(out, inputs):
        _no_forbidden(out)
        for i in _configs(inputs):
            X, gamma = _t(inputs[f"X{i}"]).requires_grad_(), _t(inputs[f"gamma{i}"]).requires_grad_()
            beta = torch.zeros_like(gamma, requires_grad=True)
            (F.batch_norm(X, None, None, gamma, beta, training=True) * _t(inputs[f"dout{i}"])).sum().backward()
            expected = {"dX": X.grad, "dgamma": gamma.grad, "dbeta": beta.grad}
            shape = "x".join(map(str, X.shape))
            for name in which.split(","):
                _close(out, f"{name}{i}", expected[name], f"{name} of batchnorm_backward, input {shape}")
    check.__name__ = f"check_bn_backward_{which.replace(',', '_')}"
    return check


def check_dropout(out, inputs):
    _no_forbidden(out)
    for i in _configs(inputs, "x"):
        p, training, seed = float(inputs[f"p{i}"]), bool(inputs[f"training{i}"]), int(inputs[f"seed{i}"])
        x = _t(inputs[f"x{i}"]).requires_grad_()
        torch.manual_seed(seed)  # the seed that drew mask{i}: F.dropout draws the same mask again
        y = F.dropout(x, p, training=training)
        (y * _t(inputs[f"dout{i}"])).sum().backward()
        mode = f"p = {p:g}, {'training' if training else 'eval'} mode"
        _close(out, f"out{i}", y, f"dropout_forward, {mode}")
        _close(out, f"dx{i}", x.grad, f"dropout_backward, {mode}")


def check_conv_transpose(out, inputs):
    _no_forbidden(out)
    for i in _configs(inputs, "x"):
        stride, padding = (int(v) for v in inputs[f"sp{i}"])
        expected = F.conv_transpose2d(_t(inputs[f"x{i}"]), _t(inputs[f"W{i}"]), stride=stride, padding=padding)
        _close(out, f"out{i}", expected, f"conv_transpose2d, {_setting(inputs, i)}, "
               f"{inputs[f'W{i}'].shape[0]} -> {inputs[f'W{i}'].shape[1]} channels")


# ------------------------------------------------------------------------------------------------------ inputs


def _conv_grid(settings, task: str, backward: bool = False) -> dict:
    """One config per (N, C_in, H, W, C_out, kH, kW, stride, padding), with dout when the task is a backward."""
    grid = {"task": task}
    for i, (n, c_in, h, w, c_out, kh, kw, stride, padding) in enumerate(settings):
        grid |= {f"X{i}": _randn(n, c_in, h, w), f"W{i}": _randn(c_out, c_in, kh, kw),
                 f"sp{i}": np.array([stride, padding])}
        if backward:
            ho, wo = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
            grid[f"dout{i}"] = _randn(n, c_out, ho, wo)
        else:
            grid[f"b{i}"] = _randn(c_out)
    return grid


def _pool_grid(settings, task: str) -> dict:
    """Random windows hold no ties (checked): which maximum gets the gradient is then never in doubt."""
    grid = {"task": task}
    for i, (n, c, h, w, k, s) in enumerate(settings):
        grid |= {f"X{i}": _randn(n, c, h, w), f"ks{i}": np.array([k, s])}
        windows = torch.from_numpy(grid[f"X{i}"]).unfold(2, k, s).unfold(3, k, s).flatten(-2)
        assert ((windows == windows.max(dim=-1, keepdim=True).values).sum(-1) == 1).all(), "a tie in a window"
        if task == "pool_backward":
            grid[f"dout{i}"] = _randn(n, c, (h - k) // s + 1, (w - k) // s + 1)
    return grid


def _bn_forward(settings) -> dict:
    """settings: (batches, shape of one batch, training, momentum, running stats given?)."""
    grid = {"task": "bn_forward"}
    for i, (batches, shape, training, momentum, given) in enumerate(settings):
        c = shape[1]
        grid |= {f"X{i}": _randn(batches, *shape) * 2.5 + RNG.uniform(-2, 2, (1, 1, c) + (1,) * (len(shape) - 2)),
                 f"gamma{i}": RNG.uniform(0.5, 2.0, c), f"beta{i}": _randn(c),
                 f"rm{i}": _randn(c) if given else np.zeros(c), f"rv{i}": RNG.uniform(0.3, 3.0, c) if given
                 else np.ones(c), f"training{i}": training, f"momentum{i}": momentum}
    return grid


def _bn_backward(shapes) -> dict:
    grid = {"task": "bn_backward"}
    for i, shape in enumerate(shapes):
        grid |= {f"X{i}": _randn(*shape) * 1.7 + 0.4, f"gamma{i}": RNG.uniform(0.5, 2.0, shape[1]),
                 f"dout{i}": _randn(*shape)}
    return grid


def _dropout(settings) -> dict:
    """The mask is F.dropout's own: drawn from a seed here, and drawn again from that seed in the check."""
    grid = {"task": "dropout"}
    for i, (shape, p, training) in enumerate(settings):
        seed = int(RNG.integers(2**31))
        torch.manual_seed(seed)
        mask = F.dropout(torch.ones(shape, dtype=torch.float64), p, training=True) != 0
        grid |= {f"x{i}": _randn(*shape), f"dout{i}": _randn(*shape), f"mask{i}": mask.numpy(), f"p{i}": p,
                 f"training{i}": training, f"seed{i}": seed}
    return grid


def _conv_transpose(settings) -> dict:
    grid = {"task": "conv_transpose"}
    for i, (n, c_in, h, w, c_out, kh, kw, stride, padding) in enumerate(settings):
        grid |= {f"x{i}": _randn(n, c_in, h, w), f"W{i}": _randn(c_in, c_out, kh, kw),
                 f"sp{i}": np.array([stride, padding])}
    return grid


# ------------------------------------------------------------------------------------------------------ the cases

# (N, C_in, H, W, C_out, kH, kW, stride, padding); some strides leave the last rows or columns uncovered
CONV_FORWARD = [(2, 3, 11, 9, 5, 3, 3, 1, 0), (2, 3, 11, 9, 4, 3, 3, 2, 1), (1, 2, 10, 7, 3, 5, 3, 1, 2),
                (3, 2, 12, 13, 2, 2, 4, 3, 1)]
CONV_BACKWARD_X = [(2, 3, 9, 8, 4, 3, 3, 2, 1), (1, 2, 10, 11, 3, 3, 2, 3, 0), (2, 2, 7, 7, 3, 5, 5, 2, 2)]
CONV_BACKWARD_W = [(2, 3, 9, 8, 4, 3, 3, 1, 1), (2, 2, 11, 10, 3, 4, 3, 2, 1), (1, 4, 8, 9, 2, 3, 5, 3, 2)]

CASES = [
    Case("q1", "conv_forward_public", 1, probe_layers, check_conv_forward, hidden=False,
         inputs=_conv_grid([(2, 3, 8, 8, 4, 3, 3, 1, 0)], "conv_forward")),
    Case("q1", "conv_forward_stride_padding", 2, probe_layers, check_conv_forward,
         inputs=_conv_grid(CONV_FORWARD, "conv_forward")),
    Case("q2", "conv_backward_public", 1, probe_layers, _check_conv_backward("dX,dW,db"), hidden=False,
         inputs=_conv_grid([(2, 3, 6, 6, 4, 3, 3, 1, 1)], "conv_backward", backward=True)),
    Case("q2", "conv_backward_dX", 2, probe_layers, _check_conv_backward("dX"),
         inputs=_conv_grid(CONV_BACKWARD_X, "conv_backward", backward=True)),
    Case("q2", "conv_backward_dW", 2, probe_layers, _check_conv_backward("dW"),
         inputs=_conv_grid(CONV_BACKWARD_W, "conv_backward", backward=True)),
    Case("q2", "conv_backward_db", 1, probe_layers, _check_conv_backward("db"),
         inputs=_conv_grid([(3, 2, 7, 6, 5, 3, 3, 2, 1)], "conv_backward", backward=True)),
    Case("q3", "pool_forward_public", 1, probe_layers, check_pool_forward, hidden=False,
         inputs=_pool_grid([(2, 3, 8, 8, 2, 2)], "pool_forward")),
    Case("q3", "pool_forward_shapes", 1, probe_layers, check_pool_forward,
         inputs=_pool_grid([(2, 2, 9, 7, 3, 2), (1, 3, 10, 11, 2, 3), (2, 1, 6, 9, 3, 1)], "pool_forward")),
    Case("q3", "pool_backward", 1, probe_layers, check_pool_backward,
         inputs=_pool_grid([(2, 3, 8, 10, 2, 2), (1, 2, 11, 8, 2, 3)], "pool_backward")),
    Case("q3", "pool_backward_overlapping", 2, probe_layers, check_pool_backward,
         inputs=_pool_grid([(2, 2, 9, 9, 3, 2), (1, 3, 7, 8, 3, 1)], "pool_backward")),
    Case("q4", "bn_train_public", 1, probe_layers, _check_bn_forward("out"), hidden=False,
         inputs=_bn_forward([(1, (8, 3, 5, 5), True, 0.1, False)])),
    Case("q4", "bn_train_2d_and_4d", 1, probe_layers, _check_bn_forward("out"),
         inputs=_bn_forward([(1, (16, 5), True, 0.1, True), (1, (4, 2, 3, 6), True, 0.2, True)])),
    Case("q4", "bn_running_stats", 1, probe_layers, _check_bn_forward("running"),
         inputs=_bn_forward([(3, (6, 4, 3, 2), True, 0.3, True), (2, (10, 3), True, 0.1, False)])),
    Case("q4", "bn_eval", 1, probe_layers, _check_bn_forward("out,running"),
         inputs=_bn_forward([(1, (5, 3, 4, 4), False, 0.1, True), (1, (7, 4), False, 0.1, True)])),
    Case("q4", "bn_backward_dX", 2, probe_layers, _check_bn_backward("dX"),
         inputs=_bn_backward([(6, 3, 4, 5), (9, 4)])),
    Case("q4", "bn_backward_dgamma_dbeta", 1, probe_layers, _check_bn_backward("dgamma,dbeta"),
         inputs=_bn_backward([(5, 2, 3, 3), (12, 6)])),
    Case("q5", "dropout_public", 1, probe_layers, check_dropout, hidden=False,
         inputs=_dropout([((4, 3, 5, 5), 0.5, True)])),
    Case("q5", "dropout_train", 1, probe_layers, check_dropout,
         inputs=_dropout([((6, 2, 4, 3), 0.2, True), ((50, 7), 0.75, True)])),
    Case("q5", "dropout_eval_and_extremes", 1, probe_layers, check_dropout,
         inputs=_dropout([((3, 2, 4, 4), 0.4, False), ((5, 6), 1.0, True), ((4, 4), 0.0, True)])),
    Case("q6", "conv_transpose_public", 1, probe_layers, check_conv_transpose, hidden=False,
         inputs=_conv_transpose([(1, 2, 4, 4, 3, 3, 3, 1, 0)])),
    Case("q6", "conv_transpose_stride_padding", 2, probe_layers, check_conv_transpose,
         inputs=_conv_transpose([(2, 3, 5, 4, 2, 4, 4, 2, 1), (1, 2, 3, 6, 2, 3, 2, 3, 0),
                                 (2, 1, 4, 4, 1, 5, 3, 2, 2)])),
    Case("q6", "conv_transpose_channels", 1, probe_layers, check_conv_transpose,
         inputs=_conv_transpose([(3, 4, 5, 5, 6, 3, 3, 1, 1), (2, 5, 3, 4, 2, 2, 2, 2, 0)])),
]
