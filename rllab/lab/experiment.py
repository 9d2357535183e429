"""Experiments: a spec (base env/algo/preset, named variants, seeds) -> one run directory per variant x seed.

Runs execute in K local worker processes (default) or as Ray tasks. Re-running the same command is safe: a
finished run (model + evaluation written) is skipped, an unfinished one resumes from its newest checkpoint,
and every file is written atomically, so a killed experiment never leaves a half-written result.

Layout::

    <root>/spec.yaml                 the spec as run
    <root>/<variant>/s<seed>/        a run directory (see rllab.runs) + evaluation.json/csv
    <root>/runs.csv                  one row per run: variant, seed, state, path
"""

from __future__ import annotations

import multiprocessing
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rllab.agents import sb3
from rllab.agents.sb3 import validate
from rllab.core import atomic
from rllab.core.config import EXPERIMENT_SPECS, from_mapping, unknown_name
from rllab.core.errors import UserError, choices_hint
from rllab.core.runs import CONFIG_FILE, RunDir, slug
from rllab.core.train_config import TrainConfig, build_config

BACKENDS = ("local", "ray")


@dataclass
class ExperimentSpec:
    """Variants x seeds of one training setup; each variant is a set of ``--set``-style overrides."""

    name: str = ""
    env: str | None = None
    algo: str | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    variants: dict[str, dict[str, Any]] = field(default_factory=lambda: {"default": {}})
    preset: str | None = None
    steps: int | None = None
    metric: str = "return"
    eval_episodes: int = 20
    overrides: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if not self.env and not self.preset:
            raise UserError(f"experiment {self.name!r}: give 'env' (and 'algo') or 'preset'")
        seeds = self.seeds
        if not isinstance(seeds, list) or not seeds or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
            raise UserError(f"experiment {self.name!r}: 'seeds' must be a non-empty list of non-negative integers, "
                            f"got {seeds!r}")
        variants = self.variants or {"default": {}}
        if not isinstance(variants, dict) or not all(isinstance(v, dict) or v is None for v in variants.values()):
            raise UserError(f"experiment {self.name!r}: 'variants' must map names to override mappings")
        self.variants = {str(k): dict(v or {}) for k, v in variants.items()}
        if self.steps is not None and (isinstance(self.steps, bool) or not isinstance(self.steps, int)
                                       or self.steps <= 0):
            raise UserError(f"experiment {self.name!r}: 'steps' must be a positive integer, got {self.steps!r}")
        if isinstance(self.eval_episodes, bool) or not isinstance(self.eval_episodes, int) or self.eval_episodes < 1:
            raise UserError(f"experiment {self.name!r}: 'eval_episodes' must be a positive integer")

    def run_configs(self) -> list[tuple[str, int, dict[str, Any]]]:
        """(variant, seed, resolved config dict) for every run, validated up front."""
        jobs = []
        for variant, changes in self.variants.items():
            for seed in self.seeds:
                extra = {**self.overrides, **changes}
                if self.steps is not None:
                    extra["steps"] = self.steps
                extra["seed"] = seed
                extra.setdefault("progress_bar", False)
                config = build_config(self.env, self.algo, self.preset, extra)
                jobs.append((variant, seed, config.to_dict()))
        return jobs


def load_spec(name_or_path: str | Path, overrides: dict[str, Any] | None = None,
              seeds: list[int] | None = None, variants: list[str] | None = None) -> ExperimentSpec:
    """A shipped spec by name (``rllab presets``) or a YAML path, checked field by field.

    ``overrides`` (``--set k=v``) apply to every variant (``eval_episodes`` sets the spec's final evaluation),
    ``seeds`` replaces the spec's and ``variants`` keeps only the named ones, so a shipped spec can be tried small.
    Every variant's config is built and validated (algo, hyperparameters, env) before any runs.
    """
    name, data = EXPERIMENT_SPECS.load(str(name_or_path))
    if variants is not None:
        known = data.get("variants") or {"default": {}}
        for variant in variants:
            if variant not in known:
                raise unknown_name("variant", variant, known, f"experiment spec {name}")
        data = {**data, "variants": {v: known[v] for v in variants}}
    data = {"name": name, **data}
    if overrides:
        overrides = dict(overrides)
        if "eval_episodes" in overrides:  # the spec's final evaluation, not a field of the runs
            data["eval_episodes"] = overrides.pop("eval_episodes")
        data["overrides"] = {**(data.get("overrides") or {}), **overrides}
        if "steps" in overrides:
            data["steps"] = overrides["steps"]
    if seeds is not None:
        data["seeds"] = seeds
    spec = from_mapping(ExperimentSpec, data, f"experiment spec {name}")
    jobs = spec.run_configs()
    validated = set()
    for variant, _seed, config in jobs:
        if variant not in validated:
            validate(TrainConfig.from_dict(config, source=f"variant {variant!r}"))
            validated.add(variant)
    spec.preset = jobs[0][2]["preset"]  # record the default preset actually used
    return spec


def run_one(run_path: str, config: dict[str, Any], eval_episodes: int) -> dict[str, Any]:
    """Train (or resume, or skip) one run and evaluate it. Runs inside a worker process or Ray task."""
    path = Path(run_path)
    result = {"run": run_path, "state": "failed", "error": None}
    try:
        train_config = TrainConfig.from_dict(config)
        fresh = not (path / CONFIG_FILE).exists()
        run = RunDir.open_or_create(path, config, seed=train_config.seed)
        if fresh:
            sb3.train(train_config, run, progress=False)
        elif not run.finished:
            sb3.resume(run, progress=False)
        if not (path / "evaluation.json").exists():
            sb3.evaluate_run(run, eval_episodes, deterministic=train_config.eval.deterministic)
        result["state"] = "finished"
    except UserError as exc:
        result["error"] = str(exc)
    except Exception as exc:  # a crashed run is reported, the others go on
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["traceback"] = traceback.format_exc()
    return result


def run_experiment(spec: ExperimentSpec, root: Path, workers: int = 2, backend: str = "local",
                   ray_address: str | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Run all variant x seed jobs of ``spec`` under ``root``; returns one result per run."""
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}; {choices_hint(BACKENDS)}")
    if workers < 1:
        raise UserError("--workers must be at least 1")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    atomic.write_yaml(root / "spec.yaml", _spec_dict(spec))
    jobs = [(str(root / slug(variant) / f"s{seed}"), config, variant, seed)
            for variant, seed, config in spec.run_configs()]
    runner = _run_ray if backend == "ray" else _run_local
    results = runner(jobs, spec.eval_episodes, workers, ray_address, progress)
    _write_index(root, jobs, results)
    return results


def _spec_dict(spec: ExperimentSpec) -> dict[str, Any]:
    return {"name": spec.name, "description": spec.description, "env": spec.env, "algo": spec.algo,
            "preset": spec.preset, "steps": spec.steps, "seeds": spec.seeds, "metric": spec.metric,
            "eval_episodes": spec.eval_episodes, "overrides": spec.overrides, "variants": spec.variants}


def _progress(total: int, enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("[bold]runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        disable=not enabled)
    return progress, progress.add_task("runs", total=total)


def _run_local(jobs: list[tuple], eval_episodes: int, workers: int, _address: str | None,
               progress: bool) -> list[dict[str, Any]]:
    results = []
    bar, task = _progress(len(jobs), progress)
    with bar, ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(run_one, path, config, eval_episodes) for path, config, _, _ in jobs]
        for future in as_completed(futures):
            results.append(future.result())
            bar.advance(task)
    order = {path: i for i, (path, *_rest) in enumerate(jobs)}
    return sorted(results, key=lambda r: order[r["run"]])


def _run_ray(jobs: list[tuple], eval_episodes: int, workers: int, address: str | None,
             progress: bool) -> list[dict[str, Any]]:
    try:
        import ray
    except ImportError:
        raise UserError("the ray backend needs Ray: pip install 'rllab[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        init_kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                       "configure_logging": False}
        if address:
            init_kwargs["address"] = address
        else:
            init_kwargs["num_cpus"] = workers
        ray.init(**init_kwargs)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(run_one)
        pending = {remote.remote(path, config, eval_episodes): path for path, config, _, _ in jobs}
        results = []
        bar, task = _progress(len(jobs), progress)
        with bar:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    pending.pop(ref)
                    results.append(ray.get(ref))
                    bar.advance(task)
    finally:
        if started_here:
            ray.shutdown()
    order = {path: i for i, (path, *_rest) in enumerate(jobs)}
    return sorted(results, key=lambda r: order[r["run"]])


def _write_index(root: Path, jobs: list[tuple], results: list[dict[str, Any]]) -> None:
    by_path = {r["run"]: r for r in results}
    rows = [{"variant": variant, "seed": seed, "state": by_path.get(path, {}).get("state", "missing"), "path": path,
             "error": by_path.get(path, {}).get("error") or ""} for path, _config, variant, seed in jobs]
    atomic.write_csv(root / "runs.csv", rows, ["variant", "seed", "state", "path", "error"])
