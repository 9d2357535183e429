"""Every shell command and Python block in README.md and docs/*.md runs as written, at a tiny budget.

The docs drifted from the code once (a crashing snippet, a renamed folder); running them keeps them honest. A block
is annotated by the HTML comment just above its fence, invisible when the markdown is rendered::

    <!-- doc-test
    replace: --steps 50000 => --steps 256 --set eval.freq=0
    skip-line: gnugo => needs GNU Go
    -->

- ``run``: run the block as written (it is cheap).
- ``slow``: even small, the block takes over ten seconds: it runs with the ``slow`` tests.
- ``replace: OLD => NEW``: substitute text in the block before running it (the budget overrides); OLD must occur.
- ``skip-line: REGEX => REASON``: do not run the commands the regular expression matches.
- ``setup: COMMAND``: run this ``rllab`` command first (what the block expects a reader to have done before).
- ``skip: REASON``: do not run the block at all (installs, GPUs, hours of compute).

One directive fits on one line: ``<!-- doc-test: skip: installs packages -->``. A block without an annotation
runs only when every command in it is cheap (``--help``, ``--dry-run``, listings); any other block fails the
catalogue test until it is annotated, so new docs cannot silently rot. Shell lines run in-process through the
``rllab`` entry point, in a scratch directory with a private ``$RLLAB_CACHE`` holding a tiny melody corpus and the
tiny presets of :data:`TINY_FILES`.
"""

from __future__ import annotations

import io
import re
import shlex
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml
from cli_helpers import run_main

from rllab.envs.mario.env import mario_available
from rllab.music.corpus import Corpus, _save, corpus_cache_path
from rllab.music.midi import tokens_to_midi
from rllab.music.tokens import NO_EVENT, PAPER_SPEC

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_LANGS = {"bash", "sh", "shell"}
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
ANNOTATION = re.compile(r"<!--\s*doc-test(?::|\s)(.*?)-->", re.S)
#: Commands cheap enough to run without an annotation.
CHEAP = (re.compile(r"^rllab (envs|presets)( |$)"), re.compile(r"(^| )(--help|--dry-run)( |$)"))
#: Files the annotations may name: budgets small enough for a test, written into the scratch directory.
TINY_FILES = {
    "tiny-tutor.yaml": {
        "note_rnn": {"preset": "fast", "hidden_size": 16, "steps": 30, "batch_size": 8, "seq_len": 16,
                     "eval_every": 30, "checkpoint_every": 30},
        "tuner": {"steps": 512, "eval_every": 512, "checkpoint_every": 512},
        "eval": {"compositions": 16, "samples": 1}},
}


@dataclass
class Block:
    """One fenced code block and the doc-test directives above it."""

    path: Path
    line: int
    lang: str
    text: str
    annotated: bool = False
    slow: bool = False
    skip: str | None = None
    replace: list[tuple[str, str]] = field(default_factory=list)
    skip_lines: list[tuple[str, str]] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def source(self) -> str:
        """The block's text with the ``replace`` directives applied (each must match, or the doc changed)."""
        text = self.text
        for old, new in self.replace:
            assert old in text, f"{self.name}: 'replace: {old}' matches nothing; update the annotation"
            text = text.replace(old, new)
        return text


def parse_directives(block: Block, body: str) -> None:
    """Fill ``block`` from an annotation's body; a malformed directive is an error, not a silent no-op."""
    block.annotated = True
    for raw in body.strip().splitlines():
        line = raw.strip()
        if not line:
            continue
        key, _, value = line.partition(":")
        value = value.strip()
        if key == "run" and not value:
            continue
        if key == "slow" and not value:
            block.slow = True
        elif key == "skip" and value:
            block.skip = value
        elif key == "setup" and value:
            block.setup.append(value)
        elif key == "replace" and " => " in value:
            old, new = (part.strip() for part in value.split(" => ", 1))
            block.replace.append((old, new))
        elif key == "skip-line" and " => " in value and value.split(" => ", 1)[1].strip():
            pattern, reason = (part.strip() for part in value.split(" => ", 1))
            block.skip_lines.append((pattern, reason))
        else:
            raise ValueError(f"{block.path.name}: bad doc-test directive {line!r}")


def parse_blocks(path: Path) -> list[Block]:
    """The fenced blocks of one markdown file, each with the annotation comment just above it, if any."""
    lines = path.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start, end = i, i + 1
        while end < len(lines) and not FENCE.match(lines[end]):
            end += 1
        block = Block(path, start + 1, match.group(2).lower(), textwrap.dedent("\n".join(lines[start + 1:end])))
        above = "\n".join(lines[:start]).rstrip()
        if above.endswith("-->"):
            comment = above[above.rfind("<!--"):]
            found = ANNOTATION.fullmatch(comment)
            if found:
                parse_directives(block, found.group(1))
        blocks.append(block)
        i = end + 1
    return blocks


def shell_commands(text: str) -> list[str]:
    """Logical command lines: continuations joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    commands = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            commands.append(shlex.join(words))
    return commands


def is_cheap(command: str) -> bool:
    return any(p.search(command) for p in CHEAP)


def is_runnable(block: Block) -> bool:
    """Annotated and not skipped, or an un-annotated shell block of cheap commands only."""
    if block.lang not in SHELL_LANGS | {"python"} or block.skip is not None:
        return False
    return block.annotated or (block.lang in SHELL_LANGS and all(map(is_cheap, shell_commands(block.text))))


BLOCKS = [block for path in DOCS for block in parse_blocks(path)]
RUNNABLE = [b for b in BLOCKS if is_runnable(b)]


def test_every_block_is_annotated_or_cheap():
    """A new expensive snippet must say how to run it small (or why it cannot run): the docs cannot rot quietly."""
    problems = []
    for block in BLOCKS:
        if block.lang == "" and any(line.startswith("rllab ") for line in block.text.splitlines()):
            problems.append(f"{block.name}: a block of rllab commands needs a language (```bash) to be tested")
        if block.annotated and block.lang not in SHELL_LANGS | {"python"}:
            problems.append(f"{block.name}: doc-test annotation on a {block.lang or 'plain'} block")
        if block.lang in SHELL_LANGS and not block.annotated:
            costly = [c for c in shell_commands(block.text) if not is_cheap(c)]
            if costly:
                problems.append(f"{block.name}: annotate it (replace/skip-line/skip), not cheap: {costly[0]}")
        if block.lang == "python" and not block.annotated:
            problems.append(f"{block.name}: annotate the Python block (run, replace or skip)")
    assert not problems, "\n".join(problems)
    assert len(RUNNABLE) >= 15


def test_the_annotation_grammar(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("<!-- doc-test\nslow\nreplace: --steps 9 => --steps 1\nskip-line: gnugo => needs GNU Go\n-->\n"
                   "```bash\nrllab train X --steps 9\n```\n\n```bash\nrllab train X\n```\n\n```bash\nrllab envs\n```\n")
    annotated, bare, cheap = parse_blocks(doc)
    assert annotated.slow and annotated.source() == "rllab train X --steps 1"
    assert annotated.skip_lines == [("gnugo", "needs GNU Go")]
    assert [is_runnable(b) for b in (annotated, bare, cheap)] == [True, False, True]
    doc.write_text("<!-- doc-test: skip-line: gnugo -->\n```bash\nrllab x\n```\n")   # a skip needs its reason
    with pytest.raises(ValueError, match="bad doc-test directive"):
        parse_blocks(doc)


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A scratch working directory with a private cache holding a 40-melody corpus, and the tiny presets."""
    monkeypatch.setenv("RLLAB_CACHE", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    rng = np.random.default_rng(0)
    melodies = [np.array([t for p in rng.choice([14, 16, 18, 19, 21], size=32) for t in (p, NO_EVENT)],
                         dtype=np.uint8) for _ in range(40)]
    steps = 64 * 40
    manifest = {"collection_order": ["oneills"], "collections": {"oneills": {"melodies": 40, "steps": steps}},
                "melodies": 40, "steps": steps, "train_melodies": 30, "valid_melodies": 10, "train_steps": 64 * 30,
                "valid_steps": 64 * 10, "spec": PAPER_SPEC.to_dict(),
                "class_histogram": np.bincount(np.concatenate(melodies), minlength=PAPER_SPEC.num_classes).tolist()}
    corpus = Corpus(melodies, np.zeros(40, np.uint8), np.array(["t"] * 40), np.arange(40) >= 30, manifest)
    for collection in ("default", "essen"):
        _save(corpus, corpus_cache_path(collection))
    tokens_to_midi(melodies[0][:32], work / "tune.mid")   # the user's own tune that `rllab compose --primer` continues
    for name, content in TINY_FILES.items():
        (work / name).write_text(yaml.safe_dump(content))
    monkeypatch.setattr(sys, "stdin", io.StringIO("quit\n"))   # `rllab gtp` reads commands from stdin
    return work


def run_shell(block: Block, capsys) -> int:
    """Run a shell block's ``rllab`` and ``python -c`` lines in order; any other command must be skipped."""
    ran = 0
    for command in shell_commands(block.source()):
        if any(re.search(pattern, command) for pattern, _ in block.skip_lines):
            continue
        words = shlex.split(command)
        if words[:3] == ["nice", "-n", "10"]:
            words = words[3:]
        if words[0] == "rllab":
            status = run_main(words[1:])
            output = capsys.readouterr()
            assert status == 0, f"{block.name}: `{command}` exited {status}\n{output.out[-3000:]}\n{output.err}"
        elif words[:2] == ["python", "-c"] and len(words) == 3:
            exec(compile(words[2], block.name, "exec"), {"__name__": "__doc_snippet__"})
        else:
            raise AssertionError(f"{block.name}: cannot run `{command}`; add a skip-line directive with the reason")
        ran += 1
    return ran


def marks(block: Block) -> list[pytest.MarkDecorator]:
    """``slow`` as annotated; Mario blocks need the emulator (in CI, where skips fail, it is installed)."""
    found = [pytest.mark.slow] if block.slow else []
    if "mario" in block.text.lower():
        found += [pytest.mark.mario, pytest.mark.skipif(not mario_available(), reason="needs `rllab setup mario`")]
    return found


@pytest.mark.parametrize("block", [pytest.param(b, id=b.name, marks=marks(b)) for b in RUNNABLE])
def test_snippet_runs(block, workspace, capsys):
    for command in block.setup:
        status = run_main(shlex.split(command)[1:])
        assert status == 0, f"{block.name}: setup `{command}` exited {status}\n{capsys.readouterr().err}"
    if block.lang == "python":
        exec(compile(block.source(), block.name, "exec"), {"__name__": "__doc_snippet__"})
    else:
        assert run_shell(block, capsys) > 0, f"{block.name}: every command is skipped; use `skip: reason`"
