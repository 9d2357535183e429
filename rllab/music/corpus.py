"""The melody corpus: music21's bundled monophonic collections, encoded once and cached as a small ``.npz``.

Nothing is downloaded: the tunes ship inside the music21 wheel. The default set is the public-domain collections
(O'Neill's, Ryan's Mammoth, Aird's Airs, the soprano lines of the Bach chorales); the Essen folksongs (and the
small miscFolk set) are opt-in. The Essen encodings may only be used non-commercially, so data derived from them
lives only in the user's cache directory (``$RLLAB_CACHE``, else ``$XDG_CACHE_HOME/rllab``, else
``~/.cache/rllab``) and is never written into the repository.

The first :func:`load_corpus` parses and encodes (minutes, with a progress bar); later calls read the cache
(milliseconds) and do not import music21.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rllab.core import atomic
from rllab.core.errors import UserError, choices_hint
from rllab.music.encode import parse_file
from rllab.music.tokens import PAPER_SPEC, TokenSpec

ENCODER_VERSION = 1
_ESSEN_EXCLUDED = {"test0.abc", "test1.abc", "testd.abc", "teste.abc"}


@dataclass(frozen=True)
class Collection:
    name: str
    description: str
    licence: str
    default: bool


COLLECTIONS: dict[str, Collection] = {c.name: c for c in (
    Collection("oneills", "O'Neill's Music of Ireland (1850), ABC by Norbert Paap", "public domain tunes", True),
    Collection("ryans", "Ryan's Mammoth Collection (1883), ABC by Ray Davies", "public domain tunes", True),
    Collection("airds", "Aird's Airs (1778-1803), ABC by Jack Campin", "public domain tunes", True),
    Collection("bach", "Bach chorales, soprano line", "public domain", True),
    Collection("essen", "Essen folksong collection, ABC by Seymour Shlien",
               "non-commercial use only (music21 corpus/license.txt); never commit derived data", False),
    Collection("miscfolk", "American fife tunes and Northumbrian Minstrelsy (top voice)", "public domain tunes",
               False),
)}
DEFAULT_COLLECTIONS = tuple(name for name, c in COLLECTIONS.items() if c.default)


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where derived data goes: the argument, ``$RLLAB_CACHE``, ``$XDG_CACHE_HOME/rllab`` or ``~/.cache/rllab``."""
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("RLLAB_CACHE"):
        return Path(os.environ["RLLAB_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "rllab"


def resolve_collections(collections: Iterable[str] | str | None) -> tuple[str, ...]:
    """Names (or ``"default"``/``"all"``, comma lists allowed) -> validated, de-duplicated, in registry order."""
    if collections is None:
        return DEFAULT_COLLECTIONS
    if isinstance(collections, str):
        collections = [collections]
    wanted: set[str] = set()
    for item in collections:
        for name in str(item).split(","):
            name = name.strip().lower()
            if name == "default":
                wanted.update(DEFAULT_COLLECTIONS)
            elif name == "all":
                wanted.update(COLLECTIONS)
            elif name in COLLECTIONS:
                wanted.add(name)
            elif name:
                raise UserError(f"unknown collection {name!r}; {choices_hint([*COLLECTIONS, 'default', 'all'])}")
    if not wanted:
        raise UserError("no collections selected")
    return tuple(name for name in COLLECTIONS if name in wanted)


def collection_files(name: str) -> list[Path]:
    """The music21 corpus files of one collection (imports music21)."""
    import music21
    from music21 import corpus

    root = Path(music21.common.getCorpusFilePath())
    if name == "bach":
        paths: set[Path] = set()
        for work in corpus.chorales.Iterator(returnType="filename"):
            found = corpus.getWork(work)  # a path, or a list when several files match
            paths.update(Path(p) for p in (found if isinstance(found, list) else [found]))
        return sorted(paths)
    folder = {"oneills": "oneills1850", "ryans": "ryansMammoth", "airds": "airdsAirs", "essen": "essenFolksong",
              "miscfolk": "miscFolk"}[name]
    return sorted(p for p in (root / folder).glob("*.abc") if p.name not in _ESSEN_EXCLUDED)


@dataclass
class Corpus:
    """Encoded melodies with a fixed train/validation split (by melody) and the build manifest."""

    melodies: list[np.ndarray]
    collection: np.ndarray
    titles: np.ndarray
    is_valid: np.ndarray
    manifest: dict[str, Any]
    path: Path | None = None

    @property
    def train(self) -> list[np.ndarray]:
        return [m for m, v in zip(self.melodies, self.is_valid, strict=True) if not v]

    @property
    def valid(self) -> list[np.ndarray]:
        return [m for m, v in zip(self.melodies, self.is_valid, strict=True) if v]

    def __len__(self) -> int:
        return len(self.melodies)


def collect_unique(names: Sequence[str], parsed: Iterable[tuple[str, list[tuple[str, np.ndarray]], Counter]]
                   ) -> tuple[list[np.ndarray], list[int], list[str], dict[str, Counter]]:
    """Melodies in file order with exact duplicates dropped (the first copy is kept, even across collections).

    ``parsed``: one ``(collection, [(title, tokens)], parse counts)`` per file. Returns the melodies, the index of
    each one's collection, their titles and per-collection counts (files, melodies, steps, duplicates_dropped).
    """
    per_collection: dict[str, Counter] = {name: Counter() for name in names}
    melodies, owners, titles, seen = [], [], [], set()
    for name, found, stats in parsed:
        counts = per_collection[name]
        counts["files"] += 1
        counts.update(stats)
        for title, tokens in found:
            digest = hashlib.sha1(tokens.tobytes()).digest()
            if digest in seen:
                counts["duplicates_dropped"] += 1
                continue
            seen.add(digest)
            melodies.append(tokens)
            owners.append(names.index(name))
            titles.append(title)
            counts["melodies"] += 1
            counts["steps"] += len(tokens)
    return melodies, owners, titles, per_collection


def split_valid(count: int, valid_fraction: float, seed: int) -> np.ndarray:
    """The validation mask: ``round(count * valid_fraction)`` melodies drawn by a seeded permutation."""
    order = np.random.default_rng(seed).permutation(count)
    is_valid = np.zeros(count, dtype=bool)
    is_valid[order[:round(count * valid_fraction)]] = True
    return is_valid


def _cache_key(names: Sequence[str], spec: TokenSpec, valid_fraction: float, seed: int,
               limit_files: int | None) -> str:
    blob = json.dumps({"collections": list(names), "spec": spec.to_dict(), "encoder": ENCODER_VERSION,
                       "valid_fraction": valid_fraction, "seed": seed, "limit_files": limit_files}, sort_keys=True)
    stem = "-".join(names) if len(names) < len(COLLECTIONS) else "all"
    return f"corpus-{stem}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"


def _save(corpus: Corpus, npz_path: Path) -> None:
    events = np.concatenate(corpus.melodies) if corpus.melodies else np.zeros(0, np.uint8)
    offsets = np.concatenate([[0], np.cumsum([len(m) for m in corpus.melodies])]).astype(np.int64)
    arrays = {"events": events, "offsets": offsets, "collection": corpus.collection.astype(np.uint8),
              "titles": corpus.titles.astype(str), "valid": corpus.is_valid,
              "collection_names": np.array(corpus.manifest["collection_order"], dtype=str)}
    atomic.write_with(npz_path, lambda tmp: np.savez_compressed(tmp, **arrays), suffix=".npz")
    atomic.write_json(npz_path.with_suffix(".json"), corpus.manifest)


def _load(npz_path: Path) -> Corpus:
    try:
        with np.load(npz_path, allow_pickle=False) as data:
            events, offsets = data["events"], data["offsets"]
            melodies = [events[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
            corpus = Corpus(melodies, data["collection"].copy(), data["titles"].copy(), data["valid"].copy(),
                            json.loads(npz_path.with_suffix(".json").read_text()), npz_path)
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise UserError(f"corpus cache {npz_path} is unreadable ({exc}); rebuild it with "
                        "`rllab corpus build --rebuild`") from None
    return corpus


def _parse_all(jobs: list[tuple[str, Path]], spec: TokenSpec, workers: int,
               on_file: Callable[[], None]) -> list[tuple[list[tuple[str, np.ndarray]], Counter]]:
    results: list[Any] = [None] * len(jobs)
    if workers <= 1:
        for i, (_, path) in enumerate(jobs):
            results[i] = parse_file(path, spec)
            on_file()
        return results
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(parse_file, path, spec): i for i, (_, path) in enumerate(jobs)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            on_file()
    return results


def build_corpus(collections: Iterable[str] | str | None = None, *, spec: TokenSpec = PAPER_SPEC,
                 valid_fraction: float = 0.1, seed: int = 0, limit_files: int | None = None,
                 workers: int | None = None, progress: bool = True) -> Corpus:
    """Parse and encode the collections (no cache involved); ``limit_files`` keeps the first N files of each."""
    import music21

    names = resolve_collections(collections)
    if not 0.0 <= valid_fraction < 1.0:
        raise UserError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
    jobs = [(name, path) for name in names for path in collection_files(name)[:limit_files]]
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    start = time.perf_counter()
    if progress:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        with Progress(TextColumn("encoding corpus"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
                      TimeRemainingColumn()) as bar:
            task = bar.add_task("files", total=len(jobs))
            results = _parse_all(jobs, spec, workers, lambda: bar.advance(task))
    else:
        results = _parse_all(jobs, spec, workers, lambda: None)

    parsed = [(name, found, stats) for (name, _), (found, stats) in zip(jobs, results, strict=True)]
    melodies, owners, titles, per_collection = collect_unique(names, parsed)
    is_valid = split_valid(len(melodies), valid_fraction, seed)
    histogram = np.bincount(np.concatenate(melodies), minlength=spec.num_classes) if melodies else \
        np.zeros(spec.num_classes, dtype=np.int64)
    lengths = np.array([len(m) for m in melodies])
    manifest = {
        "collection_order": list(names),
        "collections": {name: dict(per_collection[name]) for name in names},
        "melodies": len(melodies),
        "steps": int(lengths.sum()) if len(lengths) else 0,
        "train_melodies": int((~is_valid).sum()),
        "valid_melodies": int(is_valid.sum()),
        "train_steps": int(lengths[~is_valid].sum()) if len(lengths) else 0,
        "valid_steps": int(lengths[is_valid].sum()) if len(lengths) else 0,
        "class_histogram": histogram.tolist(),
        "spec": spec.to_dict(),
        "valid_fraction": valid_fraction,
        "seed": seed,
        "limit_files": limit_files,
        "encoder_version": ENCODER_VERSION,
        "music21": music21.__version__,
        "licences": {name: COLLECTIONS[name].licence for name in names},
        "build_seconds": round(time.perf_counter() - start, 2),
        "workers": workers,
    }
    return Corpus(melodies, np.array(owners, dtype=np.uint8), np.array(titles, dtype=str), is_valid, manifest)


def corpus_cache_path(collections: Iterable[str] | str | None = None, cache_dir: str | os.PathLike[str] | None = None,
                      *, spec: TokenSpec = PAPER_SPEC, valid_fraction: float = 0.1, seed: int = 0,
                      limit_files: int | None = None) -> Path:
    names = resolve_collections(collections)
    return cache_root(cache_dir) / "corpus" / (_cache_key(names, spec, valid_fraction, seed, limit_files) + ".npz")


def load_corpus(collections: Iterable[str] | str | None = None, cache_dir: str | os.PathLike[str] | None = None,
                progress: bool = True, *, rebuild: bool = False, spec: TokenSpec = PAPER_SPEC,
                valid_fraction: float = 0.1, seed: int = 0, limit_files: int | None = None,
                workers: int | None = None) -> Corpus:
    """The encoded corpus, from the cache when present (building and caching it otherwise)."""
    path = corpus_cache_path(collections, cache_dir, spec=spec, valid_fraction=valid_fraction, seed=seed,
                             limit_files=limit_files)
    if not rebuild and path.is_file() and path.with_suffix(".json").is_file():
        return _load(path)
    corpus = build_corpus(collections, spec=spec, valid_fraction=valid_fraction, seed=seed,
                          limit_files=limit_files, workers=workers, progress=progress)
    corpus.manifest["created"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    _save(corpus, path)
    corpus.path = path
    return corpus
