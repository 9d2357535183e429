"""``rllab tutor``: the Sequence Tutor end to end, and ``rllab bench melody``.

``rllab tutor`` builds (or loads) the corpus cache, trains (or reuses) the Note RNN, tunes it with each requested
method, and writes a report directory::

    OUT/report.md         Table-1-style statistics for the Note RNN and every tuned model, plus wall times
    OUT/table.json        the same numbers, machine-readable
    OUT/curves.png        music-theory reward and log p(a|s) over training, one line per method
    OUT/<method>/         sample_000.mid + sample_000.png ... (note_rnn/, q/, psi/, g/, rl_only/, ppo_kl/)
    OUT/runs/<method>/    the tuning run (config, checkpoints, model.pt, curves.json); rerunning resumes it
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from rllab.errors import UserError, choices_hint

DEFAULT_PRESET = "fast"
DEFAULT_METHODS = "q,psi,g"
METHOD_LABELS = {"note_rnn": "Note RNN", "q": "Q", "psi": "Ψ", "g": "G", "rl_only": "RL only", "ppo_kl": "PPO-KL"}
#: What the issue asks of the tuned Q model (fractions; log p margin in nats over RL-only).
EXTRA_KEYS = ("distinct_4grams", "unique_compositions", "pitch_class_entropy", "r_mt_mean", "log_p_mean", "kl_mean",
              "entropy_mean")
Q_TARGETS = {"notes_excessively_repeated": ("<=", 0.01), "notes_not_in_key": ("<=", 0.01),
             "starts_with_tonic": (">=", 0.25), "leaps_resolved": (">=", 0.90), "notes_in_motif": (">=", 0.70)}


def preset_folder() -> Path:
    from rllab.config import preset_dir

    return preset_dir() / "tutor"


def tutor_presets() -> list[str]:
    return sorted(p.stem for p in preset_folder().glob("*.yaml"))


def load_tutor_preset(name: str) -> dict[str, Any]:
    """A preset: ``tuner`` (TunerConfig fields), ``note_rnn`` (Note RNN training config), ``eval``, ``methods``."""
    from rllab.config import read_yaml

    path = preset_folder() / f"{name}.yaml"
    if not path.is_file():
        raise UserError(f"unknown tutor preset {name!r}; {choices_hint(tutor_presets())}")
    data = read_yaml(path) or {}
    unknown = sorted(set(data) - {"description", "tuner", "note_rnn", "eval"})
    if unknown:
        raise UserError(f"{path}: unknown section(s) {', '.join(unknown)}")
    return data


def parse_methods(text: str) -> list[str]:
    from agents.sequence_tutor import METHODS

    methods = [m.strip().lower().replace("ψ", "psi").replace("-", "_") for m in text.split(",") if m.strip()]
    if not methods:
        raise UserError(f"--methods is empty; {choices_hint(METHODS)}")
    for method in methods:
        if method not in METHODS:
            raise UserError(f"unknown method {method!r}; {choices_hint(METHODS)}")
    return list(dict.fromkeys(methods))


def note_rnn_settings(section: dict[str, Any]) -> dict[str, Any]:
    """The preset's ``note_rnn`` section: ``preset`` (a Note RNN preset name, default ``paper``) plus overrides."""
    from agents.note_rnn import load_preset, resolve_config

    section = dict(section)
    return resolve_config(load_preset(section.pop("preset", "paper")), section)


def obtain_prior(note_rnn: Path | None, settings: dict[str, Any], device: str, console: Any) -> Any:
    """The frozen Note RNN: the one given, the cached one, or one trained now (corpus cache built first).

    The cached prior is trained once into ``$RLLAB_CACHE/tutor/note_rnn`` and reused by later runs (and by
    ``rllab/Melody-v0``); a killed training resumes from its checkpoint.
    """
    from envs.melody import default_note_rnn_path, resolve_prior
    from rllab.music.tokens import PAPER_SPEC

    if note_rnn is not None:
        return resolve_prior(note_rnn, PAPER_SPEC.num_classes, device)
    path = default_note_rnn_path()
    if path.is_file():
        console.print(f"[bold]Note RNN[/]: reusing {path}")
    else:
        from agents.note_rnn import train_note_rnn
        from rllab.music.corpus import load_corpus

        console.print("[bold]corpus[/]: loading the melody cache (built on first use)")
        corpus = load_corpus(settings["collections"], progress=True)
        resume = (path.parent / "config.yaml").is_file()
        console.print(f"[bold]Note RNN[/]: {'resuming' if resume else 'training'} the prior in {path.parent}")
        run = train_note_rnn({} if resume else settings, path.parent, device=device, resume=resume, corpus=corpus)
        path = Path(run) / "model.pt"
    return resolve_prior(path, PAPER_SPEC.num_classes, device)


def write_samples(folder: Path, tokens: Any, count: int, title: str) -> None:
    from rllab.music.midi import piano_roll_png, tokens_to_midi

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(min(count, len(tokens))):
        tokens_to_midi(tokens[i], folder / f"sample_{i:03d}.mid")
        piano_roll_png(tokens[i], folder / f"sample_{i:03d}.png", title=f"{title} #{i}")


def plot_curves(curves: dict[str, list[dict[str, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rllab import atomic

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for method, points in curves.items():
        steps = [p["steps"] for p in points]
        axes[0].plot(steps, [p["r_mt"] for p in points], marker=".", label=METHOD_LABELS[method])
        axes[1].plot(steps, [p["log_p"] for p in points], marker=".", label=METHOD_LABELS[method])
    axes[0].set(title="music-theory reward per note", xlabel="environment steps")
    axes[1].set(title="log p(a|s) under the Note RNN", xlabel="environment steps")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    atomic.write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def targets_check(rows: dict[str, dict[str, float]]) -> list[str]:
    """One line per target of the issue for the Q model: value, target and whether it is met."""
    if "q" not in rows:
        return []
    q = rows["q"]
    lines = []
    for name, (op, bound) in Q_TARGETS.items():
        value = q.get(name, float("nan"))
        ok = value <= bound if op == "<=" else value >= bound
        lines.append(f"- {name}: {value:.2%} (target {op} {bound:.0%}) {'✔' if ok else '✘'}")
    if "rl_only" in rows:
        margin = q["log_p_mean"] - rows["rl_only"]["log_p_mean"]
        mark = "✔" if margin >= 1 else "✘"
        lines.append(f"- log p margin over RL only: {margin:+.2f} nats (target >= +1.00) {mark}")
    return lines


def write_report(out: Path, rows: dict[str, dict[str, float]], timings: dict[str, float], preset: str,
                 tuner_cfg: dict[str, Any], n_eval: int, device: str) -> str:
    from rllab import atomic
    from rllab.music.metrics import TABLE1_KEYS, format_table

    table = format_table({METHOD_LABELS[m]: r for m, r in rows.items()}, keys=(*TABLE1_KEYS, *EXTRA_KEYS))
    lines = [
        "# Sequence Tutor report", "",
        f"Preset `{preset}` on `{device}`; {n_eval} compositions of {tuner_cfg['length']} steps per model, sampled "
        "from each model's policy (softmax of Q for Q and RL only, ∝ exp Ψ for Ψ, ∝ p·exp G for G, the Note RNN "
        "itself for the Note RNN). `log_p_mean` is the mean per-note log p(a|s) under the Note RNN, `kl_mean` the "
        "mean per-step KL(π‖p), `r_mt_mean` the mean per-note music-theory reward.", "",
        table, "",
    ]
    checks = targets_check(rows)
    if checks:
        lines += ["## Targets for the Q model", "", *checks, ""]
    lines += ["## Wall time", ""] + [f"- {name}: {seconds:.0f} s" for name, seconds in timings.items()]
    lines += ["", "## Tuner configuration", "", "```yaml"]
    import yaml

    lines += [yaml.safe_dump(tuner_cfg, sort_keys=False).rstrip(), "```", ""]
    text = "\n".join(lines)
    atomic.write_text(out / "report.md", text)
    atomic.write_json(out / "table.json", {"rows": rows, "timings_s": timings, "preset": preset})
    return table


def tutor(
    out: Path = typer.Option(Path("runs/tutor"), "--out", help="Report directory (rerun with the same one to resume)."),
    preset: str = typer.Option(DEFAULT_PRESET, "--preset", help="Tutor preset in rllab/presets/tutor/ (fast, paper)."),
    methods: str = typer.Option(DEFAULT_METHODS, "--methods", help="Comma list of q, psi, g, rl_only, ppo_kl."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    note_rnn: Path | None = typer.Option(None, "--note-rnn", help="Note RNN checkpoint or run directory to tune "
                                         "(default: the cached one, trained on first use)."),
    steps: int | None = typer.Option(None, "--steps", help="Override the preset's tuning steps per method."),
    c: float | None = typer.Option(None, "--c", help="Override the preset's c (reward = r_MT / c + log p)."),
    compositions: int | None = typer.Option(None, "--compositions", help="Compositions per model for the table."),
    samples: int | None = typer.Option(None, "--samples", help="MIDI + piano-roll samples per model."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Tune the Note RNN with KL control (Q, Ψ, G, ...) and write a report with a table, curves and MIDI samples."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from agents.sequence_tutor import TunerConfig, evaluate, make_dataclass, train_tuner
    from envs.melody import load_primers
    from rllab.device import limit_cpu_threads, resolve_device

    started = time.perf_counter()
    console = Console()
    method_list = parse_methods(methods)
    spec = load_tutor_preset(preset)
    dev = resolve_device(device)
    if dev == "cpu":
        limit_cpu_threads()
    tuner_fields = dict(spec.get("tuner") or {})
    overrides = {"steps": steps, "c": c, "seed": seed}
    tuner_fields.update({k: v for k, v in overrides.items() if v is not None})
    base = make_dataclass(TunerConfig, tuner_fields, f"preset {preset} tuner")  # validates c and names up front
    settings = note_rnn_settings(spec.get("note_rnn") or {})
    eval_cfg = {"compositions": 10_000, "samples": 100, **(spec.get("eval") or {})}
    n_eval = compositions if compositions is not None else int(eval_cfg["compositions"])
    n_samples = samples if samples is not None else int(eval_cfg["samples"])
    if n_eval < 1 or n_samples < 0:
        raise UserError("--compositions must be >= 1 and --samples >= 0")
    out.mkdir(parents=True, exist_ok=True)

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    prior = obtain_prior(note_rnn, settings, dev, console)
    timings["corpus + Note RNN"] = time.perf_counter() - t0
    primers = load_primers(base.priming)
    reward = base.reward_spec(prior=True)

    curves: dict[str, list[dict[str, float]]] = {}
    models: dict[str, Any] = {}
    columns = (TextColumn("[bold]{task.description}"), BarColumn(),
               TextColumn("{task.completed:,.0f}/{task.total:,.0f}"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        for method in method_list:
            cfg = make_dataclass(TunerConfig, {**tuner_fields, "method": method}, "tuner")
            task = progress.add_task(f"tuning {METHOD_LABELS[method]}", total=cfg.steps)
            t0 = time.perf_counter()
            tuner = train_tuner(cfg, prior, out / "runs" / method, device=dev, primers=primers,
                                progress=lambda done, total, task=task: progress.update(task, completed=done))
            progress.update(task, completed=cfg.steps)
            timings[f"tune {method}"] = time.perf_counter() - t0
            curves[method] = tuner.curves
            models[method] = tuner.model.eval()

        rows: dict[str, dict[str, float]] = {}
        task = progress.add_task("evaluating + samples", total=len(method_list) + 1)
        t0 = time.perf_counter()
        for i, method in enumerate(["note_rnn", *method_list]):
            summary, tokens = evaluate(prior, models.get(method), method, n=n_eval, reward=reward, primers=primers,
                                       device=dev, seed=seed + 1000 + i)
            rows[method] = summary
            write_samples(out / method, tokens, n_samples, METHOD_LABELS[method])
            progress.update(task, advance=1)
        timings["evaluate + samples"] = time.perf_counter() - t0

    plot_curves(curves, out / "curves.png")
    timings["total"] = time.perf_counter() - started
    table = write_report(out, rows, timings, preset, base.to_dict(), n_eval, dev)
    console.print(table)
    for line in targets_check(rows):
        console.print(line)
    console.print(f"[green]done in {timings['total']:.0f} s[/]: report {out / 'report.md'}, curves "
                  f"{out / 'curves.png'}, samples in {', '.join(str(out / m) for m in ['note_rnn', *method_list])}")


def bench_melody(
    batch: int = typer.Option(1024, "--batch", help="Compositions written in parallel."),
    episodes: int = typer.Option(5, "--episodes", help="Episodes per measurement."),
    tuner_steps: int = typer.Option(32_768, "--tuner-steps", help="Environment steps of the tuner measurement."),
    method: str = typer.Option("q", "--method", help="Tuning method for the training-throughput figure."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
) -> None:
    """Batched melody env + rules + prior steps/s, and the tuner's training steps/s (random-weight Note RNN)."""
    import torch
    from rich.console import Console

    from agents.note_rnn import NoteRNN
    from agents.sequence_tutor import TunerConfig, Tuner
    from envs.melody import MelodyVecEnv
    from rllab.device import limit_cpu_threads, resolve_device

    console = Console(soft_wrap=True)
    dev = resolve_device(device)
    if dev == "cpu":
        limit_cpu_threads()
    if batch < 1 or episodes < 1 or tuner_steps < 1:
        raise UserError("--batch, --episodes and --tuner-steps must be positive")
    method = parse_methods(method)[0]
    torch.manual_seed(0)
    prior = NoteRNN().to(dev).eval().requires_grad_(False)
    generator = torch.Generator(device=dev).manual_seed(0)
    env = MelodyVecEnv(prior, batch, device=dev, generator=generator)

    def run(score_each_step: bool) -> float:
        env.reset()
        for _ in range(env.reward.length):
            env.step(torch.randint(env.num_classes, (batch,), device=dev, generator=generator), score=score_each_step)
        if not score_each_step:
            env.score_episode()
        if dev.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(episodes):
            env.reset()
            for _ in range(env.reward.length):
                env.step(torch.randint(env.num_classes, (batch,), device=dev, generator=generator),
                         score=score_each_step)
            if not score_each_step:
                env.score_episode()
        if dev.startswith("cuda"):
            torch.cuda.synchronize()
        return episodes * batch * env.reward.length / (time.perf_counter() - start)

    per_step = run(True)
    per_episode = run(False)
    console.print(f"device {dev}, batch {batch}, torch threads {torch.get_num_threads()}")
    console.print(f"env + rules + prior, rules scored every step : {per_step:,.0f} steps/s")
    console.print(f"env + rules + prior, rules scored per episode: {per_episode:,.0f} steps/s")

    cfg = TunerConfig(method=method, steps=tuner_steps, eval_every=10**9, checkpoint_every=10**9)
    tuner = Tuner(cfg, prior, dev)
    while tuner.steps < min(2 * cfg.collect_episodes * cfg.length, tuner_steps):  # warm-up: fill replay, JIT paths
        tuner.train_round()
    steps0, updates0, wall0 = tuner.steps, tuner.updates, tuner.wall
    while tuner.steps - steps0 < tuner_steps:
        tuner.train_round()
    wall = tuner.wall - wall0
    console.print(f"tuner ({method}, batch {cfg.batch_size} episodes, replay ratio {cfg.replay_ratio}): "
                  f"{(tuner.steps - steps0) / wall:,.0f} env steps/s, {(tuner.updates - updates0) / wall:,.1f} "
                  "gradient steps/s")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Attach ``rllab tutor`` and ``rllab bench melody``."""
    app.command("tutor")(tutor)
    bench.command("melody")(bench_melody)
