"""Optimizers: L-BFGS and gradient descent on the exact objective, Adam and SGD on minibatches.

Each solver drives a ``Problem`` and knows nothing of the model or of files:

- ``problem.full(theta) -> (cost, grad)``: the exact objective over all training rows;
- ``problem.batch(theta, rows, rho_estimate) -> (cost, grad)``: the objective on the rows at
  positions ``rows``, with ``rho_hat`` taken from ``rho_estimate(mean activity of the batch)``;
- ``problem.n_samples``.

A solver reports through ``Hooks``: ``report(iteration, cost, theta, snapshot)`` after every
iteration (an epoch for the minibatch solvers) may return True to stop (early stopping), and
``interrupted()`` is polled after every step so that Ctrl-C stops within one step. ``snapshot()``
returns the solver's whole state as plain arrays and numbers; passing it back as ``state``
continues the run: for every solver the continued run is bit-for-bit the uninterrupted one
(L-BFGS saves its curvature pairs with the parameters).

Minibatch solvers and ``rho_hat``: the exact objective penalises ``rho_hat`` over all samples.
With ``rho_estimate="batch"`` each step uses the batch's own mean activity, an unbiased but noisy
estimate whose gradient is the exact gradient of the batch objective; ``"running"`` uses an
exponential moving average over batches (weight ``rho_momentum`` on the past), closer to the
whole-data ``rho_hat`` for small batches, with the batch's gradient taken as if that average were
the data's ``rho_hat``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .backend import ops

# SciPy is imported where it is used: the command line reads this module's names to build its
# parser, and ``sparseae --help`` need not wait for scipy.optimize (about 0.4 s).

DEFAULT_LEARNING_RATES = {"gd": 0.1, "sgd": 0.03, "adam": 0.01}
SCHEDULES = ("constant", "cosine", "step")
RHO_ESTIMATES = ("batch", "running")


@dataclass(frozen=True)
class Settings:
    max_iter: int = 400  # iterations (lbfgs, gd) or epochs (sgd, adam)
    learning_rate: float | None = None  # None: DEFAULT_LEARNING_RATES[solver]
    schedule: str = "constant"
    momentum: float = 0.9  # sgd, gd
    beta_1: float = 0.9  # adam
    beta_2: float = 0.999
    epsilon: float = 1e-8
    batch_size: int = 256
    shuffle: bool = True
    seed: int = 0
    rho_estimate: str = "batch"
    rho_momentum: float = 0.9
    lbfgs_memory: int = 10  # curvature pairs kept by L-BFGS
    curvature_dtype: str = "float64"  # ... in this dtype (that of the model's arithmetic)
    gtol: float = 1e-5  # L-BFGS stops when max |gradient| is below this
    ftol: float = 2.220446049250313e-09  # ... or when the relative decrease is below this


@dataclass
class Hooks:
    report: Callable[..., bool | None] | None = None
    interrupted: Callable[[], bool] = lambda: False

    def after_iteration(self, iteration, cost, theta, snapshot) -> bool:
        return bool(self.report is not None and self.report(iteration, cost, theta, snapshot))


@dataclass
class Result:
    theta: np.ndarray
    n_iter: int
    converged: bool
    message: str
    loss_curve: list[float] = field(default_factory=list)
    interrupted: bool = False
    stopped_early: bool = False
    state: dict | None = None


def learning_rate(settings: Settings, solver: str, epoch: float) -> float:
    """The learning rate at (fractional) ``epoch``: constant, cosine decay to 0 over
    ``max_iter``, or halved at 50% and again at 75% of ``max_iter``."""
    lr = settings.learning_rate or DEFAULT_LEARNING_RATES[solver]
    if settings.schedule == "cosine":
        return lr * 0.5 * (1.0 + math.cos(math.pi * min(epoch / settings.max_iter, 1.0)))
    if settings.schedule == "step":
        halvings = (epoch >= 0.5 * settings.max_iter) + (epoch >= 0.75 * settings.max_iter)
        return lr * 0.5**halvings
    return lr


# --- L-BFGS ---


class _Cached:
    """``problem.full`` for a line search that asks for the cost and the gradient separately:
    the last evaluation is kept, so each point costs one evaluation.

    The line search makes a new array for every point it asks about, and nothing changes a
    point afterwards, so the last one is kept without a copy. A new point is told from the last
    by a sample of their entries, and only a point that matches it is compared in full (each
    pass over 300,000 parameters costs about 0.3 ms, a few per iteration)."""

    def __init__(self, full):
        self.full, self.x, self.value = full, None, None

    def __call__(self, x):
        if not self._holds(x):
            self.x, self.value = x, self.full(x)
        return self.value

    def _holds(self, x) -> bool:
        if self.x is None or x.shape != self.x.shape:
            return False
        sample = slice(None, None, max(x.size // 64, 1))
        return np.array_equal(x[sample], self.x[sample]) and np.array_equal(x, self.x)

    def cost(self, x):
        return self(x)[0]

    def grad(self, x):
        return self(x)[1]


class Pair(NamedTuple):
    """One L-BFGS curvature pair: the step ``s``, the change of gradient ``y``, ``s.y`` and
    ``y.y``."""

    s: np.ndarray
    y: np.ndarray
    sy: float
    yy: float

    @classmethod
    def of(cls, s, y) -> Pair:
        return cls(s, y, float(s @ y), float(y @ y))

    @classmethod
    def between(cls, x0, x1, g0, g1, dtype) -> Pair:
        """The pair of the step from ``x0`` (gradient ``g0``) to ``x1`` (``g1``) in ``dtype``:
        each difference is rounded into it as it is computed, in one pass."""
        s, y = np.empty(x0.shape, dtype), np.empty(g0.shape, dtype)
        return cls.of(np.subtract(x1, x0, out=s, casting="same_kind"),
                      np.subtract(g1, g0, out=y, casting="same_kind"))


def two_loop(grad, pairs: list[Pair]) -> np.ndarray:
    """``-H grad`` for the L-BFGS inverse-Hessian approximation ``H`` built from the curvature
    pairs (Nocedal and Wright, Algorithm 7.4), with ``H0 = s.y / y.y`` from the newest pair.

    Works in the pairs' dtype, updating one vector in place with BLAS ``axpy`` (measured at
    308,308 parameters and 10 pairs: 8.8 ms in float64 and 3.9 ms in float32, against 19 to 21
    ms with a temporary vector per step, a sixth of an MNIST-sized iteration).
    """
    from scipy.linalg import get_blas_funcs

    q = np.negative(grad, dtype=pairs[0].s.dtype if pairs else grad.dtype)
    axpy = get_blas_funcs("axpy", (q,))
    alphas = []
    for s, y, sy, _ in reversed(pairs):
        alpha = float(s @ q) / sy
        q = axpy(y, q, a=-alpha)                                # q -= alpha y
        alphas.append(alpha)
    if pairs:
        q *= pairs[-1].sy / pairs[-1].yy
    for (s, y, sy, _), alpha in zip(pairs, reversed(alphas)):
        q = axpy(s, q, a=alpha - float(y @ q) / sy)             # q += (alpha - beta) s
    return q


def lbfgs(problem, theta0, settings: Settings, state: dict | None = None,
          hooks: Hooks | None = None) -> Result:
    """L-BFGS on the exact objective: the two-loop recursion over the last ``lbfgs_memory``
    curvature pairs, with SciPy's strong-Wolfe line search (``scipy.optimize.line_search``).

    Written here rather than calling SciPy's L-BFGS-B because that one's bound-constrained
    machinery costs about 40 ms per iteration at 300,000 parameters, as much as an evaluation;
    the two-loop recursion costs a few vector operations. The curvature pairs are kept in
    ``settings.curvature_dtype``: float32 for a float32 model, whose gradients hold no more
    digits, halves that work. They are part of the snapshot, so a resumed run continues exactly
    where it stopped. The parameters and the line search stay float64. Stops when the largest
    gradient entry is below ``gtol`` or the relative decrease of the cost is below ``ftol``
    (SciPy's L-BFGS-B defaults).
    """
    hooks = hooks or Hooks()
    fun = _Cached(problem.full)
    if state:
        theta = np.array(state["theta"], dtype=np.float64)
        curve = list(state["loss_curve"])
        pairs = [Pair.of(np.array(s), np.array(y)) for s, y in zip(state["s"], state["y"])]
        decrease = state.get("decrease")  # (None in checkpoints from before it was saved)
    else:
        theta, curve, pairs = np.array(theta0, dtype=np.float64), [], []
        decrease = None  # the relative decrease of the cost in the last iteration
    cost, grad = fun(theta)

    def snapshot(x=None):
        x = theta if x is None else x
        return {"solver": "lbfgs", "theta": np.array(x), "iteration": len(curve),
                "loss_curve": list(curve), "s": np.array([p.s for p in pairs]),
                "y": np.array([p.y for p in pairs]), "decrease": decrease}

    def result(message, converged=False, **flags):
        return Result(theta, len(curve), converged, message, curve, state=snapshot(), **flags)

    if not math.isfinite(cost):  # (no step lowers it: the caller's error names the cause)
        return result(NOT_FINITE)
    if decrease is not None and decrease <= settings.ftol:  # resumed where it had converged
        return result(FTOL_MET, converged=True)
    while len(curve) < settings.max_iter:
        if max(grad.max(), -grad.min()) <= settings.gtol:  # max |grad|, without a temporary
            return result(GTOL_MET, converged=True)
        direction = two_loop(grad, pairs).astype(np.float64, copy=False)
        if not pairs:  # the first step: at most unit length (L-BFGS-B takes exactly 1)
            direction /= max(_norm(direction), 1.0)
        found = _wolfe(fun, theta, direction, grad, cost)
        if found is None and pairs:  # a poor direction: forget the curvature, go downhill
            pairs.clear()
            direction = -grad / max(_norm(grad), 1.0)
            found = _wolfe(fun, theta, direction, grad, cost)
        if found is None:
            return result(NO_STEP)
        new_theta, new_cost, new_grad = found
        pair = Pair.between(theta, new_theta, grad, new_grad, settings.curvature_dtype)
        if pair.sy > 1e-10 * pair.yy:  # curvature condition: H stays positive
            pairs.append(pair)
            del pairs[: -settings.lbfgs_memory]
        decrease = (cost - new_cost) / max(abs(cost), abs(new_cost), 1.0)
        cost, theta, grad = new_cost, new_theta, new_grad
        curve.append(float(cost))
        if hooks.after_iteration(len(curve), cost, theta, snapshot):
            return result("stopped early", stopped_early=True)
        if decrease <= settings.ftol:  # (before Ctrl-C: this run has ended, whatever comes)
            return result(FTOL_MET, converged=True)
        if hooks.interrupted():
            return result("interrupted", interrupted=True)
    return result("iteration limit reached")


def _norm(v: np.ndarray) -> float:
    """``||v||``, finite where ``v`` is: NumPy's ``sqrt(v.v)`` overflows from entries of about
    1e154 on (a weight decay of 1e300, say), and a first step divided by that infinity is 0,
    which ended such runs at once as converged; BLAS ``nrm2`` scales as it sums."""
    with np.errstate(over="ignore"):
        norm = np.linalg.norm(v)
    if math.isinf(norm):
        from scipy.linalg import get_blas_funcs

        norm = get_blas_funcs("nrm2", (v,))(v)
    return float(norm)


def state_bytes(solver: str, n_params: int, settings: Settings) -> int:
    """About the memory ``solver`` holds besides the objective's: float64 vectors of the
    parameters (the iterate, its gradient, the direction, a trial point and its gradient, and
    the evaluations' cache; the moments or the velocity of the first-order rules), and for
    L-BFGS its curvature pairs in ``settings.curvature_dtype`` (as many as its iterations
    make, up to ``lbfgs_memory``)."""
    if solver == "lbfgs":
        pair = np.dtype(settings.curvature_dtype).itemsize
        pairs = min(settings.lbfgs_memory, settings.max_iter)
        return n_params * (8 * 8 + 2 * pairs * pair)
    return n_params * 8 * 5


FTOL_MET = "the relative decrease of the cost is below ftol"
GTOL_MET = "the gradient is below gtol"
NOT_FINITE = "the cost at the starting point is not finite"
OVERFLOW = "a squared gradient overflowed the second moment"  # (adam: no step moves it since)
NO_STEP = "the line search found no step that lowers the cost"


def _wolfe(fun, theta, direction, grad, cost, c1=1e-4, c2=0.9):
    """The point ``theta + step direction``, its cost and its gradient, for a step that meets
    the strong Wolfe conditions, trying 1 first (None when no step was found).

    Step 1 is tested here before SciPy's line search is called: it passes in most iterations,
    and SciPy would accept it at once with the same test, after forming the point twice more
    and comparing it with the cached one (measured at 308,308 parameters: about ten passes
    over the vectors, 2 ms of a 117 ms MNIST-sized iteration; on the exercise, 0.1 ms of 5 ms
    in Python overhead). When it fails, SciPy's search starts from that same point, whose
    evaluation ``fun`` keeps, so the steps are SciPy's to the last bit either way.
    """
    from scipy.optimize import line_search

    slope = np.dot(grad, direction)
    x = theta + direction
    new_cost, new_grad = fun(x)
    # scalar_search_wolfe2's first test, spelt as it spells it (alpha1 = 1)
    if not new_cost > cost + c1 * 1.0 * slope and abs(np.dot(new_grad, direction)) <= -c2 * slope:
        return x, new_cost, new_grad
    with warnings.catch_warnings():
        # "did not converge" says what ``step`` None says (a LineSearchWarning, a RuntimeWarning
        # in SciPy 1.17, an OptimizeWarning before)
        warnings.filterwarnings("ignore", "The line search algorithm did not converge")
        step, _, _, new_cost, _, _ = line_search(fun.cost, fun.grad, theta, direction, grad,
                                                 cost, None, c1=c1, c2=c2, maxiter=20)
    if step is None:
        return None
    x = theta + step * direction
    return x, new_cost, fun.grad(x)


# --- update rules for the first-order solvers ---


class Momentum:
    """Gradient descent with heavy-ball momentum: ``v = mu v - lr g; theta += v``."""

    def __init__(self, settings: Settings):
        self.mu = settings.momentum

    def init(self, theta) -> dict:
        return {"velocity": np.zeros_like(theta)}

    def step(self, theta, grad, lr, state):
        v = state["velocity"]
        v *= self.mu
        v -= lr * grad
        theta += v

    @staticmethod
    def overflowed(state) -> bool:
        """Never where the weights go on: a velocity that overflows makes them infinite."""
        return False


class Adam:
    """Adam (Kingma and Ba): bias-corrected first and second moments of the gradient."""

    def __init__(self, settings: Settings):
        self.b1, self.b2, self.eps = settings.beta_1, settings.beta_2, settings.epsilon

    def init(self, theta) -> dict:
        return {"m": np.zeros_like(theta), "v": np.zeros_like(theta), "t": 0}

    def step(self, theta, grad, lr, state):
        state["t"] += 1
        t, m, v = state["t"], state["m"], state["v"]
        m *= self.b1
        m += (1 - self.b1) * grad
        v *= self.b2
        v += (1 - self.b2) * grad * grad
        m_hat = m / (1 - self.b1**t)
        v_hat = v / (1 - self.b2**t)
        theta -= lr * m_hat / (np.sqrt(v_hat) + self.eps)

    @staticmethod
    def overflowed(state) -> bool:
        """Whether a squared gradient overflowed the second moment: the steps of those
        parameters are 0 from then on (or NaN, where the first moment overflowed too)."""
        return not np.isfinite(state["v"]).all()


class RhoEstimate:
    """How a minibatch's mean activity becomes the ``rho_hat`` it is penalised with."""

    def __init__(self, kind: str, momentum: float, value=None):
        self.kind, self.momentum = kind, momentum
        self.value = None if value is None else np.array(value)

    def __call__(self, batch_rho):
        if self.kind == "batch":
            return batch_rho
        o = ops(batch_rho)
        batch = o.to_numpy(batch_rho).astype(np.float64)
        if self.value is None:
            self.value = batch
        else:
            self.value = self.momentum * self.value + (1 - self.momentum) * batch
        return o.asarray(self.value, batch_rho)


# --- full-batch gradient descent ---


def gd(problem, theta0, settings: Settings, state: dict | None = None,
       hooks: Hooks | None = None) -> Result:
    """Full-batch gradient descent (with momentum ``settings.momentum``; 0 for the plain
    method) on the exact objective. ``loss_curve[k]`` is the cost at the start of step k + 1."""
    hooks = hooks or Hooks()
    rule = Momentum(settings)
    theta = np.array(state["theta"] if state else theta0, dtype=np.float64)
    rule_state = {"velocity": np.array(state["velocity"])} if state else rule.init(theta)
    curve = list(state["loss_curve"]) if state else []

    def snapshot():
        return {"solver": "gd", "theta": theta.copy(), "iteration": len(curve),
                "loss_curve": list(curve), "velocity": rule_state["velocity"].copy()}

    while len(curve) < settings.max_iter:
        if hooks.interrupted():
            return Result(theta, len(curve), False, "interrupted", curve, True, state=snapshot())
        cost, grad = problem.full(theta)
        rule.step(theta, grad, learning_rate(settings, "gd", len(curve)), rule_state)
        curve.append(float(cost))
        if hooks.after_iteration(len(curve), curve[-1], theta, snapshot):
            return Result(theta, len(curve), False, "stopped early", curve,
                          stopped_early=True, state=snapshot())
    return Result(theta, len(curve), False, "iteration limit reached", curve, state=snapshot())


# --- minibatch solvers ---


def sgd(problem, theta0, settings, state=None, hooks=None) -> Result:
    """Minibatch SGD with momentum."""
    return _minibatch("sgd", Momentum(settings), problem, theta0, settings, state, hooks)


def adam(problem, theta0, settings, state=None, hooks=None) -> Result:
    """Minibatch Adam."""
    return _minibatch("adam", Adam(settings), problem, theta0, settings, state, hooks)


def _minibatch(name, rule, problem, theta0, settings: Settings, state, hooks) -> Result:
    """Epochs of shuffled minibatches. ``loss_curve[k]`` is the mean minibatch cost of epoch k+1.

    Everything the future depends on is in the snapshot: parameters, the rule's moments, the
    random generator's state at the start of the current epoch (the epoch's permutation is drawn
    from it again on resume), the position in the epoch and the epoch's running sums.
    """
    hooks = hooks or Hooks()
    n = problem.n_samples
    size = min(settings.batch_size, n)
    steps = math.ceil(n / size)
    if state:
        theta = np.array(state["theta"], dtype=np.float64)
        rule_state = {k: (np.array(v) if isinstance(v, np.ndarray) else v)
                      for k, v in state["rule"].items()}
        curve = list(state["loss_curve"])
        step, epoch_sum = state["step"], state["epoch_sum"]
        epoch_rng = state["rng"]
        rho = RhoEstimate(settings.rho_estimate, settings.rho_momentum, state.get("rho_hat"))
    else:
        theta = np.array(theta0, dtype=np.float64)
        rule_state = rule.init(theta)
        curve, step, epoch_sum = [], 0, 0.0
        epoch_rng = np.random.default_rng(settings.seed).bit_generator.state
        rho = RhoEstimate(settings.rho_estimate, settings.rho_momentum)
    rng = np.random.default_rng()

    def snapshot():
        return {"solver": name, "theta": theta.copy(), "iteration": len(curve),
                "loss_curve": list(curve), "step": step, "epoch_sum": epoch_sum,
                "rng": epoch_rng, "rho_hat": None if rho.value is None else rho.value.copy(),
                "rule": {k: (v.copy() if isinstance(v, np.ndarray) else v)
                         for k, v in rule_state.items()}}

    while len(curve) < settings.max_iter:
        rng.bit_generator.state = epoch_rng
        order = rng.permutation(n) if settings.shuffle else np.arange(n)
        while step < steps:
            if hooks.interrupted():
                return Result(theta, len(curve), False, "interrupted", curve, True,
                              state=snapshot())
            which = order[step * size : (step + 1) * size]
            cost, grad = problem.batch(theta, which, rho)
            lr = learning_rate(settings, name, len(curve) + step / steps)
            rule.step(theta, grad, lr, rule_state)
            epoch_sum += float(cost) * which.size
            step += 1
        if rule.overflowed(rule_state):  # (once an epoch: the check is a pass over them)
            return Result(theta, len(curve), False, OVERFLOW, curve, state=snapshot())
        curve.append(epoch_sum / n)
        step, epoch_sum = 0, 0.0
        epoch_rng = rng.bit_generator.state
        if hooks.after_iteration(len(curve), curve[-1], theta, snapshot):
            return Result(theta, len(curve), False, "stopped early", curve,
                          stopped_early=True, state=snapshot())
    return Result(theta, len(curve), False, "epoch limit reached", curve, state=snapshot())


SOLVERS = {"lbfgs": lbfgs, "gd": gd, "sgd": sgd, "adam": adam}
MINIBATCH = ("sgd", "adam")
