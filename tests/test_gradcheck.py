import numpy as np
import pytest

from sparseae.gradcheck import check_gradient, numerical_gradient, relative_difference


def quadratic(theta):
    A = np.diag(np.arange(1.0, theta.size + 1))
    return 0.5 * theta @ A @ theta, A @ theta


def test_numerical_gradient_of_a_quadratic_is_exact():
    theta = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(numerical_gradient(quadratic, theta), quadratic(theta)[1],
                               rtol=1e-9)


def test_accepts_a_function_returning_only_the_cost():
    theta = np.array([0.3, 0.7])
    num = numerical_gradient(lambda t: np.sum(np.sin(t)), theta)
    np.testing.assert_allclose(num, np.cos(theta), rtol=1e-8)


def test_does_not_modify_theta():
    theta = np.array([1.0, 2.0])
    numerical_gradient(quadratic, theta)
    np.testing.assert_array_equal(theta, [1.0, 2.0])


def test_a_wrong_gradient_is_caught():
    def wrong(theta):
        cost, grad = quadratic(theta)
        return cost, grad * np.array([1.0, 1.0, 1.01])

    assert check_gradient(quadratic, np.ones(3)) < 1e-9
    assert check_gradient(wrong, np.ones(3)) > 1e-3


def test_chosen_coordinates_only_are_differenced_in_their_order():
    theta = np.array([1.0, -2.0, 0.5, 4.0])
    calls, ticks = [], []

    def counted(t):
        calls.append(t.copy())
        return quadratic(t)

    num = numerical_gradient(counted, theta, which=np.array([3, 1]),
                             progress=lambda: ticks.append(1))
    np.testing.assert_allclose(num, quadratic(theta)[1][[3, 1]], rtol=1e-9)
    assert len(calls) == 4 and len(ticks) == 2
    moved = [int(np.flatnonzero(c != theta)[0]) for c in calls]
    assert moved == [3, 3, 1, 1]

    def wrong_in_entry_2(t):
        cost, grad = quadratic(t)
        return cost, grad + np.array([0.0, 0.0, 1.0, 0.0])

    assert check_gradient(wrong_in_entry_2, theta, which=np.array([0, 1, 3])) < 1e-9
    assert check_gradient(wrong_in_entry_2, theta, which=np.array([2, 3])) > 1e-3
    assert check_gradient(quadratic, theta, which=np.array([3, 1])) < 1e-9  # (same order)


def test_check_variants_on_a_sample_of_coordinates(monkeypatch):
    """50 distinct coordinates of each variant's 640 (drawn with replacement, about 2 of the
    50 would repeat)."""
    from sparseae import gradcheck
    from sparseae.gradcheck import check_variants, variants

    ticks, chosen, check = [], [], gradcheck.check_gradient

    def watched(fun, theta, *args, which=None, **kwargs):
        chosen.append(which)
        return check(fun, theta, *args, which=which, **kwargs)

    monkeypatch.setattr(gradcheck, "check_gradient", watched)
    rows = check_variants(30, 10, 5, 0, 1e-4, 50, lambda: ticks.append(1))  # (order: keyword)
    assert len(rows) == len(variants()) == 8 and len(ticks) == 8 * 50
    assert [np.unique(which).size for which in chosen] == [50] * 8
    assert all(row["relative_difference"] < 1e-9 for row in rows)


def test_check_variants_evaluates_small_problems_on_one_blas_thread(monkeypatch):
    """gradcheck's problems take far below 1e9 FLOPs an evaluation, where NumPy's BLAS threads
    only fight over the cores (784-196, 20 coordinates, on 2 busy cores: 36 s on two, 3 s on
    one); as a fit's evaluations do, they run on one, whatever the BLAS was set to."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from sparseae import objective
    from sparseae.gradcheck import check_variants

    threads, made = [], objective.flat_cost_and_grad

    def watched(*args, **kwargs):
        fun = made(*args, **kwargs)

        def evaluate(theta):
            threads.append(max(lib["num_threads"] for lib in threadpool_info()
                               if lib["user_api"] == "blas"))
            return fun(theta)
        return evaluate

    monkeypatch.setattr(objective, "flat_cost_and_grad", watched)
    with threadpool_limits(2, user_api="blas"):
        check_variants(4, 2, 5, coordinates=1)
        assert max(lib["num_threads"] for lib in threadpool_info()
                   if lib["user_api"] == "blas") == 2  # (left as it was set)
    assert len(threads) == 8 * 5 and set(threads) == {1}


def test_relative_difference():
    assert relative_difference(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_difference(np.array([1.0, 0.0]), np.array([-1.0, 0.0])) == np.inf
    assert relative_difference(np.array([3.0, 4.0]), np.array([3.0, 4.0])) == 0.0
    assert relative_difference(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
