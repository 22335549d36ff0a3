"""Data-parallel training: the course's training loop on several processes, with DistributedDataParallel.

Each process holds a full copy of the net and trains on its own share of every batch; after `backward`, DDP averages
the gradients over the processes (an all-reduce), so every copy takes the same step. With `world_size` processes and
`batch_size` images each, that is the step one process would take on one batch of `world_size * batch_size` images:
the mean of means over equal shares is the mean. BatchNorm breaks the equality (each process normalises with its own
share's statistics; `torch.nn.SyncBatchNorm` fixes that, on GPUs only).

The same code runs on CPUs (backend gloo: a process per core) and GPUs (backend NCCL: a process per GPU).
Start it with torchrun, which starts the processes and tells each its rank::

    torchrun --nproc-per-node 2 -m cnnlab.parallel --model fast_cnn --steps 20 --batch-size 64 --out run.pt

or from Python (a notebook cannot host the processes itself) with `launch(2, ...)`, which calls torchrun.
Used by notebook 14 (the speedrun) and `tests/test_parallel.py`.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, Iterator

import torch
import torch.distributed as dist
from torch import nn

from cnnlab import models
from cnnlab.data import load_split
from cnnlab.runtime import set_seed
from cnnlab.train import Batch, TensorLoader, train_one_epoch
from cnnlab.validation import check_bool, check_choice, check_float, check_int

__all__ = ["ShardedBatches", "train_data_parallel", "launch", "main"]

MODELS = ("fast_cnn", "small_cnn")


class ShardedBatches:
    """Process `rank`'s share of every batch of `batches`: rows `rank * b/world_size` up to the next share.

    Every process iterates the same global batches (same seed, same order) and keeps its own slice, so the shares of
    one step together are exactly the global batch. Each batch must split evenly (use `drop_last=True`): DDP averages
    the processes' gradients with equal weights, which is the global mean only when the shares are equal.

    >>> X, y = torch.arange(8.0).reshape(8, 1), torch.arange(8)
    >>> [yb.tolist() for _, yb in ShardedBatches([(X, y)], rank=1, world_size=2)]
    [[4, 5, 6, 7]]
    """

    def __init__(self, batches: Iterable[Batch], rank: int, world_size: int) -> None:
        if not isinstance(batches, Iterable):
            raise TypeError(f"batches must be an iterable of (X, y) batches, e.g. a TensorLoader, "
                            f"got {type(batches).__name__}")
        self.world_size = check_int("world_size", world_size, ge=1)
        self.rank = check_int("rank", rank, ge=0, lt=world_size)
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Batch]:
        for i, (X, y) in enumerate(self.batches):
            if len(y) % self.world_size:
                raise ValueError(f"batch {i} has {len(y)} examples, which do not split evenly over {self.world_size} "
                                 f"processes; give the loader a batch size divisible by world_size and drop_last=True")
            share = len(y) // self.world_size
            rows = slice(self.rank * share, (self.rank + 1) * share)
            yield X[rows], y[rows]


class _Double:
    """The same batches with float64 images."""

    def __init__(self, batches: ShardedBatches) -> None:
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[Batch]:
        return ((X.double(), y) for X, y in self.batches)


def _build(name: str, width: int) -> nn.Module:
    return getattr(models, name)(width=width)


def train_data_parallel(*, model: str = "fast_cnn", width: int = 8, n_train: int = 2048, batch_size: int = 64,
                        steps: int = 10, epochs: int = 1, lr: float = 0.05, seed: int = 0,
                        float64: bool = False) -> dict:
    """Train on this process's share; called once in every process that torchrun started (or alone: 1 process).

    Returns rank 0's figures: the trained weights (`state_dict`, on the CPU), the `steps` taken, the `seconds` of
    all steps but the first (`timed_steps` of them: a fresh process spends its first step setting up) and the
    `world_size`. `steps=0` trains whole epochs. `float64=True` trains in double precision: float32's rounding,
    different in 1 and 2 processes, can flip a ReLU at one example and grow from 1e-7 to 1e-4 within a few steps;
    in float64 the same comparison stays near 1e-15.
    """
    check_choice("model", model, MODELS)
    width, n_train = check_int("width", width, ge=1), check_int("n_train", n_train, ge=1)
    batch_size, steps = check_int("batch_size", batch_size, ge=1), check_int("steps", steps, ge=0)
    epochs, seed = check_int("epochs", epochs, ge=1), check_int("seed", seed, ge=0)
    lr = check_float("lr", lr, gt=0)
    check_bool("float64", float64)
    distributed = "RANK" in os.environ  # set by torchrun
    cuda = torch.cuda.is_available()
    if distributed:
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    try:
        split = load_split("fashion-mnist", n_train, 0, 0)
        set_seed(seed)  # the same initial weights in every process (DDP also copies rank 0's at the start)
        net = _build(model, width).to(device, torch.float64 if float64 else torch.float32)
        wrapped = nn.parallel.DistributedDataParallel(net, device_ids=[local_rank] if cuda else None) \
            if distributed else net
        # every process draws the same global batches of world * batch_size and keeps its share
        loader = TensorLoader(split.X_train, split.y_train, batch_size * world, shuffle=True, drop_last=True,
                              device=device, seed=seed, **split.norm)
        mine = ShardedBatches(loader, rank, world)
        if float64:
            mine = _Double(mine)
        opt = torch.optim.SGD(wrapped.parameters(), lr=lr, momentum=0.9)
        if len(mine) == 0:
            raise ValueError(f"n_train={n_train} images make no batch of batch_size * world_size = "
                             f"{batch_size * world}; use more images or a smaller batch")
        start, taken = None, 0
        for _ in range(epochs):
            per_epoch = min(steps, len(mine)) if steps else len(mine)
            batches, untimed = iter(mine), 0
            if start is None:  # the first step is not timed: a fresh process sets up its kernels and buffers in it
                train_one_epoch(wrapped, itertools.islice(batches, 1), opt, device=device)
                if cuda:
                    torch.cuda.synchronize()
                if distributed:
                    dist.barrier()
                start, untimed = time.perf_counter(), 1
            if per_epoch > untimed:
                train_one_epoch(wrapped, itertools.islice(batches, per_epoch - untimed), opt, device=device)
            taken += per_epoch
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        if distributed:
            dist.barrier()  # no process tears its connections down while another still uses them
        return {"state_dict": state, "seconds": seconds, "steps": taken, "timed_steps": taken - 1,
                "world_size": world, "rank": rank, "device": device.type}
    finally:
        if distributed:
            dist.destroy_process_group()


def launch(nproc: int, *, out: str | Path, threads: int | None = None, timeout: float = 600, **settings) -> dict:
    """Run `train_data_parallel(**settings)` in `nproc` processes started by torchrun; return rank 0's result.

    `threads` sets each process's CPU threads (default: the cores shared out, at least 1); `out` is the file rank 0
    writes its result to (read back with `weights_only=True`). On a machine with GPUs, use one process per GPU.
    If torchrun fails, it is started once more (the result's `attempts` says 2): in CI a process once died with
    SIGABRT under heavy load, which did not recur in 28 later runs; a second failure raises with the processes' errors.
    """
    nproc = check_int("nproc", nproc, ge=1)
    if not isinstance(out, (str, Path)):
        raise TypeError(f"out must be a file path (str or pathlib.Path), got {type(out).__name__} {out!r}")
    threads = check_int("threads", threads, ge=1) if threads is not None else max(1, (os.cpu_count() or 1) // nproc)
    timeout = check_float("timeout", timeout, gt=0)
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", "cnnlab.parallel", "--out", str(out)]
    for key, value in settings.items():
        flag = f"--{key.replace('_', '-')}"
        if isinstance(value, bool):  # a flag: present or absent
            args += [flag] if value else []
        else:
            args += [flag, str(value)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    failures = []
    for attempt in (1, 2):  # once more if a process died (seen once in CI under heavy load: SIGABRT in one rank)
        run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
        if run.returncode == 0:
            result = torch.load(out, weights_only=True)
            result["attempts"] = attempt
            return result
        lines = (run.stdout + run.stderr).strip().splitlines()
        errors = [line for line in lines if any(w in line for w in ("Error", "error:", "terminate", "what()"))]
        failures.append("\n".join(errors[-10:] + lines[-15:]))
    raise RuntimeError(f"torchrun with {nproc} processes failed twice (exit {run.returncode}); its messages:\n"
                       + "\n--- second attempt ---\n".join(failures))


def main(argv: list[str] | None = None) -> dict:
    """Entry point for torchrun: parse the settings, train, and let rank 0 save its result to --out."""
    parser = argparse.ArgumentParser(description="data-parallel training of a course CNN (start with torchrun)")
    parser.add_argument("--model", default="fast_cnn", choices=MODELS)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--n-train", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=64, help="per process")
    parser.add_argument("--steps", type=int, default=10, help="per epoch; 0 = the whole epoch")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--float64", action="store_true", help="train in double precision")
    parser.add_argument("--out", required=True, help="file rank 0 writes its result to (torch.save)")
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    result = train_data_parallel(model=args.model, width=args.width, n_train=args.n_train, batch_size=args.batch_size,
                                 steps=args.steps, epochs=args.epochs, lr=args.lr, seed=args.seed,
                                 float64=args.float64)
    if result["rank"] == 0:
        torch.save(result, args.out)
    return result


if __name__ == "__main__":
    main()
