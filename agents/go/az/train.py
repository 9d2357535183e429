"""An AZ training run in a :class:`RunDir`: self-play -> replay window -> SGD, evaluation, checkpoints, resume.

Rounds: the self-play workers play ``round_moves`` moves in each of their ``games`` games with the latest
weights they were given; the finished games go to the replay window; the learner takes ``reuse`` samples per new
position in minibatches of ``batch_size`` and sends the new weights back. With ``backend: local`` one process
alternates the two (deterministic for a seed); with ``backend: ray`` the workers are Ray actors running the same
:class:`SelfPlayWorker` while the learner trains.

Every ``eval_every`` training steps the net plays the net of the previous evaluation and the ``baseline`` player;
``eval.csv`` and ``elo.png`` give Elo against time (vs the baseline, anchored at 0, and the chain of gains over
previous nets). Every ``checkpoint_every`` steps, on Ctrl-C and at the end a checkpoint (net, optimizer, replay
window, counters) is written atomically, and ``net.pt`` (latest) / ``best.pt`` (best against the baseline) are
the nets the ``az:`` player loads. The budget (``hours`` of wall time, ``max_steps``) sums over resumes.
"""

from __future__ import annotations

import contextlib
import copy
import math
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from rllab.agents.go.az.arena import ArenaResult, play_arena
from rllab.agents.go.az.config import RESUMABLE_KEYS, AZConfig
from rllab.agents.go.az.features import legal_from_planes
from rllab.agents.go.az.net import AZNet, evaluator, save_net
from rllab.agents.go.az.replay import Replay
from rllab.agents.go.az.selfplay import Samples, SelfPlay
from rllab.core import atomic
from rllab.core.config import to_plain
from rllab.core.device import limit_cpu_threads, resolve_device
from rllab.core.errors import Interrupted, UserError
from rllab.core.runs import CONFIG_FILE, RunDir, load_torch
from rllab.envs.go.player_specs import make_player

CKPT_FORMAT = "rllab-az-ckpt-1"
NET_FILE, BEST_FILE = "net.pt", "best.pt"
EVAL_FILE, PROGRESS_FILE, CURVE_FILE = "eval.csv", "progress.csv", "elo.png"


class SelfPlayWorker:
    """Self-play with its own copy of the net: what the local loop calls and what a Ray actor runs."""

    def __init__(self, config: dict[str, Any], state_dict: dict[str, torch.Tensor], seed: int, device: str = "cpu"):
        cfg = AZConfig.from_dict(config)
        if torch.device(device).type == "cpu":
            limit_cpu_threads(1)
        net = AZNet(cfg.size, cfg.blocks, cfg.width).to(device)
        net.load_state_dict(state_dict)
        self.selfplay = SelfPlay(net, cfg.games, float(cfg.komi), cfg.search_config(), cfg.temperature_moves, seed,
                                 device, jit=cfg.jit and torch.device(device).type == "cpu")

    def set_weights(self, state_dict: dict[str, torch.Tensor]) -> None:
        self.selfplay.set_weights(state_dict)

    def play(self, moves: int) -> Samples:
        return self.selfplay.play(moves)


def train_az(out: str | Path, *, size: int | None = None, overrides: dict[str, Any] | None = None,
             resume: bool = False, device: str | None = None, backend: str | None = None,
             progress: bool = True) -> RunDir:
    """Start (or with ``resume``, continue) the AZ run in ``out``; returns the run directory when the budget is spent.

    ``size``, ``device``, ``backend`` and ``overrides`` (config keys) are checked against a resumed run's config:
    only the budget and where it runs may change. Ctrl-C writes a checkpoint and raises :class:`Interrupted`.
    """
    wanted = dict(overrides or {})
    for key, value in (("size", size), ("device", device), ("backend", backend)):
        if value is not None:
            wanted[key] = value
    path = Path(out)
    if resume:
        run = RunDir.open(path)
        config = _resumed_config(run, wanted)
        run.record_command()
    else:
        config = AZConfig.from_dict(wanted, "az config")
        if (path / CONFIG_FILE).exists():
            raise UserError(f"{path} already holds a run; add --resume to continue it or choose another --out")
        _check_baseline(config.baseline)
        _check_backend(config)
        run = RunDir.create(path, config.to_dict(), config.seed)
    trainer = AZTrainer(run, config, progress)
    try:
        trainer.fit()
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; checkpoint saved in {run.path}; continue with "
                          f"`rllab go az --out {run.path} --resume`") from None
    return run


def _resumed_config(run: RunDir, wanted: dict[str, Any]) -> AZConfig:
    stored = run.config
    stored_config = AZConfig.from_dict(stored, f"{run.path / CONFIG_FILE}")
    merged = AZConfig.from_dict({**stored, **wanted}, "az config")
    differ = sorted(k for k, v in to_plain(merged.to_dict()).items()
                    if k not in RESUMABLE_KEYS and v != to_plain(stored_config.to_dict()).get(k))
    if differ:
        shown = ", ".join(f"{k} {getattr(stored_config, k)!r} -> {getattr(merged, k)!r}" for k in differ)
        raise UserError(f"{run.path} holds a run with another config ({shown}); only "
                        f"{', '.join(RESUMABLE_KEYS)} may change on --resume")
    _check_backend(merged)
    if merged != stored_config:
        atomic.write_yaml(run.path / CONFIG_FILE, to_plain(merged.to_dict()))
    return merged


def _check_backend(config: AZConfig) -> None:
    """Ray installed and its address answering, checked before a run is created or resumed."""
    if config.backend == "ray":
        _import_ray()
        if config.ray_address:
            check_ray_address(config.ray_address)


def _check_baseline(spec: str) -> None:
    """Open and close the baseline player once, so a bad spec fails before any training."""
    make_player(spec).close()


def _git_commit() -> dict[str, Any]:
    """The commit of the code that runs (and whether it had uncommitted changes), when it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(dirty)}


class AZTrainer:
    """One run: the learner's net, optimizer, replay window and counters, checkpointed as one blob."""

    def __init__(self, run: RunDir, config: AZConfig, progress: bool = True):
        self.run, self.config, self.show_progress = run, config, progress
        self.device = torch.device(resolve_device(config.device))
        if self.device.type == "cpu":
            limit_cpu_threads(1)
        torch.manual_seed(config.seed)
        self.net = AZNet(config.size, config.blocks, config.width).to(self.device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.replay = Replay(config.replay_size, config.size)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.reference: dict[str, torch.Tensor] | None = None     # the net of the previous evaluation
        self.counters: dict[str, float] = {
            "steps": 0, "games": 0, "positions": 0, "moves": 0, "evaluations": 0, "black_wins": 0, "draws": 0,
            "selfplay_s": 0.0, "train_s": 0.0, "eval_s": 0.0, "wall_s": 0.0, "cpu_s": 0.0, "rounds": 0,
            "selfplay_cpu_s": 0.0}
        self.elo_chain = 0.0
        self.best_elo = -math.inf
        self.evaluated_at = -1
        self.debt = 0.0
        self.losses = {"policy": math.nan, "value": math.nan, "ownership": math.nan}
        self.last_eval: dict[str, Any] = {}
        self.started, self.cpu_started = time.perf_counter(), time.process_time()
        self.wall_before, self.cpu_before = 0.0, 0.0

    # -- clocks, budget -----------------------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        return int(self.counters["steps"])

    def wall(self) -> float:
        return self.wall_before + time.perf_counter() - self.started

    def cpu(self) -> float:
        """CPU seconds of this process (the learner; Ray workers not included): the fair clock on a shared machine."""
        return self.cpu_before + time.process_time() - self.cpu_started

    def done(self) -> bool:
        cfg = self.config
        return self.wall() >= 3600.0 * cfg.hours or (cfg.max_steps is not None and self.steps >= cfg.max_steps)

    # -- checkpoints -----------------------------------------------------------------------------------------
    def state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()}

    def checkpoint(self) -> None:
        self.counters["wall_s"], self.counters["cpu_s"] = self.wall(), self.cpu()
        blob = {"format": CKPT_FORMAT, "net": self.state(), "optimizer": self.optimizer.state_dict(),
                "reference": self.reference, "replay": self.replay.state_dict(), "counters": dict(self.counters),
                "elo_chain": self.elo_chain, "best_elo": self.best_elo, "evaluated_at": self.evaluated_at,
                "debt": self.debt, "generator": self.generator.get_state(), "last_eval": dict(self.last_eval)}
        self.run.save_checkpoint(self.steps, lambda tmp: torch.save(blob, tmp), keep=2)
        save_net(self.net, self.run.path / NET_FILE, float(self.config.komi), **self.net_info())
        self.run.set_status("running", **self.summary())

    def net_info(self) -> dict[str, Any]:
        return {"steps": self.steps, "games": int(self.counters["games"]), "wall_s": round(self.wall(), 1),
                "search": self.config.search, "sims": self.config.sims}

    def restore(self) -> None:
        latest = self.run.latest_checkpoint(".pt")
        if latest is None:      # stopped before its first checkpoint: start over, without its logged rows
            for name in (EVAL_FILE, PROGRESS_FILE):
                self.run.truncate_rows(name, "step", -1)
            return
        blob = load_torch(latest.path)
        if not isinstance(blob, dict) or blob.get("format") != CKPT_FORMAT:
            raise UserError(f"{latest.path} is not an AZ checkpoint")
        try:
            self.net.load_state_dict(blob["net"])
            self.optimizer.load_state_dict(blob["optimizer"])
            self.replay.load_state_dict(blob["replay"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise UserError(f"{latest.path}: damaged AZ checkpoint ({str(exc).splitlines()[0]})") from None
        self.reference = blob["reference"]
        self.counters.update(blob["counters"])
        self.elo_chain, self.best_elo = float(blob["elo_chain"]), float(blob["best_elo"])
        self.evaluated_at, self.debt = int(blob["evaluated_at"]), float(blob["debt"])
        self.generator.set_state(blob["generator"])
        self.last_eval = dict(blob["last_eval"])
        self.wall_before, self.cpu_before = float(self.counters["wall_s"]), float(self.counters["cpu_s"])
        for name in (EVAL_FILE, PROGRESS_FILE):
            self.run.truncate_rows(name, "step", self.steps)

    # -- learning ------------------------------------------------------------------------------------------------
    def train_step(self) -> None:
        cfg, net, dev = self.config, self.net, self.device
        x, policy, value, owner = (t.to(dev) for t in self.replay.sample(cfg.batch_size, self.generator))
        net.train()
        logits, v, own = net(x)
        legal = legal_from_planes(x)
        logp = torch.log_softmax(logits.masked_fill(~legal, -1e9), 1)
        policy_loss = -(policy * logp).sum(1).mean()
        value_loss = torch.mean((v - value) ** 2)
        own_loss = torch.mean((own - owner.float()) ** 2)
        loss = policy_loss + value_loss + cfg.ownership_weight * own_loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        net.eval()
        self.counters["steps"] += 1
        for key, part in (("policy", policy_loss), ("value", value_loss), ("ownership", own_loss)):
            old, new = self.losses[key], float(part.detach())
            self.losses[key] = new if math.isnan(old) else 0.98 * old + 0.02 * new

    def consume(self, samples: Samples) -> None:
        """Add finished games to the replay window and take the training steps they pay for."""
        cfg, c = self.config, self.counters
        self.replay.add(samples)
        c["games"] += samples.games
        c["positions"] += len(samples)
        c["moves"] += samples.moves
        c["evaluations"] += samples.evaluations
        c["black_wins"] += samples.black_wins
        c["draws"] += samples.draws
        c["selfplay_s"] += samples.seconds
        c["selfplay_cpu_s"] += samples.cpu_seconds
        c["rounds"] += 1
        if len(self.replay) >= max(cfg.min_replay, 1):
            self.debt += len(samples) * cfg.reuse / cfg.batch_size
        started = time.perf_counter()
        while self.debt >= 1 and not (cfg.max_steps is not None and self.steps >= cfg.max_steps):
            self.train_step()
            self.debt -= 1
            if self.steps % cfg.eval_every == 0:
                c["train_s"] += time.perf_counter() - started
                self.evaluate()
                started = time.perf_counter()
            if self.steps % cfg.checkpoint_every == 0:
                self.checkpoint()
        c["train_s"] += time.perf_counter() - started
        self.run.append_row(PROGRESS_FILE, {
            "step": self.steps, "games": int(c["games"]), "positions": int(c["positions"]),
            "wall_s": round(self.wall(), 1), "cpu_s": round(self.cpu(), 1), "policy_loss": self.losses["policy"],
            "value_loss": self.losses["value"], "ownership_loss": self.losses["ownership"],
            "round_games": samples.games, "round_black_wins": samples.black_wins,
            "round_mean_length": sum(samples.lengths) / len(samples.lengths) if samples.lengths else math.nan,
            "moves_per_s": round(samples.moves / max(samples.seconds, 1e-9), 1),
            "evaluations_per_s": round(samples.evaluations / max(samples.seconds, 1e-9), 1),
            "evaluations_per_cpu_s": round(samples.evaluations / max(samples.cpu_seconds, 1e-9), 1)})

    # -- evaluation ------------------------------------------------------------------------------------------
    def evaluate(self) -> None:
        cfg = self.config
        started = time.perf_counter()
        search = cfg.search_config(cfg.eval_sims)
        jit = cfg.jit and self.device.type == "cpu"
        current = evaluator(self.net, jit)
        seed = cfg.seed + 104_729 * (self.steps + 1)
        row: dict[str, Any] = {"step": self.steps, "games": int(self.counters["games"]),
                               "positions": int(self.counters["positions"])}
        if self.reference is not None:
            previous = copy.deepcopy(self.net)
            previous.load_state_dict(self.reference)
            vs_prev = play_arena(current, evaluator(previous, jit), cfg.eval_games, cfg.size, float(cfg.komi),
                                 search, seed, self.device)
            self.elo_chain += vs_prev.elo
            row.update(vs_previous=vs_prev.score, elo_gain=round(vs_prev.elo, 1))
        else:
            row.update(vs_previous=math.nan, elo_gain=math.nan)
        # Against a player the net searches without noise, as the az: player does in a match (the other side's own
        # randomness varies the games); two nets keep their noise, else every pairing replays one game.
        vs_base = play_arena(current, cfg.baseline, cfg.eval_games, cfg.size, float(cfg.komi), search, seed + 1,
                             self.device, noise=False)
        self.counters["eval_s"] += time.perf_counter() - started
        row.update(_baseline_row(vs_base), elo_chain=round(self.elo_chain, 1),
                   wall_s=round(self.wall(), 1), cpu_s=round(self.cpu(), 1), hours=round(self.wall() / 3600.0, 4))
        self.run.append_row(EVAL_FILE, row)
        self.last_eval = row
        self.reference = self.state()
        self.evaluated_at = self.steps
        if vs_base.elo > self.best_elo:
            self.best_elo = vs_base.elo
            save_net(self.net, self.run.path / BEST_FILE, float(cfg.komi), **self.net_info(),
                     vs_baseline=vs_base.score, baseline=cfg.baseline)
        plot_elo(self.run.path / EVAL_FILE, self.run.path / CURVE_FILE, cfg.baseline)

    # -- the loop -----------------------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        c = self.counters
        sp, sp_cpu = max(c["selfplay_s"], 1e-9), max(c["selfplay_cpu_s"], 1e-9)
        return {"steps": self.steps, "games": int(c["games"]), "positions": int(c["positions"]),
                "wall_s": round(self.wall(), 1), "hours": round(self.wall() / 3600.0, 3), "cpu_s": round(self.cpu(), 1),
                "selfplay_s": round(c["selfplay_s"], 1), "train_s": round(c["train_s"], 1),
                "eval_s": round(c["eval_s"], 1), "selfplay_games_per_s": round(c["games"] / sp, 3),
                "selfplay_moves_per_s": round(c["moves"] / sp, 1),
                "network_evaluations_per_s": round(c["evaluations"] / sp, 1),
                "selfplay_cpu_s": round(c["selfplay_cpu_s"], 1),
                "selfplay_games_per_cpu_s": round(c["games"] / sp_cpu, 3),
                "network_evaluations_per_cpu_s": round(c["evaluations"] / sp_cpu, 1),
                "black_win_rate": round(c["black_wins"] / max(c["games"], 1), 3),
                "device": str(self.device), "backend": self.config.backend, **self.last_eval_summary()}

    def last_eval_summary(self) -> dict[str, Any]:
        keys = ("vs_baseline", "elo_vs_baseline", "elo_chain")
        return {f"last_{k}": self.last_eval[k] for k in keys if k in self.last_eval}

    def describe(self) -> str:
        c = self.counters
        text = (f"{int(c['games'])} games, {self.steps} steps, loss p {self.losses['policy']:.2f} "
                f"v {self.losses['value']:.2f}")
        if self.last_eval:
            text += f" | vs {self.config.baseline} {self.last_eval['vs_baseline']:.0%}"
        return text

    def fit(self) -> None:
        self.restore()
        fresh = self.steps == 0 and self.counters["games"] == 0
        self.run.set_status("running", error=None, **self.summary(), **_git_commit())
        self.started, self.cpu_started = time.perf_counter(), time.process_time()
        previous_term = _raise_on_sigterm()
        try:
            with self._progress() as bar:
                task = bar.add_task("az", total=3600.0 * self.config.hours, completed=self.wall(), info="")
                if fresh:
                    self.evaluate()
                loop = self._loop_ray if self.config.backend == "ray" else self._loop_local
                loop(lambda: bar.update(task, completed=min(self.wall(), 3600.0 * self.config.hours),
                                        info=self.describe()))
                if self.evaluated_at != self.steps:
                    self.evaluate()
        except KeyboardInterrupt:
            self.checkpoint()
            self.run.set_status("interrupted", **self.summary())
            raise
        except Exception as exc:   # the newest checkpoint stays what --resume continues from
            self.run.set_status("failed", error=f"{type(exc).__name__}: {exc}"[:500], **self.summary())
            raise
        finally:
            if previous_term is not None:
                signal.signal(signal.SIGTERM, previous_term)
        self.checkpoint()
        self.run.set_status("finished", **self.summary())

    def _progress(self) -> Progress:
        return Progress(TextColumn("[bold]az self-play"), BarColumn(), TimeElapsedColumn(),
                        TextColumn("{task.fields[info]}"), disable=not self.show_progress)

    def _worker_seed(self, index: int) -> int:
        return self.config.seed + 7_919 * (index + 1) + 1_000_003 * int(self.counters["rounds"])

    def _loop_local(self, tick) -> None:
        cfg = self.config
        worker = SelfPlayWorker(cfg.to_dict(), self.state(), self._worker_seed(0), str(self.device))
        while not self.done():
            self.consume(worker.play(cfg.round_moves))
            worker.set_weights(self.state())
            tick()

    def _loop_ray(self, tick) -> None:
        cfg = self.config
        ray = _ray_start(cfg.ray_address, cfg.workers)
        workers: list[Any] = []
        try:
            remote = ray.remote(num_cpus=1)(SelfPlayWorker)
            config = cfg.to_dict()
            weights = ray.put(self.state())
            workers = [remote.remote(config, weights, self._worker_seed(i), "cpu") for i in range(cfg.workers)]
            # Two rounds queued per worker: it goes on playing while the learner trains or evaluates (its weights
            # then lag one round more).
            pending = {w.play.remote(cfg.round_moves): w for w in workers for _ in range(2)}
            while not self.done():
                ready, _ = ray.wait(list(pending), num_returns=1)
                worker = pending.pop(ready[0])
                self.consume(ray.get(ready[0]))
                worker.set_weights.remote(ray.put(self.state()))
                pending[worker.play.remote(cfg.round_moves)] = worker
                tick()
        finally:
            for w in workers:
                ray.kill(w)
            ray.shutdown()


def _raise_on_sigterm() -> Any:
    """Treat SIGTERM like Ctrl-C (a checkpoint, then stop): background jobs ignore SIGINT and schedulers send TERM.

    Returns the previous handler, or None when not in the main thread (where handlers cannot be set).
    """
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:
        return None


def _baseline_row(result: ArenaResult) -> dict[str, Any]:
    return {"vs_baseline": result.score, "vs_baseline_black": result.colour_score(0),
            "vs_baseline_white": result.colour_score(1), "elo_vs_baseline": round(result.elo, 1)}


def _ray_start(address: str | None, workers: int) -> Any:
    """Import Ray lazily and connect (or start a local one with a CPU per worker plus the learner)."""
    ray = _import_ray()
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address:
        check_ray_address(address)
        kwargs["address"] = address
    else:
        kwargs["num_cpus"] = workers + 1
    try:
        ray.init(**kwargs)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError or a bare Exception (startup timeout)
        where = f"connect to Ray at {address}" if address else "start a local Ray"
        hint = "" if address else " (Ray's start-up times out on an overloaded machine: retry, or --backend local)"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"cannot {where}: {reason}{hint}") from None
    return ray


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError("the ray backend needs Ray: pip install 'rllab[ray]'") from None
    return ray


def check_ray_address(address: str, timeout: float = 3.0) -> None:
    """Fail fast with one line when ``host:port`` (or ``ray://host:port``) does not answer; ``auto`` is left to Ray."""
    if address == "auto":
        return
    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise UserError(f"Ray address {address!r} is not host:port, ray://host:port or auto")
    try:
        with contextlib.closing(socket.create_connection((host, int(port)), timeout=timeout)):
            pass
    except OSError as exc:
        raise UserError(f"Ray address {address} does not answer ({exc.strerror or exc}); start the cluster with "
                        "`ray start --head` or leave ray_address unset for a local Ray") from None


def plot_elo(csv_path: Path, png_path: Path, baseline: str) -> None:
    """Elo against hours of training: vs the baseline (anchored at 0) and the chain of gains over previous nets."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with csv_path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    hours = [float(r["hours"]) for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(hours, [float(r["elo_vs_baseline"]) for r in rows], "o-", label=f"vs {baseline} (= 0)")
    ax.plot(hours, [float(r["elo_chain"]) for r in rows], "s--", label="chain of gains vs previous net")
    ax.set_xlabel("hours of training (wall clock)")
    ax.set_ylabel("Elo")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic.write_with(png_path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
