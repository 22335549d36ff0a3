"""cnnlab.parallel: data-parallel training with torchrun and DistributedDataParallel, on 2 CPU processes (gloo).

The key fact (notebook 14): after the same steps, 2 processes with batch B hold the weights 1 process holds with
batch 2B, to rounding (the all-reduce sums the two gradients in another order than one batch's backward does). In
float32 that rounding (~1e-7) can flip a ReLU at one example and grow to ~1e-4 within a few steps (seen at 24 steps),
so the comparison runs in float64, where it stays near 1e-15. Two controls show it can fail: 1 process with batch B
(half the data per step) ends elsewhere, and a net with BatchNorm, whose 2 processes normalise with their own half's
statistics, ends elsewhere too.
"""

from __future__ import annotations

import pytest
import torch

from cnnlab.parallel import ShardedBatches, launch, train_data_parallel
from cnnlab.train import TensorLoader

TOL = 1e-9  # float64 rounding from summing in another order, over a few SGD steps with momentum (seen: ~1e-15)


def max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].is_floating_point())


def test_shards_of_one_step_are_the_global_batch():
    X, y = torch.randn(40, 1, 4, 4), torch.arange(40)
    loader = TensorLoader(X, y, 8, shuffle=True, drop_last=True, device="cpu", seed=3)
    whole = list(loader)
    # every process builds its own loader with the same seed and keeps its share
    parts = [list(ShardedBatches(TensorLoader(X, y, 8, shuffle=True, drop_last=True, device="cpu", seed=3), rank, 4))
             for rank in range(4)]
    assert len(parts[0]) == len(whole) == 5
    for step, (xb, yb) in enumerate(whole):
        assert torch.equal(torch.cat([p[step][1] for p in parts]), yb)
        assert torch.equal(torch.cat([p[step][0] for p in parts]), xb)
        assert all(len(p[step][1]) == 2 for p in parts)


def test_sharded_batches_check_their_arguments():
    batches = [(torch.zeros(6, 1), torch.zeros(6))]
    with pytest.raises(ValueError, match="rank"):
        ShardedBatches(batches, rank=2, world_size=2)
    with pytest.raises(ValueError, match="world_size"):
        ShardedBatches(batches, rank=0, world_size=0)
    with pytest.raises(TypeError, match="batches"):
        ShardedBatches(3, rank=0, world_size=1)
    with pytest.raises(ValueError, match="drop_last=True"):
        list(ShardedBatches(batches, rank=0, world_size=4))


def test_launch_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="nproc"):
        launch(0, out=tmp_path / "r.pt")
    with pytest.raises(TypeError, match="out"):
        launch(1, out=3)
    with pytest.raises(ValueError, match="model"):
        train_data_parallel(model="resnet")
    with pytest.raises(TypeError, match="float64"):
        train_data_parallel(float64=1)


def test_launch_starts_torchrun_once_more_after_a_failure_and_then_gives_up(tmp_path, monkeypatch):
    import subprocess

    from cnnlab import parallel

    calls = []

    def fake_run(args, **kwargs):
        calls.append(args)
        if len(calls) == 2:  # the second start succeeds and writes rank 0's result
            torch.save({"steps": 3}, tmp_path / "r.pt")
            return subprocess.CompletedProcess(args, 0, "", "")
        return subprocess.CompletedProcess(args, 1, "", "RuntimeError: a rank died\nexitcode  : -6 (SIGABRT)")

    monkeypatch.setattr(parallel.subprocess, "run", fake_run)
    result = launch(2, out=tmp_path / "r.pt", steps=3, float64=True)
    assert result == {"steps": 3, "attempts": 2} and len(calls) == 2
    assert "--float64" in calls[0] and calls[0][calls[0].index("--steps") + 1] == "3"
    # when every start fails, it gives up after the second, with the processes' messages
    monkeypatch.setattr(parallel.subprocess, "run", lambda args, **kw: subprocess.CompletedProcess(args, 1, "", "boom"))
    with pytest.raises(RuntimeError, match="failed twice(.|\n)*boom"):
        launch(2, out=tmp_path / "never.pt")


def test_two_processes_with_batch_b_take_the_steps_of_one_with_batch_2b(tmp_path):
    settings = dict(n_train=1024, steps=8, lr=0.05, seed=1, float64=True)
    two = launch(2, out=tmp_path / "two.pt", threads=1, batch_size=32, **settings)
    assert two["world_size"] == 2 and two["steps"] == 8
    one = train_data_parallel(batch_size=64, **settings)  # this process alone, no torchrun
    assert one["world_size"] == 1
    assert max_difference(two["state_dict"], one["state_dict"]) < TOL
    half = train_data_parallel(batch_size=32, **settings)  # control: one process, half the batch
    assert max_difference(two["state_dict"], half["state_dict"]) > 1e-3


def test_batchnorm_breaks_the_equality_on_cpus(tmp_path):
    settings = dict(model="small_cnn", width=4, n_train=512, steps=4, lr=0.05, seed=1, float64=True)
    two = launch(2, out=tmp_path / "two.pt", threads=1, batch_size=32, **settings)
    one = train_data_parallel(batch_size=64, **settings)
    assert max_difference(two["state_dict"], one["state_dict"]) > 1e-3
