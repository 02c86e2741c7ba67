"""``SparseAutoencoder``: the scikit-learn style front of the objective and the solvers."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from . import objective, params, solvers
from .activations import DECODERS, HIDDEN_ACTIVATIONS
from .objective import PENALTIES, Spec

DTYPES = ("float64", "float32")


class SparseAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Sparse autoencoder ``x -> a2 = f(W1 x + b1) -> a3 = g(W2 a2 + b2)``, as in UFLDL.

    Minimises ``1/m sum 1/2 ||a3 - x||^2 + lambda/2 (||W1||^2 + ||W2||^2)
    + beta sum_j KL(rho || rho_hat_j)``; see ``sparseae.objective`` for the equations.

    Parameters
    ----------
    n_hidden : int, default=25
        Number of hidden units (features learned).
    sparsity_target : float in (0, 1), default=0.01
        ``rho``, the desired mean activity of each hidden unit. Used by ``sparsity="kl"``.
    sparsity_weight : float >= 0, default=3.0
        ``beta``, the weight of the sparsity penalty.
    weight_decay : float >= 0, default=1e-4
        ``lambda``; biases are not decayed.
    activation : {"sigmoid", "tanh"}, default="sigmoid"
        Hidden units ``f``. Tanh units count as inhibited at -1: the penalty acts on
        ``(a2 + 1) / 2``.
    sparsity : {"kl", "l1"}, default="kl"
        ``kl``: ``beta sum_j KL(rho || rho_hat_j)``; ``l1``: ``beta`` times the mean L1 norm of the
        hidden activities.
    decoder : {"sigmoid", "linear"}, default="sigmoid"
        Output units ``g``. A sigmoid decoder can only produce values in (0, 1); use ``linear``
        (the tutorial's linear decoder) for data outside [0, 1].
    solver : {"lbfgs"}, default="lbfgs"
        Full-batch L-BFGS on the exact objective.
    max_iter : int >= 1, default=400
        Iterations of the solver.
    init : {"ufldl", "glorot_uniform", "glorot_normal"}, default="ufldl"
        Weight initialisation; biases start at zero.
    dtype : {"float64", "float32"}, default="float64"
        Arithmetic precision; the optimizer's own vector is always float64.
    n_threads : int or None, default=None
        BLAS threads while fitting. None uses one thread for small problems (where the
        element-wise work dominates and threads only fight) and all cores for large ones.
    random_state : int, RandomState or None, default=None
        Seed of the weight initialisation.
    verbose : bool, default=False
        Show a progress bar with the iteration and the cost.
    callback : callable or None, default=None
        Called as ``callback(iteration, cost)`` after each iteration.

    Attributes
    ----------
    W1_, b1_, W2_, b2_ : ndarray
        Learned parameters, shapes ``(n_hidden, n_features)``, ``(n_hidden,)``,
        ``(n_features, n_hidden)``, ``(n_features,)``.
    components_ : ndarray of shape (n_hidden, n_features)
        ``W1_``: row j is the input direction that activates hidden unit j most.
    loss_ : float
        The objective at the learned parameters on the training data.
    loss_curve_ : list of float
        The objective after each iteration.
    n_iter_ : int
        Iterations run.
    rho_hat_ : ndarray of shape (n_hidden,)
        Mean activity of each hidden unit on the training data.
    n_features_in_ : int
    feature_names_in_ : ndarray of str, when ``X`` had string column names.
    """

    def __init__(
        self,
        n_hidden=25,
        *,
        sparsity_target=0.01,
        sparsity_weight=3.0,
        weight_decay=1e-4,
        activation="sigmoid",
        sparsity="kl",
        decoder="sigmoid",
        solver="lbfgs",
        max_iter=400,
        init="ufldl",
        dtype="float64",
        n_threads=None,
        random_state=None,
        verbose=False,
        callback=None,
    ):
        self.n_hidden = n_hidden
        self.sparsity_target = sparsity_target
        self.sparsity_weight = sparsity_weight
        self.weight_decay = weight_decay
        self.activation = activation
        self.sparsity = sparsity
        self.decoder = decoder
        self.solver = solver
        self.max_iter = max_iter
        self.init = init
        self.dtype = dtype
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    # --- fitting ---

    def fit(self, X, y=None):
        """Learn the parameters from ``X`` of shape ``(n_samples, n_features)``."""
        self._check_params()
        X = validate_data(self, X, dtype=np.dtype(self.dtype), order="C")
        self._warn_if_out_of_range(X)
        n_features = X.shape[1]
        rng = check_random_state(self.random_state)
        start = params.initialize(n_features, self.n_hidden, rng, self.init)
        fun = objective.flat_cost_and_grad(X, self._spec(), self.n_hidden)

        with threadpool_limits(limits=self._threads(X)), _progress(self) as report:
            result = solvers.SOLVERS[self.solver](
                fun, params.pack(start), max_iter=self.max_iter, callback=report
            )
        if not result.converged:
            warnings.warn(
                f"{self.solver} stopped after {result.n_iter} iterations without converging "
                f"({result.message}); raise max_iter to train longer",
                ConvergenceWarning,
                stacklevel=2,
            )
        self._set_params(params.unpack(result.theta, n_features, self.n_hidden))
        self.loss_ = result.cost
        self.loss_curve_ = result.loss_curve
        self.n_iter_ = result.n_iter
        a2 = objective.encode(self._params(), X, self.activation)
        self.rho_hat_ = objective.activity_sum(a2, self.activation) / X.shape[0]
        return self

    def _check_params(self):
        def number(name, low, high, *, integer=False, low_open=False, high_open=False):
            value = getattr(self, name)
            kind = numbers.Integral if integer else numbers.Real
            if isinstance(value, bool) or not isinstance(value, kind) or not np.isfinite(value):
                raise ValueError(f"{name} must be a finite {'integer' if integer else 'number'}, "
                                 f"got {value!r}")
            too_low = value <= low if low_open else value < low
            too_high = high is not None and (value >= high if high_open else value > high)
            if too_low or too_high:
                lo, hi = "(" if low_open else "[", ")" if high_open or high is None else "]"
                raise ValueError(
                    f"{name} must be in {lo}{low}, {'inf' if high is None else high}{hi}, "
                    f"got {value!r}"
                )

        def choice(name, options):
            value = getattr(self, name)
            if value not in options:
                raise ValueError(f"{name} must be one of {list(options)}, got {value!r}")

        number("n_hidden", 1, None, integer=True)
        number("sparsity_target", 0, 1, low_open=True, high_open=True)
        number("sparsity_weight", 0, None)
        number("weight_decay", 0, None)
        number("max_iter", 1, None, integer=True)
        if self.n_threads is not None:
            number("n_threads", 1, None, integer=True)
        choice("activation", HIDDEN_ACTIVATIONS)
        choice("sparsity", tuple(PENALTIES))
        choice("decoder", DECODERS)
        choice("solver", tuple(solvers.SOLVERS))
        choice("init", params.INITS)
        choice("dtype", DTYPES)
        if self.callback is not None and not callable(self.callback):
            raise ValueError(f"callback must be callable, got {self.callback!r}")

    def _warn_if_out_of_range(self, X):
        if self.decoder == "sigmoid" and (X.min() < 0.0 or X.max() > 1.0):
            warnings.warn(
                f"X has values in [{X.min():.3g}, {X.max():.3g}] but decoder='sigmoid' outputs "
                "only (0, 1): rescale X to [0, 1] or use decoder='linear'",
                UserWarning,
                stacklevel=3,
            )

    def _threads(self, X):
        if self.n_threads is not None:
            return self.n_threads
        # One evaluation is about 10 m n h flops; below ~1e9 the thin matrix products are too
        # small to share, and NumPy's and SciPy's BLAS pools only fight over the cores.
        return 1 if 10 * X.shape[0] * X.shape[1] * self.n_hidden < 1e9 else None

    def _spec(self) -> Spec:
        return Spec(
            sparsity_target=float(self.sparsity_target),
            sparsity_weight=float(self.sparsity_weight),
            weight_decay=float(self.weight_decay),
            activation=self.activation,
            sparsity=self.sparsity,
            decoder=self.decoder,
        )

    def _params(self) -> params.Params:
        return params.Params(self.W1_, self.b1_, self.W2_, self.b2_)

    def _set_params(self, p: params.Params):
        W1, b1, W2, b2 = (np.array(a, dtype=self.dtype) for a in p)
        self.W1_, self.b1_, self.W2_, self.b2_ = W1, b1, W2, b2
        self.components_ = self.W1_

    # --- using the model ---

    def _validate(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=self.W1_.dtype, reset=False)

    def transform(self, X):
        """Hidden activations ``a2 = f(X W1^T + b1)``, shape ``(n_samples, n_hidden)``."""
        X = self._validate(X)
        return objective.encode(self._params(), X, self.activation)

    def inverse_transform(self, H):
        """Reconstructions ``a3 = g(H W2^T + b2)`` from hidden activations ``H``."""
        check_is_fitted(self)
        H = check_array(H, dtype=self.W1_.dtype, input_name="H")
        if H.shape[1] != self.W1_.shape[0]:
            raise ValueError(
                f"H has {H.shape[1]} columns, but this model has {self.W1_.shape[0]} hidden units"
            )
        return objective.decode(self._params(), H, self.decoder)

    def reconstruct(self, X):
        """``inverse_transform(transform(X))``."""
        return objective.decode(self._params(), self.transform(X), self.decoder)

    def cost(self, X) -> float:
        """The objective on ``X``, with ``rho_hat`` taken over the rows of ``X``."""
        X = self._validate(X)
        cost, _ = objective.cost_and_grad(self._params(), X, self._spec())
        return cost

    def score(self, X, y=None) -> float:
        """Minus the objective on ``X`` (higher is better, as scikit-learn expects)."""
        return -self.cost(X)

    @property
    def _n_features_out(self):
        return self.W1_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = [self.dtype]
        return tags

    # --- files ---

    def save(self, path):
        """Write the fitted model to ``path`` (a ``.npz`` without pickled objects); returns the
        path."""
        from .io import save

        return save(self, path)


class _progress:
    """The estimator's progress reporting: its callback and, if verbose, a tqdm bar."""

    def __init__(self, model: SparseAutoencoder):
        self.model = model
        self.bar = None

    def __enter__(self):
        if self.model.verbose:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.model.max_iter, desc=self.model.solver, unit="it",
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
