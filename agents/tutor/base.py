"""What every tuner shares: the prior, the network being tuned (a copy of the prior, or of a given starting network),
the batched melody env, the
counters and learning curve, and one state dict for checkpoints. A tuner subclass adds one training round."""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from rllab.agents.tutor.config import TunerConfig
from rllab.agents.tutor.sampling import rollout
from rllab.core.errors import UserError
from rllab.envs.melody import MelodyVecEnv
from rllab.music.note_rnn import NoteRNN


class Tuner:
    """One tuning run. Subclasses implement :meth:`round` and add their own parts to the state dict."""

    def __init__(self, config: TunerConfig, prior: NoteRNN, device: str, primers: np.ndarray | None = None,
                 batch: int | None = None, prior_in_reward: bool = True, start: nn.Module | None = None):
        self.config = config
        self.method = config.method
        self.device = torch.device(device)
        self.prior = prior.to(self.device).eval()
        self.primers = primers
        torch.manual_seed(config.seed)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        # the network tuned starts as a copy of the prior, or of ``start`` (e.g. an LSTM when the prior is a count
        # model, which has no weights to tune)
        self.model: NoteRNN = copy.deepcopy(start if start is not None else prior).to(self.device).train()
        self.model.requires_grad_(True)
        if not any(True for _ in self.model.parameters()):
            raise UserError(f"a {self.model.config.get('kind', 'count')} prior has no weights to tune: give the tuners "
                            "a neural starting network (a Note RNN)")
        self.env = MelodyVecEnv(prior, batch or config.collect_episodes, reward=config.reward_spec(prior_in_reward),
                                primers=primers, device=self.device, generator=self.generator)
        self.steps = 0
        self.updates = 0
        self.curves: list[dict[str, float]] = []
        self.wall = 0.0
        self.optimizer: torch.optim.Optimizer

    def round(self) -> None:
        """Collect one batch of episodes and learn from it."""
        raise NotImplementedError

    def train_round(self) -> None:
        start = time.perf_counter()
        self.round()
        self.wall += time.perf_counter() - start

    def evaluate_curve(self) -> dict[str, float]:
        """A curve point: mean per-note r_MT and log p of a fresh batch of the current policy's samples."""
        cfg = self.config
        self.model.eval()
        env = MelodyVecEnv(self.prior, cfg.eval_episodes, reward=cfg.reward_spec(True), primers=self.primers,
                           device=self.device, generator=self.generator)
        samples = rollout(env, self.model, self.method, generator=self.generator)
        self.model.train()
        point = {"steps": float(self.steps), "r_mt": float(samples.r_mt.mean()),
                 "log_p": float(samples.log_p.mean()), "kl": float(samples.kl.mean())}
        self.curves.append(point)
        return point

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "steps": self.steps,
                "updates": self.updates, "curves": self.curves, "wall": self.wall,
                "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps, self.updates, self.wall = int(state["steps"]), int(state["updates"]), float(state["wall"])
        self.curves = list(state["curves"])
        self.generator.set_state(state["generator"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
