"""Train a MaskablePPO agent on small-board Go, then play it against GNU Go (or the heuristic player without it).

    python examples/go_vs_gnugo.py                 # 5x5, 300k steps vs random (~5 min on 2 cores), 20 games
    python examples/go_vs_gnugo.py --tiny          # a smoke run: a few thousand steps, 2 games

Every game is saved as SGF under the match directory; the win rate comes with a 95% Wilson interval.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import rllab
from rllab.envs.go.gtp_client import gnugo_binary
from rllab.lab.go_match import match_specs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/examples/go"))
    parser.add_argument("--tiny", action="store_true", help="smoke-test budget")
    args = parser.parse_args()

    steps, games = (4_096, 2) if args.tiny else (300_000, 20)
    result = rllab.train("rllab/GoLite-v0", "maskable_ppo", preset="golite5-maskable_ppo-random", steps=steps,
                         seed=0, out=args.out / "run", overrides={"eval.freq": 0}, progress=not args.tiny)
    opponent = "gnugo:1" if gnugo_binary() else "heuristic"
    match = match_specs(str(result.run_dir), opponent, None, games, args.out / "match")
    low, high = match.summary()["ci95"]
    print(f"{result.run_dir.name} vs {opponent} on 5x5: {match.wins[0]}/{match.games} wins "
          f"(95% CI {low:.0%}-{high:.0%}); SGFs in {args.out / 'match'}")


if __name__ == "__main__":
    main()
