"""The tutor's learning curves stay readable when one early point (G-learning's first evaluation) is far off."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from rllab.lab.tutor.report import curves_figure, robust_limits


def curve(values: list[float]) -> list[dict[str, float]]:
    return [{"steps": 1000 * i, "r_mt": v, "log_p": -1.5 - 0.01 * i} for i, v in enumerate(values)]


def test_an_outlier_is_marked_on_the_edge_instead_of_flattening_the_curves():
    steady = [0.1 * i for i in range(8)]
    fig = curves_figure({"q": curve(steady), "psi": curve([v + 0.05 for v in steady]),
                         "g": curve([-40.0, *steady[1:]])})
    reward = fig.axes[0]
    low, high = reward.get_ylim()
    assert -1.0 < low < 0.0 and 0.7 < high < 1.5                 # the steady curves fill the axis
    assert any(t.get_text() == "-40" for t in reward.texts)      # the outlier's value is written at the edge
    assert len(fig.axes[1].texts) == 0                           # log p has no outlier: nothing marked
    plt.close(fig)


def test_no_outlier_no_clipping():
    assert robust_limits(np.linspace(-2.0, 1.0, 30)) is None
    assert robust_limits(np.array([1.0, np.nan])) is None
    low, high = robust_limits(np.array([*np.linspace(0.0, 1.0, 20), 50.0]))
    assert low < 0.0 and 1.0 < high < 2.0
