"""`python -m cnnlab.bench`: how fast the course's data path and training loop are on this machine.

Three figures, measured side by side in one run:
1. images/s of the cnnlab in-memory data path vs a torchvision `Dataset` + PIL `ToTensor/Normalize` + `DataLoader`;
2. training throughput of `small_cnn` in GFLOP/s as a fraction of this machine's best fp32 matmul GFLOP/s (best over
   several sizes and timings; a fraction above 1 is printed with what it means);
3. training seconds until 90% and 92% Fashion-MNIST test accuracy, for the course's default recipe and notebook 14's
   speedrun recipe (`cnnlab.speedrun`), from the same run, and their ratio.
The last line printed is one JSON object, so the figures can be tracked over time.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from cnnlab.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD, load_fashion_mnist
from cnnlab.models import small_cnn
from cnnlab.runtime import get_device, set_seed
from cnnlab.speedrun import DEFAULT, SPEEDRUN, run_recipe, seconds_to
from cnnlab.train import CHANNELS_LAST_DEVICES, TensorLoader, evaluate, train_one_epoch
from cnnlab.validation import check_callable, check_device, check_float, check_int, check_tensor

__all__ = ["peak_matmul_gflops", "train_gflops", "main"]

CACHE = Path(__file__).resolve().parents[1] / "data" / "cache"


def _check_images(X: object, y: object, x_name: str = "X", y_name: str = "y") -> None:
    """Fashion-MNIST as load_fashion_mnist gives it: X (N, 1, H, W) uint8 images, y (N,) integer labels."""
    check_tensor(x_name, X, ndim=4)
    if X.dtype != torch.uint8 or X.shape[1] != 1:
        raise ValueError(f"{x_name} must be (N, 1, H, W) uint8 images as load_fashion_mnist gives them, "
                         f"got shape {tuple(X.shape)} and dtype {X.dtype}")
    check_tensor(y_name, y, ndim=1, dtype="int")
    if len(y) != len(X):
        raise ValueError(f"{x_name} and {y_name} must hold as many examples, got {len(X)} images and {len(y)} labels")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def write_idx(tensor: torch.Tensor, path: Path) -> None:
    """Write a uint8 tensor as an IDX file (the format torchvision's MNIST classes read)."""
    check_tensor("tensor", tensor, nonempty=False)
    if tensor.dtype != torch.uint8:
        raise TypeError(f"tensor must be a uint8 tensor, got dtype {tensor.dtype}")
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or pathlib.Path, got {type(path).__name__} {path!r}")
    path = Path(path)
    header = bytes([0, 0, 0x08, tensor.ndim]) + b"".join(d.to_bytes(4, "big") for d in tensor.shape)
    path.write_bytes(header + tensor.contiguous().numpy().tobytes())


def torchvision_fashion_mnist(X: torch.Tensor, y: torch.Tensor, transform):
    """The real `torchvision.datasets.FashionMNIST` class, reading the same images from the layout it expects."""
    from torchvision.datasets import FashionMNIST

    _check_images(X, y)
    check_callable("transform", transform)
    raw = CACHE / "torchvision" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    write_idx(X[:, 0], raw / "train-images-idx3-ubyte")
    write_idx(y.to(torch.uint8), raw / "train-labels-idx1-ubyte")
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):  # torchvision checks that all four exist
        if not (raw / name).exists():
            (raw / name).write_bytes((raw / name.replace("t10k", "train")).read_bytes())
    return FashionMNIST(CACHE / "torchvision", train=True, download=False, transform=transform)


def data_path_ratio(X: torch.Tensor, y: torch.Tensor, device: torch.device, batch_size: int = 256) -> dict:
    """Images/s of one shuffled, normalised pass through both data paths, ending as float batches on `device`."""
    from torchvision import transforms

    _check_images(X, y)
    device = check_device("device", device, optional=False)
    batch_size = check_int("batch_size", batch_size, ge=1)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((FASHION_MNIST_MEAN,), (FASHION_MNIST_STD,))])
    baseline = torch.utils.data.DataLoader(torchvision_fashion_mnist(X, y, tf), batch_size, shuffle=True)
    ours = TensorLoader(X, y, batch_size, shuffle=True, mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD, device=device)
    rates = {}
    for name, loader in (("torchvision", baseline), ("cnnlab", ours)):
        start, n = time.perf_counter(), 0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            n += len(yb)
        _sync(device)
        rates[name] = n / (time.perf_counter() - start)
    return {"cnnlab_images_per_s": rates["cnnlab"], "torchvision_images_per_s": rates["torchvision"],
            "data_path_ratio": rates["cnnlab"] / rates["torchvision"]}


def matmul_gflops(device: str | torch.device, n: int | None = None, repeats: int = 10) -> float:
    """Measured fp32 matrix-product rate of this device: 2 n^3 flops per n x n product (n: 8192 on CUDA, else 2048)."""
    device = check_device("device", device, optional=False)
    n = (8192 if device.type == "cuda" else 2048) if n is None else check_int("n", n, ge=1)
    repeats = check_int("repeats", repeats, ge=1)
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(2):  # warm up
        a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def peak_matmul_gflops(device: str | torch.device, sizes: tuple[int, ...] | None = None, trials: int = 3,
                       repeats: int = 5) -> tuple[float, int]:
    """The best fp32 matmul rate over several sizes and `trials` timings of each: (GFLOP/s, the size that gave it).

    One size timed once is not a peak: small products do not fill the machine, a noisy neighbour slows one timing.
    Sizes default to 512-4096 on a CPU and 2048-16384 on CUDA.
    """
    device = check_device("device", device, optional=False)
    if sizes is None:
        sizes = (2048, 4096, 8192, 16384) if device.type == "cuda" else (512, 1024, 2048, 4096)
    if not isinstance(sizes, (tuple, list)) or not sizes:
        raise TypeError(f"sizes must be a non-empty tuple of matrix sizes, got {sizes!r}")
    sizes = tuple(check_int("sizes[i]", n, ge=1) for n in sizes)
    trials = check_int("trials", trials, ge=1)
    rates = [(matmul_gflops(device, n, repeats), n) for n in sizes for _ in range(trials)]
    return max(rates)


def train_gflops(X: torch.Tensor, y: torch.Tensor, device: str | torch.device, batch_size: int = 256,
                 steps: int = 30, trials: int = 1) -> float:
    """GFLOP/s of `small_cnn` training steps (forward + backward + SGD update) through `train_one_epoch`.

    The best of `trials` timed passes of `steps` steps, as the matmul peak is the best of its timings.
    """
    _check_images(X, y)
    device = check_device("device", device, optional=False)
    batch_size, steps = check_int("batch_size", batch_size, ge=1), check_int("steps", steps, ge=1)
    trials = check_int("trials", trials, ge=1)
    if len(X) < batch_size * steps:
        raise ValueError(f"X must hold at least batch_size * steps = {batch_size} * {steps} = {batch_size * steps} "
                         f"images, got {len(X)}")
    set_seed(0)
    net = small_cnn().to(device)
    if device.type in CHANNELS_LAST_DEVICES:  # as fit() does
        net.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loader = TensorLoader(X[: batch_size * steps], y[: batch_size * steps], batch_size, shuffle=True,
                          mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD, device=device, drop_last=True)
    one = TensorLoader(X[:batch_size], y[:batch_size], batch_size, device=device)
    with FlopCounterMode(display=False) as counter:
        train_one_epoch(net, one, opt, device=device)
    flops_per_step = counter.get_total_flops()
    train_one_epoch(net, loader, opt, device=device)  # warm up (cuDNN autotuning, caches)
    best = float("inf")
    for _ in range(trials):
        _sync(device)
        start = time.perf_counter()
        train_one_epoch(net, loader, opt, device=device)
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return flops_per_step * len(loader) / best / 1e9


def _fmt(seconds: float) -> str:
    return "not reached" if math.isnan(seconds) else f"{seconds:.1f} s"


def _seconds(s: float) -> float | None:
    """For the JSON line: seconds to one decimal, or null when the accuracy was not reached (JSON has no NaN)."""
    return None if math.isnan(s) else round(s, 1)


def main(argv: list[str] | None = None) -> dict:
    """Run the measurements and print them, the last line as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best one here)")
    parser.add_argument("--max-epochs", type=int, default=4, help="epoch budget of the default recipe's run")
    parser.add_argument("--seed", type=int, default=0, help="seed of both time-to-accuracy runs")
    if argv is not None and not (isinstance(argv, (list, tuple)) and all(isinstance(a, str) for a in argv)):
        raise TypeError(f"argv must be a list of strings or None, got {argv!r}")
    args = parser.parse_args(argv)
    if args.max_epochs < 1:
        parser.error(f"--max-epochs must be >= 1, got {args.max_epochs}")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    device = get_device(args.device)
    print(f"device: {device}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")

    data = data_path_ratio(*train, device=device)
    print(f"(1) data path: cnnlab {data['cnnlab_images_per_s']:,.0f} images/s, torchvision Dataset+PIL+DataLoader "
          f"{data['torchvision_images_per_s']:,.0f} images/s: {data['data_path_ratio']:.1f}x")
    (peak, size), achieved = peak_matmul_gflops(device), train_gflops(*train, device=device, trials=3)
    fraction = achieved / peak
    print(f"(2) training small_cnn: {achieved:.1f} GFLOP/s (best of 3 timings) vs fp32 matmul {peak:.1f} GFLOP/s "
          f"(the best over several sizes and 3 timings each, at {size}x{size}): {fraction:.2f} of matmul")
    if fraction > 1:
        print("    above 1: the training FLOPs are counted as direct convolution does them, and a library may use a "
              "faster algorithm (Winograd's for 3x3 convolutions); or the best matmul measured missed the peak "
              "(another library path, clocks, a busy neighbour). Read both as rates, not as a fraction of a peak")
    print("(3) training time to 90% and 92% Fashion-MNIST test accuracy (60,000 training images; the clock stops "
          "while the 10,000 test images are evaluated after each epoch):")
    norm = dict(mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD)
    runs = {}
    for name, recipe in (("default", replace(DEFAULT, epochs=args.max_epochs)), ("speedrun", SPEEDRUN)):
        out = run_recipe(recipe, train, test, seed=args.seed, device=device, progress=True, **norm)
        runs[name] = {t: seconds_to(t, out["seconds"], out["accuracy"]) for t in (0.90, 0.92)}
        epochs = ", ".join(f"{a:.4f} at {s:.1f} s" for a, s in zip(out["accuracy"], out["seconds"]))
        print(f"    {name} ({recipe}): {epochs}")
    for t in (0.90, 0.92):
        d, s = runs["default"][t], runs["speedrun"][t]
        if math.isnan(d) or math.isnan(s):
            print(f"    to {t:.0%}: default {_fmt(d)}, speedrun {_fmt(s)} (no ratio: not both reached it)")
        else:
            print(f"    to {t:.0%}: default {_fmt(d)}, speedrun {_fmt(s)}: the speedrun {d / s:.1f}x faster")
    result = {"device": str(device), "data_path_ratio": round(data["data_path_ratio"], 2),
              "train_fraction_of_matmul": round(fraction, 3),
              "seconds_to_90": {k: _seconds(v[0.90]) for k, v in runs.items()},
              "seconds_to_92": {k: _seconds(v[0.92]) for k, v in runs.items()}}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
