"""How high can next-token accuracy go on a corpus? Evidence for the Note RNN accuracy ceiling.

Usage: python benchmarks/note_rnn_ceiling.py default|essen   (needs the corpus cache: `rllab corpus build`)

Prints the class mix, the pitch accuracy 85% overall would need, and count models that are *given* the rhythm
(when each note starts) and predict each onset token from its bar position and the previous k onsets, plus a
within-melody copy model. Their accuracies bound what a next-step model can expect on the corpus.
"""
import sys
from collections import Counter, defaultdict
import numpy as np
from rllab.music.corpus import load_corpus

name = sys.argv[1]
c = load_corpus(name, progress=False)
v = np.concatenate(c.valid)
n = len(v); hold = (v == 1).mean(); off = (v == 0).mean(); pitch = (v >= 2).mean()
print(f"{name}: valid steps {n}, NO_EVENT {hold:.3%}, NOTE_OFF {off:.3%}, pitch onsets {pitch:.3%}")
print(f"  pitch accuracy needed for 85% with every hold and rest right: {(0.85 - hold - off) / pitch:.1%}")

def events(m):
    """(token, bar position) of each onset (pitch or NOTE_OFF) in order."""
    idx = np.flatnonzero(m != 1)
    return [(int(m[i]), int(i % 16)) for i in idx]

K = 6
counts = [defaultdict(Counter) for _ in range(K + 1)]
for m in c.train:
    ev = events(m)
    toks = [t for t, _ in ev]
    for i, (t, p) in enumerate(ev):
        for k in range(K + 1):
            if i - k < 0:
                break
            counts[k][(p,) + tuple(toks[i - k:i])][t] += 1
for order in range(K + 1):
    ok = tot = 0
    for m in c.valid:
        ev = events(m)
        toks = [t for t, _ in ev]
        for i, (t, p) in enumerate(ev):
            pred = None
            for k in range(min(order, i), -1, -1):  # back off to the longest context seen >= 2 times
                ctx = counts[k].get((p,) + tuple(toks[i - k:i]))
                if ctx and sum(ctx.values()) >= 2:
                    pred = ctx.most_common(1)[0][0]
                    break
            ok += pred == t
            tot += 1
    acc = ok / tot
    total = hold + (1 - hold) * acc
    print(f"  oracle rhythm, onset token from bar position + previous {order} onsets: onset acc {acc:.1%} -> "
          f"overall {total:.1%}")

# add a within-melody copy model (IDyOM's short-term model): when the last L >= 3 onsets (and bar position) occurred
# earlier in the same melody, predict what followed there; else the order-4 n-gram
for min_match in (3, 5, 8):
    ok = tot = copied = copied_ok = 0
    for m in c.valid:
        ev = events(m)
        toks = [t for t, _ in ev]
        for i, (t, p) in enumerate(ev):
            best, best_len = None, 0
            for j in range(i - 1, 0, -1):  # candidate earlier position j predicting toks[j]
                if ev[j][1] != p:
                    continue
                L = 0
                while L < j and L < 32 and toks[j - 1 - L] == toks[i - 1 - L]:
                    L += 1
                if L > best_len:
                    best, best_len = toks[j], L
            if best_len >= min_match:
                pred = best
                copied += 1
                copied_ok += pred == t
            else:
                pred = None
                for k in range(min(4, i), -1, -1):
                    ctx = counts[k].get((p,) + tuple(toks[i - k:i]))
                    if ctx and sum(ctx.values()) >= 2:
                        pred = ctx.most_common(1)[0][0]
                        break
            ok += pred == t
            tot += 1
    acc = ok / tot
    print(f"  oracle rhythm + within-melody copy (match >= {min_match} onsets, used on {copied / tot:.0%} of onsets, "
          f"{copied_ok / max(copied, 1):.0%} right) + 4-gram: onset acc {acc:.1%} -> overall {hold + (1 - hold) * acc:.1%}")
