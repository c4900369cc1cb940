"""BG/NBD against the paper's own data: CDNOW, 2,357 customers, 39-week calibration, for which
Fader, Hardie & Lee (2005) publish r = 0.243, α = 4.414, a = 0.793, b = 2.426, LL = −9582.4."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation import bgnbd

DATA = Path(__file__).resolve().parent.parent / "data" / "cdnow_customers_summary.csv"
PUBLISHED = bgnbd.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(DATA)


@pytest.fixture(scope="module")
def cdnow_fit(cdnow) -> bgnbd.BgNbdFit:
    return bgnbd.fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def test_the_data_is_the_papers(cdnow):
    assert len(cdnow) == 2357
    assert int(cdnow["frequency"].sum()) == 2457  # repeat purchases in calibration
    assert int((cdnow["frequency"] == 0).sum()) == 1411


@pytest.mark.parametrize("name", ["r", "alpha", "a", "b"])
def test_fit_reproduces_the_published_parameters_within_1_percent(cdnow_fit, name):
    assert getattr(cdnow_fit.params, name) == pytest.approx(getattr(PUBLISHED, name), rel=0.01)


def test_fit_reaches_the_published_log_likelihood(cdnow_fit):
    assert cdnow_fit.converged
    assert cdnow_fit.customers == 2357
    assert cdnow_fit.log_likelihood == pytest.approx(-9582.4, abs=0.1)


def test_log_likelihood_at_the_published_parameters(cdnow):
    total = bgnbd.log_likelihood(PUBLISHED, cdnow["frequency"], cdnow["recency"], cdnow["T"]).sum()
    assert total == pytest.approx(-9582.4, abs=0.1)


def test_conditional_expectation_of_the_papers_worked_example(cdnow_fit):
    # FHL 2005: a customer with x = 2, t_x = 30.43, T = 38.86 is expected to make 1.226
    # purchases in the next 39 weeks.
    expected = bgnbd.expected_transactions(
        cdnow_fit.params, 39, np.array([2]), np.array([30.43]), np.array([38.86])
    )
    assert expected[0] == pytest.approx(1.226, abs=0.001)


def test_p_alive():
    params = PUBLISHED
    # No repeat purchase: alive as far as the model can tell.
    assert bgnbd.p_alive(params, np.array([0]), np.array([0.0]), np.array([38.86]))[0] == 1.0
    recent, lapsed = bgnbd.p_alive(
        params, np.array([2, 2]), np.array([30.43, 5.0]), np.array([38.86, 38.86])
    )
    assert recent == pytest.approx(0.7266, abs=0.001)
    assert lapsed == pytest.approx(0.1237, abs=0.001)
    # Very frequent, then silent: the probability underflows gracefully to ~0, not NaN.
    assert bgnbd.p_alive(params, np.array([500]), np.array([1.0]), np.array([300.0]))[
        0
    ] == pytest.approx(0.0, abs=1e-12)


def test_log_likelihood_handles_x_zero_with_b_below_one():
    # For x = 0 the second term is absent; B(a+1, b−1) with b < 1 must not leak a NaN.
    params = bgnbd.BgNbdParams(r=0.5, alpha=2.0, a=0.7, b=0.6)
    values = bgnbd.log_likelihood(
        params, np.array([0, 1, 3]), np.array([0.0, 2.0, 5.0]), np.array([10.0, 10.0, 10.0])
    )
    assert np.all(np.isfinite(values))


def test_fit_recovers_parameters_from_simulated_data():
    rng = np.random.default_rng(7)
    true = bgnbd.BgNbdParams(r=0.8, alpha=10.0, a=0.9, b=3.0)
    n, horizon = 4000, 180.0
    lam = rng.gamma(true.r, 1 / true.alpha, n)
    p = rng.beta(true.a, true.b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):  # a simulation, not production code: customers one by one is clearest
        t, alive = 0.0, True
        while alive:
            t += rng.exponential(1 / lam[i])
            if t > horizon:
                break
            x[i] += 1
            t_x[i] = t
            alive = rng.random() >= p[i]
    fit = bgnbd.fit(x, t_x, np.full(n, horizon))
    assert fit.params.r == pytest.approx(true.r, rel=0.2)
    assert fit.params.alpha == pytest.approx(true.alpha, rel=0.25)
    assert fit.params.a == pytest.approx(true.a, rel=0.3)
    assert fit.params.b == pytest.approx(true.b, rel=0.35)
