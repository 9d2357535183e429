"""KL-regularised PPO on the melody MDP: the Note RNN tuned as a policy on ``r_MT − β (log π − log p)``, β = c
unless the preset's ``ppo.kl_coef`` says otherwise; an LSTM critic, GAE, clipped surrogate."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from rllab.agents.tutor.base import Tuner
from rllab.agents.tutor.config import TunerConfig
from rllab.agents.tutor.sampling import rollout, sequence_logits
from rllab.music.note_rnn import NoteRNN


class ValueRNN(nn.Module):
    """The PPO critic: an LSTM over the same tokens, one value per state."""

    def __init__(self, num_classes: int, hidden_size: int = 100):
        super().__init__()
        self.embed = nn.Embedding(num_classes, 32)
        self.lstm = nn.LSTM(32, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def primed_state(self, batch_size: int, primer_len: int, device: torch.device | str) -> None:
        """The critic has no bar-position input: it starts from the zero state (same interface as the Note RNN)."""
        return None

    def forward(self, tokens: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        hidden, state = self.lstm(self.embed(tokens), state)
        return self.head(hidden), state


def gae(reward: torch.Tensor, values: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """Generalised advantage estimates ``[B, T]`` for episodes that end after the last step (no bootstrap)."""
    advantages = torch.zeros_like(reward)
    running = torch.zeros_like(reward[:, 0])
    steps = reward.shape[1]
    for t in reversed(range(steps)):
        next_value = values[:, t + 1] if t + 1 < steps else torch.zeros_like(running)
        delta = reward[:, t] + gamma * next_value - values[:, t]
        running = delta + gamma * lam * running
        advantages[:, t] = running
    return advantages


def kl_penalised_reward(r_mt: torch.Tensor, log_pi: torch.Tensor, log_p: torch.Tensor, beta: float) -> torch.Tensor:
    """The per-step reward PPO maximises: music theory minus β times the sampled KL term ``log π − log p``."""
    return r_mt - beta * (log_pi - log_p)


class PPOKLTuner(Tuner):
    """One round = one batch of episodes from the current policy, then ``epochs`` passes of minibatch updates."""

    def __init__(self, config: TunerConfig, prior: NoteRNN, device: str, primers: np.ndarray | None = None,
                 start: nn.Module | None = None):
        super().__init__(config, prior, device, primers, batch=config.ppo.rollout_episodes, prior_in_reward=True,
                         start=start)
        self.critic = ValueRNN(prior.config["num_classes"]).to(self.device)
        params = list(self.model.parameters()) + list(self.critic.parameters())
        self.optimizer = torch.optim.Adam(params, lr=config.ppo.lr)

    @property
    def beta(self) -> float:
        ppo = self.config.ppo
        return ppo.kl_coef if ppo.kl_coef is not None else self.config.c

    def round(self) -> None:
        ppo = self.config.ppo
        self.model.eval()
        samples = rollout(self.env, self.model, "ppo_kl", generator=self.generator)
        self.model.train()
        self.steps += samples.tokens.numel()
        reward = kl_penalised_reward(samples.r_mt, samples.log_pi, samples.log_p, self.beta)
        with torch.no_grad():
            values = sequence_logits(self.critic, samples.primer, samples.tokens)[:, :, 0]
            advantages = gae(reward, values, ppo.gamma, ppo.gae_lambda)
            returns = advantages + values
        n = samples.tokens.shape[0]
        for _ in range(ppo.epochs):
            order = torch.randperm(n, device=self.device, generator=self.generator)
            for start in range(0, n, ppo.minibatch_episodes):
                idx = order[start:start + ppo.minibatch_episodes]
                self.update(samples.primer[idx], samples.tokens[idx], samples.log_pi[idx], advantages[idx],
                            returns[idx])

    def update(self, primer: torch.Tensor, tokens: torch.Tensor, old_log_pi: torch.Tensor,
               advantages: torch.Tensor, returns: torch.Tensor) -> None:
        ppo = self.config.ppo
        log_pi = torch.log_softmax(sequence_logits(self.model, primer, tokens), -1)
        new_log_prob = log_pi.gather(2, tokens[:, :, None])[:, :, 0]
        adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        ratio = torch.exp(new_log_prob - old_log_pi)
        policy_loss = -torch.min(ratio * adv, ratio.clamp(1 - ppo.clip, 1 + ppo.clip) * adv).mean()
        value = sequence_logits(self.critic, primer, tokens)[:, :, 0]
        loss = policy_loss + ppo.value_coef * nn.functional.mse_loss(value, returns)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_([p for g in self.optimizer.param_groups for p in g["params"]], ppo.max_grad_norm)
        self.optimizer.step()
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "critic": self.critic.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.critic.load_state_dict(state["critic"])
