"""The Sequence Tutor: KL-control fine-tuning of a Note RNN (Jaques et al. 2017).

A recurrent value network initialised from the Note RNN is trained on the melody MDP of :mod:`envs.melody` with one
of four targets (``gamma`` = discount, ``θ⁻`` = target network, ``p`` = the frozen Note RNN)::

    q        y = r_MT/c + log p(a|s) + γ max_a' Q(s',a'; θ⁻)                policy argmax / softmax of Q
    psi      y = r_MT/c + log p(a|s) + γ logsumexp_a' Ψ(s',a'; θ⁻)          policy ∝ exp Ψ
    g        y = r_MT/c + γ logsumexp_a' [log p(a'|s') + G(s',a'; θ⁻)]       policy ∝ p · exp G
    rl_only  y = r_MT/c + γ max_a' Q(s',a'; θ⁻)                            (no prior: the baseline)

and a fifth method, ``ppo_kl``, tunes the Note RNN as a policy with PPO on ``r_MT − β (log π − log p)``, β = c.

Unlike the original implementation, replay holds whole episodes (primer + 32 actions) and the network's hidden
states are recomputed by running it over the full episode (full BPTT; the episodes are short), the last step of an
episode is terminal (it does not bootstrap), and exploration stores the action it actually played.
Training is resumable: ``train_tuner`` checkpoints atomically into a :class:`rllab.runs.RunDir` and picks up from
the newest checkpoint when given the same run directory again.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.note_rnn import NoteRNN
from envs.melody import MelodyVecEnv, RewardSpec
from rllab.errors import UserError, choices_hint
from rllab.runs import RunDir, load_torch

VALUE_METHODS = ("q", "psi", "g", "rl_only")
METHODS = (*VALUE_METHODS, "ppo_kl")
EXPLORATION_MODES = ("egreedy", "boltzmann")


@dataclass
class PPOConfig:
    """KL-regularised PPO: ``rollout_episodes`` per update, ``epochs`` passes of ``minibatch_episodes``."""

    rollout_episodes: int = 256
    epochs: int = 4
    minibatch_episodes: int = 64
    lr: float = 3e-4
    gamma: float = 1.0
    gae_lambda: float = 0.95
    clip: float = 0.2
    value_coef: float = 0.5
    max_grad_norm: float = 1.0
    kl_coef: float | None = None  # β; None = c


@dataclass
class TunerConfig:
    """Everything that decides a tuning run (a preset in ``rllab/presets/tutor/`` fills it)."""

    method: str = "q"
    steps: int = 200_000              # environment steps (notes written)
    gamma: float = 0.5
    c: float = 0.5
    reward_preset: str = "music_theory_all"
    key: str = "C major"
    length: int = 32
    priming: str = "random_note"
    batch_size: int = 32              # episodes per gradient step (x length transitions)
    lr: float = 1e-3
    target_update: float = 0.01       # soft update rate η after every gradient step
    replay_size: int = 100_000        # transitions (kept as whole episodes)
    collect_episodes: int = 32        # episodes written in parallel per collection round
    replay_ratio: float = 6.4         # transitions trained on per transition collected (original: 32 / 5)
    exploration: str = "egreedy"
    epsilon_start: float = 1.0
    epsilon_end: float = 0.1
    exploration_steps: int = 100_000
    max_grad_norm: float = 5.0
    loss: str = "mse"                 # mse (paper) | huber
    eval_every: int = 20_000
    eval_episodes: int = 256
    checkpoint_every: int = 50_000
    seed: int = 0
    ppo: PPOConfig = field(default_factory=PPOConfig)

    def __post_init__(self) -> None:
        if isinstance(self.ppo, dict):
            self.ppo = make_dataclass(PPOConfig, self.ppo, "ppo")
        if self.method not in METHODS:
            raise UserError(f"unknown tuning method {self.method!r}; {choices_hint(METHODS)}")
        if self.exploration not in EXPLORATION_MODES:
            raise UserError(f"unknown exploration {self.exploration!r}; {choices_hint(EXPLORATION_MODES)}")
        if self.loss not in ("mse", "huber"):
            raise UserError(f"unknown loss {self.loss!r}; valid: huber, mse")
        for name in ("steps", "batch_size", "replay_size", "collect_episodes", "eval_every", "eval_episodes",
                     "checkpoint_every", "length"):
            if int(getattr(self, name)) <= 0:
                raise UserError(f"{name} must be positive (got {getattr(self, name)!r})")
        if not 0.0 <= self.gamma <= 1.0:
            raise UserError(f"gamma must lie in [0, 1] (got {self.gamma})")
        if not 0.0 < self.target_update <= 1.0:
            raise UserError(f"target_update must lie in (0, 1] (got {self.target_update})")
        self.reward_spec(prior=True)  # validates c, reward preset, key and length

    def reward_spec(self, prior: bool) -> RewardSpec:
        return RewardSpec(c=self.c, preset=self.reward_preset, prior=prior, key=self.key, length=self.length)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_dataclass(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build a config dataclass from a mapping, naming any unknown field."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UserError(f"unknown {where} field(s) {', '.join(unknown)}; {choices_hint(known)}")
    return cls(**data)


# -- policies ---------------------------------------------------------------------------------------------------

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
            greedy: bool = False, generator: torch.Generator | None = None, score: bool = True) -> Samples:
    """Write one batch of compositions with ``model`` (``None`` = sample the Note RNN itself).

    ``epsilon > 0``: ε-greedy around the argmax; otherwise Boltzmann sampling from the policy (``greedy`` takes
    the argmax). The stored action is always the one played.
    """
    obs = env.reset()
    state = None
    values = None
    if model is not None:
        logits, state = model(env.primer, None)
        values = logits[:, -1].float()
    steps = env.reward.length
    n = env.num_envs
    out = {name: torch.zeros(n, steps, device=env.device) for name in ("log_pi", "kl", "entropy")}
    for t in range(steps):
        log_prior = env.next_log_probs
        log_pi = log_prior if values is None else torch.log_softmax(policy_logits(method, values, log_prior), -1)
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
             primers: np.ndarray | None, device: str, seed: int, batch: int = 2048
             ) -> tuple[dict[str, float], np.ndarray]:
    """Sample ``n`` compositions and return ``(summary, tokens [n, T])``.

    The summary holds the Table-1 statistics of :func:`rllab.music.metrics.composition_stats` plus the mean per-step
    ``log_p`` (Note RNN), ``kl`` (KL(π‖p)), ``entropy`` and ``r_mt`` (music-theory reward per note).
    """
    from rllab.music.metrics import composition_stats

    generator = torch.Generator(device=device).manual_seed(seed)
    parts: list[Samples] = []
    for start in range(0, n, batch):
        env = MelodyVecEnv(prior, min(batch, n - start), reward=reward, primers=primers, device=device,
                           generator=generator)
        parts.append(rollout(env, model, method, generator=generator))
    tokens = torch.cat([s.tokens for s in parts]).cpu().numpy()
    summary = {name: float(value) for name, value in composition_stats(tokens, key=reward.key).items()}
    for name in ("log_p", "kl", "entropy", "r_mt"):
        summary[f"{name}_mean"] = float(torch.cat([getattr(s, name) for s in parts]).mean())
    return summary, tokens


# -- replay -----------------------------------------------------------------------------------------------------

class EpisodeReplay:
    """FIFO replay of whole episodes kept as tensors on the training device."""

    def __init__(self, capacity: int, primer_len: int, length: int, device: torch.device):
        self.capacity = capacity
        self.primer = torch.zeros(capacity, primer_len, dtype=torch.long, device=device)
        self.tokens = torch.zeros(capacity, length, dtype=torch.long, device=device)
        self.r_mt = torch.zeros(capacity, length, device=device)
        self.log_p = torch.zeros(capacity, length, device=device)
        self.size = 0
        self.next = 0

    def add(self, samples: Samples) -> None:
        n = samples.tokens.shape[0]
        index = (self.next + torch.arange(n, device=self.tokens.device)) % self.capacity
        self.primer[index] = samples.primer
        self.tokens[index] = samples.tokens
        self.r_mt[index] = samples.r_mt
        self.log_p[index] = samples.log_p
        self.next = (self.next + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        index = torch.randint(self.size, (batch,), device=self.tokens.device, generator=generator)
        return self.primer[index], self.tokens[index], self.r_mt[index], self.log_p[index]

    def state_dict(self) -> dict[str, Any]:
        keep = slice(0, self.size)
        return {"primer": self.primer[keep].cpu(), "tokens": self.tokens[keep].cpu(), "r_mt": self.r_mt[keep].cpu(),
                "log_p": self.log_p[keep].cpu(), "next": self.next}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.size = state["tokens"].shape[0]
        for name in ("primer", "tokens", "r_mt", "log_p"):
            getattr(self, name)[: self.size] = state[name].to(self.tokens.device)
        self.next = int(state["next"])


def sequence_logits(model: nn.Module, primer: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Outputs ``[B, T, C]`` at the states before each action: one pass over primer + actions (full BPTT)."""
    sequence = torch.cat([primer, tokens[:, :-1]], dim=1)
    logits, _ = model(sequence, None)
    return logits[:, primer.shape[1] - 1:].float()


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


# -- training ---------------------------------------------------------------------------------------------------

ProgressFn = Callable[[int, int], None]


class ValueRNN(nn.Module):
    """The PPO critic: an LSTM over the same tokens, one value per state."""

    def __init__(self, num_classes: int, hidden_size: int = 100):
        super().__init__()
        self.embed = nn.Embedding(num_classes, 32)
        self.lstm = nn.LSTM(32, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, tokens: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        hidden, state = self.lstm(self.embed(tokens), state)
        return self.head(hidden), state


class Tuner:
    """One tuning run: networks, optimiser, replay, counters and curves, checkpointable as one state dict."""

    def __init__(self, config: TunerConfig, prior: NoteRNN, device: str, primers: np.ndarray | None = None):
        self.config = config
        self.device = torch.device(device)
        self.prior = prior.to(self.device).eval()
        self.primers = primers
        self.method = config.method
        torch.manual_seed(config.seed)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.model: NoteRNN = copy.deepcopy(prior).to(self.device).train()
        self.model.requires_grad_(True)
        uses_prior_reward = self.method in ("q", "psi")
        self.env = MelodyVecEnv(prior, config.ppo.rollout_episodes if self.method == "ppo_kl"
                                else config.collect_episodes, reward=config.reward_spec(uses_prior_reward),
                                primers=primers, device=self.device, generator=self.generator)
        self.steps = 0
        self.updates = 0
        self.curves: list[dict[str, float]] = []
        self.wall = 0.0
        if self.method == "ppo_kl":
            self.critic = ValueRNN(prior.config["num_classes"]).to(self.device)
            params = list(self.model.parameters()) + list(self.critic.parameters())
            self.optimizer = torch.optim.Adam(params, lr=config.ppo.lr)
        else:
            self.target = copy.deepcopy(self.model).requires_grad_(False)
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
            primer_len = self.env.primers.shape[1]
            self.replay = EpisodeReplay(max(config.replay_size // config.length, config.batch_size), primer_len,
                                        config.length, self.device)
            self._update_credit = 0.0

    # -- value methods ----------------------------------------------------------------------------------------
    def epsilon(self) -> float:
        cfg = self.config
        frac = min(1.0, self.steps / max(1, cfg.exploration_steps))
        return cfg.epsilon_start + frac * (cfg.epsilon_end - cfg.epsilon_start)

    def value_update(self) -> float:
        cfg = self.config
        primer, tokens, r_mt, log_p = self.replay.sample(cfg.batch_size, self.generator)
        values = sequence_logits(self.model, primer, tokens)
        with torch.no_grad():
            next_values = sequence_logits(self.target, primer, tokens)[:, 1:]
            next_values = torch.cat([next_values, torch.zeros_like(next_values[:, :1])], 1)
            next_log_prior = torch.zeros_like(next_values)
            if self.method == "g":
                next_log_prior = torch.log_softmax(sequence_logits(self.prior, primer, tokens), -1)[:, 1:]
                next_log_prior = torch.cat([next_log_prior, torch.zeros_like(next_log_prior[:, :1])], 1)
            target = td_targets(self.method, r_mt, log_p, next_values, next_log_prior, cfg.c, cfg.gamma)
        taken = values.gather(2, tokens[:, :, None])[:, :, 0]
        loss_fn = nn.functional.mse_loss if cfg.loss == "mse" else nn.functional.smooth_l1_loss
        loss = loss_fn(taken, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        with torch.no_grad():
            for target_param, param in zip(self.target.parameters(), self.model.parameters()):
                target_param.lerp_(param, cfg.target_update)
        self.updates += 1
        return loss.detach().item()

    def value_round(self) -> None:
        cfg = self.config
        self.model.eval()
        if cfg.exploration == "egreedy":
            samples = rollout(self.env, self.model, self.method, epsilon=max(self.epsilon(), 1e-9),
                              generator=self.generator)
        else:
            samples = rollout(self.env, self.model, self.method, generator=self.generator)
        self.model.train()
        self.replay.add(samples)
        self.steps += samples.tokens.numel()
        if self.replay.size < cfg.batch_size:
            return
        self._update_credit += cfg.replay_ratio * samples.tokens.numel() / (cfg.batch_size * cfg.length)
        while self._update_credit >= 1.0:
            self.value_update()
            self._update_credit -= 1.0

    # -- PPO with a KL penalty ----------------------------------------------------------------------------------
    def ppo_round(self) -> None:
        cfg, ppo = self.config, self.config.ppo
        beta = ppo.kl_coef if ppo.kl_coef is not None else cfg.c
        self.model.eval()
        samples = rollout(self.env, self.model, "ppo_kl", generator=self.generator)
        self.model.train()
        self.steps += samples.tokens.numel()
        reward = samples.r_mt - beta * (samples.log_pi - samples.log_p)
        with torch.no_grad():
            values = sequence_logits(self.critic, samples.primer, samples.tokens)[:, :, 0]
            advantages = torch.zeros_like(reward)
            running = torch.zeros_like(reward[:, 0])
            for t in reversed(range(reward.shape[1])):
                next_value = values[:, t + 1] if t + 1 < reward.shape[1] else torch.zeros_like(running)
                delta = reward[:, t] + ppo.gamma * next_value - values[:, t]
                running = delta + ppo.gamma * ppo.gae_lambda * running
                advantages[:, t] = running
            returns = advantages + values
        n = samples.tokens.shape[0]
        for _ in range(ppo.epochs):
            order = torch.randperm(n, device=self.device, generator=self.generator)
            for start in range(0, n, ppo.minibatch_episodes):
                idx = order[start:start + ppo.minibatch_episodes]
                primer, tokens = samples.primer[idx], samples.tokens[idx]
                log_pi = torch.log_softmax(sequence_logits(self.model, primer, tokens), -1)
                new_log_prob = log_pi.gather(2, tokens[:, :, None])[:, :, 0]
                adv = advantages[idx]
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                ratio = torch.exp(new_log_prob - samples.log_pi[idx])
                policy_loss = -torch.min(ratio * adv, ratio.clamp(1 - ppo.clip, 1 + ppo.clip) * adv).mean()
                value = sequence_logits(self.critic, primer, tokens)[:, :, 0]
                value_loss = nn.functional.mse_loss(value, returns[idx])
                loss = policy_loss + ppo.value_coef * value_loss
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_([p for g in self.optimizer.param_groups for p in g["params"]],
                                         ppo.max_grad_norm)
                self.optimizer.step()
                self.updates += 1

    # -- bookkeeping --------------------------------------------------------------------------------------------
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
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "steps": self.steps,
                 "updates": self.updates, "curves": self.curves, "wall": self.wall,
                 "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state()}
        if self.method == "ppo_kl":
            state["critic"] = self.critic.state_dict()
        else:
            state.update(target=self.target.state_dict(), replay=self.replay.state_dict(),
                         update_credit=self._update_credit)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps, self.updates, self.wall = int(state["steps"]), int(state["updates"]), float(state["wall"])
        self.curves = list(state["curves"])
        self.generator.set_state(state["generator"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        if self.method == "ppo_kl":
            self.critic.load_state_dict(state["critic"])
        else:
            self.target.load_state_dict(state["target"])
            self.replay.load_state_dict(state["replay"])
            self._update_credit = float(state["update_credit"])

    def train_round(self) -> None:
        start = time.perf_counter()
        if self.method == "ppo_kl":
            self.ppo_round()
        else:
            self.value_round()
        self.wall += time.perf_counter() - start


def train_tuner(config: TunerConfig, prior: NoteRNN, run_path: Path, *, device: str = "cpu",
                primers: np.ndarray | None = None, progress: ProgressFn | None = None) -> Tuner:
    """Tune ``prior`` with ``config.method`` in ``run_path``, resuming from its newest checkpoint when present.

    Writes ``model.pt`` (the tuned network, loadable with :func:`agents.note_rnn.load_note_rnn`) and
    ``curves.json`` when done, and marks the run finished; a finished run is returned as is.
    """
    from agents.note_rnn import save_note_rnn
    from rllab import atomic
    from rllab.runs import save_torch

    tuner = Tuner(config, prior, device, primers)
    config_dict = {"tuner": config.to_dict(), "note_rnn": dict(prior.config)}
    if (run_path / "config.yaml").exists():
        run = RunDir.open(run_path)
        if run.config != _plain(config_dict):
            raise UserError(f"{run_path} holds a tuning run with a different configuration; use another --out")
        checkpoint = run.latest_checkpoint()
        if checkpoint is not None:
            tuner.load_state_dict(load_torch(checkpoint.path, map_location=tuner.device))
    else:
        run = RunDir.create(run_path, _plain(config_dict), seed=config.seed)
    if run.finished and tuner.steps >= config.steps:
        return tuner
    run.set_status("running", steps=tuner.steps)
    last_checkpoint = tuner.steps
    if not tuner.curves:
        tuner.evaluate_curve()
    while tuner.steps < config.steps:
        tuner.train_round()
        if tuner.steps - tuner.curves[-1]["steps"] >= config.eval_every or tuner.steps >= config.steps:
            tuner.evaluate_curve()
        if tuner.steps - last_checkpoint >= config.checkpoint_every or tuner.steps >= config.steps:
            run.save_checkpoint(tuner.steps, lambda p: torch.save(tuner.state_dict(), p), keep=2)
            last_checkpoint = tuner.steps
            run.set_status("running", steps=tuner.steps, wall_s=round(tuner.wall, 1))
        if progress is not None:
            progress(tuner.steps, config.steps)
    save_note_rnn(tuner.model, run.path / "model.pt", method=config.method)
    if config.method == "ppo_kl":
        save_torch(tuner.critic.state_dict(), run.path / "critic.pt")
    atomic.write_json(run.path / "curves.json", tuner.curves)
    run.set_status("finished", steps=tuner.steps, updates=tuner.updates, wall_s=round(tuner.wall, 1),
                   steps_per_s=round(tuner.steps / max(tuner.wall, 1e-9), 1))
    return tuner


def _plain(obj: Any) -> Any:
    """YAML round-trip form (tuples -> lists) so a stored config compares equal to a fresh one."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj
