"""Token spec and MIDI I/O: the paper's encoding, exact round trips, polyphony, corrupt files, PNG and WAV."""

from __future__ import annotations

import wave

import numpy as np
import pretty_midi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rllab.core.errors import UserError
from rllab.music.midi import (
    MidiWarning,
    canonical_tokens,
    melody_notes,
    midi_to_tokens,
    piano_roll_figure,
    piano_roll_png,
    tokens_to_midi,
    tokens_to_wav,
)
from rllab.music.tokens import NO_EVENT, NOTE_OFF, PAPER_SPEC, TokenSpec, validate_tokens


def test_paper_spec_layout():
    assert (NOTE_OFF, NO_EVENT) == (0, 1)
    assert PAPER_SPEC.num_classes == 38
    assert PAPER_SPEC.token_to_pitch(2) == 48 and PAPER_SPEC.token_to_pitch(37) == 83
    assert PAPER_SPEC.pitch_to_token(60) == 14
    assert TokenSpec(min_pitch=60, max_pitch=72, steps_per_bar=12).num_classes == 14
    with pytest.raises(UserError):
        PAPER_SPEC.pitch_to_token(84)
    with pytest.raises(UserError):
        PAPER_SPEC.token_to_pitch(NO_EVENT)
    with pytest.raises(UserError):
        TokenSpec(min_pitch=70, max_pitch=60)


def test_paper_examples_are_written_at_the_right_pitch_and_time(tmp_path):
    # {4, 1, 0, 1}: an eighth-note D3 then an eighth rest; {2, 4, 6, 7}: sixteenths C3 D3 E3 F3 (paper section 5)
    tokens_to_midi([4, 1, 0, 1], tmp_path / "d3.mid")
    notes = pretty_midi.PrettyMIDI(str(tmp_path / "d3.mid")).instruments[0].notes
    assert [(n.pitch, round(n.start, 4), round(n.end, 4)) for n in notes] == [(50, 0.0, 0.375)]
    tokens_to_midi([2, 4, 6, 7], tmp_path / "scale.mid")
    pitches = [n.pitch for n in pretty_midi.PrettyMIDI(str(tmp_path / "scale.mid")).instruments[0].notes]
    assert pitches == [48, 50, 52, 53]
    assert melody_notes([14, 1, 1, 0, 16]) == [(60, 0, 3), (62, 4, 5)]


melody = st.lists(st.sampled_from([NOTE_OFF, NO_EVENT, NO_EVENT, 2, 14, 18, 21, 37]) | st.integers(0, 37),
                  min_size=1, max_size=80).filter(lambda m: max(m) >= 2)


@settings(max_examples=40, deadline=None)
@given(tokens=melody, qpm=st.sampled_from([60.0, 80.0, 133.0]))
def test_midi_round_trip_is_the_identity(tmp_path_factory, tokens, qpm):
    path = tmp_path_factory.mktemp("rt") / "m.mid"
    tokens_to_midi(tokens, path, qpm=qpm)
    decoded = midi_to_tokens(path)
    assert decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, canonical_tokens(tokens))
    np.testing.assert_array_equal(canonical_tokens(decoded), decoded)


def test_canonical_form_only_touches_redundant_note_offs():
    np.testing.assert_array_equal(canonical_tokens([0, 14, 0, 0, 1, 16]), [1, 14, 0, 1, 1, 16])


def test_polyphonic_input_is_reduced_to_its_top_line(tmp_path):
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    piano = pretty_midi.Instrument(0)
    step = 60 / 120 / 4
    piano.notes += [pretty_midi.Note(90, 60, 0, 4 * step), pretty_midi.Note(90, 64, 0, 2 * step),
                    pretty_midi.Note(90, 67, 4 * step, 6 * step)]
    pm.instruments.append(piano)
    drums = pretty_midi.Instrument(0, is_drum=True)
    drums.notes.append(pretty_midi.Note(90, 80, 0, step))
    pm.instruments.append(drums)
    pm.write(str(tmp_path / "poly.mid"))
    with pytest.warns(MidiWarning, match="top line"):
        tokens = midi_to_tokens(tmp_path / "poly.mid")
    np.testing.assert_array_equal(tokens, [18, 1, 14, 1, 21, 1])


def test_out_of_range_pitches_are_folded_by_octaves(tmp_path):
    pm = pretty_midi.PrettyMIDI(initial_tempo=80)
    piano = pretty_midi.Instrument(0)
    piano.notes.append(pretty_midi.Note(90, 96, 0, 0.1875))   # C7 -> C5
    pm.instruments.append(piano)
    pm.write(str(tmp_path / "high.mid"))
    with pytest.warns(MidiWarning, match="octaves"):
        assert midi_to_tokens(tmp_path / "high.mid").tolist() == [26]


def test_bad_midi_files_give_one_clear_error(tmp_path):
    (tmp_path / "junk.mid").write_bytes(b"this is not a midi file")
    with pytest.raises(UserError, match="not a readable MIDI file"):
        midi_to_tokens(tmp_path / "junk.mid")
    with pytest.raises(UserError, match="not found"):
        midi_to_tokens(tmp_path / "missing.mid")
    empty = pretty_midi.PrettyMIDI()
    empty.instruments.append(pretty_midi.Instrument(0))
    empty.write(str(tmp_path / "empty.mid"))
    with pytest.raises(UserError, match="no .*notes"):
        midi_to_tokens(tmp_path / "empty.mid")


@pytest.mark.parametrize(("tokens", "message"), [
    ([0, 38], "outside"), ([], "empty"), (np.array([0.5]), "integers"), ([-1], "outside"),
])
def test_token_validation(tokens, message):
    with pytest.raises(UserError, match=message):
        validate_tokens(tokens)
    with pytest.raises(UserError, match=message):
        tokens_to_midi(tokens, "unused.mid")


def test_piano_roll_labels_every_c_and_grids_the_bars():
    import matplotlib.pyplot as plt

    tokens = [PAPER_SPEC.pitch_to_token(p) for p in (50, 62, 74, 64)] + [NO_EVENT] * 28   # D3 .. D5, two bars
    fig = piano_roll_figure(tokens)
    ax = fig.axes[0]
    labels = {tick.get_text(): pos for tick, pos in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True)}
    assert list(labels) == ["C3", "C4", "C5"]                      # every C in range, named like MIDI 60 = C4
    assert labels["C4"] == 60.5                                     # centred on the C4 row
    low, high = ax.get_ylim()
    assert low <= 48 and high > 74                                  # the range reaches down to a C
    vertical = sorted({line.get_xdata()[0] for line in ax.get_lines() if line.get_xdata()[0] == line.get_xdata()[1]})
    assert {0, 16, 32} <= set(vertical) and 4 in vertical           # bar lines, and fainter beat lines
    plt.close(fig)

    fig = piano_roll_figure([PAPER_SPEC.pitch_to_token(64), NO_EVENT])   # E4 alone still gets a labelled C
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["C4"]
    plt.close(fig)


def test_piano_roll_and_wav(tmp_path):
    tokens = [14, 1, 16, 1, 18, 0, 1, 1, 21, 1, 1, 1]
    png = piano_roll_png(tokens, tmp_path / "roll.png", title="test")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    wav = tokens_to_wav(tokens, tmp_path / "m.wav", fs=8000)
    with wave.open(str(wav)) as audio:
        assert audio.getnchannels() == 1 and audio.getframerate() == 8000
        assert audio.getnframes() >= 8000 * 12 * 0.1875 * 0.9   # 12 steps at 80 QPM
    with pytest.raises(UserError, match="soundfont not found"):
        tokens_to_wav(tokens, tmp_path / "x.wav", soundfont=tmp_path / "none.sf2")
