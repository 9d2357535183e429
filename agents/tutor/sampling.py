"""Writing compositions with a tuned model (or the prior itself), batched: rollouts for training and evaluation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rllab.envs.melody import MelodyVecEnv, RewardSpec
from rllab.music.metrics import composition_stats
from rllab.music.note_rnn import NoteRNN


def policy_logits(method: str, values: torch.Tensor, log_prior: torch.Tensor) -> torch.Tensor:
    """Unnormalised log-policy: G acts on ``G + log p`` (π ∝ p·e^G), every other method on its own outputs."""
    return values + log_prior if method == "g" else values


@dataclass
class Samples:
    """Compositions and per-step diagnostics from one batched sampling pass."""

    primer: torch.Tensor    # [N, P]
    tokens: torch.Tensor    # [N, T]
    log_pi: torch.Tensor    # [N, T] log π(a_t|s_t) of the action taken (under the sampling distribution)
    log_p: torch.Tensor     # [N, T] log p(a_t|s_t) under the Note RNN
    kl: torch.Tensor        # [N, T] KL(π(·|s_t) ‖ p(·|s_t))
    entropy: torch.Tensor   # [N, T] H(π(·|s_t))
    r_mt: torch.Tensor      # [N, T] music-theory reward (zeros until scored)


@torch.no_grad()
def rollout(env: MelodyVecEnv, model: NoteRNN | None, method: str, *, epsilon: float = 0.0,
            greedy: bool = False, generator: torch.Generator | None = None, score: bool = True,
            primer_index: torch.Tensor | None = None, temperature: float = 1.0) -> Samples:
    """Write one batch of compositions with ``model`` (``None`` = sample the Note RNN itself).

    ``epsilon > 0``: ε-greedy around the argmax; otherwise Boltzmann sampling from the policy (``greedy`` takes
    the argmax). The stored action is always the one played. ``primer_index`` picks each composition's primer
    from the env's bank (random when omitted), e.g. to continue the same primers with several models.
    ``temperature`` divides the tuned policy's logits (the prior itself is always sampled as it is).
    """
    obs = env.reset(primer_index)
    state = None
    values = None
    if model is not None:
        logits, state = model(env.primer, model.primed_state(env.num_envs, env.primer.shape[1], env.device))
        values = logits[:, -1].float()
    steps = env.reward.length
    n = env.num_envs
    out = {name: torch.zeros(n, steps, device=env.device) for name in ("log_pi", "kl", "entropy")}
    for t in range(steps):
        log_prior = env.next_log_probs
        log_pi = log_prior if values is None else \
            torch.log_softmax(policy_logits(method, values, log_prior) / temperature, -1)
        if greedy or epsilon > 0:
            actions = log_pi.argmax(-1)
            if epsilon > 0:
                explore = torch.rand(n, device=env.device, generator=generator) < epsilon
                random = torch.randint(env.num_classes, (n,), device=env.device, generator=generator)
                actions = torch.where(explore, random, actions)
        else:
            actions = torch.multinomial(log_pi.exp(), 1, generator=generator)[:, 0]
        probs = log_pi.exp()
        out["log_pi"][:, t] = log_pi.gather(1, actions[:, None])[:, 0]
        out["kl"][:, t] = (probs * (log_pi - log_prior)).sum(-1)
        out["entropy"][:, t] = -(probs * log_pi).sum(-1)
        obs, _, _, _ = env.step(actions, score=False)
        if model is not None and t + 1 < steps:
            logits, state = model(obs[:, None], state)
            values = logits[:, -1].float()
    r_mt, log_p = env.score_episode() if score else (torch.zeros_like(env.log_p), env.log_p.clone())
    return Samples(env.primer.clone(), env.tokens.clone(), out["log_pi"], log_p, out["kl"], out["entropy"], r_mt)


def evaluate(prior: NoteRNN, model: NoteRNN | None, method: str, *, n: int, reward: RewardSpec,
             primers: np.ndarray | None, device: str, seed: int, batch: int = 2048, temperature: float = 1.0
             ) -> tuple[dict[str, float], np.ndarray]:
    """Sample ``n`` compositions and return ``(summary, tokens [n, T])``.

    The summary holds the Table-1 statistics of :func:`rllab.music.metrics.composition_stats` plus the mean per-step
    ``log_p`` (Note RNN), ``kl`` (KL(π‖p)), ``entropy`` and ``r_mt`` (music-theory reward per note).
    """
    generator = torch.Generator(device=device).manual_seed(seed)
    parts: list[Samples] = []
    for start in range(0, n, batch):
        env = MelodyVecEnv(prior, min(batch, n - start), reward=reward, primers=primers, device=device,
                           generator=generator)
        parts.append(rollout(env, model, method, generator=generator, temperature=temperature))
    tokens = torch.cat([s.tokens for s in parts]).cpu().numpy()
    summary = {name: float(value) for name, value in composition_stats(tokens, key=reward.key).items()}
    for name in ("log_p", "kl", "entropy", "r_mt"):
        summary[f"{name}_mean"] = float(torch.cat([getattr(s, name) for s in parts]).mean())
    return summary, tokens


def sequence_logits(model: nn.Module, primer: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Outputs ``[B, T, C]`` at the states before each action: one pass over primer + actions (full BPTT)."""
    sequence = torch.cat([primer, tokens[:, :-1]], dim=1)
    logits, _ = model(sequence, model.primed_state(primer.shape[0], primer.shape[1], primer.device))
    return logits[:, primer.shape[1] - 1:].float()
