"""Go agents: trained-policy loading and players, masked DQN, self-play and warm-start callbacks."""

from rllab.agents.go import players  # noqa: F401  (registers the model-backed player specs)
