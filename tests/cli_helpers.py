"""Run the ``rllab`` CLI in-process (fast) and return its exit status, as the shell would see it."""

from __future__ import annotations

import gymnasium

from rllab.cli.app import main


def run_main(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


class FailAfter(gymnasium.Wrapper):
    """A wrapper that raises after ``steps`` steps: a training run that crashes part-way."""

    def __init__(self, env: gymnasium.Env, steps: int = 100):
        super().__init__(env)
        self.left = steps

    def step(self, action):
        self.left -= 1
        if self.left < 0:
            raise RuntimeError("the environment crashed")
        return self.env.step(action)
