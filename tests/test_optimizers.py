"""Hand-written update rules equal torch.optim step for step; 2-D surfaces and paths behave as the notebook says."""

import math

import pytest
import torch

from cnnlab.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD, load_fashion_mnist
from cnnlab.models import fast_cnn
from cnnlab.optimizers import (
    OPTIMIZERS,
    SURFACES,
    adadelta_step,
    adagrad_step,
    adam_step,
    adamax_step,
    adamw_step,
    make_optimizer,
    nadam_step,
    path,
    rmsprop_step,
    rosenbrock,
    sgd_step,
    track_update_sizes,
)
from cnnlab.train import fit

SHAPES = [(3,), (4, 5), (2, 3, 3)]
SEEDS = [0, 1, 2]


def _compare(ours, theirs_cls, shape, num_steps=6, seed=0, torch_hp=None, **hp):
    """Run our rule and torch's optimiser on the same gradients (of a random quadratic) and compare each step.

    `torch_hp` holds torch's spelling of an option where ours differs (decoupled -> decoupled_weight_decay)."""
    g = torch.Generator().manual_seed(seed)
    A = torch.rand(shape, generator=g, dtype=torch.float64) * 10 ** (seed - 1) + 0.5  # gradient scales 0.1 .. 10
    x_ours = torch.randn(shape, generator=g, dtype=torch.float64)
    x_torch = x_ours.clone().requires_grad_(True)
    opt = theirs_cls([x_torch], **(torch_hp if torch_hp is not None else hp))
    state: dict = {}
    for _ in range(num_steps):
        grad = A * x_ours + 0.1  # gradient of sum(A x^2 / 2 + 0.1 x)
        x_ours = ours(x_ours, grad, state, **hp)
        opt.zero_grad()
        (0.5 * A * x_torch**2 + 0.1 * x_torch).sum().backward()
        opt.step()
        torch.testing.assert_close(x_ours, x_torch.detach())


@pytest.fixture
def float64_scalars():
    """torch.optim keeps some scalars (NAdam's mu_product) in the default dtype: float64 makes them exact."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("lr", [0.01, 0.3])
def test_sgd_and_momentum_equal_torch(shape, momentum, lr):
    _compare(sgd_step, torch.optim.SGD, shape, lr=lr, momentum=momentum)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("alpha", [0.9, 0.99])
def test_rmsprop_equals_torch(shape, alpha):
    _compare(rmsprop_step, torch.optim.RMSprop, shape, lr=0.01, alpha=alpha, eps=1e-8)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.9)])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_equals_torch(shape, betas, weight_decay):
    _compare(adam_step, torch.optim.Adam, shape, lr=0.05, betas=betas, weight_decay=weight_decay)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("weight_decay", [0.01, 0.5])
def test_adamw_equals_torch(shape, weight_decay):
    _compare(adamw_step, torch.optim.AdamW, shape, lr=0.05, weight_decay=weight_decay)


ADAGRAD = [dict(lr=0.1), dict(lr=0.5, lr_decay=0.1), dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5),
           dict(lr=0.3, eps=1e-3)]
ADADELTA = [dict(lr=1.0), dict(lr=0.5, rho=0.5, eps=1e-3), dict(lr=1.0, rho=0.99, weight_decay=0.1)]
ADAMAX = [dict(lr=2e-3), dict(lr=0.05, betas=(0.5, 0.9), eps=1e-3), dict(lr=0.05, weight_decay=0.1)]
NADAM = [dict(lr=2e-3), dict(lr=0.05, betas=(0.5, 0.9), momentum_decay=0.05), dict(lr=0.05, weight_decay=0.1),
         dict(lr=0.05, eps=1e-3, weight_decay=0.1, decoupled=True)]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("hp", ADAGRAD, ids=str)
def test_adagrad_equals_torch(shape, seed, hp):
    _compare(adagrad_step, torch.optim.Adagrad, shape, num_steps=10, seed=seed, **hp)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("hp", ADADELTA, ids=str)
def test_adadelta_equals_torch(shape, seed, hp):
    _compare(adadelta_step, torch.optim.Adadelta, shape, num_steps=10, seed=seed, **hp)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("hp", ADAMAX, ids=str)
def test_adamax_equals_torch(shape, seed, hp):
    _compare(adamax_step, torch.optim.Adamax, shape, num_steps=10, seed=seed, **hp)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("hp", NADAM, ids=str)
def test_nadam_equals_torch(shape, seed, hp, float64_scalars):
    torch_hp = {("decoupled_weight_decay" if k == "decoupled" else k): v for k, v in hp.items()}
    _compare(nadam_step, torch.optim.NAdam, shape, num_steps=10, seed=seed, torch_hp=torch_hp, **hp)


def test_adagrad_steps_shrink_as_one_over_sqrt_t_under_a_constant_gradient():
    """The lecture's point, from the formula: G = t g^2 after t steps, so step t is lr / sqrt(t) whatever g is."""
    for g in (1e-3, 1.0, 50.0):
        w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adagrad([w], lr=0.1, eps=0.0)
        x, state, steps_ours, steps_torch = torch.zeros(1, dtype=torch.float64), {}, [], []
        for _ in range(20):
            before = w.item()
            w.grad = torch.full((1,), g, dtype=torch.float64)
            opt.step()
            steps_torch.append(before - w.item())
            new = adagrad_step(x, torch.full((1,), g, dtype=torch.float64), state, lr=0.1, eps=0.0)
            steps_ours.append((x - new).item())
            x = new
        want = [0.1 / math.sqrt(t) for t in range(1, 21)]
        assert steps_torch == pytest.approx(want, rel=1e-12) and steps_ours == pytest.approx(want, rel=1e-12)


def test_track_update_sizes_measures_each_step_like_a_diff_of_the_weights():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    sizes = track_update_sizes(opt)
    for _ in range(3):
        before = torch.cat([p.detach().flatten().clone() for p in net.parameters()])
        opt.zero_grad()
        net(torch.randn(5, 3)).pow(2).sum().backward()
        opt.step()
        after = torch.cat([p.detach().flatten() for p in net.parameters()])
        assert sizes[-1] == pytest.approx((after - before).abs().mean().item(), rel=1e-5)
    assert len(sizes) == 3
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer, got Sequential"):
        track_update_sizes(net)


def _epoch_update_sizes(name, hp, seed, data, num_epochs, batch_size):
    """The notebook's experiment: a fresh fast_cnn trained by `fit`, its mean |update| averaged per epoch."""
    torch.manual_seed(seed)
    net = fast_cnn()
    opt = OPTIMIZERS[name](net.parameters(), **hp)
    sizes = track_update_sizes(opt)
    fit(net, data, num_epochs=num_epochs, optimizer=opt, batch_size=batch_size, mean=FASHION_MNIST_MEAN,
        std=FASHION_MNIST_STD, seed=seed, progress=False)
    steps = math.ceil(len(data[0]) / batch_size)
    assert len(sizes) == num_epochs * steps  # one record per optimizer step
    return [sum(sizes[e * steps:(e + 1) * steps]) / steps for e in range(num_epochs)]


@pytest.mark.parametrize("seed", SEEDS)
def test_adagrad_steps_shrink_more_than_rmsprops_on_a_cnn(seed):
    """Notebook 08's claim at a smaller size (512 images, 3 epochs): from the first epoch to the last, Adagrad's mean
    |update| shrinks by a larger factor than RMSprop's (alpha 0.9, which forgets), in each seed. A paired comparison,
    no threshold: Adagrad's sum of squared gradients keeps the large early gradients, RMSprop's average drops them."""
    data = load_fashion_mnist("train", subset=512)
    ada = _epoch_update_sizes("Adagrad", dict(lr=0.01), seed, data, 3, 64)
    rms = _epoch_update_sizes("RMSprop", dict(lr=1e-3, alpha=0.9), seed, data, 3, 64)
    assert ada[-1] / ada[0] < rms[-1] / rms[0]


def test_adamw_differs_from_adam_with_l2():
    x, g = torch.tensor([5.0]), torch.tensor([0.0])
    l2 = adam_step(x, g, {}, lr=0.1, weight_decay=0.5)
    assert not torch.equal(l2, adamw_step(x, g, {}, lr=0.1, weight_decay=0.5))


def test_paths():
    p = path(SURFACES["ill-conditioned"], (-4.0, 1.0), "SGD", lr=0.03, num_steps=50, momentum=0.9)
    assert p.shape == (51, 2) and p[-1].norm() < p[0].norm()
    adam = path(rosenbrock, (-1.5, 2.0), "Adam", lr=0.05, num_steps=500)
    assert rosenbrock(adam[-1]) < rosenbrock(adam[0])
    # on the saddle, starting exactly on the ridge y = 0, gradient descent never leaves it; a tiny nudge escapes
    stuck = path(SURFACES["saddle"], (1.0, 0.0), "SGD", lr=0.1, num_steps=100)
    escaped = path(SURFACES["saddle"], (1.0, 1e-3), "SGD", lr=0.1, num_steps=100)
    assert stuck[-1, 1] == 0 and abs(escaped[-1, 1]) > 1.0


def _end(surface, start, optimizer, lr, num_steps, **hp):
    return surface(path(surface, start, optimizer, lr, num_steps, **hp)[-1]).item()


def test_notebook_path_claims():
    q = SURFACES["ill-conditioned"]
    assert _end(q, (-4.0, 1.0), "SGD", 0.085, 40) > 10  # lr above 2 / curvature 25 diverges
    ends = {
        "SGD": _end(q, (-4.0, 1.0), "SGD", 0.07, 40),
        "momentum": _end(q, (-4.0, 1.0), "SGD", 0.02, 40, momentum=0.9),
        "RMSprop": _end(q, (-4.0, 1.0), "RMSprop", 0.1, 40),
        "Adam": _end(q, (-4.0, 1.0), "Adam", 0.3, 40),
    }
    assert min(ends, key=ends.get) == "RMSprop"
    momentum = _end(rosenbrock, (-1.5, 2.0), "SGD", 1e-3, 500, momentum=0.9)
    assert momentum * 100 < _end(rosenbrock, (-1.5, 2.0), "SGD", 1e-3, 500)
    s = SURFACES["saddle"]
    assert _end(s, (1.5, 1e-3), "SGD", 0.05, 60) > -0.5
    assert max(_end(s, (1.5, 1e-3), "SGD", 0.05, 60, momentum=0.9), _end(s, (1.5, 1e-3), "RMSprop", 0.05, 60),
               _end(s, (1.5, 1e-3), "Adam", 0.05, 60)) < -0.9


BAD = [({"optimizer": "Lion"}, "optimizer must be one of 'SGD'"), ({"lr": -1.0}, "lr"), ({"num_steps": 0}, "num_steps")]


@pytest.mark.parametrize("kwargs,match", BAD)
def test_path_bad_arguments(kwargs, match):
    args = {"surface": rosenbrock, "start": (0.0, 0.0), "optimizer": "SGD", "lr": 0.01, "num_steps": 5} | kwargs
    with pytest.raises(ValueError, match=match):
        path(**args)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_make_optimizer_passes_weight_decay_as_given(name):
    """weight_decay=0 stays 0 for AdamW too (it used to become 0.01 silently); torch.optim is the oracle."""
    p = [torch.zeros(2, requires_grad=True)]
    for wd in (0.0, 0.05):
        opt = make_optimizer(p, name, lr=0.1, weight_decay=wd)
        assert type(opt) is OPTIMIZERS[name] and opt.param_groups[0]["weight_decay"] == wd
    assert make_optimizer(p, "SGD", 0.1, momentum=0.5).param_groups[0]["momentum"] == 0.5


@pytest.mark.parametrize("kw, err", [(dict(name="Lion"), ValueError), (dict(lr=float("nan")), ValueError),
                                     (dict(lr="0.1"), TypeError), (dict(weight_decay=-1.0), ValueError)])
def test_make_optimizer_checks_its_arguments(kw, err):
    args = dict(params=[torch.zeros(2, requires_grad=True)], name="SGD", lr=0.1) | kw
    with pytest.raises(err, match=next(iter(kw))):
        make_optimizer(**args)


@pytest.mark.parametrize(
    "rule, kwargs, error, match",
    [
        (sgd_step, dict(lr=float("nan")), ValueError, "lr must be a finite number > 0, got nan"),
        (sgd_step, dict(lr=None), TypeError, "lr must be a number"),
        (sgd_step, dict(momentum=1.0), ValueError, r"momentum must be a finite number >= 0 and < 1"),
        (sgd_step, dict(x=torch.zeros(2, 2)), ValueError, r"x and grad must have the same shape, got x \(2, 2\)"),
        (sgd_step, dict(x=[0.0, 0.0]), TypeError, "x must be a torch.Tensor"),
        (sgd_step, dict(grad=torch.ones(2, dtype=torch.long)), TypeError, "grad must be a float tensor"),
        (sgd_step, dict(state=None), TypeError, "state must be a dict"),
        (rmsprop_step, dict(alpha=1.5), ValueError, "alpha must be"),
        (rmsprop_step, dict(eps=-1e-8), ValueError, "eps must be"),
        (adam_step, dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\] must be a finite number >= 0 and < 1"),
        (adam_step, dict(betas=0.9), TypeError, "betas must be a pair"),
        (adam_step, dict(weight_decay=-0.1), ValueError, "weight_decay must be"),
        (adam_step, dict(decoupled="yes"), TypeError, "decoupled must be True or False"),
        (adamw_step, dict(lr=0), ValueError, "lr must be"),
        (adagrad_step, dict(lr_decay=-0.1), ValueError, "lr_decay must be a finite number >= 0"),
        (adagrad_step, dict(initial_accumulator_value=-1.0), ValueError, "initial_accumulator_value must be"),
        (adagrad_step, dict(eps="1e-10"), TypeError, "eps must be a number"),
        (adadelta_step, dict(rho=1.5), ValueError, "rho must be a finite number >= 0 and <= 1"),
        (adadelta_step, dict(weight_decay=-0.1), ValueError, "weight_decay must be"),
        (adamax_step, dict(betas=(1.0, 0.9)), ValueError, r"betas\[0\] must be"),
        (adamax_step, dict(eps=-1.0), ValueError, "eps must be"),
        (nadam_step, dict(momentum_decay=-1e-3), ValueError, "momentum_decay must be"),
        (nadam_step, dict(decoupled=1), TypeError, "decoupled must be True or False"),
        (nadam_step, dict(grad=torch.ones(3)), ValueError, "x and grad must have the same shape"),
    ],
)
def test_update_rules_check_their_arguments(rule, kwargs, error, match):
    args = dict(x=torch.zeros(2), grad=torch.ones(2), state={}, lr=0.1) | kwargs
    with pytest.raises(error, match=match):
        rule(**args)


def test_nan_in_the_gradient_passes_through_like_torch_optim():
    """Only the arguments are checked: a NaN gradient gives a NaN step, as torch.optim.SGD does."""
    assert sgd_step(torch.zeros(2), torch.tensor([float("nan"), 1.0]), {}, lr=0.1).isnan().tolist() == [True, False]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(start=None), TypeError, "start must be a point"),
    (dict(start=(1.0,)), ValueError, "start must be a point"),
    (dict(start=(float("nan"), 0.0)), ValueError, r"start\[0\] must be a finite number"),
    (dict(surface=0), TypeError, "surface must be callable"),
])
def test_path_checks_start_and_surface(kwargs, error, match):
    args = {"surface": rosenbrock, "start": (0.0, 0.0), "optimizer": "SGD", "lr": 0.01, "num_steps": 5} | kwargs
    with pytest.raises(error, match=match):
        path(**args)


def test_make_optimizer_wants_the_parameters_not_the_net():
    net = torch.nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"params must be an iterable of tensors such as net.parameters\(\), got Lin"):
        make_optimizer(net, "SGD", 0.1)
