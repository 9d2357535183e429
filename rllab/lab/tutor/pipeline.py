"""The tutor job: build (or load) the corpus, train (or reuse) the Note RNN, tune it with each method, score every
model and write the report directory::

    OUT/report.md         Table-1-style statistics for the Note RNN and every tuned model, targets, phase times
    OUT/table.json        the same numbers, machine-readable
    OUT/curves.png        music-theory reward and log p(a|s) over training, one line per method
    OUT/<method>/         sample_000.mid + sample_000.png ... (note_rnn/, q/, psi/, g/, rl_only/, ppo_kl/)
    OUT/runs/<method>/    the tuning run (config, checkpoints, model.pt, curves.json); rerunning resumes it

:func:`run_tutor` is what ``rllab tutor`` calls; scripts and notebooks call it the same way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from rllab.agents.note_rnn_trainer import NoteRNNConfig, note_rnn_config, resume_note_rnn, train_note_rnn
from rllab.agents.tutor import METHODS, TunerConfig, evaluate, train_tuner
from rllab.agents.window_trainer import METRICS_FILE
from rllab.core.config import TUTOR_PRESETS, from_mapping, unknown_name
from rllab.core.device import limit_cpu_threads, resolve_device
from rllab.core.errors import UserError, choices_hint
from rllab.core.runs import CONFIG_FILE
from rllab.envs.melody import load_primers, prior_cache_root, resolve_prior
from rllab.lab.tutor.html import write_tutor_html
from rllab.lab.tutor.parallel import parallel_workers, tune_in_parallel
from rllab.lab.tutor.priors import select_prior
from rllab.lab.tutor.report import (
    EXTRA_KEYS,
    METHOD_LABELS,
    TargetCheck,
    held_out_reference,
    plot_curves,
    reference_stats,
    targets_check,
    write_report,
    write_samples,
)
from rllab.music.corpus import load_corpus
from rllab.music.metrics import TABLE1_KEYS
from rllab.music.note_rnn import NoteRNN
from rllab.music.tokens import PAPER_SPEC

DEFAULT_PRESET = "fast"
DEFAULT_METHODS = ("q", "psi", "g")


@dataclass
class TutorPreset:
    """A tutor preset (``rllab/presets/tutor/``): the prior's training, the tuners' config, the evaluation size."""

    description: str = ""
    note_rnn: dict[str, Any] = field(default_factory=dict)   # ``preset`` (a Note RNN preset name) + overrides
    tuner: dict[str, Any] = field(default_factory=dict)      # TunerConfig fields
    eval: dict[str, Any] = field(default_factory=dict)       # compositions, samples
    prior: dict[str, Any] = field(default_factory=dict)      # model, start, temperature (lab/tutor/priors.py)

    def prior_config(self) -> NoteRNNConfig:
        section = dict(self.note_rnn)
        return note_rnn_config(section.pop("preset", "paper"), section)


@dataclass
class TutorConfig:
    """One ``rllab tutor`` run. ``None`` fields take the preset's value."""

    out: Path = Path("runs/tutor")
    preset: str = DEFAULT_PRESET
    methods: tuple[str, ...] = DEFAULT_METHODS
    device: str = "auto"
    note_rnn: Path | None = None     # a Note RNN to tune (default: the cached one, trained on first use)
    steps: int | None = None         # tuning steps per method
    c: float | None = None
    compositions: int | None = None  # compositions per model for the table
    samples: int | None = None       # MIDI + piano-roll samples per model
    seed: int = 0
    workers: int | None = None       # tuner processes on CPU (default: one per method on 2+ cores)


@dataclass
class TutorResult:
    """What a tutor run produced: the report directory, the statistics per model, the target checks, times."""

    out: Path
    rows: dict[str, dict[str, float]]
    table: str                      # the statistics as a markdown table
    targets: list[TargetCheck]
    timings: dict[str, float]
    device: str
    prior_metrics: dict[str, float] = field(default_factory=dict)   # validation NLL etc. of a prior trained here
    work_s: dict[str, float] = field(default_factory=dict)   # wall time each part took, summed over resumes

    @property
    def report(self) -> Path:
        return self.out / "report.md"

    @property
    def targets_met(self) -> bool:
        return all(check.met for check in self.targets)


def parse_methods(text: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``"q,psi"`` or a sequence -> checked method names (``ψ`` and ``-`` accepted), without repeats."""
    items = text.split(",") if isinstance(text, str) else list(text)
    methods = [m.strip().lower().replace("ψ", "psi").replace("-", "_") for m in items if m.strip()]
    if not methods:
        raise UserError(f"--methods is empty; {choices_hint(METHODS)}")
    for method in methods:
        if method not in METHODS:
            raise unknown_name("method", method, METHODS)
    return tuple(dict.fromkeys(methods))


def load_tutor_preset(name: str) -> TutorPreset:
    preset_name, data = TUTOR_PRESETS.load(name)
    return from_mapping(TutorPreset, data, f"tutor preset {preset_name}")


def prior_dir(settings: NoteRNNConfig) -> Path:
    """The cached prior of a training config and seed: ``priors/<config hash>-s<seed>`` (a run directory)."""
    key = {k: v for k, v in settings.to_dict().items() if k not in ("seed", "description")}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    return prior_cache_root() / f"{digest}-s{settings.seed}"


def obtain_prior(note_rnn: Path | None, settings: NoteRNNConfig, device: str, console: Console) -> NoteRNN:
    """The frozen Note RNN: the one given, or the cached one for this config and seed, trained now if missing.

    A prior is trained once per (config, seed) into the cache (``$RLLAB_CACHE/tutor/priors/``) and reused by later
    runs and by ``rllab/Melody-v0``; a killed training resumes from its checkpoint. Its budget is a step count, so
    the same seed gives the same weights on any machine load.
    """
    if note_rnn is not None:
        return resolve_prior(note_rnn, PAPER_SPEC.num_classes, device)
    run_dir = prior_dir(settings)
    model = run_dir / "model.pt"
    if model.is_file():
        console.print(f"[bold]Note RNN[/]: reusing {run_dir}")
        return resolve_prior(model, PAPER_SPEC.num_classes, device)
    console.print("[bold]corpus[/]: loading the melody cache (built on first use)")
    corpus = load_corpus(settings.collections, progress=True)
    if (run_dir / CONFIG_FILE).is_file():
        console.print(f"[bold]Note RNN[/]: resuming the prior in {run_dir}")
        resume_note_rnn(run_dir, device=device, corpus=corpus)
    else:
        console.print(f"[bold]Note RNN[/]: training the prior ({settings.steps:,} steps) in {run_dir}")
        train_note_rnn(settings, run_dir, device=device, corpus=corpus)
    return resolve_prior(model, PAPER_SPEC.num_classes, device)


def run_tutor(config: TutorConfig, console: Console | None = None) -> TutorResult:
    """Run the tutor job described by ``config`` and write its report directory (see the module docstring)."""
    console = console or Console()
    started = time.perf_counter()
    methods = parse_methods(config.methods)
    preset = load_tutor_preset(config.preset)
    dev = resolve_device(config.device)
    if dev == "cpu":
        limit_cpu_threads()
    tuner_fields = dict(preset.tuner)
    tuner_fields.update({k: v for k, v in {"steps": config.steps, "c": config.c}.items() if v is not None})
    tuner_fields["seed"] = config.seed
    base = from_mapping(TunerConfig, tuner_fields, f"tutor preset {config.preset}: tuner")
    settings = dataclasses.replace(preset.prior_config(), seed=config.seed)
    eval_cfg = {"compositions": 10_000, "samples": 100, **preset.eval}
    n_eval = config.compositions if config.compositions is not None else int(eval_cfg["compositions"])
    n_samples = config.samples if config.samples is not None else int(eval_cfg["samples"])
    if n_eval < 1 or n_samples < 0:
        raise UserError("--compositions must be >= 1 and --samples >= 0")
    out = Path(config.out)

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    chosen = select_prior(preset.prior, lambda: obtain_prior(config.note_rnn, settings, dev, console), dev)
    prior = chosen.prior
    labels = {**METHOD_LABELS, "note_rnn": chosen.label}
    timings["corpus + Note RNN"] = time.perf_counter() - t0
    metrics_file = prior_dir(settings) / METRICS_FILE
    prior_metrics = json.loads(metrics_file.read_text()) if config.note_rnn is None and metrics_file.is_file() else {}
    out.mkdir(parents=True, exist_ok=True)
    primers = load_primers(base.priming)
    reward = base.reward_spec(prior=True)

    # this call's timings say what it did; work_s what each part cost when it ran (a reused part keeps its time)
    work = {"Note RNN training": float(prior_metrics["wall_s"])} if "wall_s" in prior_metrics else {}
    curves: dict[str, list[dict[str, float]]] = {}
    models: dict[str, Any] = {}
    columns = (TextColumn("[bold]{task.description}"), BarColumn(),
               TextColumn("{task.completed:,.0f}/{task.total:,.0f}"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        tasks = {m: progress.add_task(f"tuning {METHOD_LABELS[m]}", total=base.steps) for m in methods}
        workers = parallel_workers(methods, dev, config.workers)
        if workers > 1:   # train side by side, then reopen the finished runs below
            t0 = time.perf_counter()
            tune_in_parallel({m: {**tuner_fields, "method": m} for m in methods}, prior, out / "runs", primers,
                             chosen.start, workers, lambda m, steps: progress.update(tasks[m], completed=steps))
            timings[f"tune {', '.join(methods)} ({workers} processes)"] = time.perf_counter() - t0
        for method in methods:
            cfg = from_mapping(TunerConfig, {**tuner_fields, "method": method}, "tuner")
            t0 = time.perf_counter()
            tuner = train_tuner(cfg, prior, out / "runs" / method, device=dev, primers=primers,
                                progress=_updater(progress, tasks[method]), start=chosen.start)
            progress.update(tasks[method], completed=cfg.steps)
            if workers == 1:
                timings[f"tune {method}"] = time.perf_counter() - t0
            curves[method] = tuner.curves
            models[method] = tuner.model.eval()
            work[f"tune {method}"] = tuner.wall

        rows: dict[str, dict[str, float]] = {}
        task = progress.add_task("evaluating + samples", total=len(methods) + 1)
        t0 = time.perf_counter()
        reference = held_out_reference(base.length)
        for i, method in enumerate(["note_rnn", *methods]):
            summary, tokens = evaluate(prior, models.get(method), method, n=n_eval, reward=reward, primers=primers,
                                       device=dev, seed=config.seed + 1000 + i,
                                       temperature=1.0 if method == "note_rnn" else chosen.temperature)
            rows[method] = {**summary, **reference_stats(tokens, reference)}
            write_samples(out / method, tokens, n_samples, labels[method])
            progress.update(task, advance=1)
        timings["evaluate + samples"] = work["evaluate + samples"] = time.perf_counter() - t0

    plot_curves(curves, out / "curves.png")
    timings["total"] = time.perf_counter() - started
    table = write_report(out, rows, timings, config.preset, base.to_dict(), n_eval, dev, labels,
                         chosen.temperature)
    write_tutor_html(out, rows, labels, (*TABLE1_KEYS, *EXTRA_KEYS), [c.line()[2:] for c in targets_check(rows)],
                     prior=prior, models=models, primers=primers, reward=reward, device=dev, seed=config.seed,
                     temperature=chosen.temperature)
    return TutorResult(out, rows, table, targets_check(rows), timings, dev, prior_metrics, work)


def _updater(progress: Progress, task: Any) -> Callable[[int, int], None]:
    def update(done: int, total: int) -> None:
        progress.update(task, completed=done)

    return update
