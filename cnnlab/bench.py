"""`python -m cnnlab.bench`: how fast the course's data path and training loop are on this machine.

Three figures, measured side by side in one run:
1. images/s of the cnnlab in-memory data path vs a torchvision `Dataset` + PIL `ToTensor/Normalize` + `DataLoader`;
2. training throughput of `small_cnn` in GFLOP/s as a fraction of this machine's fp32 matmul GFLOP/s;
3. seconds until `small_cnn` reaches 90% Fashion-MNIST test accuracy.
The last line printed is one JSON object, so the figures can be tracked over time.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from cnnlab.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD, load_fashion_mnist
from cnnlab.models import small_cnn
from cnnlab.runtime import get_device, set_seed
from cnnlab.train import CHANNELS_LAST_DEVICES, TensorLoader, evaluate, train_one_epoch
from cnnlab.validation import check_callable, check_device, check_float, check_int, check_tensor

__all__ = ["main"]

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


def train_gflops(X: torch.Tensor, y: torch.Tensor, device: str | torch.device, batch_size: int = 256,
                 steps: int = 30) -> float:
    """GFLOP/s of `small_cnn` training steps (forward + backward + SGD update) through `train_one_epoch`."""
    _check_images(X, y)
    device = check_device("device", device, optional=False)
    batch_size, steps = check_int("batch_size", batch_size, ge=1), check_int("steps", steps, ge=1)
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
    _sync(device)
    start = time.perf_counter()
    train_one_epoch(net, loader, opt, device=device)
    _sync(device)
    return flops_per_step * len(loader) / (time.perf_counter() - start) / 1e9


def seconds_to_accuracy(data, device: str | torch.device, target: float = 0.90, max_epochs: int = 3,
                        batch_size: int = 256) -> tuple[float, float, int]:
    """Train `small_cnn` with a one-cycle schedule over `max_epochs`; wall seconds until test accuracy >= target.

    `data` is ((X, y), (X_test, y_test)), as two calls of load_fashion_mnist give it.
    """
    if not (isinstance(data, (tuple, list)) and len(data) == 2
            and all(isinstance(part, (tuple, list)) and len(part) == 2 for part in data)):
        raise TypeError(f"data must be ((X, y), (X_test, y_test)), got {type(data).__name__}")
    (X, y), (X_test, y_test) = data
    _check_images(X, y)
    _check_images(X_test, y_test, "X_test", "y_test")
    device = check_device("device", device, optional=False)
    target = check_float("target", target, gt=0, le=1)
    max_epochs, batch_size = check_int("max_epochs", max_epochs, ge=1), check_int("batch_size", batch_size, ge=1)
    set_seed(0)
    net = small_cnn().to(device)
    norm = dict(mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD, device=device)
    train = TensorLoader(X, y, batch_size, shuffle=True, **norm)
    test = TensorLoader(X_test, y_test, 1024, **norm)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=max_epochs * len(train))
    start, acc = time.perf_counter(), 0.0
    for epoch in range(1, max_epochs + 1):
        train_one_epoch(net, train, opt, device=device, scheduler=sched)
        _, acc = evaluate(net, test, device=device)
        print(f"  epoch {epoch}: test accuracy {acc:.4f} after {time.perf_counter() - start:.1f} s", flush=True)
        if acc >= target:
            return time.perf_counter() - start, acc, epoch
    return float("nan"), acc, max_epochs


def main(argv: list[str] | None = None) -> dict:
    """Run the three measurements and print them, the last line as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best one here)")
    parser.add_argument("--max-epochs", type=int, default=3, help="epoch budget of the time-to-90%% run")
    if argv is not None and not (isinstance(argv, (list, tuple)) and all(isinstance(a, str) for a in argv)):
        raise TypeError(f"argv must be a list of strings or None, got {argv!r}")
    args = parser.parse_args(argv)
    if args.max_epochs < 1:
        parser.error(f"--max-epochs must be >= 1, got {args.max_epochs}")
    device = get_device(args.device)
    print(f"device: {device}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")

    data = data_path_ratio(*train, device=device)
    print(f"(1) data path: cnnlab {data['cnnlab_images_per_s']:,.0f} images/s, torchvision Dataset+PIL+DataLoader "
          f"{data['torchvision_images_per_s']:,.0f} images/s: {data['data_path_ratio']:.1f}x")
    peak, achieved = matmul_gflops(device), train_gflops(*train, device=device)
    print(f"(2) training: {achieved:.1f} GFLOP/s vs fp32 matmul {peak:.1f} GFLOP/s: {achieved / peak:.2f} of matmul")
    print("(3) time to 90% Fashion-MNIST test accuracy with small_cnn:")
    seconds, acc, epochs = seconds_to_accuracy((train, test), device, max_epochs=args.max_epochs)
    print(f"    {seconds:.1f} s ({epochs} epochs, test accuracy {acc:.4f})")
    result = {"device": str(device), "data_path_ratio": round(data["data_path_ratio"], 2),
              "train_fraction_of_matmul": round(achieved / peak, 3), "seconds_to_90": round(seconds, 1)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
