import numpy as np
import pytest
from scipy import stats as scipy_stats

from rllab.core.stats import iqm, stratified_bootstrap_ci


def test_iqm_hand_computed():
    # 8 scores: drop the 2 lowest and 2 highest -> mean(3, 4, 5, 6) = 4.5
    assert iqm([1, 2, 3, 4, 5, 6, 7, 100]) == pytest.approx(4.5)
    # 4 scores: drop one at each end -> mean(2, 3)
    assert iqm([[1.0], [2.0], [3.0], [10.0]]) == pytest.approx(2.5)
    # 3 scores: floor(0.75) = 0 dropped -> plain mean
    assert iqm([1, 2, 6]) == pytest.approx(3.0)


def test_iqm_matches_scipy_trim_mean_on_runs_by_tasks():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(10, 3))
    assert iqm(scores) == pytest.approx(scipy_stats.trim_mean(scores.ravel(), 0.25))


def test_bootstrap_ci_of_constant_scores_is_a_point():
    assert stratified_bootstrap_ci(np.full((5, 2), 3.0)) == (3.0, 3.0)


def test_bootstrap_ci_contains_estimate_and_narrows_with_more_runs():
    rng = np.random.default_rng(1)
    few = rng.normal(10, 2, size=5)
    many = rng.normal(10, 2, size=200)
    lo_few, hi_few = stratified_bootstrap_ci(few, seed=0)
    lo_many, hi_many = stratified_bootstrap_ci(many, seed=0)
    assert lo_few <= iqm(few) <= hi_few and lo_many <= iqm(many) <= hi_many
    assert hi_many - lo_many < hi_few - lo_few


def test_bootstrap_is_stratified_by_task():
    # Task 0 is always 0 and task 1 always 1: resampling within tasks keeps half the pool at each value, so the
    # mean is exactly 0.5 in every replicate; pooling across tasks would spread it.
    scores = np.stack([np.zeros(6), np.ones(6)], axis=1)
    assert stratified_bootstrap_ci(scores, statistic="mean") == (0.5, 0.5)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError):
        iqm([])
    with pytest.raises(ValueError):
        stratified_bootstrap_ci([1.0, 2.0], statistic="median")
