"""The Sequence Tutor's tuner: the Q / Ψ / G / RL-only targets, recurrent replay with recomputed states, exploration
that stores the played action, learning, PPO-KL, resumable checkpoints and config errors."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from rllab.agents.tutor import Samples, TunerConfig, make_tuner, rollout, train_tuner
from rllab.agents.tutor.ppo_kl import gae, kl_penalised_reward
from rllab.agents.tutor.replay import EpisodeReplay
from rllab.agents.tutor.sampling import policy_logits, sequence_logits
from rllab.agents.tutor.value import td_targets
from rllab.core.config import from_mapping
from rllab.core.errors import UserError
from rllab.envs.melody import MelodyVecEnv, RewardSpec
from rllab.music.note_rnn import NoteRNN, load_note_rnn
from rllab.music.theory import batched_step_rewards, total_reward

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def prior() -> NoteRNN:
    torch.manual_seed(0)
    return NoteRNN().eval().requires_grad_(False)


def small_config(**overrides) -> TunerConfig:
    base = dict(steps=4096, collect_episodes=32, batch_size=16, replay_ratio=4.0, eval_every=2048, eval_episodes=32,
                checkpoint_every=1024, exploration="boltzmann")
    base.update(overrides)
    return TunerConfig(**base)


def test_td_targets_by_hand():
    r_mt = torch.tensor([[1.0, 2.0, 3.0]])
    log_p = torch.tensor([[-1.0, -2.0, -3.0]])
    nxt = torch.tensor([[[0.0, 1.0], [2.0, 0.0], [9.0, 9.0]]])   # values at s_{t+1}; the last is never used
    prior = torch.log(torch.tensor([[[0.25, 0.75], [0.5, 0.5], [0.5, 0.5]]]))
    c, gamma = 0.5, 0.5
    q = td_targets("q", r_mt, log_p, nxt, prior, c, gamma)[0].tolist()
    assert q == pytest.approx([2 - 1 + 0.5 * 1, 4 - 2 + 0.5 * 2, 6 - 3])
    psi = td_targets("psi", r_mt, log_p, nxt, prior, c, gamma)[0].tolist()
    assert psi == pytest.approx([1 + 0.5 * math.log(1 + math.e), 2 + 0.5 * math.log(math.e ** 2 + 1), 3])
    g = td_targets("g", r_mt, log_p, nxt, prior, c, gamma)[0].tolist()
    assert g == pytest.approx([2 + 0.5 * math.log(0.25 + 0.75 * math.e), 4 + 0.5 * math.log(0.5 * math.e ** 2 + 0.5),
                               6])
    rl = td_targets("rl_only", r_mt, log_p, nxt, prior, c, gamma)[0].tolist()
    assert rl == pytest.approx([2 + 0.5, 4 + 1, 6])  # no log p term, terminal step without bootstrap


@pytest.mark.parametrize("method", ["q", "g"])
def test_recomputed_states_reproduce_the_acting_values(prior, method):
    """Replay reruns the network over primer + episode; its greedy choice must be what was played."""
    torch.manual_seed(1)
    model = copy.deepcopy(prior)
    env = MelodyVecEnv(prior, 16, generator=torch.Generator().manual_seed(0))
    samples = rollout(env, model, method, greedy=True)
    values = sequence_logits(model, samples.primer, samples.tokens)
    log_prior = torch.log_softmax(sequence_logits(prior, samples.primer, samples.tokens), -1)
    assert torch.equal(policy_logits(method, values, log_prior).argmax(-1), samples.tokens)
    assert torch.allclose(log_prior.gather(2, samples.tokens[:, :, None])[:, :, 0], samples.log_p, atol=1e-5)


@pytest.mark.parametrize("mode", ["boltzmann", "egreedy"])
def test_exploration_stores_the_played_action_and_its_reward(prior, mode):
    model = copy.deepcopy(prior)
    env = MelodyVecEnv(prior, 64, generator=torch.Generator().manual_seed(0))
    kwargs = {"epsilon": 1.0} if mode == "egreedy" else {}
    samples = rollout(env, model, "q", generator=torch.Generator().manual_seed(1), **kwargs)
    greedy = sequence_logits(model, samples.primer, samples.tokens).argmax(-1)
    assert (greedy != samples.tokens).float().mean() > 0.5  # explored, not argmax
    expected = total_reward(batched_step_rewards(samples.tokens), "music_theory_all").float()
    assert torch.allclose(samples.r_mt, expected)  # the reward belongs to the stored action
    log_pi = torch.log_softmax(sequence_logits(model, samples.primer, samples.tokens), -1)
    if mode == "boltzmann":
        assert torch.allclose(log_pi.gather(2, samples.tokens[:, :, None])[:, :, 0], samples.log_pi, atol=1e-5)


def test_replay_is_fifo_over_whole_episodes():
    replay = EpisodeReplay(capacity=3, primer_len=1, length=4, device=torch.device("cpu"))
    for start in range(5):
        tokens = torch.full((1, 4), start)
        replay.add(Samples(tokens[:, :1], tokens, tokens.float(), tokens.float(), tokens.float(), tokens.float(),
                           tokens.float()))
    assert replay.size == 3
    assert sorted(replay.tokens[:, 0].tolist()) == [2, 3, 4]


@pytest.mark.parametrize("method", ["q", "psi", "g", "rl_only"])
def test_value_methods_learn_the_rules(prior, method):
    tuner = make_tuner(small_config(method=method, steps=16384, lr=3e-3), prior, "cpu")
    before = tuner.evaluate_curve()
    while tuner.steps < 16384:
        tuner.train_round()
    after = tuner.evaluate_curve()
    assert tuner.updates > 0
    assert after["r_mt"] > before["r_mt"] + 0.4


def test_gae_by_hand():
    reward = torch.tensor([[1.0, 0.0, 2.0]])
    values = torch.tensor([[0.5, 1.0, -1.0]])
    gamma, lam = 0.9, 0.5
    # deltas: d2 = 2 - (-1) = 3; d1 = 0 + 0.9*(-1) - 1 = -1.9; d0 = 1 + 0.9*1 - 0.5 = 1.4
    a2 = 3.0
    a1 = -1.9 + gamma * lam * a2
    a0 = 1.4 + gamma * lam * a1
    assert gae(reward, values, gamma, lam)[0].tolist() == pytest.approx([a0, a1, a2])
    # lam = 1: discounted return minus the value; lam = 0: the one-step TD error
    assert gae(reward, values, gamma, 1.0)[0, 0].item() == pytest.approx(1 + 0.9 * 0 + 0.81 * 2 - 0.5)
    assert gae(reward, values, gamma, 0.0)[0].tolist() == pytest.approx([1.4, -1.9, 3.0])


def test_the_kl_term_penalises_moving_away_from_the_prior():
    r_mt = torch.tensor([1.0, 1.0])
    log_p = torch.tensor([-2.0, -2.0])
    log_pi = torch.tensor([-2.0, -0.5])   # the second action is much likelier under the policy than the prior
    reward = kl_penalised_reward(r_mt, log_pi, log_p, beta=0.5)
    assert reward.tolist() == pytest.approx([1.0, 1.0 - 0.5 * 1.5])
    assert kl_penalised_reward(r_mt, log_pi, log_p, beta=0.0).tolist() == [1.0, 1.0]


def test_ppo_kl_raises_the_music_theory_reward(prior):
    cfg = small_config(method="ppo_kl", steps=16384, c=0.05, ppo={"rollout_episodes": 64, "minibatch_episodes": 32,
                                                                   "epochs": 4, "lr": 3e-3})
    tuner = make_tuner(cfg, prior, "cpu")
    before = tuner.evaluate_curve()
    while tuner.steps < cfg.steps:
        tuner.train_round()
    after = tuner.evaluate_curve()
    assert after["r_mt"] > before["r_mt"] + 0.3
    assert after["kl"] > before["kl"]          # learning the rules moves the policy away from the prior


def test_ppo_kl_trains_and_saves(prior, tmp_path):
    cfg = small_config(method="ppo_kl", steps=2048, ppo={"rollout_episodes": 32, "minibatch_episodes": 16,
                                                           "epochs": 2})
    tuner = train_tuner(cfg, prior, tmp_path / "run")
    assert tuner.updates == 2 * 2 * 2
    assert all(math.isfinite(p["kl"]) for p in tuner.curves)
    tuned = load_note_rnn(tmp_path / "run" / "model.pt")
    pairs = zip(tuned.state_dict().values(), prior.state_dict().values(), strict=True)
    assert any(not torch.equal(a, b) for a, b in pairs)


def test_killed_run_resumes_to_the_same_model(prior, tmp_path):
    cfg = small_config(method="psi")
    full = train_tuner(cfg, prior, tmp_path / "full")

    def kill(done: int, total: int) -> None:
        if done >= 2560:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_tuner(cfg, prior, tmp_path / "killed", progress=kill)
    resumed = train_tuner(cfg, prior, tmp_path / "killed")
    assert resumed.steps == full.steps == 4096
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert [p["r_mt"] for p in full.curves] == [p["r_mt"] for p in resumed.curves]
    again = train_tuner(cfg, prior, tmp_path / "killed")  # a finished run is reused, not retrained
    assert again.updates == resumed.updates
    with pytest.raises(UserError, match="different config .differs in: tuner"):
        train_tuner(small_config(method="psi", c=2.0), prior, tmp_path / "killed")


@pytest.mark.parametrize("fields, message", [
    ({"c": 0.0}, "c must be a positive"),
    ({"c": -0.5}, "c must be a positive"),
    ({"method": "sarsa"}, "unknown tuning method"),
    ({"exploration": "curious"}, "unknown exploration"),
    ({"gamma": 1.5}, "gamma"),
    ({"reward_preset": "loud"}, "unknown reward preset"),
    ({"lr_typo": 1.0}, "tuner: unknown field 'lr_typo'"),
    ({"ppo": {"clip_typo": 0.1}}, "tuner: ppo: unknown field 'clip_typo' .did you mean 'clip'"),
])
def test_bad_configs_are_user_errors(fields, message):
    with pytest.raises(UserError, match=message):
        from_mapping(TunerConfig, fields, "tuner")


def test_reward_spec_for_g_and_rl_only_drops_the_log_prior_term(prior):
    assert make_tuner(small_config(method="g"), prior, "cpu").env.reward.prior is False
    assert make_tuner(small_config(method="rl_only"), prior, "cpu").env.reward.prior is False
    assert make_tuner(small_config(method="q"), prior, "cpu").env.reward == RewardSpec(c=0.5, prior=True)
