"""What every trainable estimator here shares: the solver parameters, their validation, and one
run of a solver with progress, early stopping, checkpoints and clean interruption."""

from __future__ import annotations

import numbers
import os
import sys
import time
import warnings
from contextlib import ExitStack, contextmanager, nullcontext
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from threadpoolctl import ThreadpoolController

from . import solvers, training
from .backend import storage_dtype
from .io import writable

# the advice of the ConvergenceWarning when L-BFGS ran out of iterations (the command line
# gives its own)
TRAIN_LONGER = "raise max_iter to train longer"
# ... and when its line search found no lower cost at a precision below float64's
FINER = "dtype='float64' resolves smaller decreases of the cost"
# the advice of _check_solver_memory that holds only where the solver can be chosen (a
# stack's stages and the self-taught experiment leave it out: classifier.warnings_of)
USE_ADAM = ", or use solver='adam', which keeps fewer"
# what to change when a first-order solver overshoots: gd and sgd have momentum, adam not
SMALLER_STEPS = {"gd": "lower momentum or learning_rate", "sgd": "lower momentum or learning_rate",
                 "adam": "lower learning_rate"}


# where warn() looks past: this package, scikit-learn's (a Pipeline, fit_transform) and joblib's
# (a Pipeline fits its steps before the last through joblib.Memory)
_OURS = tuple(os.path.dirname(module.__file__) + os.sep for module in (sklearn, joblib, solvers))


def warn(message: str, category=UserWarning):
    """``warnings.warn`` at the first caller outside sparseae and scikit-learn: the user's line
    that called ``fit``, directly or through a Pipeline, whichever of our functions warns."""
    frame, level = sys._getframe(1), 2  # (stacklevel 2: warn's caller)
    while frame is not None and frame.f_code.co_filename.startswith(_OURS):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def check_number(est, name, low, high=None, *, integer=False, low_open=False, high_open=False):
    """Raise a ``ValueError`` naming ``name`` unless ``est.<name>`` is in range."""
    value = getattr(est, name)
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not (
            isinstance(value, numbers.Integral) or np.isfinite(value)):  # (ints beyond float's)
        raise ValueError(f"{name} must be a finite {'integer' if integer else 'number'}, "
                         f"got {value!r}")
    too_low = value <= low if low_open else value < low
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        lo, hi = "(" if low_open else "[", ")" if high_open or high is None else "]"
        raise ValueError(
            f"{name} must be in {lo}{low}, {'inf' if high is None else high}{hi}, got {value!r}"
        )


def random_states(random_state) -> np.random.RandomState:
    """scikit-learn's ``check_random_state``, with an error that names the parameter."""
    try:
        if isinstance(random_state, bool):
            raise ValueError
        return check_random_state(random_state)
    except ValueError:
        raise ValueError(f"random_state must be a whole number from 0 to 2**32 - 1, a NumPy "
                         f"RandomState or None, got {random_state!r}") from None


def check_choice(est, name, options):
    """``est.name`` is one of ``options``; a choice among names must be a name (a string): a
    value merely equal to one, such as ``np.dtype("float32")``, could not be saved."""
    value = getattr(est, name)
    if value in options and isinstance(options[0], str) and not isinstance(value, str):
        raise ValueError(f"{name} takes the name {str(value)!r} as a string, got {value!r}")
    if value not in options:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}")


def check_hooks(checkpoint, should_stop):
    """A clear error before any training for ``fit``'s hooks of the wrong kind."""
    if checkpoint is not None and not callable(getattr(checkpoint, "maybe_save", None)):
        raise TypeError(f"checkpoint takes a sparseae.checkpoint.Checkpointer, got "
                        f"{checkpoint!r}")
    if should_stop is not None and not callable(should_stop):
        raise TypeError(f"should_stop takes a function of no arguments that returns True to "
                        f"stop, got {should_stop!r}")


def store_params(estimator, arguments: dict):
    """What a scikit-learn ``__init__`` does and nothing more: store each argument under its own
    name (call it as ``store_params(self, locals())``)."""
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


class SolverMixin:
    """Needs the attributes ``solver, max_iter, learning_rate, learning_rate_schedule, momentum,
    beta_1, beta_2, epsilon, batch_size, shuffle, early_stopping, validation_fraction,
    n_iter_no_change, tol, n_threads, random_state, verbose, callback``, and those that
    ``penalty_weights`` and ``run_params`` name."""

    penalty_weights = ("weight_decay",)  # the parameters that weigh a penalty in the cost
    # the parameters that define the objective and the start of a run (a resumed fit's must be
    # those of the run it goes on with)
    run_params = ("weight_decay",)

    def _check_solver_params(self):
        check_choice(self, "solver", tuple(solvers.SOLVERS))
        check_number(self, "max_iter", 1, integer=True)
        check_number(self, "batch_size", 1, integer=True)
        if self.learning_rate is not None:
            check_number(self, "learning_rate", 0, low_open=True)
        check_choice(self, "learning_rate_schedule", solvers.SCHEDULES)
        check_number(self, "momentum", 0, 1, high_open=True)
        check_number(self, "beta_1", 0, 1, high_open=True)
        check_number(self, "beta_2", 0, 1, high_open=True)
        check_number(self, "epsilon", 0, low_open=True)
        check_choice(self, "shuffle", (True, False))
        check_choice(self, "early_stopping", (True, False))
        check_choice(self, "verbose", (True, False))
        check_number(self, "validation_fraction", 0, 1, low_open=True, high_open=True)
        check_number(self, "n_iter_no_change", 1, integer=True)
        check_number(self, "tol", 0)
        if self.n_threads is not None:
            check_number(self, "n_threads", 1, integer=True)
        if self.callback is not None and not callable(self.callback):
            raise ValueError(f"callback must be callable, got {self.callback!r}")

    def _seed(self, resume) -> int:
        """One integer seed per fit, from ``random_state`` (or the checkpoint being resumed,
        once it is known to be one of this solver)."""
        if resume is not None:
            _check_resume(resume, self.solver)
            return resume["seed"]
        return int(random_states(self.random_state).randint(np.iinfo(np.int32).max))

    @staticmethod
    def _resumed_theta(resume, n_params: int) -> np.ndarray:
        """The parameters a resumed fit starts from: as many as this model has."""
        theta = np.asarray(resume["solver"]["theta"])
        if theta.shape != (n_params,):
            raise ResumeMismatch(f"holds {theta.size} parameters, but this model has "
                                 f"{n_params}", "the checkpoint is of another model or other data")
        return theta

    def _settings(self, seed: int) -> solvers.Settings:
        return solvers.Settings(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            schedule=self.learning_rate_schedule,
            momentum=self.momentum,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            seed=seed,
            rho_estimate=getattr(self, "rho_estimate", "batch"),
            rho_momentum=getattr(self, "rho_momentum", 0.9),
            curvature_dtype=storage_dtype(getattr(self, "dtype", "float64")).name,
        )

    def _check_solver_memory(self, n_params: int, seed: int):
        """A clear error, before the solver starts, where its vectors alone would take more
        than this machine's memory (shared by the processes torchrun started on it): the
        system would otherwise kill the process, with no message, when they fill it."""
        memory = training.machine_memory()
        if memory is None:
            return
        settings = self._settings(seed)
        need = solvers.state_bytes(self.solver, n_params, settings)
        processes = training.local_processes()
        shared = f" (its share for each of {processes} processes)" if processes > 1 else ""
        if need > memory:
            adam = self.solver == "lbfgs" and solvers.state_bytes("adam", n_params,
                                                                  settings) < memory // 2
            raise MemoryError(
                f"{self.solver} on {n_params:,} parameters needs about {_size(need)} for its "
                f"own vectors, more than this machine's {_size(memory)}{shared}: "
                "train a smaller model (fewer hidden units or input features)"
                + (USE_ADAM if adam else ""))

    def _lanes(self) -> int:
        """Threads that share each evaluation's rows on the CPU: ``n_threads``, or the cores
        this process may use, shared with the other processes torchrun started on this machine
        (a GPU runs its own threads: 1)."""
        if str(getattr(self, "device", "numpy")).split(":")[0] == "cuda":
            return 1
        if self.n_threads:
            return self.n_threads
        neighbours = training.local_processes() \
            if getattr(self, "distributed", False) else 1
        return max(joblib.cpu_count() // neighbours, 1)

    def _threads(self, flops_per_evaluation: float, lanes: int = 1):
        """NumPy's BLAS threads while fitting, when ``lanes`` threads share the rows."""
        if lanes > 1 or getattr(self, "reproducible", False):
            # reproducible: BLAS rounds a product by how it splits it among its threads. Else,
            # each lane's products run on its own core: more BLAS threads would oversubscribe
            # (measured: 10000 x 784 -> 196 evaluates as fast on two lanes as on two BLAS
            # threads, and the element-wise work, on one core otherwise, is split too).
            return 1
        if getattr(self, "device", "numpy") != "numpy":
            # NumPy only does the optimizer's vector work; its threads would fight PyTorch's
            # (measured: 186 ms per L-BFGS iteration on 10000 x 784 -> 196 against 108).
            return 1
        if self.n_threads is not None:
            return self.n_threads
        return blas_threads_for(flops_per_evaluation)

    def _torch_threads(self, lanes: int) -> int | None:
        """PyTorch's threads on the CPU while fitting, when ``lanes`` threads share the rows:
        one, as NumPy's BLAS (``_threads``), where several share them or where
        ``reproducible`` (PyTorch rounds a product by how it splits it among its threads);
        else ``n_threads`` (None: as they are)."""
        if lanes > 1 or getattr(self, "reproducible", False):
            return 1
        return self.n_threads

    @contextmanager
    def _threads_of(self, problem, flops: float, lanes: int):
        """The threads ``problem``'s evaluations run on: NumPy's BLAS (``_threads``) and, on
        PyTorch's CPU, PyTorch's (``_torch_threads``)."""
        backend = getattr(problem, "backend", None)  # (none: a classifier's, on NumPy)
        with blas_threads(self._threads(flops, lanes)), (
                nullcontext() if backend is None else
                backend.threads(self._torch_threads(lanes), lanes)):
            yield

    def _optimize(self, problem, theta0, seed, *, validation=None, resume=None, checkpoint=None,
                  should_stop=None, show_progress=True, flops=0.0, lanes=1) -> solvers.Result:
        """Run the solver; returns its result with ``theta`` the parameters to keep (the best
        held-out ones under early stopping). ``flops`` (per evaluation) and ``lanes`` (threads
        sharing an evaluation's rows) choose NumPy's BLAS threads."""
        if getattr(checkpoint, "path", None) is not None:  # (not at the first save, after
            writable(checkpoint.path)  # the training; only where it is saved: rank 0)
        self._check_solver_memory(theta0.size, seed)
        stopper = None
        if hasattr(self, "validation_loss_curve_"):  # of an earlier fit
            del self.validation_loss_curve_
        if validation is not None:
            stopper = training.EarlyStopping(validation, self.n_iter_no_change, self.tol,
                                             resume.get("early_stopping") if resume else None)
        same = {"validation": validation is not None, **self._run_params()}
        run = {"n_samples": problem.n_samples, **same, **self._layout(problem, validation)}
        if resume is not None:
            _check_resume_fits(resume, same, problem.n_samples, self.max_iter, self.solver)

        before, started = seconds_spent(resume), time.perf_counter()

        def run_state(snapshot):
            state = {"seed": seed, "solver": snapshot, "run": run}
            if before is not None:  # (None: resumed from a state that does not say)
                state["seconds"] = before + time.perf_counter() - started
            if stopper is not None:
                state["early_stopping"] = stopper.state()
            return state

        with self._threads_of(problem, flops, lanes), \
                _Progress(self, resume, show_progress) as show:
            def report(iteration, cost, theta, snapshot):
                show(iteration, cost)
                stop = stopper(theta) if stopper is not None else False
                if checkpoint is not None and np.isfinite(cost):  # (not a diverged state: _goes_on)
                    checkpoint.maybe_save(iteration, lambda: run_state(snapshot()))
                return stop

            hooks = solvers.Hooks(report, should_stop or (lambda: False))
            if stopper is not None and stopper.stopped:  # resumed where early stopping ended it
                result = _stopped_early(resume["solver"])
            else:
                result = solvers.SOLVERS[self.solver](
                    problem, theta0, self._settings(seed),
                    state=resume["solver"] if resume else None, hooks=hooks,
                )
        if checkpoint is not None and _goes_on(result):
            checkpoint.save(run_state(result.state))
        best = None  # the iteration whose parameters early stopping kept
        overshot = False  # (a first-order run that ended well above its lowest cost)
        if stopper is not None and stopper.best_theta is not None:
            result.theta = stopper.best_theta
            self.validation_loss_curve_ = stopper.curve
            best = int(np.nanargmin(stopper.curve)) + 1
        _check_finite_result(result, self.solver, best,  # (before any warning of the run's end)
                             self._penalty_cause())
        if self.solver == "lbfgs" and not (result.converged or result.interrupted
                                           or result.stopped_early):
            advice = (f"; {TRAIN_LONGER}" if result.n_iter >= self.max_iter else
                      f"; {FINER}" if result.message == solvers.NO_STEP
                      and getattr(self, "dtype", "float64") != "float64" else "")
            its = f"{result.n_iter} iteration{'' if result.n_iter == 1 else 's'}"
            warn(f"{self.solver} stopped after {its} without converging ({result.message})"
                 f"{advice}", ConvergenceWarning)
        elif self.solver != "lbfgs" and (stopper is None or stopper.best_theta is None):
            overshot = _warn_if_the_cost_rose(self.solver, result.loss_curve)
        # (under early stopping, of the held-out cost; a run that overshot needs smaller
        # steps, not more of them)
        if self.solver != "lbfgs" and result.n_iter >= self.max_iter and not (
                result.interrupted or result.stopped_early or overshot):
            _warn_if_still_falling(self.solver, result.loss_curve if stopper is None else
                                   stopper.curve, self.tol, self.n_iter_no_change,
                                   held_out=stopper is not None)
        self.loss_curve_ = result.loss_curve
        self.n_iter_ = result.n_iter
        self.stop_reason_ = result.message
        self.interrupted_ = result.interrupted
        return result

    def _run_params(self) -> dict:
        """What a run's state holds to (kept in its checkpoints, for a resumed fit to have the
        same): the parameters that define the objective and the start (``run_params``), those
        the solver's steps depend on (``STEPS``, rho_momentum only where rho_hat is a running
        average), and an integer ``random_state`` (a resumed fit takes the saved seed). Not
        those of how long it runs (max_iter, tol, n_iter_no_change), nor of how it is computed
        (n_threads, device, memory_budget, reproducible, distributed), which a resumed fit may
        change, nor the learning rate's default (None) as such: the rate it stands for."""
        names = [*self.run_params, *(name for name in STEPS[self.solver] if hasattr(self, name))]
        if getattr(self, "rho_estimate", "batch") != "running":
            names = [name for name in names if name != "rho_momentum"]
        values = {name: _plain(getattr(self, name)) for name in names}
        if "learning_rate" in values and values["learning_rate"] is None:
            values["learning_rate"] = solvers.DEFAULT_LEARNING_RATES[self.solver]
        if isinstance(self.random_state, numbers.Integral) and \
                not isinstance(self.random_state, bool):
            values["random_state"] = int(self.random_state)
        return values

    def _layout(self, problem, validation) -> dict:
        """How the problems sum, where that is not the same each time the model is fitted:
        kept in the checkpoint, for a resumed fit to sum the same way."""
        return {}

    def _penalty_cause(self) -> str | None:
        """The advice for a run whose cost, gradient or weights are not finite where a penalty
        weight explains it; None where none does. A weight whose square the arithmetic's dtype
        does not hold (1e154 in float64) weighs a gradient about as large: its square overflows
        Adam's second moment, the steps of gradient descent overshoot, and a little larger, the
        cost overflows. And with heavy-ball momentum mu, gradient descent's steps on the weight
        decay's term alone, of curvature lambda, grow from one to the next wherever
        learning_rate * lambda >= 2 (1 + mu)."""
        dtype = storage_dtype(getattr(self, "dtype", "float64"))
        limit = np.sqrt(np.finfo(dtype).max)
        large = [f"{name}={getattr(self, name)!r}" for name in self.penalty_weights
                 if getattr(self, name) > limit]
        if large:
            one = len(large) == 1
            return (f"{' and '.join(large)} {'is' if one else 'are'} too large for "
                    f"{dtype.name} arithmetic: lower {'it' if one else 'them'}")
        if self.solver in ("gd", "sgd"):
            rate = self.learning_rate or solvers.DEFAULT_LEARNING_RATES[self.solver]
            bound = 2 * (1 + self.momentum)
            if rate * self.weight_decay >= bound:
                return (f"learning_rate times weight_decay is {rate * self.weight_decay:.3g}, "
                        f"not below 2 (1 + momentum) = {bound:.3g}, where the weight decay "
                        "alone makes every step overshoot further; lower learning_rate or "
                        "weight_decay")
        return None


def _goes_on(result: solvers.Result) -> bool:
    """Whether the state a solver ended in is one to save, to go on from: not one that cannot
    start or go on (first cost not finite, Adam's moments overflowed) nor one that diverged,
    which would block a new try of the run (its folder holds a run to resume) or replace the
    last state that could go on. A solver's last cost may be of the weights before its last
    step (gd's; the minibatch solvers' epoch mean): a final state is checked on its weights
    too."""
    if result.message in (solvers.NOT_FINITE, solvers.OVERFLOW):
        return False
    return bool(np.isfinite(result.loss_curve[-1:]).all()
                and np.isfinite(result.state["theta"]).all())


def _size(n_bytes: int) -> str:
    """Bytes in GiB, or in MiB below one GiB."""
    return f"{n_bytes / 2**30:.1f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.1f} MiB"


def _unit(solver: str) -> str:
    """What ``solver`` counts: epochs for the minibatch solvers, else iterations."""
    return "epoch" if solver in solvers.MINIBATCH else "iteration"


def _warn_if_the_cost_rose(solver: str, curve: list[float], factor: float = 1.5) -> bool:
    """A ``ConvergenceWarning`` when a first-order solver ends well above the lowest cost it
    reached (``factor`` times): its steps overshot, and the parameters kept are the last.
    Whether it warned."""
    if len(curve) < 2 or not np.isfinite(curve).all():
        return False  # (a non-finite curve is _check_finite_result's error)
    best = int(np.argmin(curve))
    if curve[-1] > factor * curve[best] > 0:
        unit = _unit(solver)
        warn(f"{solver} ended at a cost of {curve[-1]:.4g}, {curve[-1] / curve[best]:.3g} "
             f"times the lowest it reached ({curve[best]:.4g}, {unit} {best + 1}): its steps "
             f"overshoot; {SMALLER_STEPS[solver]}", ConvergenceWarning)
        return True
    return False


def _warn_if_still_falling(solver: str, curve: list[float], tol: float, patience: int,
                           held_out: bool = False):
    """A ``ConvergenceWarning`` when a first-order solver used all its iterations while its
    cost (``curve``: the held-out one under early stopping) still fell: the last one is more
    than ``tol`` below the lowest before the last ``patience`` iterations (as scikit-learn
    tests its minibatch solvers for convergence)."""
    k = min(patience, len(curve) - 1)
    if k < 1 or not np.isfinite(curve).all():
        return
    before = min(curve[:-k])
    if curve[-1] < before - tol:
        unit = _unit(solver)
        what = ("held-out cost" if held_out else
                "cost (each epoch's mean over its minibatches)" if unit == "epoch" else "cost")
        warn(f"{solver} used all its {len(curve)} {unit}s while its {what} still fell (by "
             f"{before - curve[-1]:.3g} over the last {k} {unit}{'s' if k > 1 else ''}, to "
             f"{curve[-1]:.4g}); {TRAIN_LONGER}", ConvergenceWarning)


def _check_finite_result(result: solvers.Result, solver: str, best: int | None = None,
                         too_large: str | None = None):
    """A clear error, rather than a model of NaN or infinite weights, when training diverged:
    from too long steps (the first-order solvers) or from data too large for the arithmetic
    (L-BFGS chooses its own steps); when it could not start, its first cost not finite; or
    when Adam's steps stopped, a squared gradient too large for its second moment. Where a
    penalty weight is too large for the arithmetic, ``too_large`` is the advice, for each.
    Where early stopping kept the finite parameters of iteration ``best``, from before it
    diverged, those are the model, with a warning."""
    curve = np.asarray(result.loss_curve, dtype=float)
    advice = too_large or ("scale the data" if solver == "lbfgs" or result.message ==
                           solvers.OVERFLOW else "lower the learning rate, or scale the data")
    if result.message == solvers.NOT_FINITE:
        raise ValueError(f"training cannot start: the cost is not finite at the "
                         f"{'initial' if result.n_iter == 0 else 'resumed'} weights; {advice}")
    if result.message == solvers.OVERFLOW:
        raise ValueError(f"training cannot go on: in {_unit(solver)} {result.n_iter + 1} the "
                         f"gradient grew too large for {solver}'s second moment (its square "
                         f"overflows), and the weights stopped moving; {advice}")
    if np.isfinite(curve).all() and np.isfinite(result.theta).all():
        return
    bad = np.flatnonzero(~np.isfinite(curve))
    unit = _unit(solver)
    when = (f"from {unit} {bad[0] + 1} on" if bad.size else
            f"after {result.n_iter} {unit}{'' if result.n_iter == 1 else 's'}")
    if best is not None and np.isfinite(result.theta).all():
        warn(f"training diverged: the cost is not finite {when}; the parameters kept are "
             f"those of the lowest held-out cost, at {unit} {best}; {advice}",
             ConvergenceWarning)
        return
    raise ValueError(f"training diverged: the cost or the weights are not finite {when}; "
                     f"{advice}")


def _stopped_early(state: dict) -> solvers.Result:
    """The result of the run whose last state is ``state``, ended by early stopping."""
    return solvers.Result(np.array(state["theta"], dtype=np.float64), state["iteration"], False,
                          "stopped early", list(state["loss_curve"]), stopped_early=True,
                          state=state)


class ResumeMismatch(ValueError):
    """A ``resume`` state of another run than the fit's: how it ``differs`` ("is a state of the
    'lbfgs' solver; this model's is 'adam'"), and the ``advice`` in parentheses after it."""

    def __init__(self, differs: str, advice: str):
        super().__init__(f"resume {differs} ({advice})")
        self.differs = differs


# the solver parameters that each solver's steps depend on, beyond the state it saves
_FIRST_ORDER = ("learning_rate", "learning_rate_schedule")
_MINIBATCHES = ("batch_size", "shuffle", "rho_estimate", "rho_momentum")
STEPS = {"lbfgs": (), "gd": (*_FIRST_ORDER, "momentum"),
         "sgd": (*_FIRST_ORDER, "momentum", *_MINIBATCHES),
         "adam": (*_FIRST_ORDER, "beta_1", "beta_2", "epsilon", *_MINIBATCHES)}


def _plain(value):
    """``value`` as a checkpoint's JSON header gives it back: tuples as lists, NumPy's scalars
    as Python's."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def _check_resume_fits(resume, same: dict, n_samples: int, max_iter: int, solver: str):
    """A clear error when the run that saved ``resume`` differs from this one in what its state
    depends on: the settings in ``same`` (early stopping as ``validation``, the objective's and
    the solver's parameters) and the number of training rows (a state from before one was
    saved is taken at its word on it); or when it went past ``max_iter``."""
    saved = resume.get("run", {})
    for name, value in same.items():
        if name in saved and saved[name] != value:
            param = "early_stopping" if name == "validation" else name
            raise ResumeMismatch(f"is of a run with {param}={saved[name]!r}; this model has "
                                 f"{param}={value!r}",
                                 f"set {param}={saved[name]!r} to continue it")
    if "n_samples" in saved and saved["n_samples"] != n_samples:
        raise ResumeMismatch(f"is of a run on {saved['n_samples']} training rows; this fit has "
                             f"{n_samples}",
                             "the checkpoint is of other data, or of another validation_fraction")
    done = resume["solver"]["iteration"]
    if done > max_iter:
        unit = "epochs" if solver in solvers.MINIBATCH else "iterations"
        raise ResumeMismatch(f"has done {done} {unit}, more than max_iter={max_iter}",
                             f"to continue it, max_iter must be at least {done}")


def _check_resume(resume, solver: str):
    """A clear error unless ``resume`` is a training state of ``solver``, as
    ``sparseae.checkpoint.load_checkpoint`` returns it."""
    state = resume.get("solver") if isinstance(resume, dict) else None
    if not isinstance(state, dict) or "theta" not in state or "seed" not in resume:
        raise TypeError(f"resume takes the state that sparseae.checkpoint.load_checkpoint(path) "
                        f"returns, got {type(resume).__name__}")
    seconds = resume.get("seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, numbers.Real)
                                or not 0 <= seconds < np.inf):
        raise ValueError(f"resume says its training took {seconds!r} seconds, not a time")
    if state.get("solver") != solver:
        raise ResumeMismatch(f"is a state of the {state.get('solver')!r} solver; this model's "
                             f"is {solver!r}", f"set solver={state.get('solver')!r} to continue it")


def seconds_spent(resume) -> float | None:
    """The seconds of training behind the state ``resume`` (a checkpoint's ``seconds``, summed
    over the interruptions before it): 0 for None, a training that begins; None for a state
    saved before they were kept."""
    return 0.0 if resume is None else resume.get("seconds")


def blas_threads_for(flops_per_evaluation: float) -> int | None:
    """NumPy's BLAS threads for evaluations of this size on one thread of ours: one below about
    1e9 FLOPs (10 m n h), where the thin matrix products are too small to share; above, BLAS's
    own number (None)."""
    return 1 if flops_per_evaluation < 1e9 else None


@contextmanager
def blas_threads(numpy_threads: int | None):
    """Limit NumPy's BLAS to ``numpy_threads`` (None: leave it) and every other BLAS, SciPy's
    included, to one thread. NumPy and SciPy wheels each bring an OpenBLAS; inside
    ``scipy.optimize`` the two pools fight over the cores (measured: 20 L-BFGS iterations of a
    2000 x 784 -> 196 autoencoder took 3.6 s with both on 2 threads, 1.7 s with SciPy's on one).
    SciPy's BLAS only does the optimizer's vector work, which gains nothing from threads."""
    controller = ThreadpoolController()
    blas = [lib.filepath for lib in controller.lib_controllers if lib.user_api == "blas"]
    numpy_blas = [path for path in blas if _of_numpy(path)] or blas  # one shared BLAS: it
    limits = {path: 1 for path in blas if path not in numpy_blas}
    if numpy_threads is not None:
        limits.update({path: numpy_threads for path in numpy_blas})
    with ExitStack() as stack:
        for path, n in limits.items():
            stack.enter_context(controller.select(filepath=path).limit(limits=n))
        yield


def _of_numpy(path: str) -> bool:
    """Whether the library at ``path`` came with NumPy: inside its package (macOS wheels:
    ``numpy/.dylibs``) or beside it (``numpy.libs``), whatever the folders above are called."""
    package = Path(np.__file__).resolve().parent
    where = Path(path).resolve()
    return any(where.is_relative_to(folder)
               for folder in (package, package.with_name("numpy.libs")))


class _Progress:
    """Progress reporting: the estimator's callback and, if verbose, a tqdm bar."""

    def __init__(self, model, resume=None, bar=True):
        self.model = model
        self.done = resume["solver"]["iteration"] if resume else 0
        self.show_bar = bar and model.verbose
        self.bar = None

    def __enter__(self):
        if self.show_bar:
            from tqdm.auto import tqdm

            unit = "epoch" if self.model.solver in solvers.MINIBATCH else "it"
            self.bar = tqdm(total=self.model.max_iter, initial=self.done, unit=unit,
                            desc=f"{type(self.model).__name__} {self.model.solver}",
                            dynamic_ncols=True)
        return self.report

    def report(self, iteration: int, cost: float):
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(cost=f"{cost:.6g}", refresh=False)
        if self.model.callback is not None:
            self.model.callback(iteration, cost)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
        return False
