"""The melody environment: Gymnasium/SB3 compliance, the KL-control reward, final-step statistics, the batched
env's agreement with the single env, priming modes and bad input."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from rllab.core.errors import UserError
from rllab.envs.melody import MelodyEnv, MelodyVecEnv, RewardSpec, load_primers
from rllab.music.midi import midi_to_tokens, tokens_to_midi
from rllab.music.note_rnn import NoteRNN, save_note_rnn
from rllab.music.theory import RULES, batched_step_rewards, step_rewards, total_reward

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def prior() -> NoteRNN:
    torch.manual_seed(0)
    return NoteRNN().eval()


def run_episode(env: MelodyEnv, actions: list[int], seed: int = 0) -> tuple[list[float], list[dict]]:
    env.reset(seed=seed)
    rewards, infos = [], []
    for action in actions:
        _, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        infos.append(info)
        assert not truncated
    assert terminated
    return rewards, infos


def test_passes_gymnasium_and_sb3_checkers(prior):
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = MelodyEnv(note_rnn=prior)
    check_env(env, skip_render_check=True)
    sb3_check_env(env)
    assert env.action_space == gym.spaces.Discrete(38)


def test_registered_id_builds_with_kwargs(prior):

    env = gym.make("rllab/Melody-v0", note_rnn=prior, c=2.0)
    obs, _ = env.reset(seed=3)
    assert obs.shape == (33,) and (obs[1:] == 38).all()


def test_reward_is_rules_over_c_plus_log_prior(prior):
    rng = np.random.default_rng(0)
    actions = [int(a) for a in rng.integers(0, 38, size=32)]
    env = MelodyEnv(note_rnn=prior, c=0.5)
    rewards, infos = run_episode(env, actions)
    for t, (reward, info) in enumerate(zip(rewards, infos, strict=True)):
        parts = step_rewards(actions[:t], actions[t])
        assert {f"r_{r}" for r in RULES} <= set(info)
        for rule in RULES:
            assert info[f"r_{rule}"] == pytest.approx(parts[rule])
        assert info["r_mt"] == pytest.approx(total_reward(parts, "music_theory_all"))
        assert info["log_p"] < 0
        assert reward == pytest.approx(info["r_mt"] / 0.5 + info["log_p"])

    no_prior = MelodyEnv(note_rnn=prior, c=0.5, prior=False)
    rewards_rl, infos_rl = run_episode(no_prior, actions)
    assert rewards_rl == pytest.approx([i["r_mt"] / 0.5 for i in infos_rl])


def test_log_p_is_the_prior_log_probability_after_the_primer(prior):
    env = MelodyEnv(note_rnn=prior)
    obs, _ = env.reset(seed=1)
    primer = int(obs[0])
    actions = [5, 1, 7, 0]
    env_steps = [env.step(a)[4]["log_p"] for a in actions]
    with torch.no_grad():
        logits, _ = prior(torch.tensor([[primer, *actions[:-1]]]))
    expected = torch.log_softmax(logits[0], -1)[torch.arange(4), torch.tensor(actions)]
    assert env_steps == pytest.approx(expected.tolist(), abs=1e-5)


def test_final_info_holds_unshaped_statistics(prior):
    actions = [14, 1, 16, 1, 18, 1, 19, 0] * 4
    env = MelodyEnv(note_rnn=prior, c=2.0, reward_preset="music_theory_basic")
    _, infos = run_episode(env, actions)
    final = infos[-1]
    for name in ("notes_not_in_key", "starts_with_tonic", "notes_in_motif", "log_p_mean", "music_theory_score"):
        assert isinstance(final[name], float)
    assert final["starts_with_tonic"] == 1.0
    assert final["notes_not_in_key"] == 0.0
    assert final["log_p_mean"] == pytest.approx(np.mean([i["log_p"] for i in infos]))
    # the score uses all nine rules with weight 1, whatever the env's reward preset
    all_rules = [total_reward(step_rewards(actions[:t], actions[t]), "music_theory_all") for t in range(32)]
    assert final["music_theory_score"] == pytest.approx(sum(all_rules))
    assert "notes_in_motif" not in infos[0]


def test_vec_env_matches_rules_and_deferred_scoring(prior):
    generator = torch.Generator().manual_seed(0)
    env = MelodyVecEnv(prior, 64, reward=RewardSpec(c=0.5), generator=generator)
    env.reset()
    rewards, log_ps = [], []
    actions = torch.randint(38, (64, 32), generator=generator)
    for t in range(32):
        obs, reward, terminated, info = env.step(actions[:, t])
        assert torch.equal(obs, actions[:, t])
        assert terminated == (t == 31)
        rewards.append(reward)
        log_ps.append(info["log_p"])
    r_mt, log_p = env.score_episode()
    expected = total_reward(batched_step_rewards(actions), "music_theory_all").float()
    assert torch.allclose(r_mt, expected)
    assert torch.allclose(torch.stack(rewards, 1), r_mt / 0.5 + log_p, atol=1e-5)
    assert torch.allclose(torch.stack(log_ps, 1), log_p)
    with torch.no_grad():
        logits, _ = prior(torch.cat([env.primer, actions[:, :-1]], 1))
    assert torch.allclose(torch.log_softmax(logits, -1).gather(2, actions[:, :, None])[:, :, 0], log_p, atol=1e-5)
    with pytest.raises(UserError, match="episode is over"):
        env.step(actions[:, 0])


def test_vec_env_step_components_equal_the_batched_rules_after_unscored_steps(prior):
    generator = torch.Generator().manual_seed(3)
    env = MelodyVecEnv(prior, 16, reward=RewardSpec(preset="music_theory_basic"), generator=generator)
    actions = torch.randint(38, (16, 32), generator=generator)
    expected = batched_step_rewards(actions)
    for _ in range(2):    # the second episode checks that reset() clears the rules' state
        env.reset()
        for t in range(32):
            scored = t < 3 or t % 5 == 0 or t == 31   # unscored columns are caught up on the next scored step
            _, reward, _, info = env.step(actions[:, t], score=scored)
            if scored:
                for rule in RULES:
                    assert torch.equal(info[f"r_{rule}"], expected[rule][:, t]), (rule, t)
                r_mt = total_reward({r: expected[r][:, t] for r in RULES}, "music_theory_basic").float()
                assert torch.equal(info["r_mt"], r_mt)
                assert torch.equal(reward, info["log_p"] + r_mt / env.reward.c)
            else:
                assert "r_mt" not in info


def test_vec_env_agrees_with_single_env(prior):
    actions = [14, 14, 14, 14, 14, 14, 3, 30, 1, 0, 0, 0] + [16] * 20
    _, infos = run_episode(MelodyEnv(note_rnn=prior), actions)
    env = MelodyVecEnv(prior, 1)
    env.reset()
    for action in actions:
        env.step(torch.tensor([action]), score=False)
    r_mt, _ = env.score_episode()
    assert r_mt[0].tolist() == pytest.approx([i["r_mt"] for i in infos])
    assert min(i["r_repeat"] for i in infos) == -100.0


def test_priming_modes(prior, tmp_path):

    assert load_primers("random_note").shape == (38, 1)  # every class, the last one included
    melody = np.array([14, 1, 16, 1, 18, 1, 19, 1, 21, 1, 0, 1], dtype=np.int64)
    tokens_to_midi(melody, tmp_path / "primer.mid")
    bank = load_primers("midi", primer_midi=tmp_path / "primer.mid", primer_steps=8)
    assert bank.shape == (1, 8)
    assert bank[0].tolist() == midi_to_tokens(tmp_path / "primer.mid")[-8:].tolist()
    env = MelodyEnv(note_rnn=prior, priming="midi", primer_midi=str(tmp_path / "primer.mid"), primer_steps=8)
    obs, _ = env.reset(seed=0)
    assert obs[0] == bank[0, -1]


@pytest.mark.parametrize("kwargs, message", [
    ({"c": 0.0}, "c must be a positive"),
    ({"c": -1.0}, "c must be a positive"),
    ({"reward_preset": "nope"}, "unknown reward preset"),
    ({"priming": "whistle"}, "unknown priming mode"),
    ({"priming": "midi"}, "needs primer_midi"),
    ({"key": "H major"}, "unknown key"),
    ({"render_mode": "human"}, "unknown render_mode"),
])
def test_bad_arguments_are_user_errors(prior, kwargs, message):
    with pytest.raises(UserError, match=message):
        MelodyEnv(note_rnn=prior, **kwargs)


def test_bad_note_rnn_checkpoints(tmp_path):
    with pytest.raises(UserError):
        MelodyEnv(note_rnn=tmp_path / "missing.pt")
    save_note_rnn(NoteRNN(num_classes=40), tmp_path / "wide.pt")
    with pytest.raises(UserError):
        MelodyEnv(note_rnn=tmp_path / "wide.pt")
    with pytest.raises(UserError, match="40 classes"):
        MelodyEnv(note_rnn=NoteRNN(num_classes=40))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError):
        MelodyEnv(note_rnn=tmp_path / "junk.pt")


def test_bad_actions_and_finished_episodes(prior):
    env = MelodyEnv(note_rnn=prior, length=4)
    env.reset(seed=0)
    with pytest.raises(UserError, match="action"):
        env.step(38)
    for _ in range(4):
        env.step(2)
    with pytest.raises(UserError, match="reset"):
        env.step(2)
    vec = MelodyVecEnv(prior, 2)
    vec.reset()
    with pytest.raises(UserError, match="actions"):
        vec.step(torch.tensor([0, 38]))
