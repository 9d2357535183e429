"""How high can next-token accuracy go on a corpus? Evidence for the Note RNN accuracy ceiling.

Usage: python benchmarks/note_rnn_ceiling.py default|essen   (needs the corpus cache: `rllab corpus build`)

Prints the class mix, the pitch accuracy 85% overall would need, and count models that are *given* the rhythm
(when each note starts) and predict each onset token from its bar position and the previous k onsets, plus a
within-melody copy model (IDyOM's short-term model). Their accuracies bound what a next-step model can expect.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict

import numpy as np

from rllab.music.corpus import load_corpus
from rllab.music.tokens import NO_EVENT

MAX_ORDER = 6
Event = tuple[int, int]  # (onset token, bar position)
Counts = list[defaultdict]


def onsets(melody: np.ndarray, steps_per_bar: int = 16) -> list[Event]:
    """Every onset (a pitch or NOTE_OFF) with its position in the bar: the rhythm handed to the models."""
    idx = np.flatnonzero(melody != NO_EVENT)
    return [(int(melody[i]), int(i % steps_per_bar)) for i in idx]


def count_contexts(melodies: list[np.ndarray]) -> Counts:
    """counts[k][(bar position, previous k tokens)] = Counter of the next token."""
    counts: Counts = [defaultdict(Counter) for _ in range(MAX_ORDER + 1)]
    for melody in melodies:
        events = onsets(melody)
        tokens = [t for t, _ in events]
        for i, (token, pos) in enumerate(events):
            for k in range(min(i, MAX_ORDER) + 1):
                counts[k][(pos, *tokens[i - k:i])][token] += 1
    return counts


def ngram_predict(counts: Counts, tokens: list[int], i: int, pos: int, order: int) -> int | None:
    """Most frequent next token of the longest context (up to ``order``) seen at least twice."""
    for k in range(min(order, i), -1, -1):
        ctx = counts[k].get((pos, *tokens[i - k:i]))
        if ctx and sum(ctx.values()) >= 2:
            return ctx.most_common(1)[0][0]
    return None


def copy_predict(events: list[Event], tokens: list[int], i: int, min_match: int) -> int | None:
    """What followed the longest earlier match (>= ``min_match`` onsets, same bar position) in the same melody."""
    best, best_len = None, 0
    for j in range(i - 1, 0, -1):
        if events[j][1] != events[i][1]:
            continue
        length = 0
        while length < j and length < 32 and tokens[j - 1 - length] == tokens[i - 1 - length]:
            length += 1
        if length > best_len:
            best, best_len = tokens[j], length
    return best if best_len >= min_match else None


def onset_accuracy(melodies: list[np.ndarray], counts: Counts, order: int, min_match: int | None) -> float:
    right = total = 0
    for melody in melodies:
        events = onsets(melody)
        tokens = [t for t, _ in events]
        for i, (token, pos) in enumerate(events):
            pred = copy_predict(events, tokens, i, min_match) if min_match is not None else None
            if pred is None:
                pred = ngram_predict(counts, tokens, i, pos, order)
            right += pred == token
            total += 1
    return right / total


def main(name: str) -> None:
    corpus = load_corpus(name, progress=False)
    valid = np.concatenate(corpus.valid)
    hold, rest, pitch = (valid == NO_EVENT).mean(), (valid == 0).mean(), (valid >= 2).mean()
    print(f"{name}: {len(valid)} validation steps, NO_EVENT {hold:.1%}, NOTE_OFF {rest:.1%}, pitch onsets {pitch:.1%}")
    print(f"  pitch accuracy 85% overall needs with every hold and rest right: {(0.85 - hold - rest) / pitch:.1%}")
    counts = count_contexts(corpus.train)
    for order in range(MAX_ORDER + 1):
        acc = onset_accuracy(corpus.valid, counts, order, min_match=None)
        print(f"  oracle rhythm, bar position + previous {order} onsets: onsets {acc:.1%} -> "
              f"overall {hold + (1 - hold) * acc:.1%}")
    for min_match in (3, 5, 8):
        acc = onset_accuracy(corpus.valid, counts, order=4, min_match=min_match)
        print(f"  oracle rhythm + in-melody copy (match >= {min_match}) + 4-gram: onsets {acc:.1%} -> "
              f"overall {hold + (1 - hold) * acc:.1%}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "default")
