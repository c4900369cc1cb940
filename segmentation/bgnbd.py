"""The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

Each customer (here: partner) is summarised by
    x    the number of repeat transactions (results on later periods than the first),
    t_x  the time of the last transaction, measured from the first,
    T    the time from the first transaction to the end of observation,
all in one time unit (the recompute uses days). While alive, transactions arrive as a Poisson
process whose rate is gamma(r, α) across customers; after each transaction the customer dies
with a probability that is beta(a, b) across customers.

Parameters are fitted by maximum likelihood in log space (so all four stay positive), with
identical (x, t_x, T) rows collapsed into weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, expit, gammaln, hyp2f1

LOG_BOUND_LOW, LOG_BOUND_HIGH = np.log(1e-6), np.log(1e6)


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class BgNbdFit:
    params: BgNbdParams
    log_likelihood: float
    customers: int
    converged: bool
    message: str


def log_likelihood(
    params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Each customer's log-likelihood (FHL 2005, eq. 6, taken in logs).

    L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
        + [x > 0] · B(a+1, b+x−1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    repeat = x > 0
    # For x = 0 the second term is absent; evaluate it at x = 1 there (b + x − 1 > 0) and drop it.
    x_safe = np.where(repeat, x, 1.0)
    a3 = betaln(a + 1, b + x_safe - 1) - betaln(a, b) - (r + x_safe) * np.log(alpha + t_x)
    return a1 + np.where(repeat, np.logaddexp(a2, a3), a2)


def fit(
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    *,
    start: BgNbdParams | None = None,
    max_customers: int | None = None,
) -> BgNbdFit:
    """Maximum-likelihood parameters for the given customers. With ``max_customers``, a larger
    population is fitted on a fixed-seed random sample of that size — four population
    parameters need no million rows, and the same input always gives the same sample."""
    data = np.column_stack([np.asarray(x, float), np.asarray(t_x, float), np.asarray(T, float)])
    if max_customers is not None and len(data) > max_customers:
        chosen = np.random.default_rng(0).choice(len(data), size=max_customers, replace=False)
        data = data[np.sort(chosen)]
    rows, weights = np.unique(data, axis=0, return_counts=True)
    ux, ut_x, uT = rows[:, 0], rows[:, 1], rows[:, 2]
    scale = float(len(data))

    def negative(log_params: np.ndarray) -> float:
        params = BgNbdParams(*np.exp(log_params))
        value = -float(np.dot(weights, log_likelihood(params, ux, ut_x, uT)))
        return value / scale if np.isfinite(value) else np.inf

    start = start or BgNbdParams(1.0, 1.0, 1.0, 1.0)
    x0 = np.log([start.r, start.alpha, start.a, start.b])
    # Bounded log-parameters (1e-6 … 1e6): a degenerate sample (nobody ever drops out drives
    # a → 0) ends at the bound instead of wandering off. Quasi-Newton first — few evaluations;
    # Nelder–Mead only when it fails.
    bounds = [(LOG_BOUND_LOW, LOG_BOUND_HIGH)] * 4
    best = minimize(
        negative, x0, method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-11, "gtol": 1e-7}
    )
    if not best.success:
        fallback = minimize(
            negative,
            best.x,
            method="Nelder-Mead",
            bounds=bounds,
            options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-12},
        )
        if fallback.fun <= best.fun:
            best = fallback
    params = BgNbdParams(*(float(v) for v in np.exp(best.x)))
    return BgNbdFit(
        params=params,
        log_likelihood=-float(best.fun) * scale,
        customers=len(data),
        converged=bool(best.success) and bool(np.isfinite(best.fun)),
        message=str(best.message),
    )


def _death_log_odds(
    params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """log( a/(b+x−1) · ((α+T)/(α+t_x))^(r+x) ), the term beside 1 in P(alive)'s denominator;
    −inf where x = 0 (a customer with no repeat is alive as far as the model can tell)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    x_safe = np.where(repeat, x, 1.0)
    term = (
        np.log(a)
        - np.log(b + x_safe - 1)
        + (r + x_safe) * (np.log(alpha + T) - np.log(alpha + t_x))
    )
    return np.where(repeat, term, -np.inf)


def p_alive(params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """P(alive | x, t_x, T) (FHL 2005, eq. 11)."""
    x = np.asarray(x, dtype=float)
    return expit(-_death_log_odds(params, x, np.asarray(t_x, float), np.asarray(T, float)))


def expected_transactions(
    params: BgNbdParams, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected transactions in the next ``t`` (FHL 2005, eq. 10)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    z = t / (alpha + T + t)
    growth = 1 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp2f1(
        r + x, b + x, a + b + x - 1, z
    )
    numerator = (a + b + x - 1) / (a - 1) * growth
    return numerator * p_alive(params, x, t_x, T)
