"""rllab: a reinforcement-learning and sequence-tuning lab.

Environments live in :mod:`envs` (registered under the ``rllab/`` namespace on import), learning code in
:mod:`agents`, and everything a user drives (CLI, configs, run directories, experiments, reports, the music
domain) here.
"""

__version__ = "0.1.0"
