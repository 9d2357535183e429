"""Break the code once per guarded behaviour and check that the test guarding it goes red, then restore the file.

Run from the repository root: ``python tools/check_mutations.py`` (all) or ``python tools/check_mutations.py 3 7``.
Do not edit the listed files while it runs: each is rewritten for the length of one test.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple


class Mutation(NamedTuple):
    path: str      # the file to break
    old: str       # text that occurs exactly once in it
    new: str       # the broken text
    test: str      # the pytest node that must go red
    what: str      # the behaviour broken, in words


MUTATIONS = [
    Mutation('rllab/lab/report.py', 'key=lambda r: r["iqm"], reverse=True',
             'key=lambda r: r["iqm"], reverse=False',
             'tests/test_lab_report.py::test_variants_are_ranked_by_the_iqm_of_the_spec_metric',
             'report ranks the wrong way round'),
    Mutation('rllab/lab/report.py', '"iqm": iqm(res.scores)',
             '"iqm": float(np.mean(res.scores))',
             'tests/test_lab_report.py::test_variants_are_ranked_by_the_iqm_of_the_spec_metric',
             'report takes the mean instead of the IQM'),
    Mutation('rllab/lab/experiment.py', 'elif not run.finished:',
             'elif False:',
             'tests/test_lab_experiment.py::test_unfinished_run_is_resumed_not_restarted',
             'experiment does not resume an unfinished run'),
    Mutation('rllab/lab/go_match.py', 'result.score_checks += 1',
             'pass',
             'tests/test_go_gtp.py::test_gnugo_match_and_score_cross_check',
             "match never cross-checks GNU Go's score"),
    Mutation('agents/tutor/ppo_kl.py', 'r_mt - beta * (log_pi - log_p)',
             'r_mt + beta * (log_pi - log_p)',
             'tests/test_tutor_tuner.py::test_the_kl_term_penalises_moving_away_from_the_prior',
             'KL penalty sign flipped'),
    Mutation('agents/tutor/ppo_kl.py', 'running = delta + gamma * lam * running',
             'running = delta + gamma * running',
             'tests/test_tutor_tuner.py::test_gae_by_hand',
             'GAE without lambda'),
    Mutation('agents/sb3/trainer.py', 'model.load_replay_buffer(str(replay))',
             'pass',
             'tests/test_lab_train.py::test_sigkill_then_resume_continues_from_the_checkpoint',
             'resume drops the DQN replay buffer'),
    Mutation('agents/sb3/trainer.py', 'run.truncate_rows(EVAL_CURVE_FILE, "timesteps", start.step)',
             'pass',
             'tests/test_lab_train.py::test_sigkill_then_resume_continues_from_the_checkpoint',
             'resume keeps evaluation rows past the checkpoint'),
    Mutation('agents/note_rnn_trainer.py', 'self.model.load_state_dict(ckpt["model"]["state_dict"])',
             'pass',
             'tests/test_music_note_rnn.py::test_training_learns_writes_the_run_and_resumes',
             'Note RNN resume restarts the weights'),
    Mutation('rllab/music/note_rnn.py', 'prefix = torch.cat([prefix, primer_t.expand(n, -1)], dim=1)',
             'prefix = prefix',
             'tests/test_music_note_rnn.py::test_sampling_is_seeded_and_honours_primer_and_temperature',
             'sampling ignores the primer'),
    Mutation('rllab/music/metrics.py', '"unique_max": float(high.mean())',
             '"unique_max": float(low.mean())',
             'tests/test_music_intervals.py::test_extremes_entropy_and_distinct_ngrams',
             'unique_max reports unique_min'),
    Mutation('rllab/music/metrics.py', '"fourths": pitch_step & (semis == 5)',
             '"fourths": pitch_step & (semis == 6)',
             'tests/test_music_intervals.py::test_every_interval_class_is_counted_from_the_last_pitch',
             'fourths counted as tritones'),
    Mutation('agents/sb3/callbacks.py', 'summary["return_mean"] >= config.stop_at_reward',
             'summary["return_mean"] > 1e9',
             'tests/test_lab_train.py::test_stop_at_reward_ends_training_at_the_first_good_evaluation',
             'stop_at_reward never stops'),
    Mutation('agents/sb3/algos.py', 'return progress_remaining * self.start',
             'return self.start',
             'tests/test_lab_train.py::test_linear_schedules_fall_from_the_start_value_to_zero',
             'lin_X schedule constant'),
    Mutation('envs/go/env.py', 'return float(b - w)',
             'return float(w - b)',
             'tests/test_go_env.py::test_shaping_potentials_by_hand',
             "captures potential from White's side"),
    Mutation('rllab/music/corpus.py', 'if digest in seen:',
             'if False:',
             'tests/test_music_corpus.py::test_exact_duplicates_are_dropped_across_files_and_collections',
             'duplicates kept'),
    Mutation('rllab/music/corpus.py', 'order[:round(count * valid_fraction)]',
             'order[:int(count * valid_fraction)]',
             'tests/test_music_corpus.py::test_validation_split_size_and_seed',
             'split size truncated instead of rounded'),
]


def check(index: int, m: Mutation) -> None:
    path = Path(m.path)
    text = path.read_text()
    if text.count(m.old) != 1:
        print(f"{index}: SKIP ({m.old!r} occurs {text.count(m.old)} times in {m.path})", flush=True)
        return
    started = time.time()
    try:
        path.write_text(text.replace(m.old, m.new))
        failed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", m.test],
                                capture_output=True).returncode != 0
    finally:
        path.write_text(text)
    verdict = "RED (caught)" if failed else "GREEN (survived!)"
    print(f"{index}: {verdict} {m.what} | {m.path} | {m.test} | {time.time() - started:.0f} s", flush=True)


def main(selected: list[str]) -> None:
    for index, mutation in enumerate(MUTATIONS):
        if not selected or str(index) in selected:
            check(index, mutation)


if __name__ == "__main__":
    main(sys.argv[1:])
