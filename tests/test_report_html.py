"""``report.html`` of the tutor and of ``rllab compose``: every file it points to is local and exists, and a headless
Chromium opens it from disk, draws it (screenshot) and loads every audio element (the page's own script counts
loaded and failed players; a page with a missing WAV shows the check can fail)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from rllab.envs.melody import RewardSpec
from rllab.lab.compose import compose
from rllab.lab.tutor.html import Page, render_clip, write_page, write_tutor_html
from rllab.lab.tutor.report import write_samples
from rllab.music.note_rnn import NoteRNN, save_note_rnn

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--mute-audio",
         "--disable-extensions", "--no-first-run"]


def chromium(*args: str) -> str:
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian package `chromium`; .ci/run installs it)")
    done = subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=120)
    return done.stdout


def audio_counts(page: Path) -> dict[str, int]:
    """Open the page from disk, let it load, and read the audio counters its script writes on <body>."""
    dom = chromium("--virtual-time-budget=15000", "--dump-dom", page.resolve().as_uri())
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    attrs = dict(re.findall(r'data-audio-(\w+)="(\d+)"', body.group(1)))
    return {k: int(v) for k, v in attrs.items()}


def local_references(page: Path) -> list[str]:
    text = page.read_text()
    assert "http://" not in text and "https://" not in text    # nothing from the network
    refs = re.findall(r'(?:src)="([^"]+)"', text)
    for ref in refs:
        assert (page.parent / ref).is_file(), ref
    return refs


@pytest.fixture(scope="module")
def tutor_page(tmp_path_factory) -> Path:
    """A tutor report directory: samples of a prior and a 'tuned' copy, then report.html."""
    out = tmp_path_factory.mktemp("tutor")
    torch.manual_seed(0)
    prior = NoteRNN(hidden_size=16).eval()
    tuned = NoteRNN(hidden_size=16).eval()
    rng = np.random.default_rng(0)
    rows = {}
    for method in ("note_rnn", "q"):
        write_samples(out / method, rng.integers(0, 38, size=(2, 32)).astype(np.uint8), 2, method)
        rows[method] = {"notes_not_in_key": 0.01, "distinct_4grams": 0.5, "log_p_mean": -1.5}
    return write_tutor_html(out, rows, {"note_rnn": "Note RNN", "q": "Q"},
                            ("notes_not_in_key", "distinct_4grams", "log_p_mean"), ["a target line"], prior=prior,
                            models={"q": tuned}, primers=None, reward=RewardSpec(), device="cpu", seed=0,
                            side_by_side=2, per_method=1)


def test_the_tutor_page_holds_the_table_the_side_by_side_grid_and_the_samples(tutor_page):
    text = tutor_page.read_text()
    refs = local_references(tutor_page)
    assert "distinct_4grams" in text and "50.00%" in text and "a target line" in text
    audio = [r for r in refs if r.endswith(".wav")]
    # 2 primers x 2 models side by side, then the first sample of each model
    assert len(audio) == 6 and len([r for r in audio if r.startswith("html/")]) == 4
    assert {"html/note_rnn_primer0.wav", "html/q_primer1.wav", "q/sample_000.wav"} <= set(audio)
    assert not (tutor_page.parent / "q" / "sample_001.wav").exists()


def test_chromium_draws_the_tutor_page_and_loads_every_audio_element(tutor_page, tmp_path):
    shot = tmp_path / "shot.png"
    chromium(f"--screenshot={shot}", "--window-size=1280,1600", tutor_page.resolve().as_uri())
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    counts = audio_counts(tutor_page)
    assert counts == {"total": 6, "loaded": 6, "failed": 0}


def test_the_check_fails_for_a_page_with_a_missing_wav(tmp_path):
    clip = render_clip(np.array([14, 1, 18, 1] * 8), tmp_path / "clips", "ok", tmp_path, "ok")
    missing = render_clip(np.array([21, 1, 1, 0] * 8), tmp_path / "clips", "gone", tmp_path, "gone")
    (tmp_path / "clips" / "gone.wav").unlink()
    page = write_page(tmp_path, Page("two clips", sections={"m": [clip, missing]}))
    assert audio_counts(page) == {"total": 2, "loaded": 1, "failed": 1}


def test_compose_writes_a_page_per_run_with_every_model_side_by_side(tmp_path):
    torch.manual_seed(0)
    models = [save_note_rnn(NoteRNN(hidden_size=8), tmp_path / name / "model.pt") for name in ("a", "b")]
    result = compose([p.parent for p in models], tmp_path / "out", n=3, bars=2, device="cpu", progress=False)
    refs = local_references(result.html)
    assert sorted(p.name for p in (tmp_path / "out" / "a").iterdir()) == [
        f"melody_{i:03d}.{ext}" for i in range(3) for ext in ("mid", "png", "wav")]
    # the grid (3 melodies x 2 models) and one section per model (3 each)
    assert len([r for r in refs if r.endswith(".wav")]) == 12
    assert result.tokens.shape == (3, 32) and "a (T=1, n=3, 32 steps)" in result.table.read_text()


def test_a_sample_without_a_note_is_listed_not_drawn(tmp_path):
    torch.manual_seed(0)
    model = NoteRNN(hidden_size=16).eval()
    write_samples(tmp_path / "q", np.full((1, 32), 1, dtype=np.uint8), 1, "q")   # NOTE_OFF throughout: silence
    page = write_tutor_html(tmp_path, {"q": {"notes_not_in_key": 0.0}}, {"q": "Q"}, ("notes_not_in_key",), [],
                            prior=model, models={"q": model}, primers=None, reward=RewardSpec(), device="cpu",
                            seed=0, side_by_side=1, per_method=1)
    text = page.read_text()
    assert "Q: 1 sample(s) without a note not shown (sample_000.mid)" in text
    assert "q/sample_000.wav" not in local_references(page)
