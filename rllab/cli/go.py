"""Go-lite commands: `rllab gtp`, `rllab match`, `rllab go ladder`, `rllab bench go`, `rllab bench go-rules`."""

from __future__ import annotations

import datetime as _dt
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from rllab.cli import go_az
from rllab.cli.console import console
from rllab.cli.options import int_list
from rllab.core.errors import UserError
from rllab.envs.go.gtp_engine import GtpEngine
from rllab.lab.bench.go import go_table
from rllab.lab.bench.go_rules import CrosscheckResult, crosscheck, crosscheck_batched, crosscheck_fast
from rllab.lab.go_ladder import run_ladder
from rllab.lab.go_match import match_specs, open_player, player_board_size

JOBS_HELP = ("Games played at once, each in its own process; one per free core is best (time budgets are "
             "wall-clock, so more jobs than cores weakens time-limited players).")
PLAYER_HELP = ("random | heuristic | mcts[:sims=N][:time=S] | gnugo[:LEVEL] | openspiel-mcts[:time=S] | "
               "gtp:<command line> | <run dir or model .zip>")
go_app = typer.Typer(help="Go-lite: search, self-play training and rated ladders.", no_args_is_help=True)


def gtp(
    model: Annotated[str, typer.Option(help=f"Player to serve: {PLAYER_HELP}.")] = "heuristic",
    size: Annotated[int | None, typer.Option(help="Board size (default: the model's, else 9).")] = None,
    komi: Annotated[float | None, typer.Option(help="Komi (default per size: 5x5 24.5, 7x7 8.5, 9x9 7.5).")] = None,
    deterministic: Annotated[bool, typer.Option(help="Play the policy's most likely move.")] = True,
    seed: Annotated[int, typer.Option(help="Seed for sampled moves and tie breaks.")] = 0,
) -> None:
    """Run a GTP v2 engine on stdin/stdout (for Go GUIs, GNU Go's twogtp, or `rllab match`)."""
    player = open_player(model, deterministic)
    trained = player_board_size(player)
    engine = GtpEngine(player, size=size or trained or 9, komi=komi, seed=seed, fixed_size=trained is not None)
    engine.serve(sys.stdin, sys.stdout)


def match(
    black: Annotated[str, typer.Option(help=f"First player (Black in odd-numbered games): {PLAYER_HELP}.")],
    white: Annotated[str, typer.Option(help=f"Second player: {PLAYER_HELP}.")],
    size: Annotated[int | None, typer.Option(help="Board size (default: a trained model's, else 7).")] = None,
    games: Annotated[int, typer.Option(help="Number of games; colours alternate every game.")] = 10,
    komi: Annotated[float | None, typer.Option(help="Komi (default per size).")] = None,
    out: Annotated[Path | None, typer.Option(help="Directory for SGFs, games.jsonl, summary.json.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for random players and engine seeds.")] = 0,
    deterministic: Annotated[bool, typer.Option(help="Policies play their most likely move (as in every "
                                                     "documented figure); --no-deterministic samples.")] = True,
    resume: Annotated[bool, typer.Option(help="Continue the match in --out from its games.jsonl (same players, "
                                              "size, komi and seed) up to --games.")] = False,
    jobs: Annotated[int, typer.Option(help=JOBS_HELP)] = 1,
) -> None:
    """Play a match, save every game as SGF and print the first player's win rate with a 95% CI."""
    if resume and out is None:
        raise UserError("--resume needs the --out directory of the match to continue")
    out = out or Path("runs") / "go-matches" / _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"{black} vs {white}", total=games)
        result = match_specs(black, white, size, games, out, komi=komi, seed=seed, deterministic=deterministic,
                             on_game=lambda i, r: progress.update(task, completed=i + 1), resume=resume,
                             jobs=jobs)
    low, high = result.summary()["ci95"]
    first, second = result.names
    console.print(f"{first} vs {second}: {result.games} games, {result.wins[0]} wins, {result.wins[1]} losses, "
                  f"{result.draws} draws; win rate {result.win_rate:.1%} (95% CI {low:.1%}-{high:.1%})")
    if result.score_checks:
        console.print(f"GTP final_score agrees with our Tromp-Taylor count in "
                      f"{result.score_agreements}/{result.score_checks} games")
    console.print(f"SGFs and results: {out}")
    if result.aborted:
        raise UserError(f"match stopped early ({result.aborted}); {result.games} finished games are saved in {out}")


def ladder(
    players: Annotated[str, typer.Option(help=f"Comma-separated player specs ({PLAYER_HELP}).")],
    size: Annotated[int, typer.Option(help="Board size.")] = 9,
    games: Annotated[int, typer.Option(help="Games per pair (colours alternate; even numbers keep them "
                                            "balanced).")] = 20,
    out: Annotated[Path | None, typer.Option(help="Ladder directory; rerunning the same command there "
                                                  "continues it.")] = None,
    komi: Annotated[float | None, typer.Option(help="Komi (default per size).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the games (part of the ladder's identity).")] = 0,
    anchor: Annotated[str | None, typer.Option(help="Player whose rating is fixed (default gnugo:1 if "
                                                    "playing, else the first).")] = None,
    anchor_elo: Annotated[float, typer.Option(help="Rating given to the anchor.")] = 0.0,
    jobs: Annotated[int, typer.Option(help=JOBS_HELP)] = 1,
) -> None:
    """Round-robin ladder with Bradley-Terry/Elo ratings and 95% CIs: ladder.md, ladder.csv, ladder.png."""
    out = out or Path("runs") / "go-ladders" / f"{size}x{size}-{_dt.datetime.now():%Y%m%d-%H%M%S}"
    specs = [p for p in players.split(",") if p.strip()]
    with Progress(console=console) as progress:
        task = progress.add_task("ladder", total=None)

        def show(done: int, total: int, pairing: str) -> None:
            progress.update(task, completed=done, total=total, description=pairing or "ladder")

        result = run_ladder(specs, size, games, out, komi=komi, seed=seed, anchor=anchor, anchor_elo=anchor_elo,
                            on_game=show, jobs=jobs)
    table = Table(title=f"{size}x{size} ladder: {result.games} games, anchor {result.anchor} = {anchor_elo:g}")
    for col in ("player", "Elo", "95% CI", "games", "score"):
        table.add_column(col, justify="right")
    for row in sorted(result.standings, key=lambda s: -s.elo):
        table.add_row(row.player, f"{row.elo:.0f}", f"{row.ci95[0]:.0f} to {row.ci95[1]:.0f}", str(row.games),
                      f"{row.score:.1%}")
    console.print(table)
    console.print(f"ladder.md, ladder.csv, ladder.png and every game: {out}")


def bench_go(
    seconds: Annotated[float, typer.Option(help="Seconds per row.")] = 2.0,
    sizes: Annotated[str, typer.Option(help="Comma-separated board sizes.")] = "5,7,9",
    batches: Annotated[str, typer.Option(help="Comma-separated batch sizes for the batched engine.")] = "64,256,1024",
    device: Annotated[str, typer.Option(help="Device for the batched engine: auto | cpu | cuda.")] = "cpu",
    openspiel: Annotated[bool, typer.Option(help="Also run OpenSpiel's go through the same loops.")] = True,
) -> None:
    """Moves (playouts for the playout rows) per second: engine alone, env with planes + mask, batched engine,
    whole playouts; OpenSpiel in the same run."""
    rows = go_table(seconds, tuple(int_list(sizes, "--sizes")), tuple(int_list(batches, "--batches")), device,
                    openspiel)
    table = Table(title=f"Go-lite throughput (random legal moves, {seconds:g} s per row, one torch thread)")
    for col in ("size", "what", "backend", "per s", "per CPU-s", "unit", "ours / OpenSpiel"):
        table.add_column(col, justify="right")
    for row in rows:
        r = row.rate
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else ""
        table.add_row(str(r.size), r.what, r.backend, f"{r.per_s:,.0f}", f"{r.per_cpu_s:,.0f}", r.unit, ratio)
    console.print(table)


def bench_go_rules(
    games: Annotated[int, typer.Option(help="Random games per size.")] = 1000,
    sizes: Annotated[str, typer.Option(help="Comma-separated board sizes.")] = "5,7,9",
    batched: Annotated[int, typer.Option(help="Games per size for the batched-vs-single check (0 = skip).")] = 256,
    fast: Annotated[int, typer.Option(help="Games per size for the compiled-vs-single check (0 = skip).")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the random games.")] = 0,
) -> None:
    """Rules cross-check: legal sets and returns vs OpenSpiel, batched engine and compiled board vs GoGame."""
    size_list = int_list(sizes, "--sizes")
    checks = [("vs OpenSpiel", lambda n: crosscheck(n, games, seed=seed))]
    if batched:
        checks.append(("batched vs single", lambda n: crosscheck_batched(n, batched, seed=seed)))
    if fast:
        checks.append(("compiled vs single", lambda n: crosscheck_fast(n, fast, seed=seed)))
    failures = 0
    with Progress(console=console) as progress:
        task = progress.add_task("cross-checking", total=len(size_list) * len(checks))
        for size in size_list:
            for label, check in checks:
                result = check(size)
                progress.advance(task)
                failures += _print_crosscheck(f"{size}x{size} {label}", result)
    if failures:
        raise UserError(f"{failures} rule differences found")
    console.print("no differences")


def _print_crosscheck(label: str, r: CrosscheckResult) -> int:
    """One line per check (games, positions, differences, draws and capped games), then any differing positions."""
    cap = 2 * r.size * r.size
    console.print(f"{label}: {r.games} games, {r.positions:,} positions, {r.differences} differences "
                  f"({r.superko_games} superko draws, {r.capped_games} hit the {cap}-move cap)")
    for example in r.examples:
        console.print(f"  {example}", style="red", markup=False)
    return r.differences


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Attach this module's commands to the app and the `bench` group."""
    go_app.command("ladder")(ladder)
    app.add_typer(go_app, name="go")
    go_az.register(go_app)
    app.command("gtp")(gtp)
    app.command("match")(match)
    bench.command("go")(bench_go)
    bench.command("go-rules")(bench_go_rules)
