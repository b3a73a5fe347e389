"""Data-budget advice: how much macro-F1 the next samples of a language are likely to buy.

A learning curve (macro-F1 of one language at several training sizes) is fitted with the inverse power law that
learning curves follow, F1(n) = a - b * n^-c (a: the ceiling, c: how fast it is approached), or with a straight line
in log n when there are only two sizes. The gain of `extra` more samples is F1(n + extra) - F1(n) on that curve.
Its interval comes from a parametric bootstrap: each point's score is redrawn within its own sampling error (a
macro-F1 on m test samples is uncertain by about sqrt(F1 (1 - F1) / m)), the curve refitted, the gain recomputed;
the 10th and 90th percentiles of those gains are the interval. A curve that has flattened gives a gain near 0 with a
narrow interval; two noisy points give a wide one, and the page says so.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DRAWS = 200
INTERVAL = (10.0, 90.0)  # percentiles: an 80% interval


@dataclass(frozen=True)
class Curve:
    kind: str  # "power" or "log"
    a: float
    b: float
    c: float = 0.0

    def __call__(self, n: float) -> float:
        n = max(float(n), 1.0)
        if self.kind == "power":
            return self.a - self.b * n ** (-self.c)
        return self.a + self.b * math.log(n)


@dataclass(frozen=True)
class Gain:
    extra: int  # samples added
    expected: float  # macro-F1 points (0-1 scale) on the fitted curve
    low: float
    high: float

    def words(self) -> str:
        return f"+{self.expected:.3f} (80% interval {self.low:+.3f} to {self.high:+.3f})"


def fit_curve(sizes: Sequence[float], scores: Sequence[float]) -> Curve:
    """The curve through (size, macro-F1) points: a power law from three sizes, a line in log n from two."""
    n = np.asarray(sizes, dtype=float)
    f = np.asarray(scores, dtype=float)
    if len(n) < 2 or len(set(n.tolist())) < 2:
        raise ValueError("a learning curve needs at least two different sizes")
    slope, intercept = np.polyfit(np.log(n), f, 1)
    line = Curve("log", float(intercept), float(max(slope, 0.0)))
    if len(set(n.tolist())) < 3:
        return line
    from scipy.optimize import OptimizeWarning, curve_fit

    def power(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
        return a - b * np.power(x, -c)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            (a, b, c), _ = curve_fit(
                power, n, f, p0=(min(1.0, f.max() + 0.05), 1.0, 0.5), bounds=([0, 0, 0.01], [1, 100, 3]), maxfev=5000
            )
    except (RuntimeError, ValueError):
        return line
    return Curve("power", float(a), float(b), float(c))


def point_error(score: float, test_samples: int) -> float:
    """The sampling error of a macro-F1 measured on `test_samples` texts (a binomial approximation)."""
    return math.sqrt(max(score * (1 - score), 0.01) / max(test_samples, 1))


def expected_gain(
    sizes: Sequence[float],
    scores: Sequence[float],
    now: float,
    extra: int,
    test_samples: int,
    *,
    seed: int = 0,
) -> Gain:
    """What `extra` more samples are likely to buy at `now` samples, on this language's curve, with an interval."""
    curve = fit_curve(sizes, scores)
    expected = max(0.0, curve(now + extra) - curve(now))
    rng = np.random.default_rng(seed)
    errors = np.array([point_error(s, test_samples) for s in scores])
    drawn = np.clip(np.asarray(scores, dtype=float) + rng.normal(0.0, errors, size=(DRAWS, len(scores))), 0.0, 1.0)
    if len(set(sizes)) >= 3:
        gains = _power_gains(np.asarray(sizes, dtype=float), drawn, now, extra)
    else:
        gains = np.array([_gain_on(fit_curve(sizes, row.tolist()), now, extra) for row in drawn])
    low, high = np.percentile(gains, INTERVAL)
    # the curve's own figure stays inside its interval (on a flat curve both are 0 give or take rounding)
    return Gain(extra, expected, min(float(low), expected), max(float(high), expected))


def _gain_on(curve: Curve, now: float, extra: int) -> float:
    return curve(now + extra) - curve(now)


C_GRID = np.geomspace(0.01, 3.0, 150)  # the power law's exponents tried, within fit_curve's bounds


def _power_gains(sizes: np.ndarray, drawn: np.ndarray, now: float, extra: int) -> np.ndarray:
    """The gain on the power law refitted to each row of `drawn` (draws x sizes), all rows at once: for each exponent
    c of a grid, F1 = a - b x with x = n^-c is a straight line, fitted in closed form (a within [0, 1], b >= 0); each
    row keeps the c with the smallest squared error. One curve_fit per draw cost seconds per language."""
    x = sizes[None, :] ** -C_GRID[:, None]  # exponents x sizes
    x_mean = x.mean(axis=1)
    x_centred = x - x_mean[:, None]
    f_mean = drawn.mean(axis=1)
    slope = (drawn - f_mean[:, None]) @ x_centred.T / (x_centred**2).sum(axis=1)  # draws x exponents
    b = np.clip(-slope, 0.0, 100.0)
    a = np.clip(f_mean[:, None] + b * x_mean[None, :], 0.0, 1.0)
    error = ((a[:, :, None] - b[:, :, None] * x[None, :, :] - drawn[:, None, :]) ** 2).sum(axis=2)
    best = error.argmin(axis=1)
    rows = np.arange(len(drawn))
    b_best, c_best = b[rows, best], C_GRID[best]
    start = max(float(now), 1.0)
    return b_best * (start**-c_best - (start + extra) ** -c_best)
