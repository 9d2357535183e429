"""Music commands: ``corpus build|info``, ``note-rnn train|eval``, ``prior train|eval``, ``compose``, ``melody-stats``,
``bench rules``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from rllab.agents.note_rnn_trainer import note_rnn_config, resume_note_rnn, train_note_rnn
from rllab.agents.prior_trainer import PRIOR_PRESETS, prior_config, resume_prior, train_prior
from rllab.agents.window_trainer import METRICS_FILE
from rllab.cli.console import console
from rllab.core import atomic
from rllab.core.config import NOTE_RNN_PRESETS, parse_overrides
from rllab.core.errors import Interrupted, UserError
from rllab.core.runs import default_run_path
from rllab.lab.bench.rules import bench_rules as measure_rules
from rllab.lab.compose import compose as compose_melodies
from rllab.lab.melody_eval import midi_folder_stats, note_rnn_table
from rllab.lab.prior_eval import evaluate_priors, format_rows
from rllab.lab.tutor.pipeline import parse_methods
from rllab.lab.tutor.tradeoff import TradeoffConfig, run_tradeoff
from rllab.music.corpus import corpus_cache_path, load_corpus
from rllab.music.keys import PITCH_NAMES
from rllab.music.metrics import format_table
from rllab.music.priors import BASELINES
from rllab.music.tokens import NO_EVENT, NOTE_OFF, TokenSpec

corpus_app = typer.Typer(help="The offline melody corpus (music21's bundled collections, cached once).",
                         no_args_is_help=True)
note_rnn_app = typer.Typer(help="The Note RNN: the LSTM melody prior of the Sequence Tutor.", no_args_is_help=True)
prior_app = typer.Typer(help="Melody priors: count baselines, the Markov model and the Transformer, scored alike.",
                        no_args_is_help=True)

COLLECTIONS_HELP = ("Collections: default (oneills, ryans, airds, bach), all, or a comma list; essen is "
                    "non-commercial and opt-in.")


def _print_corpus(corpus: Any, load_s: float | None = None) -> None:
    manifest = corpus.manifest
    table = Table("collection", "files", "tunes", "melodies", "steps", "dropped (dup/short)", "folded notes",
                  box=None)
    for name, counts in manifest["collections"].items():
        table.add_row(name, f"{counts.get('files', 0):,}", f"{counts.get('tunes', 0):,}",
                      f"{counts.get('melodies', 0):,}", f"{counts.get('steps', 0):,}",
                      f"{counts.get('duplicates_dropped', 0)}/{counts.get('too_short', 0)}",
                      f"{counts.get('notes_folded', 0)}")
    console.print(table)
    console.print(f"[bold]{manifest['melodies']:,} melodies[/], {manifest['steps']:,} steps "
                  f"(train {manifest['train_melodies']:,} melodies / {manifest['train_steps']:,} steps, "
                  f"valid {manifest['valid_melodies']:,} / {manifest['valid_steps']:,})")
    spec = TokenSpec.from_dict(manifest["spec"])
    hist = manifest["class_histogram"]
    total = max(sum(hist), 1)

    def label(token: int) -> str:
        if token == NOTE_OFF:
            return "NOTE_OFF"
        if token == NO_EVENT:
            return "NO_EVENT"
        pitch = spec.token_to_pitch(token)
        return f"{PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"

    cells = [f"{label(t)} {100 * c / total:.2f}%" for t, c in enumerate(hist)]
    console.print("class histogram (% of steps): " + ", ".join(cells))
    for name, licence in manifest.get("licences", {}).items():
        if name == "essen":
            console.print(f"[yellow]essen: {licence}[/]")
    if manifest.get("build_seconds") is not None:
        console.print(f"one-time build: {manifest['build_seconds']:.1f} s with {manifest.get('workers')} worker(s)")
    if load_s is not None:
        console.print(f"cached load: {1000 * load_s:.1f} ms")
    console.print(f"cache: {corpus.path}")


def corpus_build(
    collections: list[str] = typer.Option([], "--collections", "-c", help=COLLECTIONS_HELP),
    rebuild: bool = typer.Option(False, "--rebuild", help="Re-encode even when a cache exists."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Cache root (default $RLLAB_CACHE or "
                                             "~/.cache/rllab)."),
    workers: int | None = typer.Option(None, "--workers", help="Parser processes (default min(2, cores))."),
    limit_files: int | None = typer.Option(None, "--limit-files", help="Only the first N files per collection."),
) -> None:
    """Encode the corpus once into the cache (a progress bar; minutes for the default set)."""
    corpus = load_corpus(collections or None, cache_dir, progress=True, rebuild=rebuild, workers=workers,
                         limit_files=limit_files)
    start = time.perf_counter()
    corpus = load_corpus(collections or None, cache_dir, progress=False, limit_files=limit_files)
    _print_corpus(corpus, time.perf_counter() - start)


def corpus_info(
    collections: list[str] = typer.Option([], "--collections", "-c", help=COLLECTIONS_HELP),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Cache root."),
    limit_files: int | None = typer.Option(None, "--limit-files", help="As given to `corpus build`."),
) -> None:
    """Counts, class histogram and cache location of a built corpus (does not build)."""
    path = corpus_cache_path(collections or None, cache_dir, limit_files=limit_files)
    if not path.is_file():
        hint = f" -c {','.join(collections)}" if collections else ""
        raise UserError(f"no corpus cache at {path}; build it with `rllab corpus build{hint}`")
    start = time.perf_counter()
    corpus = load_corpus(collections or None, cache_dir, progress=False, limit_files=limit_files)
    _print_corpus(corpus, time.perf_counter() - start)


def note_rnn_train(
    preset: str = typer.Option("paper", "--preset", help=f"{' | '.join(NOTE_RNN_PRESETS.names())}, or a YAML path."),
    overrides: list[str] = typer.Option([], "--set", help="Override a setting: key=value (repeatable), "
                                        "e.g. steps=500 or time_limit_min=15."),
    out: Path | None = typer.Option(None, "--out", help="Run directory (default runs/note-rnn/<time>-s<seed>)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its newest checkpoint "
                                "(with --set steps=N, a finished run trains on)."),
) -> None:
    """Train the Note RNN on the cached corpus (teacher forcing, Adam, clipping, checkpoints)."""
    extra = parse_overrides(overrides)
    if resume and out is None:
        raise UserError("--resume needs the run directory (--out RUN)")
    config = None if resume else note_rnn_config(preset, extra)
    target = out or default_run_path("runs", "note-rnn", seed=config.seed)
    try:
        run = resume_note_rnn(target, extra, device=device) if resume else train_note_rnn(config, target, device=device)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; checkpoint saved in {target}; continue with "
                          f"`rllab note-rnn train --resume --out {target}`") from None
    metrics = json.loads((run / METRICS_FILE).read_text())
    console.print(f"validation accuracy {metrics['valid_accuracy']:.4f}, NLL {metrics['valid_nll']:.4f} nats/step "
                  f"after {metrics['steps']} steps, {metrics['wall_s']:.0f} s on {metrics['device']}")
    console.print(f"run directory: {run} (model: {run / 'model.pt'})")


def note_rnn_eval(
    model: Path = typer.Option(..., "--model", help="Note RNN run directory or model file."),
    n: int = typer.Option(1000, "--n", "-n", help="Samples (and corpus excerpts) to score."),
    length: int = typer.Option(32, "--length", help="Steps per composition."),
    temperature: float = typer.Option(1.0, "--temperature", help="Sampling temperature."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    out: Path | None = typer.Option(None, "--out", help="Also write the table here (markdown)."),
) -> None:
    """Table-1 statistics of N Note RNN samples (from the start token) next to N random bar-aligned excerpts of
    validation melodies and the openings of all validation melodies, all of the same length."""
    table = format_table(note_rnn_table(model, n, length, temperature, seed, device))
    console.print(table, markup=False)
    if out is not None:
        atomic.write_text(out, table + "\n")
        console.print(f"table: {out}")


def prior_eval(
    corpus: str = typer.Option("default", "--corpus", help="default | essen (opt-in: `rllab corpus build -c essen`)."),
    priors: str = typer.Option(",".join(BASELINES), "--prior", help="Baselines counted on the training split, "
                               f"comma list of {', '.join(BASELINES)} ('' for none)."),
    models: list[Path] = typer.Option([], "--model", help="A trained prior (run directory or model file; a Note "
                                      "RNN, a Transformer or a saved Markov model); repeatable."),
    device: str = typer.Option("cpu", "--device", help="auto | cpu | cuda."),
    out: Path | None = typer.Option(None, "--out", help="Also write the table here (markdown)."),
) -> None:
    """NLL per step, bits per note and accuracy (holds / rests / onsets) of each prior on the validation split."""
    rows = evaluate_priors(corpus, priors, [str(m) for m in models], device)
    table = format_rows(rows)
    console.print(table, markup=False)
    steps = rows[0].score.steps
    console.print(f"{corpus} corpus, validation split: {steps:,} steps, {rows[0].score.notes:,} notes")
    if out is not None:
        atomic.write_text(out, table + "\n")
        console.print(f"table: {out}")


def prior_train(
    preset: str = typer.Option("copy-lstm-cpu", "--preset",
                               help=f"{' | '.join(PRIOR_PRESETS.names())}, or a YAML path."),
    overrides: list[str] = typer.Option([], "--set", help="Override a setting: key=value (repeatable)."),
    out: Path | None = typer.Option(None, "--out", help="Run directory (default runs/prior/<kind>/<time>-s<seed>)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its newest checkpoint."),
) -> None:
    """Train a neural prior (the copy-LSTM, the Transformer) or count the Markov one into a run directory."""
    extra = parse_overrides(overrides)
    if resume:
        if out is None:
            raise UserError("--resume needs the run directory (--out RUN)")
        run = resume_prior(out, extra, device=device)
    else:
        run = train_prior(prior_config(preset, extra), out, device=device)
    metrics = json.loads((run / METRICS_FILE).read_text())
    console.print(f"validation NLL {metrics['valid_nll']:.4f} nats/step, accuracy {metrics['valid_accuracy']:.4f} "
                  f"(onsets {metrics['valid_onset_accuracy']:.4f}), {metrics['wall_s']:.0f} s wall, "
                  f"{metrics['cpu_s']:.0f} CPU-s")
    console.print(f"run directory: {run} (model: {run / 'model.pt'})")


def tradeoff(
    out: Path = typer.Option(Path("runs/tradeoff"), "--out", help="Sweep directory (rerun to resume)."),
    preset: str = typer.Option("fast", "--preset", help="Tutor preset (name or YAML path) of every run."),
    methods: str = typer.Option("q,psi,g", "--methods", help="Comma list of tuning methods."),
    cs: str = typer.Option("0.5,1,2", "--cs", help="Comma list of c (reward = r_MT / c + log p)."),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Comma list of seeds."),
    steps: int | None = typer.Option(None, "--steps", help="Tuning steps per method (default: the preset's)."),
    compositions: int = typer.Option(2000, "--compositions", help="Compositions per model and run."),
    note_rnn: Path | None = typer.Option(None, "--note-rnn", help="The Note RNN every run tunes (default: each "
                                         "seed's own, trained on first use)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
) -> None:
    """The reward-shaping trade-off: r_MT vs log p vs distinct 4-grams across c and methods, CIs over seeds."""
    result = run_tradeoff(TradeoffConfig(out, preset, parse_methods(methods), _floats(cs, "--cs"),
                                         tuple(int(s) for s in _floats(seeds, "--seeds")), steps, compositions,
                                         device, note_rnn), console)
    console.print((out / "tradeoff.md").read_text(), markup=False)
    console.print(f"plot: {result.plot}; numbers: {out / 'tradeoff.json'}")


def _floats(text: str, option: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UserError(f"{option} expects a comma list of numbers, got {text!r}") from None


def compose(
    models: list[Path] = typer.Option(..., "--model", help="A prior or tuned model (run directory, model file or "
                                      "shipped name); repeat it to compose with several models side by side."),
    n: int = typer.Option(16, "--n", "-n", help="Melodies per model."),
    length: int | None = typer.Option(None, "--length", help="New steps per melody (16 per bar; default 32)."),
    bars: int | None = typer.Option(None, "--bars", help="Bars per piece, primer included (instead of --length)."),
    temperature: float = typer.Option(1.0, "--temperature", help="Softmax temperature (0 = argmax)."),
    primer: str | None = typer.Option(None, "--primer", help="A .mid file every melody continues, or 'corpus' "
                                      "(a validation excerpt per melody, the same for every model)."),
    primer_bars: int = typer.Option(2, "--primer-bars", help="Bars of each corpus primer."),
    qpm: float = typer.Option(80.0, "--qpm", help="Tempo of the written MIDI and audio."),
    html: bool = typer.Option(True, "--html/--no-html", help="Write report.html (and a WAV per melody)."),
    wav: bool = typer.Option(False, "--wav", help="Write WAVs even without report.html."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    out: Path = typer.Option(Path("compositions"), "--out", help="Output folder."),
) -> None:
    """Sample melodies: .mid files, piano rolls, WAVs, a statistics table (stats.md) and report.html."""
    result = compose_melodies([str(m) for m in models], out, n=n, length=length, bars=bars, temperature=temperature,
                              primer=primer, primer_bars=primer_bars, qpm=qpm, wav=wav, html=html, seed=seed,
                              device=device)
    console.print(result.table.read_text(), markup=False)
    written = ".mid + .png" + (" + .wav" if wav or html else "")
    console.print(f"{n} melodies per model ({written}), stats.md{' and report.html' if html else ''} in {out}")


def melody_stats(
    paths: list[Path] = typer.Argument(..., help="MIDI files or folders (searched for *.mid, *.midi)."),
    length: int = typer.Option(32, "--length", help="Score the first N steps of each file (shorter ones skipped)."),
    key: str = typer.Option("C major", "--key", help="Key the rules use, e.g. 'A minor'."),
    model: Path | None = typer.Option(None, "--model", help="Also report log p under this Note RNN."),
) -> None:
    """Print the Table-1 statistics of a set of MIDI melodies (unreadable files are listed and skipped)."""
    result = midi_folder_stats(paths, length, key, model)
    for message in result.warnings:
        console.print(f"[yellow]warning:[/] {message}", markup=True)
    console.print(format_table({f"{len(result.used)} files": result.stats}), markup=False)
    for file, reason in result.skipped.items():
        console.print(f"skipped {file}: {reason}", markup=False)
    if result.skipped:
        console.print(f"{len(result.skipped)} of {len(result.skipped) + len(result.used)} file(s) skipped")


def bench_rules(
    batch: int = typer.Option(1024, "--batch", help="Compositions per batch."),
    length: int = typer.Option(32, "--length", help="Steps per composition."),
    rounds: int = typer.Option(5, "--rounds", help="Alternating timing rounds; the best of each path is kept."),
    scalar_rows: int = typer.Option(16, "--scalar-rows", help="Rows scored by the scalar reference per round."),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda | auto."),
) -> None:
    """Token-steps per second of the batched torch rules vs the scalar reference, timed alternately in one run."""
    r = measure_rules(batch, length, rounds, scalar_rows, device)
    console.print(f"scalar reference: {r.scalar_rate:,.0f} token-steps/s ({r.scalar_rows} x {length} per round, CPU)")
    console.print(f"batched torch:    {r.batched_rate:,.0f} token-steps/s ([{batch}, {length}] on {r.device}: "
                  f"{r.batched_ms:.1f} ms per batch)", markup=False)
    console.print(f"speed-up: {r.speedup:,.0f}x (best of {rounds} alternating rounds each)")


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Attach this module's commands to the app and the `bench` group."""
    corpus_app.command("build")(corpus_build)
    corpus_app.command("info")(corpus_info)
    note_rnn_app.command("train")(note_rnn_train)
    note_rnn_app.command("eval")(note_rnn_eval)
    app.add_typer(corpus_app, name="corpus")
    app.add_typer(note_rnn_app, name="note-rnn")
    prior_app.command("eval")(prior_eval)
    prior_app.command("train")(prior_train)
    app.add_typer(prior_app, name="prior")
    app.command("compose")(compose)
    app.command("tradeoff")(tradeoff)
    app.command("melody-stats")(melody_stats)
    bench.command("rules")(bench_rules)
