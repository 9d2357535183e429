"""The Sequence Tutor end to end (``rllab tutor``, :func:`rllab.tutor`): prior, tuners, evaluation, report."""

from rllab.lab.tutor.pipeline import TutorConfig, TutorResult, run_tutor

__all__ = ["TutorConfig", "TutorResult", "run_tutor"]
