"""Batched torch engine: move-for-move agreement with the single-game engine, bad input, CUDA when present."""

from __future__ import annotations

import pytest
import torch

from rllab.core.errors import UserError
from rllab.envs.go.batched import BatchedGo
from rllab.lab.bench.go_rules import crosscheck_batched


@pytest.mark.parametrize("size", [2, 5, 9])
def test_batched_agrees_with_single_game_engine(size):
    result = crosscheck_batched(size, batch=48, seed=size)
    assert result.games == 48 and result.positions > 48 * size
    assert result.differences == 0, result.examples


def test_initial_state_reset_and_planes():
    engine = BatchedGo(4, 5)
    assert engine.legal_mask().all()
    engine.step(torch.tensor([0, 1, 2, 25]))
    planes = engine.planes()
    assert planes.shape == (4, 2, 5, 5) and planes[0, 0, 0, 0] == 1 and planes[3].sum() == 0
    assert not engine.legal_mask()[0, 0] and engine.legal_mask()[3, 0]
    engine.step(torch.tensor([3, 4, 5, 25]))
    assert engine.done.tolist() == [False, False, False, True]   # game 3: two passes in a row
    assert engine.reset_done() == 1 and not engine.done.any() and engine.moves[3] == 0


def test_bad_batched_input():
    engine = BatchedGo(2, 5)
    with pytest.raises(UserError, match="shape"):
        engine.step(torch.tensor([0, 1, 2]))
    with pytest.raises(UserError, match="out of range"):
        engine.step(torch.tensor([0, 26]))
    engine.step(torch.tensor([0, 1]))
    with pytest.raises(UserError, match="illegal"):
        engine.step(torch.tensor([0, 2]))
    with pytest.raises(UserError, match="batch"):
        BatchedGo(0, 5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_batched_on_cuda_agrees():
    result = crosscheck_batched(7, batch=64, seed=0, device="cuda")
    assert result.differences == 0, result.examples
