"""``SparseAutoencoder``: the scikit-learn style front of the objective and the solvers."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from . import activations, objective, params, solvers, training
from . import distributed as dist
from .activations import DECODERS, HIDDEN_ACTIVATIONS
from .backend import DTYPES, Backend, storage_dtype
from .data.npyfile import NpyFile, opened_npy
from .data.rows import Rows, check_no_times, finite, on_host, validated, value_range
from .fitting import (
    SolverMixin,
    check_choice,
    check_hooks,
    check_number,
    store_params,
    warn,
)
from .guard import unchanged_on_failure
from .objective import PENALTIES, Spec

# the advice when the data is out of the sigmoid decoder's reach (the command line gives its own)
RESCALE = "rescale X to [0, 1] or use decoder='linear'"
SILENCE = "lower sparsity_weight"
# the advice when every sample gets the same code
ALIKE = "lower weight_decay or sparsity_weight, or scale the data"


class SparseAutoencoder(SolverMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                        BaseEstimator):
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
    solver : {"lbfgs", "gd", "sgd", "adam"}, default="lbfgs"
        ``lbfgs``: L-BFGS on the exact objective (the tutorial's choice); ``gd``: full-batch
        gradient descent on the exact objective; ``sgd`` (with momentum) and ``adam``: shuffled
        minibatches. See ``sparseae.solvers`` for how minibatches estimate ``rho_hat``.
    max_iter : int >= 1, default=400
        Iterations (``lbfgs``, ``gd``) or epochs (``sgd``, ``adam``).
    init : {"ufldl", "glorot_uniform", "glorot_normal"}, default="ufldl"
        Weight initialisation; biases start at zero.
    dtype : {"float64", "float32", "bfloat16"}, default="float64"
        Arithmetic precision; the optimizer's own vector is always float64. ``"bfloat16"``
        (PyTorch devices only) keeps float32 arrays and element-wise work but lets the matrix
        products use bfloat16 inputs with float32 accumulation, which CPUs with AMX or
        AVX512-BF16 run several times faster (on CUDA GPUs PyTorch makes them TF32 products);
        the fitted attributes are float32.
    device : str, default="numpy"
        Where the data and the arithmetic live while fitting: ``"numpy"``, or a PyTorch device
        (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...) for the same objective on torch tensors
        (``pip install 'sparseae[torch]'``). The fitted parameters are NumPy arrays either way.
    distributed : bool, default=False
        Data-parallel training on torch.distributed: every process passes the same ``X`` and
        keeps only its part of the rows; two all-reduces per evaluation make the result that of
        one process on all rows (see ``sparseae.distributed``). Start the processes with
        ``torchrun``; only rank 0 shows progress, warns and saves checkpoints.
    reproducible : bool, default=False
        Sum each evaluation over fixed blocks of rows with compensated summation, so that the
        result is bitwise the same for any number of processes, threads and memory budget
        (one that holds a block of rows; a smaller one is refused, naming the budget needed):
        a distributed L-BFGS run then follows the single-process run exactly, where plain sums
        differ in the last bits and L-BFGS amplifies the difference over hundreds of
        iterations. Costs a few passes over the gradient per block of rows. Exact evaluations
        only: minibatches (``sgd``, ``adam``) still differ in the last bits.
    memory_budget : int, str or None, default=None
        Memory for the whole process while fitting, as bytes or a string such as ``"500MB"``.
        Data that does not fit in what is left (see ``sparseae.training``) is streamed from disk
        in chunks: two passes per exact evaluation, the same result. None holds the data in
        memory. The solver's own vectors come on top (float64 copies of the parameters, and
        L-BFGS's curvature pairs: about 28 copies in float64, 18 in float32); a fit whose
        solver would need more than the machine's memory is refused before it starts.
    batch_size : int >= 1, default=256
        Rows per minibatch (``sgd``, ``adam``).
    learning_rate : float > 0 or None, default=None
        Step size; None picks 0.1 for ``gd``, 0.03 for ``sgd``, 0.01 for ``adam``.
    learning_rate_schedule : {"constant", "cosine", "step"}, default="constant"
        ``cosine`` decays to 0 over ``max_iter``; ``step`` halves at 50% and 75% of it.
    momentum : float in [0, 1), default=0.9
        Heavy-ball momentum of ``sgd`` and ``gd`` (0 for plain gradient descent).
    beta_1, beta_2, epsilon : float, defaults 0.9, 0.999, 1e-8
        Adam's moment decay rates and denominator guard.
    shuffle : bool, default=True
        Reshuffle the rows every epoch (``sgd``, ``adam``), seeded by ``random_state``.
    rho_estimate : {"batch", "running"}, default="batch"
        The ``rho_hat`` a minibatch is penalised with: its own mean activity, or a running
        average over batches.
    rho_momentum : float in [0, 1), default=0.9
        Weight of the past in the running average.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when their cost has not improved
        by ``tol`` for ``n_iter_no_change`` iterations; the parameters of the lowest held-out
        cost are kept.
    validation_fraction : float in (0, 1), default=0.1
    n_iter_no_change : int >= 1, default=10
    tol : float >= 0, default=1e-4
        The improvement early stopping asks for. A first-order solver (``gd``, ``sgd``,
        ``adam``) whose last cost at ``max_iter`` (for sgd and adam, its last epoch's mean
        minibatch cost; the held-out cost under early stopping) is more than ``tol`` below its
        lowest before the last ``n_iter_no_change`` iterations had not converged, and warns so
        (a ``ConvergenceWarning``). It does not stop L-BFGS, which stops at ``max_iter``, when
        the largest gradient entry is below 1e-5, or when the cost's relative decrease is below
        2.2e-9 (SciPy's L-BFGS-B defaults).
    n_threads : int or None, default=None
        Threads while fitting. On the CPU (NumPy, or PyTorch's ``device="cpu"``), each
        evaluation splits its rows, in blocks, among this many threads, each running BLAS (or
        PyTorch) on one thread; None uses the cores this process may use (under torchrun,
        shared among the processes on the machine). Data too small to split (on NumPy,
        at most half a block of rows; on PyTorch, a block) runs BLAS on
        ``n_threads`` threads instead (None: one for small problems, where threads only fight,
        and all cores for large ones; one if ``reproducible``); PyTorch on ``n_threads``
        (None: ``torch.get_num_threads()``; one if ``reproducible``). Not used on a GPU. A
        fit is bitwise repeatable for the same number of threads; another number groups the
        sums differently and changes the last bits (None: the machine's cores), unless
        ``reproducible``.
    random_state : int, RandomState or None, default=None
        Seed of the weight initialisation, of the minibatch solvers' shuffling and of
        early stopping's held-out rows: with an int, each fit is the same.
    verbose : bool, default=False
        Show a progress bar with the iteration and the cost.
    callback : callable or None, default=None
        Called as ``callback(iteration, cost)`` after each iteration (epoch).

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
        The objective after each iteration (``lbfgs``), at the start of each step (``gd``), or
        the mean minibatch objective of each epoch (``sgd``, ``adam``).
    validation_loss_curve_ : list of float
        With ``early_stopping``: the held-out rows' objective after each iteration.
    n_iter_ : int
        Iterations (epochs) run.
    stop_reason_ : str or None
        Why training ended, in the solver's words: ``"the gradient is below gtol"``, ``"the
        relative decrease of the cost is below ftol"``, ``"the line search found no step that
        lowers the cost"``, ``"stopped early"`` (early stopping), ``"iteration limit
        reached"``, ``"epoch limit reached"`` or ``"interrupted"``; None for a model loaded
        from a file saved before it was recorded.
    interrupted_ : bool
        True when ``should_stop`` ended the fit early (the parameters are those reached).
    chunk_rows_ : int or None
        Rows per chunk when the data was streamed under ``memory_budget``; None if it was held
        in memory.
    rho_hat_ : ndarray of shape (n_hidden,)
        Mean activity of each hidden unit on the training data, the ``rho_hat`` the sparsity
        penalty acts on: the mean of ``a2`` for sigmoid units, of ``(a2 + 1) / 2`` for tanh
        units (inhibited at -1).
    n_features_in_ : int
    feature_names_in_ : ndarray of str, when ``X`` had string column names.
    """

    penalty_weights = ("weight_decay", "sparsity_weight")
    run_params = ("n_hidden", "sparsity_target", "sparsity_weight", "weight_decay", "activation",
                  "sparsity", "decoder", "init", "dtype")

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
        device="numpy",
        distributed=False,
        reproducible=False,
        memory_budget=None,
        batch_size=256,
        learning_rate=None,
        learning_rate_schedule="constant",
        momentum=0.9,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        shuffle=True,
        rho_estimate="batch",
        rho_momentum=0.9,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        n_threads=None,
        random_state=None,
        verbose=False,
        callback=None,
    ):
        store_params(self, locals())

    # --- fitting ---

    @unchanged_on_failure
    def fit(self, X, y=None, *, resume=None, checkpoint=None, should_stop=None):
        """Learn the parameters from ``X``.

        ``X`` is an array of shape ``(n_samples, n_features)``, or ``Rows`` / ``NpyFile`` for
        data streamed from disk; under ``memory_budget`` a whole ``.npy`` opened with
        ``np.load(path, mmap_mode="r")`` is streamed from its file too. ``checkpoint`` (a
        ``sparseae.checkpoint.Checkpointer``) saves the run's state periodically and at the end;
        ``resume`` is such a saved state, to continue from; ``should_stop()`` is polled after
        every step and ends the fit cleanly when True.
        """
        self.check_params()
        check_hooks(checkpoint, should_stop)
        rows, checked = self._training_rows(X)
        seed = self._seed(resume)
        process = None
        if self.distributed:
            backend = Backend(self.device, self.dtype)
            process = dist.init(backend)
            dist.check_same_rows(rows, backend)
            seed = dist.common_seed(seed, backend)
            should_stop = dist.any_process(should_stop or (lambda: False), backend)
            if process[0] != 0:
                checkpoint = None
        with dist.warnings_on_rank0(process):
            # (before the problem: a memory budget's advice would be of no use where the
            # solver's vectors alone exceed the machine's memory)
            self._check_solver_memory(params.size(rows.n_features, self.n_hidden), seed)
            problem, validation = self._problems(rows, seed, not checked, process, resume)
            if problem.value_range is not None:  # checked in the first pass over the rows (of
                self._warn_about_values(*problem.value_range)  # every process)
            if resume is not None:
                theta0 = self._resumed_theta(resume, params.size(rows.n_features, self.n_hidden))
            else:
                start = params.initialize(rows.n_features, self.n_hidden,
                                          np.random.default_rng(seed), self.init)
                theta0 = params.pack(start)
            flops = 10.0 * rows.n_samples * rows.n_features * self.n_hidden
            result = self._optimize(
                problem, theta0, seed, validation=validation, resume=resume,
                checkpoint=checkpoint, should_stop=should_stop,
                show_progress=process is None or process[0] == 0, flops=flops,
                lanes=problem.threads,
            )
            self._set_params(params.unpack(result.theta, rows.n_features, self.n_hidden))
            with self._threads_of(problem, flops, problem.threads):  # (as the fit's: the
                self.loss_ = problem.cost(result.theta)  # same sums, bit for bit)
                self.rho_hat_ = problem.rho_hat(self._params())
            self.chunk_rows_ = None if problem.in_memory else problem.chunk_rows
            if not self._warn_if_silent():
                self._warn_if_alike(rows)
        return self

    def _warn_if_alike(self, rows: Rows):
        """Warn when every sample gets nearly the same code: no hidden unit's activity varies
        by more than 1e-4 of its range over (up to 1000 evenly spaced) training samples. The
        penalties then outweigh the reconstruction, as they can for data that varies little
        (the features of a layer below, say), and the features say nothing of the data."""
        if self.interrupted_ or rows.n_samples < 2:
            return
        which = np.linspace(0, rows.n_samples - 1, min(rows.n_samples, 1000)).astype(int)
        sample = rows.take(which, self.W1_.dtype)
        if sample.min() == sample.max():  # all one value: _warn_about_values said so
            return
        if np.ptp(sample, axis=0).max() == 0:
            warn(f"the samples are all the same (the {len(which)} evenly spaced ones looked at): "
                 "there is nothing to learn")
            return
        # (the codes themselves: transform would check the sample against a DataFrame's
        # column names and give the set_output container)
        codes = objective.encode(self._params(), sample, self.activation)
        spread = float(codes.std(axis=0).max())
        f = activations.get(self.activation)
        if spread < 1e-4 * (f.high - f.low):
            warn(f"every sample gets nearly the same code (no hidden unit's activity varies by "
                 f"more than {spread:.2g} between samples): the penalties outweigh the "
                 f"reconstruction, as they can when the data varies little; {ALIKE}")

    def _warn_if_silent(self) -> bool:
        """Warn when the sparsity penalty has silenced every hidden unit (each one's mean
        activity below 1e-4 and a tenth of the target): the model then gives every sample the
        same reconstruction. With the L1 penalty this is what the KL penalty's weight does."""
        quiet = 1e-4 if self.sparsity == "l1" else min(1e-4, self.sparsity_target / 10)
        if self.interrupted_ or not np.all(np.asarray(self.rho_hat_) < quiet):
            return False
        hint = (" (the L1 penalty needs a far smaller one than KL: about 0.01 on the tutorial's "
                "patches)" if self.sparsity == "l1" else "")
        warn(f"every hidden unit is silent (the largest mean activity is "
             f"{float(np.max(self.rho_hat_)):.2g}): the sparsity penalty outweighs the "
             f"reconstruction, and every sample gets the same reconstruction; {SILENCE}{hint}")
        return True

    def _training_rows(self, X) -> tuple[Rows, bool]:
        """The rows to train on, and whether they were checked already: arrays go through
        scikit-learn's checks here; ``Rows`` are checked for NaN and infinity in the first pass
        that reads them."""
        file = opened_npy(X) if self.memory_budget is not None else None
        if file is not None:  # np.load(path, mmap_mode="r"): streamed from the file
            X = file
        if isinstance(X, NpyFile):
            X = Rows(X)
        if isinstance(X, Rows):
            if X.n_samples == 0 or X.n_features == 0:
                raise ValueError(f"X has {X.n_samples} samples of {X.n_features} features: "
                                 "a fit needs at least one of each")
            self.n_features_in_ = X.n_features
            if hasattr(self, "feature_names_in_"):  # of an earlier fit on a DataFrame
                del self.feature_names_in_
            return X, False
        X = on_host(X)
        check_no_times(X)
        X = validate_data(self, X, dtype=storage_dtype(self.dtype), order="C",
                          ensure_all_finite=False)
        self._warn_about_values(*value_range(X))  # our error for NaN
        return Rows(X), True

    def _problems(self, rows: Rows, seed: int, check_finite: bool, process=None, resume=None):
        """The training problem and, with early stopping, the held-out rows' problem; resumed
        under the same memory budget, in the chunks of the run that saved ``resume``."""
        spec, dtype = self._spec(), self.dtype
        chunks = _resumed_chunks(resume, self._budget())
        validation = None
        if self.early_stopping:
            train, held = training.split(rows.n_samples, self.validation_fraction, seed)
            validation = training.Problem(rows.subset(held), spec, self.n_hidden, dtype,
                                          self.memory_budget, check_finite, self.device,
                                          reproducible=self.reproducible, threads=self._lanes(),
                                          chunk_rows=chunks.get("validation"))
            rows = rows.subset(train)
        problem = training.Problem(rows, spec, self.n_hidden, dtype, self.memory_budget,
                                   check_finite, self.device, process, self.reproducible,
                                   self._lanes(), chunks.get("train"))
        if self.solver in solvers.MINIBATCH and min(self.batch_size, rows.n_samples) > \
                problem.max_batch:
            raise ValueError(
                f"batch_size {self.batch_size} does not fit the memory budget "
                f"({problem.max_batch} rows at most)"
            )
        return problem, validation

    def _budget(self) -> int | None:
        return None if self.memory_budget is None else training.parse_bytes(self.memory_budget)

    def _run_params(self) -> dict:
        """``SolverMixin``'s, without sparsity_target under the L1 penalty, which has no
        target (``objective.l1_penalty``): a resumed fit may give it another."""
        values = super()._run_params()
        if self.sparsity == "l1":
            del values["sparsity_target"]
        return values

    def _layout(self, problem, validation) -> dict:
        """The rows per chunk, which a budget's room sets by the memory held at the start."""
        chunks = {"train": problem.chunk_rows}
        if validation is not None:
            chunks["validation"] = validation.chunk_rows
        return {"memory_budget": self._budget(), "chunk_rows": chunks}

    def check_params(self):
        """Raise a ``ValueError`` naming the first parameter out of range (``fit`` calls this)."""
        self._check_model_params()
        check_choice(self, "distributed", (True, False))
        check_choice(self, "reproducible", (True, False))
        if not isinstance(self.device, str):
            raise ValueError(f"device must be a string such as 'numpy' or 'cuda', "
                             f"got {self.device!r}")
        Backend(self.device, self.dtype)  # a clear error for an unknown device or no PyTorch
        if self.distributed and self.early_stopping:
            raise ValueError("early_stopping is not available with distributed=True: the "
                             "held-out rows would differ from one process count to another")
        check_choice(self, "rho_estimate", solvers.RHO_ESTIMATES)
        check_number(self, "rho_momentum", 0, 1, high_open=True)
        self._check_solver_params()
        if self.memory_budget is not None:
            try:
                training.parse_bytes(self.memory_budget)
            except ValueError as err:  # (its words say "memory size", not which parameter)
                raise ValueError(f"memory_budget: {err}") from None

    def _check_model_params(self):
        """The checks of the parameters that define the function a fitted model computes (a
        loaded model's, whatever machine it is loaded on)."""
        check_number(self, "n_hidden", 1, integer=True)
        check_number(self, "sparsity_target", 0, 1, low_open=True, high_open=True)
        check_number(self, "sparsity_weight", 0)
        check_number(self, "weight_decay", 0)
        check_choice(self, "activation", HIDDEN_ACTIVATIONS)
        check_choice(self, "sparsity", tuple(PENALTIES))
        check_choice(self, "decoder", DECODERS)
        check_choice(self, "init", params.INITS)
        check_choice(self, "dtype", DTYPES)

    def _warn_about_values(self, low, high):
        """Warn (at the caller of ``fit``) if the training rows' values ``low`` to ``high`` are
        out of the decoder's reach, by more than the rounding of a scaling to [0, 1] leaves
        (scikit-learn's MinMaxScaler gives 1.0000000000000002), or are all one value."""
        if low == high:
            warn(f"every value of X is {low:.6g}: the samples are all the same, and there is "
                 "nothing to learn")
        if self.decoder == "sigmoid" and (low < -1e-6 or high > 1.0 + 1e-6):
            warn(f"X has values in [{low:.3g}, {high:.3g}] but decoder='sigmoid' outputs only "
                 f"(0, 1): {RESCALE}")

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
        W1, b1, W2, b2 = (np.array(a, dtype=storage_dtype(self.dtype)) for a in p)
        self.W1_, self.b1_, self.W2_, self.b2_ = W1, b1, W2, b2
        self.components_ = self.W1_

    # --- using the model ---

    def _validate(self, X):
        check_is_fitted(self)
        if isinstance(X, (Rows, NpyFile)):  # fit streams them; using a model takes arrays
            raise TypeError(
                f"{type(X).__name__} is for training; pass the rows as an array (np.load of a "
                ".npy), or write the features of rows larger than memory to a file with "
                "sparseae.io.write_features(model, rows, path)")
        return validated(self, X, dtype=self.W1_.dtype, reset=False)

    def transform(self, X):
        """Hidden activations ``a2 = f(X W1^T + b1)``, shape ``(n_samples, n_hidden)``."""
        X = self._validate(X)
        return objective.encode(self._params(), X, self.activation)

    def inverse_transform(self, H):
        """Reconstructions ``a3 = g(H W2^T + b2)`` from hidden activations ``H``."""
        check_is_fitted(self)
        H = finite(check_array(on_host(H), dtype=self.W1_.dtype, input_name="H",
                               ensure_all_finite=False), "H")
        if H.shape[1] != self.W1_.shape[0]:
            raise ValueError(
                f"H has {H.shape[1]} columns, but this model has {self.W1_.shape[0]} hidden units"
            )
        return objective.decode(self._params(), H, self.decoder)

    def reconstruct(self, X):
        """``inverse_transform(transform(X))``, an array whatever ``set_output`` says."""
        X = self._validate(X)
        p = self._params()
        return objective.decode(p, objective.encode(p, X, self.activation), self.decoder)

    def cost(self, X) -> float:
        """The objective on ``X``, with ``rho_hat`` taken over the rows of ``X``."""
        X = self._validate(X)
        cost, _ = objective.cost_and_grad(self._params(), X, self._spec())
        return cost

    def score(self, X, y=None) -> float:
        """Minus the objective on ``X`` (higher is better, as scikit-learn expects).

        The objective includes the weight decay and the sparsity penalty, so a search over
        ``weight_decay`` or ``sparsity_weight`` by this score favours the smallest; compare
        such models by the reconstruction error of ``reconstruct`` instead."""
        return -self.cost(X)

    @property
    def _n_features_out(self):
        return self.W1_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = [storage_dtype(self.dtype).name]
        return tags

    # --- files ---

    def save(self, path):
        """Write the fitted model to ``path`` (a ``.npz`` without pickled objects); returns the
        path."""
        from .io import save

        return save(self, path)


def _resumed_chunks(resume, budget: int | None) -> dict[str, int]:
    """The rows per chunk of the run that saved ``resume``, by problem ("train",
    "validation"), where it ran under the same memory ``budget``."""
    run = (resume or {}).get("run", {})
    if run.get("memory_budget") != budget or not isinstance(run.get("chunk_rows"), dict):
        return {}
    return {name: rows for name, rows in run["chunk_rows"].items()
            if isinstance(rows, int) and not isinstance(rows, bool) and rows >= 1}
