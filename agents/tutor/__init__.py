"""The Sequence Tutor (Jaques et al. 2017): KL-control fine-tuning of a Note RNN.

Value tuners (Q with log prior, Ψ, G, RL only) in :mod:`.value`, KL-regularised PPO in :mod:`.ppo_kl`, both over
the shared :class:`~.base.Tuner`; :func:`~.train.train_tuner` runs one in a run directory and
:func:`~.sampling.evaluate` writes and scores compositions.
"""

from rllab.agents.tutor.config import METHODS, VALUE_METHODS, PPOConfig, TunerConfig
from rllab.agents.tutor.sampling import Samples, evaluate, rollout
from rllab.agents.tutor.train import make_tuner, train_tuner

__all__ = ["METHODS", "PPOConfig", "Samples", "TunerConfig", "VALUE_METHODS", "evaluate", "make_tuner", "rollout",
           "train_tuner"]
