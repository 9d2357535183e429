"""Rollout workers: env processes that hold a copy of the policy and collect whole rollouts on their own.

SB3's ``SubprocVecEnv`` steps every env in lock-step with the learner: one round trip per step. On this project's
2-core VM that halves an emulator-bound env's speed. Two Mario RAM envs run ~320 steps/s free-running but ~160
in lock-step, and inside the worker each 6 ms step takes ~11 ms, because the cores idle between round trips and
wake up slow. RLlib's rollout workers avoid it the same way as here:
each worker process keeps its envs (in a ``DummyVecEnv``) and a copy of the policy, receives the learner's weights
once per rollout, samples ``n_steps`` steps of all its envs with them, and sends the whole rollout back.

The rollout is the one SB3's PPO collects: the acting policy's actions, values and log-probs, episode starts, the
time-limit bootstrap γ·V(final observation) added to a truncated step's reward, and the last values for GAE.
:class:`RolloutWorkers` is also an ordinary ``VecEnv`` (``step``, ``reset``, ``env_method``, ...), so evaluation,
callbacks and other algorithms work with it unchanged; only :class:`~rllab.agents.sb3.worker_ppo.WorkerPPO` uses
:meth:`RolloutWorkers.collect`.
"""

from __future__ import annotations

import copy
import multiprocessing as mp
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv
from stable_baselines3.common.vec_env.base_vec_env import CloudpickleWrapper, VecEnvIndices, VecEnvStepReturn

from rllab.core.device import limit_cpu_threads


@dataclass
class Rollout:
    """``n_steps`` steps of every env, arrays shaped (n_steps, n_envs, ...), in env order."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray          # with γ·V(final obs) added where a time limit cut the episode
    starts: np.ndarray           # whether obs[t] began an episode
    values: np.ndarray
    log_probs: np.ndarray
    dones: np.ndarray
    infos: list[list[dict[str, Any]]]   # infos[t][env]
    last_obs: np.ndarray
    last_values: np.ndarray

    @staticmethod
    def join(parts: Sequence[Rollout]) -> Rollout:
        """The workers' rollouts side by side, in env order."""
        arrays = {name: np.concatenate([getattr(p, name) for p in parts], axis=1)
                  for name in ("obs", "actions", "rewards", "starts", "values", "log_probs", "dones")}
        infos = [sum((p.infos[t] for p in parts), []) for t in range(len(parts[0].infos))]
        return Rollout(**arrays, infos=infos, last_obs=np.concatenate([p.last_obs for p in parts]),
                       last_values=np.concatenate([p.last_values for p in parts]))


class _Sampler:
    """A worker's side: its envs, where they stand, and its copy of the policy."""

    def __init__(self, env_fns: list[Callable[[], gym.Env]]) -> None:
        limit_cpu_threads(1)
        self.vec = DummyVecEnv(env_fns)
        self.obs: np.ndarray | None = None
        self.starts = np.ones(self.vec.num_envs, dtype=bool)
        self.policy: ActorCriticPolicy | None = None

    def reset(self, seed: int | None, options: list[dict] | None) -> tuple[np.ndarray, list[dict]]:
        if seed is not None:
            self.vec.seed(seed)
            th.manual_seed(seed)
        if options is not None:
            self.vec.set_options(options)
        self.obs = self.vec.reset()
        self.starts = np.ones(self.vec.num_envs, dtype=bool)
        return self.obs, self.vec.reset_infos

    def step(self, actions: np.ndarray) -> VecEnvStepReturn:
        self.obs, rewards, dones, infos = self.vec.step(actions)
        self.starts = dones
        return self.obs, rewards, dones, infos

    def collect(self, policy: CloudpickleWrapper | None, weights: dict[str, np.ndarray], n_steps: int,
                gamma: float) -> Rollout:
        if policy is not None:
            self.policy = policy.var
        assert self.policy is not None and self.obs is not None, "reset() and a policy come before collect()"
        self.policy.load_state_dict({k: th.as_tensor(v) for k, v in weights.items()})
        self.policy.set_training_mode(False)
        steps: list[tuple] = []
        for _ in range(n_steps):
            obs, starts = self.obs, self.starts
            with th.no_grad():
                actions, values, log_probs = self.policy(th.as_tensor(obs))
            actions = actions.numpy()
            new_obs, rewards, dones, infos = self.step(self._env_actions(actions))
            rewards = self._bootstrap_timeouts(rewards, dones, infos, gamma)
            steps.append((obs, actions, rewards, starts, values.numpy().ravel(), log_probs.numpy(), dones, infos))
        with th.no_grad():
            last_values = self.policy.predict_values(th.as_tensor(self.obs)).numpy().ravel()
        obs, actions, rewards, starts, values, log_probs, dones, infos = zip(*steps, strict=True)
        return Rollout(np.stack(obs), np.stack(actions), np.stack(rewards), np.stack(starts), np.stack(values),
                       np.stack(log_probs), np.stack(dones), list(infos), self.obs, last_values)

    def _env_actions(self, actions: np.ndarray) -> np.ndarray:
        space = self.policy.action_space
        if isinstance(space, spaces.Box):
            if self.policy.squash_output:
                return self.policy.unscale_action(actions)
            return np.clip(actions, space.low, space.high)
        return actions

    def _bootstrap_timeouts(self, rewards: np.ndarray, dones: np.ndarray, infos: list[dict[str, Any]],
                            gamma: float) -> np.ndarray:
        """Add γ·V(final observation) to the reward of a step cut by a time limit, as SB3's PPO does."""
        for i in np.flatnonzero(dones):
            terminal = infos[i].get("terminal_observation")
            if terminal is not None and infos[i].get("TimeLimit.truncated"):
                with th.no_grad():
                    value = self.policy.predict_values(th.as_tensor(terminal[None]))
                rewards[i] += gamma * value.item()
        return rewards


@dataclass
class _Failure:
    """An exception raised in a worker, sent to the learner to raise there (the worker keeps serving)."""

    error: BaseException
    trace: str


def _serve(remote: Connection, parent_remote: Connection, env_fns: CloudpickleWrapper) -> None:
    """A worker's loop: one command in, one answer out, until ``close``."""
    parent_remote.close()
    sampler = _Sampler(env_fns.var)
    vec = sampler.vec
    handlers: dict[str, Callable[[Any], Any]] = {
        "collect": lambda data: sampler.collect(*data),
        "step": sampler.step,
        "reset": lambda data: sampler.reset(*data),
        "get_attr": lambda data: vec.get_attr(*data),
        "set_attr": lambda data: vec.set_attr(*data),
        "env_method": lambda data: vec.env_method(data[0], *data[1], indices=data[3], **data[2]),
        "is_wrapped": lambda data: vec.env_is_wrapped(*data),
        "spaces": lambda _: (vec.observation_space, vec.action_space, vec.render_mode),
    }
    try:
        while True:
            command, data = remote.recv()
            if command == "close":
                break
            try:
                remote.send(handlers[command](data))
            except Exception as exc:  # the env's error, raised again in the learner with this trace
                remote.send(_Failure(exc, traceback.format_exc()))
    except (KeyboardInterrupt, EOFError):
        pass
    vec.close()
    remote.close()


def _answers(remotes: Sequence[Connection]) -> list[Any]:
    """Every asked worker's answer (all read, so the pipes stay in step), or the first one's exception raised here."""
    answers = [remote.recv() for remote in remotes]
    for answer in answers:
        if isinstance(answer, _Failure):
            raise answer.error from RuntimeError(f"in a rollout worker:\n{answer.trace}")
    return answers


class RolloutWorkers(VecEnv):
    """``len(env_fns)`` envs in ``n_workers`` processes, env ``i`` in worker ``i * n_workers // n_envs``."""

    def __init__(self, env_fns: list[Callable[[], gym.Env]], n_workers: int, start_method: str = "forkserver"):
        if not 1 <= n_workers <= len(env_fns):
            raise ValueError(f"n_workers must be in 1..{len(env_fns)} (the env count), got {n_workers}")
        bounds = [len(env_fns) * w // n_workers for w in range(n_workers + 1)]
        self.slices = [slice(lo, hi) for lo, hi in zip(bounds, bounds[1:], strict=False)]
        context = mp.get_context(start_method)
        self.remotes: list[Connection] = []
        self.processes = []
        for part in self.slices:
            remote, work_remote = context.Pipe()
            process = context.Process(target=_serve, args=(work_remote, remote, CloudpickleWrapper(env_fns[part])),
                                      daemon=True)
            process.start()
            work_remote.close()
            self.remotes.append(remote)
            self.processes.append(process)
        self.remotes[0].send(("spaces", None))
        observation_space, action_space, self.render_mode = _answers(self.remotes[:1])[0]
        super().__init__(len(env_fns), observation_space, action_space)
        self._policy_sent: int | None = None
        self.closed = False

    def collect(self, policy: ActorCriticPolicy, n_steps: int, gamma: float) -> Rollout:
        """``n_steps`` steps of every env with ``policy``'s current weights (sampled in the workers)."""
        weights = {k: v.detach().cpu().numpy() for k, v in policy.state_dict().items()}
        first = self._policy_sent != id(policy)
        packed = CloudpickleWrapper(_cpu_copy(policy)) if first else None
        for remote in self.remotes:
            remote.send(("collect", (packed, weights, n_steps, gamma)))
        self._policy_sent = id(policy)
        return Rollout.join(_answers(self.remotes))

    def reset(self) -> np.ndarray:
        for remote, part in zip(self.remotes, self.slices, strict=True):
            seed = self._seeds[part.start]
            options = self._options[part]
            remote.send(("reset", (seed, options if any(options) else None)))
        results = _answers(self.remotes)
        self.reset_infos = sum((infos for _, infos in results), [])
        self._reset_seeds()
        self._reset_options()
        return np.concatenate([obs for obs, _ in results])

    def step_async(self, actions: np.ndarray) -> None:
        for remote, part in zip(self.remotes, self.slices, strict=True):
            remote.send(("step", actions[part]))

    def step_wait(self) -> VecEnvStepReturn:
        results = _answers(self.remotes)
        obs, rewards, dones, infos = zip(*results, strict=True)
        return np.concatenate(obs), np.concatenate(rewards), np.concatenate(dones), sum(infos, [])

    def close(self) -> None:
        if self.closed:
            return
        for remote in self.remotes:
            remote.send(("close", None))
        for process in self.processes:
            process.join()
        self.closed = True

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return self._each("get_attr", lambda local: (attr_name, local), indices)

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        self._each("set_attr", lambda local: (attr_name, value, local), indices)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        return self._each("env_method", lambda local: (method_name, method_args, method_kwargs, local), indices)

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return self._each("is_wrapped", lambda local: (wrapper_class, local), indices)

    def get_images(self) -> Sequence[np.ndarray | None]:
        return self.env_method("render")

    def _each(self, command: str, payload: Callable[[list[int]], tuple], indices: VecEnvIndices) -> list[Any]:
        """Send ``command`` to the workers holding ``indices`` (global), with each worker's local indices."""
        wanted = self._get_indices(indices)
        asked = []
        for remote, part in zip(self.remotes, self.slices, strict=True):
            local = [i - part.start for i in wanted if part.start <= i < part.stop]
            if local:
                remote.send((command, payload(local)))
                asked.append(remote)
        results = _answers(asked)
        return [item for result in results if result is not None for item in result]


def _cpu_copy(policy: ActorCriticPolicy) -> ActorCriticPolicy:
    """The policy as the workers get it: on the CPU, without the optimizer (they never train it)."""
    optimizer, policy.optimizer = policy.optimizer, None
    try:
        clone = copy.deepcopy(policy).to("cpu")
    finally:
        policy.optimizer = optimizer
    return clone
