"""Learning code: SB3 trainers (:mod:`.sb3`), the Note RNN trainer, the Sequence Tutor's tuners, Go players."""

from rllab.agents import go  # noqa: F401  (registers the model-backed Go player specs)
