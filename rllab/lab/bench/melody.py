"""Throughput of the melody MDP: batched env + rules + prior steps/s, and the tuner's training steps/s."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from rllab.agents.tutor import TunerConfig, make_tuner
from rllab.core.device import limit_cpu_threads, resolve_device
from rllab.core.errors import UserError
from rllab.envs.melody import MelodyVecEnv
from rllab.music.note_rnn import NoteRNN


@dataclass
class MelodyBench:
    device: str
    batch: int
    per_step: float          # env steps/s with the rules scored every step
    per_episode: float       # env steps/s with the rules scored once per episode
    tuner_steps_per_s: float
    tuner_updates_per_s: float


def _env_rate(env: MelodyVecEnv, episodes: int, score_each_step: bool, generator: torch.Generator) -> float:
    dev, batch = env.device, env.num_envs

    def episode() -> None:
        env.reset()
        for _ in range(env.reward.length):
            env.step(torch.randint(env.num_classes, (batch,), device=dev, generator=generator), score=score_each_step)
        if not score_each_step:
            env.score_episode()

    episode()  # warm-up
    if dev.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(episodes):
        episode()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return episodes * batch * env.reward.length / (time.perf_counter() - start)


def bench_melody(batch: int = 1024, episodes: int = 5, tuner_steps: int = 32_768, method: str = "q",
                 device: str = "auto") -> MelodyBench:
    """Measure with a random-weight Note RNN (the speed does not depend on the weights)."""
    if batch < 1 or episodes < 1 or tuner_steps < 1:
        raise UserError("--batch, --episodes and --tuner-steps must be positive")
    dev = resolve_device(device)
    if dev == "cpu":
        limit_cpu_threads()
    torch.manual_seed(0)
    prior = NoteRNN().to(dev).eval().requires_grad_(False)
    generator = torch.Generator(device=dev).manual_seed(0)
    env = MelodyVecEnv(prior, batch, device=dev, generator=generator)
    per_step = _env_rate(env, episodes, True, generator)
    per_episode = _env_rate(env, episodes, False, generator)
    cfg = TunerConfig(method=method, steps=tuner_steps, eval_every=10**9, checkpoint_every=10**9)
    tuner = make_tuner(cfg, prior, dev)
    while tuner.steps < min(2 * cfg.collect_episodes * cfg.length, tuner_steps):  # warm-up: fill replay
        tuner.train_round()
    steps0, updates0, wall0 = tuner.steps, tuner.updates, tuner.wall
    while tuner.steps - steps0 < tuner_steps:
        tuner.train_round()
    wall = tuner.wall - wall0
    return MelodyBench(dev, batch, per_step, per_episode, (tuner.steps - steps0) / wall,
                       (tuner.updates - updates0) / wall)
