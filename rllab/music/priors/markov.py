"""An IDyOM-style variable-order Markov prior on the 38-class step tokens.

Each step's distribution is split into *when* and *what* (two viewpoints, as IDyOM predicts onset and pitch
separately)::

    p(NO_EVENT)          = r(hold | rhythm context)
    p(x), x an onset     = r(onset | rhythm context) * q(x | pitch context)

* the **rhythm** context of order k is the bar position of the step and the hold / onset / start flags of the
  last k steps (so order 16 sees one bar of rhythm);
* the **pitch** context of order k is a metric weight of the step (downbeat, beat, eighth, other; configurable)
  and the last k onset tokens (pitches and rests), however long ago they sounded.

Each viewpoint has two models, as in IDyOM (Pearce & Wiggins 2004; Pearce 2005): a **long-term** model counted
on the training melodies and a **short-term** model counted on the melody being predicted, up to the step before.
Within a model the orders are blended by interpolated PPM (escape method C, or AX), from a uniform order -1 up
to the longest context; the two models are combined by an entropy-weighted mean (weights
``(H / H_max) ** -bias``, arithmetic or geometric), so the more certain model counts more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from rllab.core.errors import UserError, choices_hint
from rllab.music.priors.base import HistoryPrior, onset_flags, onset_symbol_mask
from rllab.music.tokens import NO_EVENT, TokenSpec

PITCH_POSITIONS = ("none", "beat", "bar")
ESCAPES = ("c", "ax")
COMPONENTS = ("both", "ltm", "stm")
COMBINES = ("geometric", "arithmetic")


@dataclass
class MarkovConfig:
    """The model's settings; the defaults (= ``rllab/presets/prior/markov.yaml``) were chosen on a tuning split of
    the training melodies (:mod:`rllab.lab.bench.markov_tuning`)."""

    rhythm_orders: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 24, 32])
    pitch_orders: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4, 5, 6])
    pitch_position: str = "beat"
    escape: str = "c"
    exclusion: bool = True
    components: str = "both"
    combine: str = "arithmetic"
    ltm_weight: float = 0.8
    rhythm_bias: float = 0.25
    pitch_bias: float = 1.0

    def __post_init__(self) -> None:
        self.rhythm_orders = sorted({int(k) for k in self.rhythm_orders})
        self.pitch_orders = sorted({int(k) for k in self.pitch_orders})
        if not self.rhythm_orders or self.rhythm_orders[0] < 0 or self.rhythm_orders[-1] > 32:
            raise UserError(f"rhythm_orders must lie in 0..32, got {self.rhythm_orders}")
        if not self.pitch_orders or self.pitch_orders[0] < 0 or self.pitch_orders[-1] > 8:
            raise UserError(f"pitch_orders must lie in 0..8, got {self.pitch_orders}")
        for name, value, valid in (("pitch_position", self.pitch_position, PITCH_POSITIONS),
                                   ("escape", self.escape, ESCAPES), ("components", self.components, COMPONENTS),
                                   ("combine", self.combine, COMBINES)):
            if value not in valid:
                raise UserError(f"unknown Markov {name} {value!r}; {choices_hint(valid)}")
        if not (self.rhythm_bias >= 0 and self.pitch_bias >= 0 and 0 < self.ltm_weight < 1):
            raise UserError(f"Markov biases must be >= 0 and ltm_weight in (0, 1), got {self.rhythm_bias}, "
                            f"{self.pitch_bias}, {self.ltm_weight}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Contexts:
    """Context codes of every prediction in a history ``[B, L]``: rhythm ``[R, B, L]`` and pitch ``[P, B, L]``."""

    def __init__(self, history: torch.Tensor, offset: torch.Tensor, spec: TokenSpec, config: MarkovConfig):
        bos = spec.num_classes
        batch, length = history.shape
        device = history.device
        steps = spec.steps_per_bar
        pos = (offset[:, None] + torch.arange(length, device=device)) % steps
        flags = onset_flags(history, bos)
        # rhythm: bar position + base-3 flags of the last k inputs (2 = start, also before the first input)
        self.rhythm = []
        code = torch.zeros(batch, length, dtype=torch.long, device=device)
        wanted = set(config.rhythm_orders)
        for k in range(config.rhythm_orders[-1] + 1):
            if k in wanted:
                self.rhythm.append(pos + steps * code)
            shifted = torch.full_like(flags, 2)
            if k < length:
                shifted[:, k:] = flags[:, :length - k]
            code = code + shifted * 3 ** k
        # pitch: metric weight + the last k onset tokens (bos = start)
        weight = {"none": torch.zeros_like(pos), "bar": pos,
                  "beat": torch.where(pos == 0, 0, torch.where(pos % max(steps // 4, 1) == 0, 1,
                                                               torch.where(pos % 2 == 0, 2, 3)))}
        self.pitch_weights = {"none": 1, "bar": steps, "beat": 4}[config.pitch_position]
        weight = weight[config.pitch_position]
        is_onset = flags == 1
        count = is_onset.long().cumsum(1)                     # onsets among inputs 0..i
        ordered = torch.full((batch, length + 1), bos, dtype=torch.long, device=device)
        ordered.scatter_(1, torch.where(is_onset, count - 1, length), history)
        ordered = ordered[:, :length]
        self.pitch = []
        code = torch.zeros(batch, length, dtype=torch.long, device=device)
        wanted = set(config.pitch_orders)
        for k in range(config.pitch_orders[-1] + 1):
            if k in wanted:
                self.pitch.append(weight + self.pitch_weights * code)
            index = count - 1 - k
            token = torch.where(index >= 0, ordered.gather(1, index.clamp(min=0)), bos)
            code = code + token * (bos + 1) ** k


def _ppm(counts: Sequence[torch.Tensor], uniform: torch.Tensor, escape: str) -> torch.Tensor:
    """Interpolated PPM over orders (lowest first): p_k = (c + e p_{k-1}) / (T + e), unseen contexts pass p on."""
    probs = uniform.expand_as(counts[0]).clone()
    for c in counts:
        total = c.sum(-1, keepdim=True)
        if escape == "c":
            esc = (c > 0).sum(-1, keepdim=True).to(c.dtype)
        else:  # ax: singletons + 1
            esc = (c == 1).sum(-1, keepdim=True).to(c.dtype) + 1.0
        blended = (c + esc * probs) / (total + esc).clamp(min=1e-12)
        probs = torch.where(total > 0, blended, probs)
    return probs


def _combine(dists: list[torch.Tensor], base: list[float], mask: torch.Tensor, bias: float,
             geometric: bool) -> torch.Tensor:
    """Entropy-weighted mean of distributions ``[N, A]``: weights ``base * (H / H_max) ** -bias``."""
    if len(dists) == 1:
        return dists[0]
    h_max = math.log(int(mask.sum()))
    weights = []
    for p, w in zip(dists, base, strict=True):
        entropy = -(p * p.clamp(min=1e-300).log()).sum(-1, keepdim=True)
        weights.append(w * (entropy / h_max).clamp(min=1e-6) ** (-bias))
    total = sum(weights)
    if geometric:
        log_mix = sum(w * p.clamp(min=1e-300).log() for w, p in zip(weights, dists, strict=True)) / total
        log_mix = torch.where(mask, log_mix, -math.inf)
        return torch.softmax(log_mix, -1)
    return sum(w * p for w, p in zip(weights, dists, strict=True)) / total


class MarkovPrior(HistoryPrior):
    """The blended long-term + short-term variable-order model (see the module docstring)."""

    kind = "markov"

    def __init__(self, spec: TokenSpec, config: MarkovConfig, tables: dict[str, torch.Tensor] | None = None):
        super().__init__(spec)
        self.markov = config
        self.config["markov"] = config.to_dict()
        for name, tensor in (tables or {}).items():
            self.register_buffer(name, tensor)
        if config.components != "stm":
            missing = [n for n in self.table_names() if not hasattr(self, n)]
            if missing:
                raise UserError(f"the Markov prior's long-term tables are missing ({', '.join(missing[:3])} ...)")

    def table_names(self) -> list[str]:
        names = []
        for i in range(len(self.markov.rhythm_orders)):
            names += [f"r{i}_keys", f"r{i}_counts"]
        for i in range(len(self.markov.pitch_orders)):
            names += [f"p{i}_keys", f"p{i}_ptr", f"p{i}_syms", f"p{i}_counts"]
        return names

    def tables(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name) for name in self.table_names() if hasattr(self, name)}

    # -- long-term lookups ----------------------------------------------------------------------------------------
    def _rhythm_counts(self, i: int, ctx: torch.Tensor) -> torch.Tensor:
        keys, table = getattr(self, f"r{i}_keys"), getattr(self, f"r{i}_counts")
        out = torch.zeros(*ctx.shape, 2, dtype=torch.float64, device=ctx.device)
        if keys.numel() == 0:
            return out
        ctx = ctx.contiguous()
        idx = torch.searchsorted(keys, ctx).clamp(max=keys.numel() - 1)
        found = keys[idx] == ctx
        out[found] = table[idx[found]].double()
        return out

    def _pitch_counts(self, i: int, ctx: torch.Tensor) -> torch.Tensor:
        keys, ptr = getattr(self, f"p{i}_keys"), getattr(self, f"p{i}_ptr")
        syms, counts = getattr(self, f"p{i}_syms"), getattr(self, f"p{i}_counts")
        flat = ctx.reshape(-1).contiguous()
        out = torch.zeros(flat.numel(), self.num_classes, dtype=torch.float64, device=ctx.device)
        if keys.numel():
            idx = torch.searchsorted(keys, flat).clamp(max=keys.numel() - 1)
            rows = torch.nonzero(keys[idx] == flat)[:, 0]
            first, lengths = ptr[idx[rows]], ptr[idx[rows] + 1] - ptr[idx[rows]]
            owner = torch.repeat_interleave(torch.arange(rows.numel(), device=ctx.device), lengths)
            offset = torch.arange(owner.numel(), device=ctx.device) - (lengths.cumsum(0) - lengths)[owner]
            entry = first[owner] + offset
            out[rows[owner], syms[entry].long()] = counts[entry].double()
        return out.reshape(*ctx.shape, self.num_classes)

    # -- short-term counts ----------------------------------------------------------------------------------------
    @staticmethod
    def _within(ctx: torch.Tensor, targets: torch.Tensor, usable: torch.Tensor, start: int,
                classes: int) -> torch.Tensor:
        """Counts ``[B, Lq, A]`` of each target among the earlier predictions of the same row with the same context.

        Prediction j (context ``ctx[:, j]``, target ``targets[:, j]``) is known once input j + 1 is, i.e. for every
        query i > j.
        """
        length = ctx.shape[1]
        query = ctx[:, start:]
        same = query[:, :, None] == ctx[:, None, :]
        steps = torch.arange(length, device=ctx.device)
        earlier = steps[None, :] < steps[start:, None]
        same = same & earlier[None] & usable[:, None, :]
        onehot = torch.nn.functional.one_hot(torch.where(usable, targets, 0), classes).float() * usable[..., None]
        return torch.bmm(same.float(), onehot).double()

    # -- the distribution -----------------------------------------------------------------------------------------
    def log_probs(self, history: torch.Tensor, start: int, offset: torch.Tensor) -> torch.Tensor:
        cfg = self.markov
        ctx = Contexts(history, offset, self.spec, cfg)
        device = history.device
        onset_mask = onset_symbol_mask(self.num_classes, device)
        # targets of each prediction, known for j + 1 < L (and not the start token)
        nxt = torch.full_like(history, -1)
        nxt[:, :-1] = history[:, 1:]
        known = (nxt >= 0) & (nxt != self.bos_token)
        rhythm_target = torch.where(known, (nxt != NO_EVENT).long(), -1)
        pitch_usable = known & (nxt != NO_EVENT)
        use_ltm, use_stm = cfg.components in ("both", "ltm"), cfg.components in ("both", "stm")
        geometric = cfg.combine == "geometric"

        rhythm_models, pitch_models = [], []
        uniform_r = torch.full((2,), 0.5, dtype=torch.float64, device=device)
        uniform_p = onset_mask.double() / onset_mask.sum()
        if use_ltm:
            rhythm_models.append(_ppm([self._rhythm_counts(i, c[:, start:]) for i, c in enumerate(ctx.rhythm)],
                                      uniform_r, cfg.escape))
            pitch_models.append(_ppm([self._pitch_counts(i, c[:, start:]) for i, c in enumerate(ctx.pitch)],
                                     uniform_p, cfg.escape))
        if use_stm:
            rhythm_models.append(_ppm([self._within(c, rhythm_target, known, start, 2) for c in ctx.rhythm],
                                      uniform_r, cfg.escape))
            pitch_models.append(_ppm([self._within(c, nxt, pitch_usable, start, self.num_classes) for c in ctx.pitch],
                                     uniform_p, cfg.escape))
        base = [cfg.ltm_weight, 1.0 - cfg.ltm_weight]
        rhythm = _combine(rhythm_models, base, torch.ones(2, dtype=torch.bool, device=device), cfg.rhythm_bias,
                          geometric)
        pitch = _combine(pitch_models, base, onset_mask, cfg.pitch_bias, geometric)
        log_r = rhythm.clamp(min=1e-300).log()
        out = pitch.clamp(min=1e-300).log() + log_r[..., 1:2]
        out[..., NO_EVENT] = log_r[..., 0]
        return out.float()


# -- counting the long-term model ---------------------------------------------------------------------------------

def _table(keys: torch.Tensor, symbols: torch.Tensor, alphabet: int) -> tuple[torch.Tensor, torch.Tensor,
                                                                            torch.Tensor, torch.Tensor]:
    """Sorted unique contexts, CSR pointers, symbols and counts of the (context, symbol) pairs."""
    pairs, counts = torch.unique(keys * alphabet + symbols, return_counts=True)
    ctx, sym = pairs // alphabet, pairs % alphabet
    unique_ctx, per_ctx = torch.unique_consecutive(ctx, return_counts=True)
    ptr = torch.cat([torch.zeros(1, dtype=torch.long), per_ctx.cumsum(0)])
    return unique_ctx, ptr, sym, counts.int()


def fit_markov(melodies: Sequence[np.ndarray], spec: TokenSpec, config: MarkovConfig | None = None,
               chunk_tokens: int = 400_000) -> MarkovPrior:
    """Count the long-term model on ``melodies`` (a second or so per 100k steps)."""
    config = config or MarkovConfig()
    if not melodies:
        raise UserError("the training corpus is empty")
    bos = spec.num_classes
    order = sorted(range(len(melodies)), key=lambda i: len(melodies[i]))
    rhythm: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in config.rhythm_orders]
    pitch: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in config.pitch_orders]
    for chunk in _chunks([melodies[k] for k in order], chunk_tokens):
        width = max(len(m) for m in chunk)
        targets = torch.full((len(chunk), width), -1, dtype=torch.long)
        for row, melody in enumerate(chunk):
            targets[row, :len(melody)] = torch.from_numpy(np.asarray(melody, dtype=np.int64))
        previous = torch.where(targets[:, :-1] >= 0, targets[:, :-1], NO_EVENT)
        inputs = torch.cat([torch.full((len(chunk), 1), bos), previous], dim=1)
        ctx = Contexts(inputs, torch.zeros(len(chunk), dtype=torch.long), spec, config)
        valid = targets >= 0
        onset = valid & (targets != NO_EVENT)
        for k, c in enumerate(ctx.rhythm):
            rhythm[k].append((c[valid], (targets[valid] != NO_EVENT).long()))
        for k, c in enumerate(ctx.pitch):
            pitch[k].append((c[onset], targets[onset]))
    tables: dict[str, torch.Tensor] = {}
    for k, (ctx, sym) in enumerate(_merge(rhythm, config.exclusion)):
        keys, ptr, sym, counts = _table(ctx, sym, 2)
        dense = torch.zeros(len(keys), 2, dtype=torch.int32)
        owner = torch.repeat_interleave(torch.arange(len(keys)), ptr[1:] - ptr[:-1])
        dense[owner, sym] = counts
        tables[f"r{k}_keys"], tables[f"r{k}_counts"] = keys, dense
    for k, (ctx, sym) in enumerate(_merge(pitch, config.exclusion)):
        keys, ptr, sym, counts = _table(ctx, sym, spec.num_classes)
        tables[f"p{k}_keys"], tables[f"p{k}_ptr"] = keys, ptr
        tables[f"p{k}_syms"], tables[f"p{k}_counts"] = sym.to(torch.uint8), counts
    return MarkovPrior(spec, config, tables)


def _merge(orders: list[list[tuple[torch.Tensor, torch.Tensor]]], exclusion: bool
           ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per order, the (context, symbol) events to count. With ``exclusion`` every order but the highest counts
    each (context, symbol) once per distinct next-higher context it was seen in (update exclusion, which for
    counts collected in one pass is Kneser-Ney's continuation count)."""
    merged = [(torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])) for parts in orders]
    if not exclusion:
        return merged
    out = [merged[-1]]
    for k in range(len(merged) - 2, -1, -1):
        (low, sym), (high, _) = merged[k], merged[k + 1]
        alphabet = int(sym.max()) + 1 if sym.numel() else 1
        _, first = _first_index(high * alphabet + sym)
        out.append((low[first], sym[first]))
    return out[::-1]


def _first_index(keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unique keys and the index of one occurrence of each."""
    unique, inverse = torch.unique(keys, return_inverse=True)
    first = torch.full((len(unique),), len(keys), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(len(keys)), reduce="amin")
    return unique, first


def _chunks(melodies: list[np.ndarray], budget: int) -> list[list[np.ndarray]]:
    """Consecutive groups of (length-sorted) melodies whose padded size stays within ``budget`` steps."""
    groups: list[list[np.ndarray]] = [[]]
    for melody in melodies:
        if groups[-1] and (len(groups[-1]) + 1) * len(melody) > budget:
            groups.append([])
        groups[-1].append(melody)
    return groups
