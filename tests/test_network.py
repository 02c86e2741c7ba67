"""The feedforward network: every configuration's gradient, and checks against scikit-learn."""

import itertools

import numpy as np
import pytest
from sklearn.metrics import log_loss

from sparseae import network
from sparseae.gradcheck import check_gradient

CONFIGS = list(itertools.product(network.HIDDEN, network.OUTPUTS, [0, 1, 2]))


def problem(hidden, output, depth, seed=0, m=10, n=16, k=4):
    rng = np.random.default_rng(seed)
    sizes = [n] + [6] * depth + [k]
    X = rng.uniform(0.1, 0.9, size=(m, n))
    Y = rng.integers(0, k, m) if output == "softmax" else rng.uniform(0.1, 0.9, (m, k))
    layers = [network.Layer(L.W, rng.normal(0, 0.1, L.b.shape))
              for L in network.initialize(sizes, rng)]

    def fun(theta):
        cost, grads = network.cost_and_grad(network.unpack(theta, sizes), X, Y, hidden, output,
                                            1e-4)
        return cost, network.pack(grads)

    return fun, network.pack(layers), X, Y, sizes


@pytest.mark.parametrize("hidden, output, depth", CONFIGS)
def test_gradient_of_every_configuration(hidden, output, depth):
    """Order-4 central differences (eps 1e-4) leave only rounding: below 1e-9 with a wide
    margin. The order-2 difference is within its truncation error, eps^2/6 J''' (about 1e-9
    for tanh units)."""
    fun, theta, *_ = problem(hidden, output, depth)
    assert check_gradient(fun, theta, eps=1e-4, order=4) < 1e-9
    assert check_gradient(fun, theta, eps=1e-4, order=2) < 3e-9


EDGES = {  # layer sizes, rows, weight decay, all-zero data
    "one row": ([5, 3, 2], 1, 1e-4, False),
    "one feature": ([1, 3, 2], 6, 1e-4, False),
    "one hidden unit": ([5, 1, 2], 6, 1e-4, False),
    "lambda = 0": ([5, 3, 2], 6, 0.0, False),
    "all-zero data": ([5, 3, 3], 6, 1e-4, True),
}


@pytest.mark.parametrize("edge", list(EDGES))
@pytest.mark.parametrize("hidden, output", list(itertools.product(network.HIDDEN,
                                                                  network.OUTPUTS)))
def test_edge_problems_give_a_finite_cost_and_a_checked_gradient(hidden, output, edge):
    """Without a floating-point warning; order 4, as above."""
    sizes, m, lam, zeros = EDGES[edge]
    rng = np.random.default_rng(0)
    X = np.zeros((m, sizes[0])) if zeros else rng.uniform(0.1, 0.9, (m, sizes[0]))
    Y = rng.integers(0, sizes[-1], m) if output == "softmax" else rng.uniform(0.1, 0.9,
                                                                              (m, sizes[-1]))
    theta = network.pack([network.Layer(L.W, rng.normal(0, 0.1, L.b.shape))
                          for L in network.initialize(sizes, rng)])

    def fun(t):
        cost, grads = network.cost_and_grad(network.unpack(t, sizes), X, Y, hidden, output, lam)
        return cost, network.pack(grads)

    with np.errstate(all="raise"):
        cost, grad = fun(theta)
        assert np.isfinite(cost) and np.isfinite(grad).all()
        assert check_gradient(fun, theta, eps=1e-4, order=4) < 1e-9


def test_a_broken_gradient_is_caught():
    fun, theta, *_ = problem("tanh", "softmax", 2)

    def broken(t):
        cost, grad = fun(t)
        grad = grad.copy()
        grad[-3] *= 1.001
        return cost, grad

    assert check_gradient(broken, theta, order=4) > 1e-6


def test_softmax_cost_is_scikit_learns_log_loss():
    fun, theta, X, y, sizes = problem("relu", "softmax", 1)
    layers = network.unpack(theta, sizes)
    proba = network.forward(layers, X, "relu", "softmax")[-1]
    decay = 0.5 * 1e-4 * sum(np.sum(L.W**2) for L in layers)
    assert fun(theta)[0] == pytest.approx(log_loss(y, proba, labels=range(4)) + decay,
                                          rel=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-14)


@pytest.mark.parametrize("w", [30.0, 800.0])
def test_the_cross_entropy_of_a_confidently_wrong_prediction_is_exact(w):
    """One sample of class 0 that the network puts in class 1 with logit margin ``w``: the cost
    is ``w + log(1 + exp(-w))`` and grows with ``w`` after ``exp(-w)`` underflows (at about
    745), where a cost taken from the probability stalls at -log(tiny) = 708.4."""
    def cost(w):
        layers = [network.Layer(np.array([[0.0], [w]]), np.zeros(2))]
        return network.cost_and_grad(layers, np.ones((1, 1)), np.array([0]), "sigmoid",
                                     "softmax", 0.0)

    value, grads = cost(w)
    assert value == pytest.approx(w + np.log1p(np.exp(-w)), rel=1e-15)
    assert (cost(w + 1e-3)[0] - cost(w - 1e-3)[0]) / 2e-3 == pytest.approx(grads[0].W[1, 0],
                                                                           rel=1e-6)


def test_softmax_does_not_overflow():
    from sparseae.activations import softmax

    z = np.array([[1000.0, 0.0, -1000.0], [1e308, 1e308, 0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        p = softmax(z)
    np.testing.assert_allclose(p, [[1, 0, 0], [0.5, 0.5, 0]])


def test_zero_weights_give_log_k():
    layers = [network.Layer(np.zeros((5, 3)), np.zeros(5))]
    cost, grads = network.cost_and_grad(layers, np.ones((4, 3)), np.array([0, 1, 2, 3]),
                                        "sigmoid", "softmax", 0.1)
    assert cost == pytest.approx(np.log(5), rel=1e-14)
    np.testing.assert_allclose(grads[0].b, [0.2 - 0.25] * 4 + [0.2], rtol=1e-12)


def test_weight_decay_spares_biases():
    fun0 = problem("sigmoid", "linear", 1)
    _, theta, X, Y, sizes = fun0
    layers = network.unpack(theta, sizes)
    _, g0 = network.cost_and_grad(layers, X, Y, "sigmoid", "linear", 0.0)
    _, g1 = network.cost_and_grad(layers, X, Y, "sigmoid", "linear", 0.5)
    for a, b, L in zip(g0, g1, layers):
        np.testing.assert_allclose(b.W - a.W, 0.5 * L.W, atol=1e-14)
        np.testing.assert_array_equal(b.b, a.b)


def test_initialisation_is_uniform_within_the_tutorials_radius():
    """Each layer's W is drawn in turn, uniform on [-r, r] with r = sqrt(6 / (n_in + n_out + 1))
    as the tutorial's autoencoders; biases are zero."""
    sizes = [3, 2, 4]
    layers = network.initialize(sizes, np.random.default_rng(0))
    rng = np.random.default_rng(0)
    for (W, b), n_in, n_out in zip(layers, sizes[:-1], sizes[1:]):
        r = np.sqrt(6 / (n_in + n_out + 1))
        np.testing.assert_array_equal(W, rng.uniform(-r, r, size=(n_out, n_in)))
        np.testing.assert_array_equal(b, np.zeros(n_out))


def test_pack_and_unpack():
    sizes = [5, 4, 3]
    theta = np.arange(network.n_params(sizes), dtype=float)
    layers = network.unpack(theta, sizes)
    assert [L.W.shape for L in layers] == [(4, 5), (3, 4)]
    assert all(np.shares_memory(L.W, theta) for L in layers)
    np.testing.assert_array_equal(network.pack(layers), theta)
    with pytest.raises(ValueError, match="for layer sizes"):
        network.unpack(theta[:-1], sizes)


@pytest.mark.parametrize("output, Y, message", [
    ("sigmoid", np.zeros(4), r"^sigmoid targets must have shape \(4, 1\), got \(4,\)$"),
    ("linear", np.zeros((4, 2)), r"^linear targets must have shape \(4, 1\), got \(4, 2\)$"),
    ("softmax", np.array([0, 1, -1, 2]), r"^softmax labels must be in \[0, 3\), got -1 to 2$"),
    ("softmax", np.array([0, 1, 3, 2]), r"^softmax labels must be in \[0, 3\), got 0 to 3$"),
    ("softmax", np.zeros(4), "^softmax targets are 4 integer labels, got an array of shape "
                             r"\(4,\) and dtype float64$"),
])
def test_targets_that_would_broadcast_or_wrap_around_are_refused(output, Y, message):
    """A 1-D target against one output unit broadcast to an (m, m) error; label -1 took the
    last class."""
    X = np.random.default_rng(0).random((4, 3))
    layers = network.initialize([3, 1 if output != "softmax" else 3], np.random.default_rng(0))
    with pytest.raises(ValueError, match=message):
        network.cost_and_grad(layers, X, Y, "sigmoid", output, 0.0)


def test_no_rows_is_a_clear_error():
    rng = np.random.default_rng(0)
    layers = [network.Layer(rng.normal(size=(3, 4)), np.zeros(3)),
              network.Layer(rng.normal(size=(2, 3)), np.zeros(2))]
    with pytest.raises(ValueError, match="^the data has no rows$"):
        network.cost_and_grad(layers, np.empty((0, 4)), np.empty(0, dtype=int), "sigmoid",
                              "softmax", 1e-4)
