"""rllab: a reinforcement-learning and sequence-tuning lab.

Layers, lowest first: :mod:`rllab.core` (errors, atomic files, run directories, configs, stats) ->
:mod:`rllab.music` (tokens, corpus, MIDI, rules, metrics, the Note RNN model) -> :mod:`rllab.envs` (Gymnasium
environments, registered as ``rllab/...`` on import) -> :mod:`rllab.agents` (trainers, tuners, players) ->
:mod:`rllab.lab` (experiments, reports, the tutor job, benchmarks) -> :mod:`rllab.cli`.

For scripts: :func:`train`, :func:`evaluate`, :func:`run_experiment`, :func:`tune`, :func:`tutor`, :func:`compose`
are the functions the commands call.
"""

from rllab import envs  # noqa: F401  (registers rllab/GoLite-v0, rllab/SuperMario-v0, rllab/Melody-v0)
from rllab.lab.api import (
    ComposeResult,
    EvaluationResult,
    ExperimentResult,
    StudyResult,
    TrainResult,
    TutorResult,
    compose,
    evaluate,
    run_experiment,
    train,
    tune,
    tutor,
)

__version__ = "0.1.0"
__all__ = ["ComposeResult", "EvaluationResult", "ExperimentResult", "StudyResult", "TrainResult", "TutorResult",
           "__version__", "compose", "evaluate", "run_experiment", "train", "tune", "tutor"]
