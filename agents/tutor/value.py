"""The value tuners of the Sequence Tutor: Q-learning with log prior, Ψ-learning, G-learning and RL only.

A recurrent value network initialised from the Note RNN is trained from replayed whole episodes with one of four
targets (``γ`` = discount, ``θ⁻`` = target network, ``p`` = the frozen Note RNN)::

    q        y = r_MT/c + log p(a|s) + γ max_a' Q(s',a'; θ⁻)                policy argmax / softmax of Q
    psi      y = r_MT/c + log p(a|s) + γ logsumexp_a' Ψ(s',a'; θ⁻)          policy ∝ exp Ψ
    g        y = r_MT/c + γ logsumexp_a' [log p(a'|s') + G(s',a'; θ⁻)]       policy ∝ p · exp G
    rl_only  y = r_MT/c + γ max_a' Q(s',a'; θ⁻)                            (no prior: the baseline)

Unlike the original implementation, replay holds whole episodes and the network's hidden states are recomputed by
running it over the full episode (full BPTT; the episodes are short), the last step of an episode is terminal (it
does not bootstrap), and exploration stores the action it actually played.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from rllab.agents.tutor.base import Tuner
from rllab.agents.tutor.config import TunerConfig
from rllab.agents.tutor.replay import EpisodeReplay
from rllab.agents.tutor.sampling import rollout, sequence_logits
from rllab.music.note_rnn import NoteRNN


def td_targets(method: str, r_mt: torch.Tensor, log_p: torch.Tensor, next_values: torch.Tensor,
               next_log_prior: torch.Tensor, c: float, gamma: float) -> torch.Tensor:
    """Targets ``[B, T]``. ``next_*[:, t]`` describe s_{t+1}; the last step is terminal (no bootstrap)."""
    reward = r_mt / c + (log_p if method in ("q", "psi") else 0.0)
    if method in ("q", "rl_only"):
        backup = next_values.max(-1).values
    elif method == "psi":
        backup = torch.logsumexp(next_values, -1)
    else:  # g
        backup = torch.logsumexp(next_log_prior + next_values, -1)
    done = torch.zeros_like(reward)
    done[:, -1] = 1.0
    return reward + gamma * (1.0 - done) * backup


class ValueTuner(Tuner):
    """Q / Ψ / G / RL-only: ε-greedy or Boltzmann collection into replay, soft-updated target network."""

    def __init__(self, config: TunerConfig, prior: NoteRNN, device: str, primers: np.ndarray | None = None,
                 start: nn.Module | None = None):
        super().__init__(config, prior, device, primers, prior_in_reward=config.method in ("q", "psi"), start=start)
        self.target = copy.deepcopy(self.model).requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.replay = EpisodeReplay(max(config.replay_size // config.length, config.batch_size),
                                    self.env.primers.shape[1], config.length, self.device)
        self.update_credit = 0.0

    def epsilon(self) -> float:
        cfg = self.config
        frac = min(1.0, self.steps / max(1, cfg.exploration_steps))
        return cfg.epsilon_start + frac * (cfg.epsilon_end - cfg.epsilon_start)

    def update(self) -> float:
        """One gradient step on a replayed batch of episodes; returns the loss."""
        cfg = self.config
        primer, tokens, r_mt, log_p = self.replay.sample(cfg.batch_size, self.generator)
        values = sequence_logits(self.model, primer, tokens)
        with torch.no_grad():
            next_values = shift_left(sequence_logits(self.target, primer, tokens))
            next_log_prior = torch.zeros_like(next_values)
            if self.method == "g":
                next_log_prior = shift_left(torch.log_softmax(sequence_logits(self.prior, primer, tokens), -1))
            target = td_targets(self.method, r_mt, log_p, next_values, next_log_prior, cfg.c, cfg.gamma)
        taken = values.gather(2, tokens[:, :, None])[:, :, 0]
        loss_fn = nn.functional.mse_loss if cfg.loss == "mse" else nn.functional.smooth_l1_loss
        loss = loss_fn(taken, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        with torch.no_grad():
            for target_param, param in zip(self.target.parameters(), self.model.parameters(), strict=True):
                target_param.lerp_(param, cfg.target_update)
        self.updates += 1
        return loss.detach().item()

    def round(self) -> None:
        cfg = self.config
        self.model.eval()
        epsilon = max(self.epsilon(), 1e-9) if cfg.exploration == "egreedy" else 0.0
        samples = rollout(self.env, self.model, self.method, epsilon=epsilon, generator=self.generator)
        self.model.train()
        self.replay.add(samples)
        self.steps += samples.tokens.numel()
        if self.replay.size < cfg.batch_size:
            return
        self.update_credit += cfg.replay_ratio * samples.tokens.numel() / (cfg.batch_size * cfg.length)
        while self.update_credit >= 1.0:
            self.update()
            self.update_credit -= 1.0

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "target": self.target.state_dict(), "replay": self.replay.state_dict(),
                "update_credit": self.update_credit}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.target.load_state_dict(state["target"])
        self.replay.load_state_dict(state["replay"])
        self.update_credit = float(state["update_credit"])


def shift_left(values: torch.Tensor) -> torch.Tensor:
    """``out[:, t] = values[:, t + 1]`` (the next state's), zeros after the last step."""
    return torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], 1)
