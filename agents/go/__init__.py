"""Go agents: trained-policy loading and players, masked DQN, self-play and warm-start callbacks."""

from rllab.agents.go import players  # noqa: F401  (registers the model-backed player specs)
from rllab.agents.go.az import player as az_player  # noqa: F401  (registers the az: player spec)
