"""Hyperparameter search on Optuna, as rl-baselines3-zoo's ``--optimize`` does it, where each trial is a normal run.

A TPE (or random) sampler proposes a config from the search space; the trial trains it with the lab's own trainer,
and each periodic evaluation is reported to Optuna, whose median (or successive-halving) pruner stops a trial that
is behind the others at the same step. The study lives in SQLite, so rerunning the command continues it: a trial
whose process died is marked failed and does not count, and ``--workers K`` processes share the one database.

Layout::

    <study>/tune.yaml            the study's setup (env, algo, budget, search space...): a rerun must match it
    <study>/study.db             Optuna's storage
    <study>/trials/trial-0007/   one run directory per trial (`rllab evaluate` and `rllab train --resume` work on it)
    <study>/trials.csv           one row per trial: number, state, value, parameters, run directory, error
    <study>/best_preset.yaml     the best trial as a preset: `rllab train --preset <study>/best_preset.yaml`
    <study>/importance.png       fANOVA importance of each hyperparameter over the completed trials
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import importlib.util
import multiprocessing
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from rllab.agents import sb3
from rllab.agents.sb3.algos import algo_class, model_kwargs
from rllab.core import atomic
from rllab.core.config import PresetKind, read_mapping, to_plain, unknown_name
from rllab.core.errors import Interrupted, UserError
from rllab.core.runs import RunDir, slug
from rllab.core.train_config import TRAIN_FIELDS, TrainConfig, apply_overrides, build_config

SETUP_FILE = "tune.yaml"
DB_FILE = "study.db"
TRIALS_DIR = "trials"
TRIALS_CSV = "trials.csv"
BEST_PRESET_FILE = "best_preset.yaml"
IMPORTANCE_PNG = "importance.png"
STUDY_NAME = "rllab"
INSTALL_HINT = "pip install 'rllab[tune]'"

OBJECTIVES = ("last", "auc")
SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "halving", "none")
#: The shipped search spaces (``rllab/presets/tune/``) and the algorithms that use each by default.
SEARCH_SPACES = PresetKind("tune", "search space")
DEFAULT_SPACES = {"ppo": "ppo", "worker_ppo": "ppo", "maskable_ppo": "ppo", "a2c": "a2c", "dqn": "dqn",
                  "maskable_dqn": "dqn"}
#: Config fields a search space may set; everything else it names is an SB3 hyperparameter.
TUNABLE_FIELDS = ("env_kwargs", "hyperparams", "n_envs", "policy_kwargs")
SPEC_KEYS = ("choices", "high", "int", "log", "low", "step")
#: A worker stops after this many failed trials in a row (a broken setup should not loop forever).
MAX_FAILURES_IN_A_ROW = 3


def import_optuna() -> Any:
    """Optuna, or one line saying how to install the extra (which also brings scikit-learn, for fANOVA)."""
    try:
        import optuna
    except ImportError:
        optuna = None
    if optuna is None or importlib.util.find_spec("sklearn") is None:
        missing = "optuna" if optuna is None else "scikit-learn"
        raise UserError(f"rllab tune needs the [tune] extra ({missing} is missing): {INSTALL_HINT}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


@dataclass
class TuneConfig:
    """What ``rllab tune`` was asked: the training setup (as ``rllab train`` takes it) and the study's settings."""

    env: str | None
    algo: str | None
    preset: str | None = None
    trials: int = 20
    study: Path | None = None
    workers: int = 1
    steps: int | None = None
    seed: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)
    space: str | None = None
    sampler: str = "tpe"
    pruner: str = "median"
    objective: str = "last"
    startup_trials: int = 5
    progress: bool = True


@dataclass
class Param:
    """One search-space entry: a range (``low``/``high``, maybe ``log``, ``int``, ``step``) or ``choices``.

    Choices given as a mapping have labels (what Optuna sees, e.g. ``small``) standing for values (what the run
    gets, e.g. ``[64, 64]``), since Optuna's categorical values must be scalars.
    """

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    integer: bool = False
    choices: list[Any] = field(default_factory=list)
    labels: dict[str, Any] | None = None

    def suggest(self, trial: Any) -> Any:
        """The run's value for this trial."""
        if self.choices:
            return self.value(trial.suggest_categorical(self.name, self.choices))
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def value(self, raw: Any) -> Any:
        """The run's value for Optuna's value ``raw`` (a label stands for its value)."""
        return copy.deepcopy(self.labels[raw]) if self.labels is not None else raw

    def candidates(self) -> list[Any]:
        """Values that must all make a valid config: every choice, or both ends of the range."""
        if self.choices:
            return [self.value(c) for c in self.choices]
        return [int(self.low), int(self.high)] if self.integer else [self.low, self.high]

    def spec(self) -> dict[str, Any]:
        """The YAML form, as stored in ``tune.yaml``."""
        if self.choices:
            return {"choices": to_plain(self.labels) if self.labels is not None else list(self.choices)}
        spec: dict[str, Any] = {"low": self.low, "high": self.high}
        for key, value, default in (("log", self.log, False), ("int", self.integer, False), ("step", self.step, None)):
            if value != default:
                spec[key] = value
        return spec


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_param(name: str, spec: Any, source: str) -> Param:
    """One entry of a search-space YAML, checked: known keys, numbers, ``low < high``, non-empty choices."""
    where = f"{source}: {name}"
    if not isinstance(spec, dict):
        raise UserError(f"{where}: expected a mapping with low/high or choices, got {spec!r}")
    for key in spec:
        if key not in SPEC_KEYS:
            raise unknown_name("search-space key", str(key), SPEC_KEYS, where)
    if "choices" in spec:
        if len(spec) > 1:
            raise UserError(f"{where}: give choices or a low/high range, not both")
        choices = spec["choices"]
        if isinstance(choices, dict):
            labels = {str(k): v for k, v in choices.items()}
            param = Param(name, choices=list(labels), labels=labels)
        elif isinstance(choices, list):
            for choice in choices:
                if choice is not None and not isinstance(choice, (bool, int, float, str)):
                    raise UserError(f"{where}: choice {choice!r} is not a scalar; for lists use a mapping of labels "
                                    "to values, e.g. {small: [64, 64], medium: [256, 256]}")
            param = Param(name, choices=list(choices))
        else:
            raise UserError(f"{where}: choices must be a list or a mapping of labels to values, got {choices!r}")
        if not param.choices:
            raise UserError(f"{where}: choices must not be empty")
        return param
    low, high, step = spec.get("low"), spec.get("high"), spec.get("step")
    log, integer = spec.get("log", False), spec.get("int", False)
    if not _is_number(low) or not _is_number(high):
        raise UserError(f"{where}: a range needs numbers low and high, got low={low!r}, high={high!r}")
    if low >= high:
        raise UserError(f"{where}: bad range: low ({low}) must be below high ({high})")
    if not isinstance(log, bool) or not isinstance(integer, bool):
        raise UserError(f"{where}: log and int must be true or false")
    if log and low <= 0:
        raise UserError(f"{where}: bad range: a log range needs low > 0, got {low}")
    if step is not None and (not _is_number(step) or step <= 0 or log):
        raise UserError(f"{where}: step must be a positive number, and cannot be combined with log")
    if integer and not all(isinstance(v, int) for v in (low, high, step or 1)):
        raise UserError(f"{where}: an int range needs integer low, high and step")
    return Param(name, low=low, high=high, log=log, step=step, integer=integer)


def load_space(algo: str, space: str | None) -> dict[str, Param]:
    """The algorithm's shipped search space, updated by ``space`` (a shipped name or a YAML path).

    An entry of ``space`` replaces the default entry of the same name, and ``name: null`` drops one; an algorithm
    without a shipped space (``module:Class``) needs ``space``.
    """
    default = DEFAULT_SPACES.get(algo)
    if default is None and space is None:
        raise UserError(f"no shipped search space for algo {algo!r}: pass --space FILE "
                        f"(shipped ones are for {', '.join(sorted(DEFAULT_SPACES))})")
    source, data = (f"search space {default}", dict(SEARCH_SPACES.load(default)[1])) if default else ("", {})
    if space is not None:
        name, extra = SEARCH_SPACES.load(space)
        source = f"search space {space}" if Path(space).suffix in (".yaml", ".yml") else f"search space {name}"
        for key, spec in extra.items():
            if spec is None:
                data.pop(key, None)
            else:
                data[key] = spec
    if not data:
        raise UserError(f"{source}: the search space is empty")
    return {str(name): parse_param(str(name), spec, source) for name, spec in data.items()}


def base_config(config: TuneConfig) -> TrainConfig:
    """What every trial trains: the preset (given, or the env x algo default) with the ``--set`` overrides, the
    trial budget and seed."""
    extra = {**config.overrides, "seed": config.seed, "progress_bar": False}
    if config.steps is not None:
        extra["steps"] = config.steps
    return build_config(config.env, config.algo, config.preset, extra)


def with_params(base: dict[str, Any], params: dict[str, Any]) -> TrainConfig:
    """The base config (resolved, as a mapping) with a trial's sampled values, set as ``--set`` sets them."""
    return TrainConfig.from_dict(apply_overrides(base, params), source="trial config")


@dataclass
class StudyPlan:
    """A checked study, ready to run in any process: the request, its search space, base config and directory."""

    config: TuneConfig
    space: dict[str, Param]
    base: dict[str, Any]
    study_dir: Path
    setup: dict[str, Any]
    command: list[str] = field(default_factory=lambda: list(sys.argv))  # the study's command line, for each run

    def trial_config(self, params: dict[str, Any]) -> TrainConfig:
        return with_params(self.base, params)

    @property
    def db_url(self) -> str:
        return f"sqlite:///{(self.study_dir / DB_FILE).resolve()}"


def plan_study(config: TuneConfig) -> StudyPlan:
    """Check everything a user can get wrong before anything is written: the counts, the choices, the training
    setup (algo, env, hyperparameters), the search space against the algorithm, and the study directory."""
    for name, value, low in (("--trials", config.trials, 1), ("--workers", config.workers, 1),
                             ("--startup-trials", config.startup_trials, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise UserError(f"{name} must be an integer of at least {low}, got {value!r}")
    for what, value, valid in (("objective", config.objective, OBJECTIVES), ("sampler", config.sampler, SAMPLERS),
                               ("pruner", config.pruner, PRUNERS)):
        if value not in valid:
            raise unknown_name(what, value, valid)
    base = base_config(config)
    sb3.validate(base)
    if not 0 < base.eval.freq <= base.steps or base.eval.episodes < 1:
        raise UserError(f"tuning prunes and scores on periodic evaluations: eval.freq ({base.eval.freq}) must be "
                        f"between 1 and the trial's steps ({base.steps}) and eval.episodes at least 1; "
                        "e.g. --set eval.freq=4096")
    space = load_space(base.algo, config.space)
    _check_space(base.to_dict(), space, algo_class(base.algo))
    study_dir = Path(config.study) if config.study is not None else Path("studies") / slug(f"{base.env}-{base.algo}")
    setup = {"env": base.env, "algo": base.algo, "preset": base.preset, "steps": base.steps, "seed": config.seed,
             "overrides": to_plain(config.overrides), "objective": config.objective, "sampler": config.sampler,
             "pruner": config.pruner, "startup_trials": config.startup_trials,
             "space": {name: p.spec() for name, p in space.items()}}
    _check_study_dir(study_dir, setup)
    return StudyPlan(config, space, base.to_dict(), study_dir, setup)


def _check_space(base: dict[str, Any], space: dict[str, Param], algo_cls: type) -> None:
    """Every entry names something tunable, and each of its values makes a config the algorithm accepts."""
    for param in space.values():
        head = param.name.partition(".")[0]
        if head in TRAIN_FIELDS and head not in TUNABLE_FIELDS:
            raise UserError(f"search space: {param.name!r} cannot be tuned, it is part of the study's setup; "
                            f"tunable config fields: {', '.join(TUNABLE_FIELDS)}, and any SB3 hyperparameter")
        for value in param.candidates():
            try:
                model_kwargs(with_params(base, {param.name: value}), algo_cls)
            except UserError as exc:
                raise UserError(f"search space: {param.name}={value!r}: {exc}") from None


def _check_study_dir(study_dir: Path, setup: dict[str, Any]) -> None:
    """A new study goes into an empty (or new) directory; an existing one must have been started the same way."""
    setup_file = study_dir / SETUP_FILE
    if setup_file.is_file():
        stored = read_mapping(setup_file)
        wanted = to_plain(setup)
        if stored != wanted:
            changed = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
            raise UserError(f"{study_dir} holds another study (differs in: {', '.join(changed)}); "
                            "choose another --study, or repeat that study's command to continue it")
    elif study_dir.exists() and (not study_dir.is_dir() or any(study_dir.iterdir())):
        raise UserError(f"{study_dir} exists and holds no study ({SETUP_FILE} missing); choose another --study")


# -- running -------------------------------------------------------------------------------------------------------

class TrialReporter(BaseCallback):
    """Runs after each evaluation of the lab callback (its ``parent``): reports the score to the Optuna trial at
    the evaluation's step and stops training when the pruner says so, or at the trial's budget (an SB3 rollout
    would otherwise run past it, and long rollouts would get more steps than short ones).

    The score is the evaluation's mean return (``last``) or the mean of all evaluations so far (``auc``, the
    normalised area under the learning curve, which rewards learning fast).
    """

    def __init__(self, trial: Any, objective: str, eval_freq: int, budget: int) -> None:
        super().__init__()
        self.trial, self.objective, self.eval_freq, self.budget = trial, objective, eval_freq, budget
        self.returns: list[float] = []
        self.pruned = False

    def _on_step(self) -> bool:
        self.returns.append(float(self.parent.last_eval))
        step = self.num_timesteps // self.eval_freq * self.eval_freq  # the same step in every trial
        self.trial.report(self.score(), step)
        if self.trial.should_prune():
            self.pruned = True
            return False
        return step < self.budget

    def score(self, evaluations: int = 0) -> float:
        """The objective so far; with ``evaluations``, a run that stopped early (at ``stop_at_reward``) counts its
        last evaluation for the ones it skipped."""
        if self.objective == "last":
            return self.returns[-1]
        filled = self.returns + self.returns[-1:] * max(evaluations - len(self.returns), 0)
        return statistics.fmean(filled)


def _sampler(optuna: Any, plan: StudyPlan, seed: int) -> Any:
    if plan.config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():  # multivariate (as the zoo uses it) and constant_liar are "experimental"
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(n_startup_trials=plan.config.startup_trials, multivariate=True, seed=seed,
                                          constant_liar=plan.config.workers > 1)  # parallel workers propose apart


def _pruner(optuna: Any, plan: StudyPlan) -> Any:
    steps, freq = plan.setup["steps"], plan.base["eval"]["freq"]
    if plan.config.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=plan.config.startup_trials, n_warmup_steps=steps // 3)
    if plan.config.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=freq, reduction_factor=4)
    return optuna.pruners.NopPruner()


def _storage(optuna: Any, plan: StudyPlan) -> Any:
    # SQLite serialises writers; several workers wait for the lock instead of failing at once.
    return optuna.storages.RDBStorage(plan.db_url, engine_kwargs={"connect_args": {"timeout": 120}})


def _open_study(optuna: Any, plan: StudyPlan, worker: int) -> Any:
    """The study with a sampler seeded from the seed, the worker and the study's size, so a continued study does not
    replay the random proposals it started with."""
    storage = _storage(optuna, plan)
    size = storage.get_n_trials(storage.get_study_id_from_name(STUDY_NAME))
    seed = plan.config.seed + 7919 * worker + size
    return optuna.load_study(study_name=STUDY_NAME, storage=storage, sampler=_sampler(optuna, plan, seed),
                             pruner=_pruner(optuna, plan))


@contextlib.contextmanager
def _locked(path: Path, wait: bool = True) -> Iterator[None]:
    """An exclusive lock on ``path`` (released by the OS if the holder dies)."""
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise UserError(f"{path.parent} is in use by another `rllab tune`; wait for it to end or choose "
                            "another --study") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _counted(optuna: Any, study: Any) -> int:
    """Trials that count towards ``--trials``: finished, pruned and running ones (failed ones are retried)."""
    states = optuna.trial.TrialState
    return len(study.get_trials(deepcopy=False, states=(states.COMPLETE, states.PRUNED, states.RUNNING)))


def _fail_stale(optuna: Any, plan: StudyPlan) -> int:
    """Mark the trials left running by a killed study as failed (the caller holds the study's lock, so no process
    of this study is running them); their run directories stay, resumable with ``rllab train --resume``."""
    storage = _storage(optuna, plan)
    study_id = storage.get_study_id_from_name(STUDY_NAME)
    stale = storage.get_all_trials(study_id, deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for trial in stale:
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        storage.set_trial_user_attr(trial_id, "error", "killed before it finished")
        storage.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL)
        run_dir = plan.study_dir / str(trial.user_attrs.get("run_dir", ""))
        if (run_dir / "config.yaml").is_file():
            RunDir(run_dir).set_status("failed", error="killed before it finished")
    return len(stale)


def _run_trial(optuna: Any, plan: StudyPlan, study: Any, trial: Any) -> Any:
    """Train one trial into its run directory and tell the study how it ended; returns its state."""
    states = optuna.trial.TrialState
    run_name = f"{TRIALS_DIR}/trial-{trial.number:04d}"
    trial.set_user_attr("run_dir", run_name)
    run: RunDir | None = None
    try:
        params = {name: param.suggest(trial) for name, param in plan.space.items()}
        config = plan.trial_config(params)
        run = RunDir.create(plan.study_dir / run_name, config.to_dict(), seed=config.seed,
                            command=plan.command)
        reporter = TrialReporter(trial, plan.config.objective, config.eval.freq, config.steps)
        sb3.train(config, run, progress=False, callback_after_eval=reporter)
        if not reporter.returns:
            raise UserError("the trial ended before its first evaluation")
    except KeyboardInterrupt:
        _tell_failed(optuna, study, trial, run, "interrupted")
        raise
    except Exception as exc:  # one failed trial is recorded, and the study goes on
        error = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
        _tell_failed(optuna, study, trial, run, error)
        return states.FAIL
    if reporter.pruned:
        run.set_status("pruned", steps=run.status.get("steps"))
        study.tell(trial, state=states.PRUNED)
        return states.PRUNED
    study.tell(trial, reporter.score(evaluations=-(-config.steps // config.eval.freq)))
    return states.COMPLETE


def _tell_failed(optuna: Any, study: Any, trial: Any, run: RunDir | None, error: str) -> None:
    trial.set_user_attr("error", error.splitlines()[0] if error else "failed")
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    if run is not None:
        run.set_status("failed", error=error)


def work(plan: StudyPlan, worker: int, on_trial: Callable[[Any], None] | None = None) -> None:
    """One worker: claim a trial (under a lock, so the workers together run exactly ``--trials``), run it, repeat."""
    optuna = import_optuna()
    study = _open_study(optuna, plan, worker)
    failures = 0
    while failures < MAX_FAILURES_IN_A_ROW:
        with _locked(plan.study_dir / ".claim"):
            if _counted(optuna, study) >= plan.config.trials:
                return
            trial = study.ask()
        state = _run_trial(optuna, plan, study, trial)
        failures = failures + 1 if state == optuna.trial.TrialState.FAIL else 0
        if on_trial is not None:
            on_trial(study)


def _worker_process(plan: StudyPlan, worker: int) -> None:
    """Entry point of a worker process: Ctrl-C ends it quietly (its trial is already marked failed)."""
    try:
        work(plan, worker)
    except KeyboardInterrupt:
        sys.exit(130)


# -- results -------------------------------------------------------------------------------------------------------

@dataclass
class StudyResult:
    """A study after this command: every trial, the best one (``None`` until a trial completes) and the files."""

    study_dir: Path
    trials: list[dict[str, Any]]
    best: dict[str, Any] | None
    importance: dict[str, float]
    files: list[Path]
    stale_failed: int = 0

    def count(self, state: str) -> int:
        return sum(1 for t in self.trials if t["state"] == state)


def run_study(config: TuneConfig) -> StudyResult:
    """Create or continue a study until it holds ``config.trials`` finished or pruned trials, then write the
    trials CSV, the best preset and the importance plot."""
    optuna = import_optuna()
    plan = plan_study(config)
    plan.study_dir.mkdir(parents=True, exist_ok=True)
    with _locked(plan.study_dir / ".lock", wait=False):
        if not (plan.study_dir / SETUP_FILE).exists():
            atomic.write_yaml(plan.study_dir / SETUP_FILE, to_plain(plan.setup))
        optuna.create_study(storage=_storage(optuna, plan), study_name=STUDY_NAME, direction="maximize",
                            load_if_exists=True)
        stale = _fail_stale(optuna, plan)
        try:
            _run_workers(optuna, plan)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted; rerun the same command to continue the study in {plan.study_dir}") \
                from None
        return _write_results(optuna, plan, stale)


def _run_workers(optuna: Any, plan: StudyPlan) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("[bold]trials"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("best {task.fields[best]}"), TimeElapsedColumn(), disable=not plan.config.progress)
    task = progress.add_task("trials", total=plan.config.trials, best="-")

    def show(study: Any) -> None:
        states = optuna.trial.TrialState
        done = study.get_trials(deepcopy=False, states=(states.COMPLETE, states.PRUNED))
        values = [t.value for t in done if t.state == states.COMPLETE]
        progress.update(task, completed=len(done), best=f"{max(values):.1f}" if values else "-")

    with progress:
        if plan.config.workers == 1:
            show(_open_study(optuna, plan, 0))
            work(plan, 0, on_trial=show)
            return
        context = multiprocessing.get_context("spawn")
        procs = [context.Process(target=_worker_process, args=(plan, w), daemon=False)
                 for w in range(plan.config.workers)]
        for proc in procs:
            proc.start()
        study = _open_study(optuna, plan, 0)
        try:
            while any(p.is_alive() for p in procs):
                show(study)
                time.sleep(1.0)
        except KeyboardInterrupt:
            for proc in procs:  # the workers got Ctrl-C too; give them time to mark their trials
                proc.join(timeout=30)
                if proc.is_alive():
                    proc.terminate()
            raise
        show(study)
        failed = [p.exitcode for p in procs if p.exitcode]
        if failed:
            raise UserError(f"{len(failed)} of {len(procs)} tune workers ended with an error (exit codes {failed}); "
                            "see the messages above, then rerun the command to continue the study")


def _write_results(optuna: Any, plan: StudyPlan, stale: int) -> StudyResult:
    study = optuna.load_study(study_name=STUDY_NAME, storage=_storage(optuna, plan))
    states = optuna.trial.TrialState
    rows = []
    for trial in study.trials:
        row = {"number": trial.number, "state": trial.state.name.lower(), "value": trial.value,
               "last_step": max(trial.intermediate_values, default=None),
               "seconds": round(trial.duration.total_seconds(), 1) if trial.duration else None,
               "run_dir": trial.user_attrs.get("run_dir", ""), "error": trial.user_attrs.get("error", "")}
        row.update({name: trial.params.get(name) for name in plan.space})
        rows.append(row)
    files = [plan.study_dir / DB_FILE]
    csv_fields = ["number", "state", "value", "last_step", "seconds", *plan.space, "run_dir", "error"]
    atomic.write_csv(plan.study_dir / TRIALS_CSV, rows, csv_fields)
    files.append(plan.study_dir / TRIALS_CSV)
    best = None
    if study.get_trials(deepcopy=False, states=(states.COMPLETE,)):
        trial = study.best_trial
        params = {name: plan.space[name].value(raw) for name, raw in trial.params.items()}
        best = {"number": trial.number, "value": trial.value, "params": params,
                "run_dir": plan.study_dir / trial.user_attrs.get("run_dir", "")}
        files.append(_write_best_preset(plan, best))
    importance = _importance(optuna, study, plan.config.seed)
    if importance:
        files.append(_plot_importance(plan, importance, len(study.get_trials(states=(states.COMPLETE,)))))
    return StudyResult(plan.study_dir, rows, best, importance, files, stale)


def _write_best_preset(plan: StudyPlan, best: dict[str, Any]) -> Path:
    """The best trial as a training preset: the study's preset and overrides plus the best values, with the
    preset's own step budget (not the trial's) and no seed, so ``rllab train --preset`` runs it like any preset."""
    config = build_config(plan.config.env, plan.config.algo, plan.config.preset,
                          {**plan.config.overrides, **best["params"]})
    data = {k: v for k, v in config.to_dict().items() if k not in ("seed", "device", "preset", "progress_bar")}
    data["description"] = (f"{config.env} {config.algo} tuned by rllab tune in {plan.study_dir}: trial "
                           f"{best['number']}, {plan.config.objective} evaluation return {best['value']:.1f} "
                           f"after {plan.setup['steps']} steps")
    path = plan.study_dir / BEST_PRESET_FILE
    atomic.write_yaml(path, to_plain(data))
    return path


def _importance(optuna: Any, study: Any, seed: int) -> dict[str, float]:
    """fANOVA importances over the completed trials (empty until two complete trials differ in a parameter)."""
    if len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))) < 2:
        return {}
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    try:
        return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))
    except (ValueError, RuntimeError):  # e.g. no parameter varied across the completed trials
        return {}


def _plot_importance(plan: StudyPlan, importance: dict[str, float], completed: int) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(importance)[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(names) + 1.6))
    ax.barh(names, [importance[n] for n in names], color="tab:blue")
    ax.set_xlabel("fANOVA importance (share of the objective's variance)")
    ax.set_title(f"{plan.setup['env']} {plan.setup['algo']}: hyperparameter importance\n"
                 f"{completed} completed trials, objective: {plan.config.objective} evaluation return", fontsize=10)
    fig.tight_layout()
    path = plan.study_dir / IMPORTANCE_PNG
    atomic.write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
    return path
