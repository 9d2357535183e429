"""The corpus encoder and cache, on a handful of music21 files and on hand-built scores (never the full corpus)."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pytest

from rllab.core.errors import UserError
from rllab.music.corpus import (
    DEFAULT_COLLECTIONS,
    cache_root,
    collect_unique,
    corpus_cache_path,
    load_corpus,
    resolve_collections,
    split_valid,
)
from rllab.music.encode import EncodeStats, encode_score, key_shift
from rllab.music.midi import canonical_tokens
from rllab.music.tokens import NO_EVENT, NOTE_OFF, PAPER_SPEC


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    start = time.perf_counter()
    corpus = load_corpus(["ryans", "bach"], cache, progress=False, limit_files=3, workers=1)
    return corpus, cache, time.perf_counter() - start


def test_build_counts_split_and_cache(small_corpus):
    corpus, cache, _ = small_corpus
    manifest = corpus.manifest
    assert set(manifest["collections"]) == {"ryans", "bach"}
    assert manifest["collections"]["ryans"]["files"] == 3 and manifest["collections"]["bach"]["files"] == 3
    assert manifest["melodies"] == len(corpus) == len(corpus.train) + len(corpus.valid) >= 5
    assert manifest["steps"] == sum(len(m) for m in corpus.melodies)
    assert sum(manifest["class_histogram"]) == manifest["steps"]
    assert corpus.path.parent == cache / "corpus" and corpus.path.with_suffix(".json").is_file()
    for melody in corpus.melodies:
        assert melody.dtype == np.uint8 and melody.max() < PAPER_SPEC.num_classes
        assert melody[-1] == NOTE_OFF                        # a NOTE_OFF after the last note
        np.testing.assert_array_equal(canonical_tokens(melody), melody)


def test_second_load_reads_the_cache_fast_and_identically(small_corpus):
    corpus, cache, _ = small_corpus
    stamp = corpus.path.stat().st_mtime_ns
    again = load_corpus(["bach", "ryans"], cache, progress=False, limit_files=3)
    assert corpus.path.stat().st_mtime_ns == stamp          # read from the cache, not encoded again
    assert again.path == corpus.path
    assert len(again) == len(corpus)
    for a, b in zip(again.melodies, corpus.melodies, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(again.is_valid, corpus.is_valid)


def test_corrupt_cache_is_a_clear_error(small_corpus, tmp_path):
    corpus, _, _ = small_corpus
    bad = tmp_path / "corpus" / corpus.path.name
    bad.parent.mkdir()
    bad.write_bytes(b"not an npz")
    bad.with_suffix(".json").write_text("{}")
    with pytest.raises(UserError, match="unreadable"):
        load_corpus(["ryans", "bach"], tmp_path, progress=False, limit_files=3)


def test_collections_and_cache_location(monkeypatch, tmp_path):
    assert resolve_collections(None) == DEFAULT_COLLECTIONS == ("oneills", "ryans", "airds", "bach")
    assert "essen" not in DEFAULT_COLLECTIONS
    assert resolve_collections("default,essen") == ("oneills", "ryans", "airds", "bach", "essen")
    with pytest.raises(UserError, match="unknown collection 'nottingham'"):
        resolve_collections(["nottingham"])
    monkeypatch.setenv("RLLAB_CACHE", str(tmp_path))
    assert cache_root() == tmp_path
    assert corpus_cache_path().parent == tmp_path / "corpus"
    assert corpus_cache_path("essen") != corpus_cache_path(None)


def test_encoder_transposes_pads_the_pickup_merges_ties_and_ends_with_note_off():
    from music21 import key, meter, note, stream, tie

    part = stream.Part()
    pickup = stream.Measure(number=0)
    pickup.append(key.KeySignature(2))                       # D major -> shifted down 2 semitones to C major
    pickup.append(meter.TimeSignature("4/4"))
    pickup.append(note.Note("A4", quarterLength=1))          # a one-beat pickup: 3 beats of padding
    part.append(pickup)
    first = stream.Measure(number=1)
    for name in ("D5", "E5", "F#5"):
        first.append(note.Note(name, quarterLength=1))
    held = note.Note("G5", quarterLength=1)
    held.tie = tie.Tie("start")
    first.append(held)
    part.append(first)
    second = stream.Measure(number=2)
    tail = note.Note("G5", quarterLength=1)
    tail.tie = tie.Tie("stop")
    second.append(tail)
    second.append(note.Rest(quarterLength=1))
    for name in ("A5", "B5", "C#6"):
        second.append(note.Note(name, quarterLength=0.5))
    part.append(second)
    stats = EncodeStats()
    tokens = encode_score(part, PAPER_SPEC, stats)
    assert stats.counts["ties_merged"] == 1
    pitches = [PAPER_SPEC.token_to_pitch(t) for t in tokens if t > NO_EVENT]
    # transposed to C major and moved by octaves into [48, 84): G C D E F(held) G A B
    assert [p % 12 for p in pitches] == [7, 0, 2, 4, 5, 7, 9, 11]
    assert all(48 <= p < 84 for p in pitches)
    assert list(tokens[:12]) == [NO_EVENT] * 12                 # 3 beats of pickup padding
    assert tokens[16] > NO_EVENT                                # the first downbeat is a note
    assert tokens[28] > NO_EVENT and list(tokens[29:36]) == [NO_EVENT] * 7   # F held for two beats via the tie
    assert tokens[36] == NOTE_OFF                               # the rest
    assert tokens[-1] == NOTE_OFF and len(tokens) == 47


def test_key_shift_moves_every_signature_to_no_accidentals():
    for sharps in range(-7, 8):
        shift = key_shift(sharps)
        assert -6 <= shift <= 5
        assert (7 * sharps + shift) % 12 == 0


def test_exact_duplicates_are_dropped_across_files_and_collections():
    a, b = np.array([14, 1, 0], np.uint8), np.array([16, 1, 1, 0], np.uint8)
    parsed = [("ryans", [("A", a), ("B", b), ("A again", a.copy())], Counter(tunes=3)),
              ("bach", [("B elsewhere", b.copy()), ("C", np.array([18, 0], np.uint8))], Counter(tunes=2))]
    melodies, owners, titles, counts = collect_unique(["ryans", "bach"], parsed)
    assert titles == ["A", "B", "C"] and owners == [0, 0, 1]            # the first copy is kept
    assert counts["ryans"]["duplicates_dropped"] == 1 and counts["bach"]["duplicates_dropped"] == 1
    assert counts["ryans"]["melodies"] == 2 and counts["bach"]["steps"] == 2 and counts["bach"]["files"] == 1
    assert counts["ryans"]["tunes"] == 3


@pytest.mark.parametrize("count, fraction, expected", [(100, 0.1, 10), (7, 0.5, 4), (5, 0.0, 0), (3, 0.1, 0)])
def test_validation_split_size_and_seed(count, fraction, expected):
    mask = split_valid(count, fraction, seed=0)
    assert mask.dtype == bool and mask.shape == (count,) and mask.sum() == expected
    np.testing.assert_array_equal(mask, split_valid(count, fraction, seed=0))
    if 0 < expected < count:
        assert any((split_valid(count, fraction, seed=s) != mask).any() for s in range(1, 5))
