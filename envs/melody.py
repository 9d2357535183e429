"""Melody composition as an MDP: the Sequence Tutor's environment (``rllab/Melody-v0``).

One episode writes a 32-step (two-bar) monophonic melody in the 38-class token encoding of
:mod:`rllab.music.tokens`. Each step's reward is the KL-control reward of Jaques et al.::

    reward = r_MT(s, a) / c + log p(a | s)

where ``r_MT`` is the weighted sum of the music-theory rules of :mod:`rllab.music.theory` and ``p`` is a frozen
Note RNN (the prior term can be switched off, as for the RL-only baseline or G-learning). Every rule component and
``log_p`` is in ``info``; the final step's ``info`` also holds the episode's *unshaped* statistics, which is what
reward-shaping experiments compare: the Table-1 metrics of :func:`rllab.music.metrics.composition_stats`,
``log_p_mean`` and ``music_theory_score`` (the nine rules summed with weight 1 over the episode, whatever the
reward preset and c).

Two implementations share the rules and the prior:

* :class:`MelodyEnv`, a single Gymnasium env (scalar reference rules; for SB3 through ``rllab train``), and
* :class:`MelodyVecEnv`, a batched torch env that runs thousands of compositions in lock-step on one device with
  the rules and the prior computed in batch (for the tuner and ``rllab bench melody``).

The priming note (or primer melody) is fed to the prior before the episode and is not part of the composition.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from rllab.core.errors import UserError, choices_hint
from rllab.music.corpus import cache_root, load_corpus
from rllab.music.keys import key_tables
from rllab.music.metrics import composition_stats
from rllab.music.midi import midi_to_tokens
from rllab.music.note_rnn import NoteRNN
from rllab.music.priors import load_prior
from rllab.music.theory import (
    REWARD_PRESETS,
    batched_step_rewards,
    parse_key,
    step_rewards,
    total_reward,
)
from rllab.music.theory_torch import IncrementalRules
from rllab.music.tokens import PAPER_SPEC

PRIMING_MODES = ("random_note", "corpus", "midi")
DEFAULT_PRIMER_STEPS = 16


def prior_cache_root() -> Path:
    """Where ``rllab tutor`` keeps the priors it trains: one run directory per (prior config, seed)."""
    return cache_root() / "tutor" / "priors"


def default_note_rnn_path() -> Path:
    """The env's default prior: the newest seed-0 Note RNN that ``rllab tutor`` trained (``<hash>-s0/model.pt``)."""
    found = sorted(prior_cache_root().glob("*-s0/model.pt"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else prior_cache_root() / "<config>-s0" / "model.pt"


def resolve_prior(note_rnn: NoteRNN | str | os.PathLike[str] | None, num_classes: int,
                  device: str | torch.device = "cpu") -> NoteRNN:
    """The frozen prior: a given model, a checkpoint / run directory, or the default one ``rllab tutor`` trains.

    Any prior of :mod:`rllab.music.priors` works (a Note RNN, a Transformer, a count model): each has the Note
    RNN's interface.
    """

    if isinstance(note_rnn, torch.nn.Module):
        model = note_rnn.to(device)
    else:
        path = Path(note_rnn) if note_rnn is not None else default_note_rnn_path()
        if note_rnn is None and not path.exists():
            raise UserError(f"no Note RNN found at {path}: run `rllab tutor` once (it trains one) or pass "
                            "env_kwargs.note_rnn=PATH")
        if not path.exists():
            raise UserError(f"Note RNN checkpoint not found: {path}")
        model = load_prior(path, device=str(device), spec=None)
    classes = int(model.config.get("num_classes", -1))
    if classes != num_classes:
        raise UserError(f"Note RNN has {classes} classes but the melody encoding needs {num_classes}")
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model


@dataclass(frozen=True)
class RewardSpec:
    """How a step is scored: rule weights, the scale c, whether log p is added, the key and the length."""

    c: float = 0.5
    preset: str = "music_theory_all"
    prior: bool = True
    key: str = "C major"
    length: int = 32

    def __post_init__(self) -> None:
        if not (isinstance(self.c, (int, float)) and self.c > 0 and np.isfinite(self.c)):
            raise UserError(f"c must be a positive number (got {self.c!r}); reward = r_MT / c + log p")
        if self.preset not in REWARD_PRESETS:
            raise UserError(f"unknown reward preset {self.preset!r}; {choices_hint(REWARD_PRESETS)}")
        if not (isinstance(self.length, int) and self.length >= 4):
            raise UserError(f"melody length must be an integer >= 4 (got {self.length!r})")
        parse_key(self.key)

    @property
    def weights(self) -> dict[str, float]:
        return REWARD_PRESETS[self.preset]


def load_primers(priming: str, *, primer_midi: str | os.PathLike[str] | None = None,
                 primer_steps: int = DEFAULT_PRIMER_STEPS, num_classes: int = 38,
                 spec: Any = None) -> np.ndarray:
    """A bank of primers ``[N, P]`` (int64), one drawn per episode.

    ``random_note``: every class once (P = 1; the original never drew the last class). ``corpus``: disjoint
    ``primer_steps`` windows of the validation melodies. ``midi``: the last ``primer_steps`` of one MIDI file.
    """

    spec = spec or PAPER_SPEC
    if priming not in PRIMING_MODES:
        raise UserError(f"unknown priming mode {priming!r}; {choices_hint(PRIMING_MODES)}")
    if priming != "midi" and primer_midi is not None:
        raise UserError("primer_midi is only used with priming='midi'")
    if priming == "random_note":
        return np.arange(num_classes, dtype=np.int64)[:, None]
    if primer_steps < 1:
        raise UserError(f"primer_steps must be >= 1 (got {primer_steps})")
    if priming == "midi":
        if primer_midi is None:
            raise UserError("priming='midi' needs primer_midi=PATH to a .mid file")
        tokens = np.asarray(midi_to_tokens(primer_midi, spec=spec), dtype=np.int64)
        if tokens.size == 0:
            raise UserError(f"{primer_midi} holds no notes to prime with")
        return tokens[-primer_steps:][None, :]

    corpus = load_corpus(progress=False)
    melodies = corpus.valid or corpus.train
    windows = [np.asarray(m[i:i + primer_steps], dtype=np.int64)
               for m in melodies for i in range(0, len(m) - primer_steps + 1, primer_steps)]
    if not windows:
        raise UserError(f"the corpus has no melody of at least {primer_steps} steps to prime with")
    return np.stack(windows)


class MelodyEnv(gym.Env):
    """Single melody env for Gymnasium / SB3.

    Observation: the composition so far as ``MultiDiscrete([C + 1] * (length + 1))``: slot 0 is the last primer
    token, slot t + 1 the action of step t, and ``C`` marks a slot not yet written (SB3 one-hot encodes it). With
    a single priming note this is the full Markov state, the prior's LSTM state being a function of it.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, render_mode: str | None = None, *, note_rnn: Any = None, c: float = 0.5,
                 reward_preset: str = "music_theory_all", prior: bool = True, key: str = "C major",
                 length: int = 32, priming: str = "random_note", primer_midi: str | None = None,
                 primer_steps: int = DEFAULT_PRIMER_STEPS):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise UserError(f"unknown render_mode {render_mode!r}; {choices_hint(self.metadata['render_modes'])}")
        self.render_mode = render_mode
        self.spec_tokens = PAPER_SPEC
        self.reward_spec = RewardSpec(c=c, preset=reward_preset, prior=prior, key=key, length=length)
        self._key = parse_key(key)
        self.num_classes = self.spec_tokens.num_classes
        self.prior_model = resolve_prior(note_rnn, self.num_classes)
        self.primers = load_primers(priming, primer_midi=primer_midi, primer_steps=primer_steps,
                                    num_classes=self.num_classes, spec=self.spec_tokens)
        self.action_space = spaces.Discrete(self.num_classes)
        self.observation_space = spaces.MultiDiscrete(np.full(length + 1, self.num_classes + 1, dtype=np.int64))
        self._composition: list[int] = []
        self._log_p: list[float] = []
        self._r_mt: list[float] = []
        self._score: list[float] = []
        self._primer_last = 0
        self._state: Any = None
        self._next_log_probs = torch.zeros(self.num_classes)

    def _obs(self) -> np.ndarray:
        obs = np.full(self.reward_spec.length + 1, self.num_classes, dtype=np.int64)
        obs[0] = self._primer_last
        obs[1:1 + len(self._composition)] = self._composition
        return obs

    @torch.no_grad()
    def _advance_prior(self, tokens: np.ndarray) -> None:
        logits, self._state = self.prior_model(torch.as_tensor(tokens, dtype=torch.long)[None, :], self._state)
        self._next_log_probs = torch.log_softmax(logits[0, -1].float(), dim=-1)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        primer = self.primers[self.np_random.integers(len(self.primers))]
        self._state = self.prior_model.primed_state(1, len(primer))
        self._advance_prior(primer)
        self._primer_last = int(primer[-1])
        self._composition, self._log_p, self._r_mt, self._score = [], [], [], []
        return self._obs(), {}

    def step(self, action: Any):
        if not self.action_space.contains(action):
            raise UserError(f"action must be an integer in [0, {self.num_classes}) (got {action!r})")
        if len(self._composition) >= self.reward_spec.length:
            raise UserError("the episode is over: call reset() before step()")
        action = int(action)
        parts = step_rewards(self._composition, action, key=self._key, spec=self.spec_tokens,
                             length=self.reward_spec.length)
        r_mt = float(total_reward(parts, self.reward_spec.weights))
        log_p = float(self._next_log_probs[action])
        reward = r_mt / self.reward_spec.c + (log_p if self.reward_spec.prior else 0.0)
        self._composition.append(action)
        self._log_p.append(log_p)
        self._r_mt.append(r_mt)
        self._score.append(float(total_reward(parts, "music_theory_all")))
        info: dict[str, Any] = {f"r_{name}": float(value) for name, value in parts.items()}
        info.update(r_mt=r_mt, log_p=log_p)
        terminated = len(self._composition) == self.reward_spec.length
        if terminated:
            stats = composition_stats(np.asarray([self._composition]), key=self._key, spec=self.spec_tokens)
            info.update({name: float(value) for name, value in stats.items()})
            info.update(log_p_mean=float(np.mean(self._log_p)), r_mt_total=float(np.sum(self._r_mt)),
                        music_theory_score=float(np.sum(self._score)),
                        composition=np.asarray(self._composition, dtype=np.int64))
        else:
            self._advance_prior(np.asarray([action]))
        if self.render_mode == "ansi":
            info["render"] = self.render()
        return self._obs(), float(reward), terminated, False, info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        names = {0: "off", 1: "-"}
        notes = [names.get(t) or str(self.spec_tokens.token_to_pitch(t)) for t in self._composition]
        return f"[{self._primer_last}] " + " ".join(notes)


class MelodyVecEnv:
    """``num_envs`` compositions written in lock-step on one device, rules and prior computed in batch.

    ``reset()`` primes the prior and returns the last primer tokens ``[B]``; ``step(actions)`` appends one token
    per composition and returns ``(obs, reward, terminated, info)`` with every rule component and ``log_p`` as
    ``[B]`` tensors; all compositions end together after ``length`` steps. ``next_log_probs`` (``[B, C]``) is the
    prior's distribution for the coming step, which G-learning's policy needs. A scored step costs O(1) rule ops
    (:class:`~rllab.music.theory_torch.IncrementalRules` carries the rules' state; columns written unscored are
    caught up on the next scored step). With ``score=False`` a step only advances the prior; :meth:`score_episode`
    then scores the whole episode in one batched call (what the tuner does, since its exploration does not depend
    on rewards).
    """

    def __init__(self, prior: NoteRNN, num_envs: int, *, reward: RewardSpec | None = None,
                 primers: np.ndarray | None = None, device: str | torch.device = "cpu",
                 generator: torch.Generator | None = None):
        if not (isinstance(num_envs, int) and num_envs >= 1):
            raise UserError(f"num_envs must be a positive integer (got {num_envs!r})")
        self.device = torch.device(device)
        self.spec = PAPER_SPEC
        self.num_classes = self.spec.num_classes
        self.reward = reward or RewardSpec()
        self.key = parse_key(self.reward.key)
        self.num_envs = num_envs
        self.prior = prior.to(self.device)
        bank = primers if primers is not None else np.arange(self.num_classes, dtype=np.int64)[:, None]
        self.primers = torch.as_tensor(bank, dtype=torch.long, device=self.device)
        self.generator = generator
        self.tokens = torch.zeros(num_envs, self.reward.length, dtype=torch.long, device=self.device)
        self.log_p = torch.zeros(num_envs, self.reward.length, device=self.device)
        self.primer = self.primers[:num_envs]
        self.t = 0
        self._state: Any = None
        self.next_log_probs = torch.zeros(num_envs, self.num_classes, device=self.device)
        self._rules = IncrementalRules(num_envs, key_tables(self.key, self.spec), self.spec, self.reward.length,
                                       self.device)

    @torch.no_grad()
    def reset(self, primer_index: torch.Tensor | None = None) -> torch.Tensor:
        """Start new compositions; ``primer_index`` picks primers from the bank (random when omitted)."""
        if primer_index is None:
            primer_index = torch.randint(len(self.primers), (self.num_envs,), device=self.device,
                                         generator=self.generator)
        self.primer = self.primers[primer_index]
        state = self.prior.primed_state(self.num_envs, self.primer.shape[1], self.device)
        logits, self._state = self.prior(self.primer, state)
        self.next_log_probs = torch.log_softmax(logits[:, -1].float(), dim=-1)
        self.t = 0
        self._rules.reset()
        return self.primer[:, -1]

    @torch.no_grad()
    def step(self, actions: torch.Tensor, score: bool = True
             ) -> tuple[torch.Tensor, torch.Tensor, bool, dict[str, torch.Tensor]]:
        if self.t >= self.reward.length:
            raise UserError("the episode is over: call reset() before step()")
        actions = actions.to(self.device, torch.long)
        if actions.shape != (self.num_envs,) or actions.min() < 0 or actions.max() >= self.num_classes:
            raise UserError(f"actions must be a [{self.num_envs}] tensor of classes in [0, {self.num_classes})")
        t = self.t
        self.tokens[:, t] = actions
        self.log_p[:, t] = self.next_log_probs.gather(1, actions[:, None])[:, 0]
        self.t += 1
        terminated = self.t == self.reward.length
        if not terminated:
            logits, self._state = self.prior(actions[:, None], self._state)
            self.next_log_probs = torch.log_softmax(logits[:, -1].float(), dim=-1)
        info: dict[str, torch.Tensor] = {"log_p": self.log_p[:, t]}
        reward = self.log_p[:, t] if self.reward.prior else torch.zeros_like(self.log_p[:, t])
        if score:
            while self._rules.t < t:    # columns written with score=False
                self._rules.step(self.tokens[:, self._rules.t])
            parts = self._rules.step(actions)
            info.update({f"r_{name}": value for name, value in parts.items()})
            r_mt = self.combine(parts)
            info["r_mt"] = r_mt
            reward = reward + r_mt / self.reward.c
        return self.tokens[:, t], reward, terminated, info

    def rule_components(self, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        """The nine rule components ``[B, T]`` for a batch of (partial) compositions."""

        return batched_step_rewards(tokens, key=self.key, spec=self.spec, length=self.reward.length, validate=False)

    def combine(self, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        """r_MT ``[B, T]``: the components summed with the reward preset's weights."""

        return total_reward(parts, self.reward.weights).float()

    def score_episode(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(r_mt, log_p)``, both ``[B, length]``, for the episode just written."""
        if self.t != self.reward.length:
            raise UserError("score_episode() needs a finished episode")
        return self.combine(self.rule_components(self.tokens)), self.log_p.clone()
