"""AZ building blocks: input planes, ownership, symmetries, the net, batched search, self-play, replay."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rllab.agents.go.az import features as fp
from rllab.agents.go.az.features import augment, ownership, planes, symmetry_actions, symmetry_perms
from rllab.agents.go.az.net import AZNet, evaluator, load_net, save_net
from rllab.agents.go.az.replay import Replay
from rllab.agents.go.az.search import SearchConfig, TreeSearch, considered_visits, engine_state
from rllab.agents.go.az.selfplay import SelfPlay
from rllab.core.errors import UserError
from rllab.envs.go.batched import BatchedGo


def play(engine: BatchedGo, *moves: int) -> BatchedGo:
    for move in moves:
        engine.step(torch.tensor([move]))
    return engine


def random_game(size: int, moves: int, seed: int) -> tuple[BatchedGo, list[int]]:
    """One game of random board moves (no passes) on a batch-1 engine, and the moves played."""
    rng = np.random.default_rng(seed)
    engine, played = BatchedGo(1, size), []
    for _ in range(moves):
        legal = engine.mask[0, :-1].nonzero().flatten().tolist()
        if not legal or bool(engine.done[0]):
            break
        move = legal[rng.integers(len(legal))]
        engine.step(torch.tensor([move]))
        played.append(move)
    return engine, played


def test_planes_of_a_known_position():
    # 5x5, row 0 at the bottom. Black: 0 (a1), 2 (c1); White: 1 (b1) is in atari (liberty 6 only), 10 (a3).
    engine = play(BatchedGo(1, 5), 0, 1, 2, 10)
    x = planes(engine)[0]
    assert x.shape == (fp.NUM_PLANES, 5, 5) and x.dtype == torch.uint8
    flat = x.view(fp.NUM_PLANES, 25)
    assert flat[fp.OWN].nonzero().flatten().tolist() == [0, 2]          # Black to move: own = black
    assert flat[fp.OPP].nonzero().flatten().tolist() == [1, 10]
    assert flat[fp.ONES].all() and flat[fp.BLACK_TO_PLAY].all() and not flat[fp.PASSED].any()
    assert flat[fp.OPP_LIBS].nonzero().flatten().tolist() == [1]        # white b1: one liberty
    assert flat[fp.OPP_LIBS + 2].nonzero().flatten().tolist() == [10]   # white a3: three
    assert flat[fp.OWN_LIBS].nonzero().flatten().tolist() == [0]        # black a1: only a2 is free
    assert flat[fp.OWN_LIBS + 1].nonzero().flatten().tolist() == [2]    # black c1: d1 and c2
    assert flat[fp.LEGAL, 6] == 1 and flat[fp.LEGAL, 0] == 0
    engine.step(torch.tensor([25]))                                    # Black passes: White to move
    y = planes(engine)[0].view(fp.NUM_PLANES, 25)
    assert y[fp.OWN].nonzero().flatten().tolist() == [1, 10] and y[fp.PASSED].all() and not y[fp.BLACK_TO_PLAY].any()


def test_ownership_sums_to_the_area_count():
    for seed in range(6):
        engine, _ = random_game(5, 30, seed)
        assert int(ownership(engine).sum()) == int(engine.area_delta()[0])


def test_symmetries_turn_positions_and_targets_consistently():
    size = 5
    engine, moves = random_game(size, 14, seed=3)
    x = planes(engine)
    owner = ownership(engine)
    policy = torch.softmax(torch.randn(1, size * size + 1, generator=torch.Generator().manual_seed(0)), 1)
    mapped = symmetry_actions(size)
    assert len({tuple(p.tolist()) for p in symmetry_perms(size)}) == 8      # 8 different symmetries
    for s in range(8):
        turned = play(BatchedGo(1, size), *(int(mapped[s, m]) for m in moves))
        xt, pt, ot = augment(x, policy, owner, torch.tensor([s]))
        assert torch.equal(xt, planes(turned)), s                         # same position, turned
        assert torch.equal(ot, ownership(turned)), s
        assert torch.equal(pt[0, mapped[s]], policy[0]), s                # the target moves with the points


def test_net_shapes_file_round_trip_and_frozen_copy(tmp_path):
    net = AZNet(5, 1, 8).eval()
    x = planes(random_game(5, 8, 0)[0]).expand(3, -1, -1, -1)
    logits, value, owner = net(x)
    assert logits.shape == (3, 26) and value.shape == (3,) and owner.shape == (3, 25)
    assert value.abs().max() <= 1 and owner.abs().max() <= 1
    save_net(net, tmp_path / "net.pt", komi=24.5, steps=7)
    loaded, meta = load_net(tmp_path / "net.pt")
    assert meta["size"] == 5 and meta["komi"] == 24.5 and meta["info"]["steps"] == 7
    with torch.no_grad():
        assert torch.allclose(loaded(x)[0], logits)
        frozen = evaluator(net, jit=True)(x)
    assert torch.allclose(frozen[0], logits, atol=1e-4) and torch.allclose(frozen[1], value, atol=1e-5)


@pytest.mark.parametrize("content", [b"not a torch file", None])
def test_missing_or_corrupt_net_is_one_clear_error(tmp_path, content):
    path = tmp_path / "net.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError) as info:
        load_net(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    torch.save({"format": "something else"}, path)
    with pytest.raises(UserError, match="not an AZ net"):
        load_net(path)


def test_state_fields_are_the_whole_engine_state():
    """The tree stores these BatchedGo tensors per node; a new per-game tensor in the engine must be added there."""
    from rllab.agents.go.az.search import STATE_FIELDS

    engine = BatchedGo(3, 5)
    per_game = {name for name, value in vars(engine).items()
                if isinstance(value, torch.Tensor) and value.shape[:1] == (3,) and not name.startswith("_")}
    assert per_game == set(STATE_FIELDS)


def test_sequential_halving_schedule():
    assert considered_visits(1, 5) == (0, 1, 2, 3, 4)
    # 4 moves, 16 simulations, 2 phases: 4 moves x 2 visits, then the best 2 x 4 visits
    assert considered_visits(4, 16) == (0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5)
    assert len(considered_visits(16, 200)) == 200 and considered_visits(16, 200)[:16] == (0,) * 16


def uniform_material(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A 'trivially strong' evaluator: no policy preference, value = stone balance of the side to move."""
    own, opp = x[:, fp.OWN].flatten(1).sum(1).float(), x[:, fp.OPP].flatten(1).sum(1).float()
    return torch.zeros((len(x), x.shape[-1] ** 2 + 1)), torch.tanh((own - opp) / 3)


@pytest.mark.parametrize("kind", ["gumbel", "puct"])
def test_search_prefers_the_obvious_capture(kind):
    # White's three stones b2, c2, d2 (6, 7, 8) have one liberty left, e2 (9); Black to move captures them there.
    engine = play(BatchedGo(1, 5), 1, 6, 2, 7, 3, 8, 11, 24, 12, 23, 13, 22, 5, 21)
    assert int(engine.to_play[0]) == 0 and planes(engine)[0, fp.OPP_LIBS].view(-1)[[6, 7, 8]].tolist() == [1, 1, 1]
    search = TreeSearch(uniform_material, 5, 0.5, None, 1, SearchConfig(kind=kind, sims=120, considered=32))
    result = search.run(engine_state(engine), np.random.default_rng(0), noise=False)
    assert int(result.action[0]) == 9
    assert int(result.policy[0].argmax()) == 9 and result.value[0] > 0


@pytest.mark.parametrize("kind", ["gumbel", "puct"])
def test_search_returns_legal_moves_and_normalised_targets(kind):
    engine = BatchedGo(6, 5)
    gen = torch.Generator().manual_seed(1)
    for _ in range(18):
        engine.random_step(gen)
        engine.reset_done()
    net = AZNet(5, 1, 8)
    search = TreeSearch(evaluator(net), 5, 24.5, None, 6, SearchConfig(kind=kind, sims=12, considered=4))
    result = search.run(engine_state(engine), np.random.default_rng(0), noise=True)
    legal = engine.legal_mask()
    assert legal[torch.arange(6), result.action].all()
    assert torch.allclose(result.policy.sum(1), torch.ones(6)) and (result.policy[~legal] == 0).all()
    assert (result.visits.sum(1) == 12).all() and result.evaluations == 6 * 13
    assert torch.equal(result.planes, planes(engine))


def test_self_play_targets_follow_the_game_result():
    torch.manual_seed(0)
    selfplay = SelfPlay(AZNet(5, 1, 8), 4, 24.5, SearchConfig(sims=4), 0, seed=0)
    samples = selfplay.play(60)                          # the move cap is 50: every slot finishes a game
    assert samples.games >= 4 and len(samples) == sum(samples.lengths) and samples.moves == 240
    start = 0
    for length in samples.lengths:
        game = slice(start, start + length)
        first = samples.planes[start]
        assert first[fp.OWN].sum() == 0 and first[fp.OPP].sum() == 0 and first[fp.BLACK_TO_PLAY].all()
        values = samples.value[game]
        assert torch.equal(values[1:], -values[:-1])     # the result flips with the side to move
        # the ownership target agrees with the result (komi 24.5 on 5x5: Black needs the whole board)
        black_area = int(samples.owner[start].sum())
        assert (black_area - 24.5 > 0) == (values[0] > 0) or values[0] == 0
        start += length
    legal = torch.cat((samples.planes[:, fp.LEGAL].flatten(1).bool(), torch.ones(len(samples), 1, dtype=torch.bool)), 1)
    assert torch.allclose(samples.policy.sum(1), torch.ones(len(samples))) and (samples.policy[~legal] == 0).all()


def test_replay_keeps_the_newest_and_round_trips_packed():
    selfplay = SelfPlay(AZNet(5, 1, 8), 4, 24.5, SearchConfig(sims=2), 0, seed=1)
    samples = selfplay.play(60)
    replay = Replay(100, 5)
    replay.add(samples)
    assert len(replay) == 100 and replay.count == len(samples)
    newest = (replay.count - 1) % 100
    assert torch.equal(replay.planes[newest], samples.planes[-1]) and replay.value[newest] == samples.value[-1]
    copy = Replay(100, 5)
    copy.load_state_dict(replay.state_dict())
    for name in ("planes", "policy", "value", "owner"):
        assert torch.equal(getattr(copy, name), getattr(replay, name))
    x, policy, value, owner = copy.sample(16, torch.Generator().manual_seed(0))
    assert x.shape == (16, fp.NUM_PLANES, 5, 5) and policy.shape == (16, 26) and owner.shape == (16, 25)
    with pytest.raises(UserError, match="replay"):
        Replay(50, 5).load_state_dict(replay.state_dict())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_search_on_cuda_matches_cpu():
    engine = play(BatchedGo(1, 5), 1, 6, 2, 7, 3, 8, 11, 24, 12, 23, 13, 22, 5, 21)
    config = SearchConfig(kind="gumbel", sims=40, considered=32)
    cpu = TreeSearch(uniform_material, 5, 0.5, None, 1, config).run(engine_state(engine), np.random.default_rng(0),
                                                                     noise=False)
    cuda_engine = BatchedGo(1, 5, device="cuda")
    play(cuda_engine, 1, 6, 2, 7, 3, 8, 11, 24, 12, 23, 13, 22, 5, 21)
    gpu = TreeSearch(uniform_material, 5, 0.5, None, 1, config, device="cuda").run(
        engine_state(cuda_engine), np.random.default_rng(0), noise=False)
    assert int(gpu.action[0]) == int(cpu.action[0]) == 9
    assert torch.allclose(gpu.visits.cpu(), cpu.visits)


def test_one_game_planes_equal_the_batched_planes():
    from rllab.agents.go.az.game_search import game_planes
    from rllab.envs.go.engine import GoGame

    rng = np.random.default_rng(5)
    for size in (5, 7):
        game, engine = GoGame(size), BatchedGo(1, size)
        while not game.over:
            assert np.array_equal(game_planes(game), planes(engine)[0].numpy()), game.moves
            legal = np.flatnonzero(game.legal_mask())
            move = int(legal[rng.integers(len(legal))])
            game.apply(move)
            engine.step(torch.tensor([move]))


@pytest.mark.parametrize("kind", ["gumbel", "puct"])
def test_one_game_search_builds_the_same_tree_as_the_batched_search(kind):
    from rllab.agents.go.az.game_search import GameSearch
    from rllab.envs.go.engine import GoGame

    torch.manual_seed(0)
    net = AZNet(5, 1, 8).eval()
    config = SearchConfig(kind=kind, sims=24, considered=8)
    game, engine = GoGame(5), BatchedGo(1, 5)
    for move in (12, 6, 8, 18, 25):
        game.apply(move)
        engine.step(torch.tensor([move]))
    one = GameSearch(evaluator(net), config).run(game, np.random.default_rng(3), noise=True)
    batched = TreeSearch(evaluator(net), 5, game.komi, None, 1, config).run(
        engine_state(engine), np.random.default_rng(3), noise=True)
    assert torch.equal(one.visits, batched.visits)
    assert torch.allclose(one.policy, batched.policy, atol=1e-6) and torch.equal(one.action, batched.action)
    assert torch.allclose(one.value, batched.value, atol=1e-6) and one.evaluations == batched.evaluations
