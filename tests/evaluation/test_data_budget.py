"""Data-budget advice (issue 21): learning curves fitted and extrapolated, with an interval that is wide where the
curve is uncertain and near zero where it has flattened. Checked against the paper's topic learning curves."""

from __future__ import annotations

import pytest

from core.evaluation.data_budget import expected_gain, fit_curve

# README, "Training quality": topic, linear probe, mean macro-F1 at 10..1000 synthetic samples per language
SIZES = [10, 25, 50, 100, 200, 500, 1000]
SYNTHETIC = [0.674, 0.748, 0.779, 0.792, 0.801, 0.804, 0.810]


def test_the_power_law_follows_a_real_learning_curve() -> None:
    curve = fit_curve(SIZES, SYNTHETIC)
    assert curve.kind == "power"
    assert all(abs(curve(n) - f) < 0.02 for n, f in zip(SIZES, SYNTHETIC, strict=True))
    assert 0.80 < curve.a <= 0.85  # the ceiling the synthetic data approaches


def test_a_held_out_point_is_predicted_from_the_earlier_ones() -> None:
    curve = fit_curve(SIZES[:5], SYNTHETIC[:5])
    assert curve(1000) == pytest.approx(0.810, abs=0.015)


def test_early_samples_buy_more_than_late_ones_and_the_interval_holds_the_expectation() -> None:
    early = expected_gain(SIZES, SYNTHETIC, now=25, extra=100, test_samples=200)
    late = expected_gain(SIZES, SYNTHETIC, now=1000, extra=100, test_samples=200)
    assert early.expected > 0.03 > 0.005 > late.expected >= 0
    for gain in (early, late):
        assert gain.low <= gain.expected <= gain.high
    assert early.words().startswith(f"+{early.expected:.3f} (80% interval")


def test_two_points_give_a_log_line_and_fewer_test_samples_a_wider_interval() -> None:
    assert fit_curve([50, 200], [0.70, 0.76]).kind == "log"
    sure = expected_gain([50, 200], [0.70, 0.76], now=200, extra=100, test_samples=2000)
    unsure = expected_gain([50, 200], [0.70, 0.76], now=200, extra=100, test_samples=50)
    assert unsure.high - unsure.low > 2 * (sure.high - sure.low)
    with pytest.raises(ValueError):
        fit_curve([100], [0.7])


def test_the_refits_of_the_interval_agree_with_one_curve_fit_per_draw() -> None:
    """The interval's refits (a grid over the exponent, all draws at once) give the gains that fitting each draw with
    curve_fit gives, on the paper's curve."""
    import numpy as np

    from core.evaluation.data_budget import DRAWS, INTERVAL, _power_gains, point_error

    rng = np.random.default_rng(0)
    errors = np.array([point_error(s, 200) for s in SYNTHETIC])
    drawn = np.clip(np.asarray(SYNTHETIC) + rng.normal(0.0, errors, size=(DRAWS, len(SYNTHETIC))), 0.0, 1.0)
    one_by_one = []
    for row in drawn:
        curve = fit_curve(SIZES, row.tolist())
        one_by_one.append(curve(100 + 100) - curve(100))
    at_once = _power_gains(np.asarray(SIZES, dtype=float), drawn, 100, 100)
    assert np.percentile(at_once, INTERVAL) == pytest.approx(np.percentile(one_by_one, INTERVAL), abs=0.002)
    assert np.median(np.abs(at_once - np.asarray(one_by_one))) < 0.001
