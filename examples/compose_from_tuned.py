"""Tune the Note RNN with Q-learning under KL control, then compose melodies from the tuned model.

    python examples/compose_from_tuned.py            # the tutor's default budget for Q (~6 min after the prior)
    python examples/compose_from_tuned.py --tiny --note-rnn PATH   # a smoke run on an existing prior

Writes the tutor report and, from the tuned Q model, MIDI files, piano rolls and a statistics table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import rllab


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/examples/compose"))
    parser.add_argument("--note-rnn", type=Path, default=None, help="prior to tune (default: the cached one)")
    parser.add_argument("--tiny", action="store_true", help="smoke-test budget")
    args = parser.parse_args()

    budget = {"steps": 2_048, "compositions": 64, "samples": 2} if args.tiny else {}
    report = rllab.tutor(args.out / "tutor", methods=["q"], note_rnn=args.note_rnn, device="cpu", **budget)
    for check in report.targets:
        print(check.line())
    tuned = report.out / "runs" / "q"
    melodies = rllab.compose(tuned, args.out / "melodies", n=4 if args.tiny else 16, length=64, progress=False)
    print(f"{len(melodies.files)} melodies in {melodies.out}; notes in key: "
          f"{1 - melodies.stats['notes_not_in_key']:.1%}")


if __name__ == "__main__":
    main()
