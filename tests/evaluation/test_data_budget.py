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
