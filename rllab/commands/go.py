"""Go-lite commands: ``rllab gtp``, ``rllab match``, ``rllab bench go`` and ``rllab bench go-rules``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rllab.errors import UserError

PLAYER_HELP = "random | heuristic | gnugo[:LEVEL] | gtp:<command line> | <run dir or model .zip>"


def gtp(
    model: Annotated[str, typer.Option(help=f"Player to serve: {PLAYER_HELP}.")] = "heuristic",
    size: Annotated[int | None, typer.Option(help="Board size (default: the model's, else 9).")] = None,
    komi: Annotated[float | None, typer.Option(help="Komi (default per size: 5x5 24.5, 7x7 8.5, 9x9 7.5).")] = None,
    deterministic: Annotated[bool, typer.Option(help="Play the policy's most likely move.")] = True,
    seed: Annotated[int, typer.Option(help="Seed for sampled moves and tie breaks.")] = 0,
) -> None:
    """Run a GTP v2 engine on stdin/stdout (for Go GUIs, GNU Go's twogtp, or `rllab match`)."""
    import sys

    from envs.go.gtp import GtpEngine
    from envs.go.opponents import PolicyPlayer

    player, trained_size = _make_player(model, deterministic)
    board = size or trained_size or 9
    engine = GtpEngine(player, size=board, komi=komi, seed=seed, fixed_size=isinstance(player, PolicyPlayer))
    engine.serve(sys.stdin, sys.stdout)


def match(
    black: Annotated[str, typer.Option(help=f"First player (Black in odd-numbered games): {PLAYER_HELP}.")],
    white: Annotated[str, typer.Option(help=f"Second player: {PLAYER_HELP}.")],
    size: Annotated[int, typer.Option(help="Board size.")] = 7,
    games: Annotated[int, typer.Option(help="Number of games; colours alternate every game.")] = 10,
    komi: Annotated[float | None, typer.Option(help="Komi (default per size).")] = None,
    out: Annotated[Path | None, typer.Option(help="Directory for SGFs, games.jsonl, summary.json.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for random players and engine seeds.")] = 0,
    deterministic: Annotated[bool, typer.Option(help="Policies play their most likely move.")] = False,
) -> None:
    """Play a match, save every game as SGF and print the first player's win rate with a 95% CI."""
    import datetime as _dt

    from rich.console import Console
    from rich.progress import Progress

    from envs.go.match import run_match

    console = Console()
    if out is None:
        out = Path("runs") / "go-matches" / _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    first, _ = _make_player(black, deterministic)
    try:
        second, _ = _make_player(white, deterministic)
    except UserError:
        first.close()
        raise
    try:
        for player in (first, second):
            check = getattr(player, "check_size", None)
            if check is not None:
                check(size)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"{first.name} vs {second.name}", total=games)
            result = run_match(first, second, size, games, out, komi=komi, seed=seed,
                               on_game=lambda i, r: progress.update(task, completed=i + 1))
    finally:
        first.close()
        second.close()
    summary = result.summary()
    low, high = summary["ci95"]
    console.print(f"{first.name} vs {second.name} on {size}x{size}: {result.games} games, "
                  f"{result.wins[0]} wins, {result.wins[1]} losses, {result.draws} draws; "
                  f"win rate {result.win_rate:.1%} (95% CI {low:.1%}-{high:.1%})")
    if result.score_checks:
        console.print(f"GTP final_score agrees with our Tromp-Taylor count in "
                      f"{result.score_agreements}/{result.score_checks} games")
    console.print(f"SGFs and results: {out}")
    if result.aborted:
        raise UserError(f"match stopped early ({result.aborted}); {result.games} finished games are saved in {out}")


def bench_go(
    seconds: Annotated[float, typer.Option(help="Seconds per row.")] = 2.0,
    sizes: Annotated[str, typer.Option(help="Comma-separated board sizes.")] = "5,7,9",
    batches: Annotated[str, typer.Option(help="Comma-separated batch sizes for the batched engine.")] = "64,256,1024",
    device: Annotated[str, typer.Option(help="Device for the batched engine: auto | cpu | cuda.")] = "cpu",
    openspiel: Annotated[bool, typer.Option(help="Also run OpenSpiel's go through the same loops.")] = True,
) -> None:
    """Moves per second: engine alone, env with planes + mask, batched engine; OpenSpiel in the same run."""
    import torch
    from rich.console import Console
    from rich.table import Table

    from envs.go import bench
    from rllab.device import limit_cpu_threads, resolve_device

    limit_cpu_threads(1)
    dev = str(resolve_device(device))
    size_list = _int_list(sizes, "--sizes")
    batch_list = _int_list(batches, "--batches")
    if seconds <= 0:
        raise UserError("--seconds must be positive")
    if openspiel:
        try:
            import pyspiel  # noqa: F401
        except ImportError:
            raise UserError("open-spiel is not installed (pip install open-spiel) or pass --no-openspiel") from None
    console = Console()
    table = Table(title=f"Go-lite throughput (random legal moves, {seconds:g} s per row, torch threads "
                        f"{torch.get_num_threads()})")
    for col in ("size", "what", "backend", "moves/s", "moves/CPU-s", "ours / OpenSpiel"):
        table.add_column(col, justify="right")
    for size in size_list:
        for what, fn in (("engine", bench.engine_rate), ("env (obs+mask)", bench.env_rate)):
            if openspiel:  # alternating slices: both backends run under the same load
                ours, theirs = bench.paired_rates(fn, size, 2 * seconds)
                table.add_row(str(size), what, "openspiel", f"{theirs.per_s:,.0f}", f"{theirs.per_cpu_s:,.0f}", "")
                ratio = f"{ours.per_cpu_s / theirs.per_cpu_s:.2f}x"
            else:
                ours, ratio = fn("ours", size, seconds), ""
            table.add_row(str(size), what, "ours", f"{ours.per_s:,.0f}", f"{ours.per_cpu_s:,.0f}", ratio)
        for batch in batch_list:
            r = bench.batched_rate(size, batch, seconds, device=dev)
            table.add_row(str(size), r.what, r.backend, f"{r.per_s:,.0f}", f"{r.per_cpu_s:,.0f}", "")
    console.print(table)


def bench_go_rules(
    games: Annotated[int, typer.Option(help="Random games per size.")] = 1000,
    sizes: Annotated[str, typer.Option(help="Comma-separated board sizes.")] = "5,7,9",
    batched: Annotated[int, typer.Option(help="Games per size for the batched-vs-single check (0 = skip).")] = 256,
    seed: Annotated[int, typer.Option(help="Seed of the random games.")] = 0,
) -> None:
    """Rules cross-check: legal sets and returns vs OpenSpiel, batched engine vs single-game engine."""
    from rich.console import Console
    from rich.progress import Progress

    from envs.go.crosscheck import crosscheck, crosscheck_batched
    from rllab.device import limit_cpu_threads

    limit_cpu_threads(1)
    console = Console()
    size_list = _int_list(sizes, "--sizes")
    failures = 0
    with Progress(console=console) as progress:
        task = progress.add_task("cross-checking", total=len(size_list) * (2 if batched else 1))
        for size in size_list:
            r = crosscheck(size, games, seed=seed)
            progress.advance(task)
            console.print(f"{size}x{size} vs OpenSpiel: {r.games} games, {r.positions:,} positions, "
                          f"{r.differences} differences ({r.superko_games} superko draws, "
                          f"{r.capped_games} hit the {2 * size * size}-move cap)")
            failures += r.differences
            for example in r.examples:
                console.print(f"  [red]{example}[/]")
            if batched:
                b = crosscheck_batched(size, batched, seed=seed)
                progress.advance(task)
                console.print(f"{size}x{size} batched vs single: {b.games} games, {b.positions:,} positions, "
                              f"{b.differences} differences")
                failures += b.differences
                for example in b.examples:
                    console.print(f"  [red]{example}[/]")
    if failures:
        raise UserError(f"{failures} rule differences found")
    console.print("no differences")


def _make_player(spec: str, deterministic: bool):
    """A player and, for a trained model, the board size it was trained on."""
    from envs.go.opponents import PolicyPlayer, make_player

    if spec in ("self",):
        raise UserError("'self' is a training opponent; name a run directory instead")
    player = make_player(spec, deterministic=deterministic)
    size = player.obs_shape[1] if isinstance(player, PolicyPlayer) else None
    return player, size


def _int_list(text: str, flag: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"{flag} must be comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise UserError(f"{flag} must list positive integers, got {text!r}")
    return values


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Attach this module's commands to the app and the `bench` group."""
    app.command("gtp")(gtp)
    app.command("match")(match)
    bench.command("go")(bench_go)
    bench.command("go-rules")(bench_go_rules)
