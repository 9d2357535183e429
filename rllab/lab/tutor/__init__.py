"""The Sequence Tutor end to end (``rllab tutor``, :func:`rllab.tutor`): prior, tuners, evaluation, report."""

from rllab.lab.tutor.pipeline import TutorConfig, TutorResult, run_tutor
from rllab.lab.tutor.seeds import SeedsResult, run_tutor_seeds

__all__ = ["SeedsResult", "TutorConfig", "TutorResult", "run_tutor", "run_tutor_seeds"]
