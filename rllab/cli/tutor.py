"""``rllab tutor`` (the Sequence Tutor end to end) and ``rllab bench melody``."""

from __future__ import annotations

from pathlib import Path

import typer

from rllab.cli.console import console
from rllab.cli.options import int_list
from rllab.core.config import TUTOR_PRESETS
from rllab.core.errors import Interrupted
from rllab.lab.bench.melody import bench_melody as measure_melody
from rllab.lab.tutor import TutorConfig, run_tutor, run_tutor_seeds
from rllab.lab.tutor.pipeline import DEFAULT_METHODS, DEFAULT_PRESET, parse_methods


def tutor(
    out: Path = typer.Option(Path("runs/tutor"), "--out", help="Report directory (rerun with the same one to resume)."),
    preset: str = typer.Option(DEFAULT_PRESET, "--preset", help=f"Tutor preset: {' | '.join(TUTOR_PRESETS.names())}."),
    methods: str = typer.Option(",".join(DEFAULT_METHODS), "--methods", help="Comma list of q, psi, g, rl_only, "
                                "ppo_kl."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    note_rnn: Path | None = typer.Option(None, "--note-rnn", help="Note RNN checkpoint or run directory to tune "
                                         "(default: the cached one, trained on first use)."),
    steps: int | None = typer.Option(None, "--steps", help="Override the preset's tuning steps per method."),
    c: float | None = typer.Option(None, "--c", help="Override the preset's c (reward = r_MT / c + log p)."),
    compositions: int | None = typer.Option(None, "--compositions", help="Compositions per model for the table."),
    samples: int | None = typer.Option(None, "--samples", help="MIDI + piano-roll samples per model."),
    seed: int = typer.Option(0, "--seed", help="Seed of the prior, the tuners and the evaluation."),
    seeds: str | None = typer.Option(None, "--seeds", help="Comma list: one full run per seed in OUT/seed-<s>/ "
                                     "and a summary (mean ± std, worst seed per target) in OUT/report.md."),
    workers: int | None = typer.Option(None, "--workers", help="Tuner processes on a CPU (default: one per method on "
                                       "2+ cores; the results are the same for any number)."),
) -> None:
    """Tune the Note RNN with KL control (Q, Ψ, G, ...) and write a report with a table, curves and MIDI samples."""
    config = TutorConfig(out=out, preset=preset, methods=parse_methods(methods), device=device, note_rnn=note_rnn,
                         steps=steps, c=c, compositions=compositions, samples=samples, seed=seed,
                         workers=workers)
    try:
        if seeds is not None:
            summary = run_tutor_seeds(config, int_list(seeds, "--seeds"), console)
            console.print(summary.report.read_text(), markup=False)
            console.print(f"[green]done[/]: {summary.report}; per-seed reports in {out}/seed-<s>/")
            return
        result = run_tutor(config, console)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; finished parts are kept; rerun the same command to continue "
                          f"(`rllab tutor --out {out}`)") from None
    console.print(result.table, markup=False)
    for check in result.targets:
        console.print(check.line(), markup=False)
    console.print("phase times: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in result.timings.items()))
    written = ", ".join(str(out / m) for m in ["note_rnn", *config.methods])
    console.print(f"[green]done in {result.timings['total']:.0f} s[/]: report {result.report}, curves "
                  f"{out / 'curves.png'}, samples in {written}")


def bench_melody(
    batch: int = typer.Option(1024, "--batch", help="Compositions written in parallel."),
    episodes: int = typer.Option(5, "--episodes", help="Episodes per measurement."),
    tuner_steps: int = typer.Option(32_768, "--tuner-steps", help="Environment steps of the tuner measurement."),
    method: str = typer.Option("q", "--method", help="Tuning method for the training-throughput figure."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
) -> None:
    """Batched melody env + rules + prior steps/s, and the tuner's training steps/s (random-weight Note RNN)."""
    method = parse_methods(method)[0]
    r = measure_melody(batch, episodes, tuner_steps, method, device)
    console.print(f"device {r.device}, batch {r.batch}")
    console.print(f"env + rules + prior, rules scored every step : {r.per_step:,.0f} steps/s")
    console.print(f"env + rules + prior, rules scored per episode: {r.per_episode:,.0f} steps/s")
    console.print(f"tuner ({method}): {r.tuner_steps_per_s:,.0f} env steps/s, {r.tuner_updates_per_s:,.1f} "
                  "gradient steps/s")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Attach ``rllab tutor`` and ``rllab bench melody``."""
    app.command("tutor")(tutor)
    bench.command("melody")(bench_melody)
