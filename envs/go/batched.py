"""Many games of Go at once in torch tensors (CPU or CUDA), same rules as :mod:`envs.go.engine`.

Each point carries a colour and a group label (the index of one of the group's stones; N² = none). A move merges
the neighbouring own groups by relabelling, captures the neighbouring opponent groups whose only liberty it was,
and then one pass of gathers recounts every group's liberties, from which the legal masks of all games follow:
an empty point is legal if it has an empty neighbour, an own neighbour group with >= 2 liberties or an opponent
neighbour group with exactly 1, and it is not the ko point. Positional superko uses a Zobrist-style hash (a sum
of random 62-bit values, so a capture is subtracted in one reduction) checked against each game's own history.
Everything is tensor ops over the batch; there is no Python loop over games.
"""

from __future__ import annotations

import torch

from rllab.core.errors import UserError
from rllab.envs.go.engine import default_komi, geometry

EMPTY, BLACK_C, WHITE_C, EDGE = 0, 1, 2, 3


class BatchedGo:
    """``batch`` independent games on one board size. Colours: 1 black, 2 white; ``to_play`` is 0/1."""

    def __init__(self, batch: int, size: int = 9, komi: float | None = None, max_moves: int | None = None,
                 device: str | torch.device = "cpu", seed: int = 0):
        if not isinstance(batch, int) or batch < 1:
            raise UserError(f"batch must be a positive integer, got {batch!r}")
        geo = geometry(size)
        self.size, self.points, self.batch = geo.size, geo.points, batch
        self.komi = float(default_komi(size) if komi is None else komi)
        self.max_moves = 2 * self.points if max_moves is None else int(max_moves)
        self.device = torch.device(device)
        p = self.points
        nbr = torch.full((p + 1, 4), p, dtype=torch.long)
        for i, ns in enumerate(geo.neighbours):
            nbr[i, :len(ns)] = torch.tensor(ns, dtype=torch.long)
        self._nbr = nbr.to(self.device)                        # (P+1, 4); row P (pass/none) = all sentinel
        self._nbr_flat = self._nbr[:p].reshape(1, -1).expand(batch, -1)
        gen = torch.Generator().manual_seed(seed)
        zob = torch.randint(1, 2**62, (3, p), generator=gen, dtype=torch.long)
        zob[EMPTY] = 0
        self._zobrist = zob.to(self.device)
        self._arange_p = torch.arange(p, device=self.device)
        self._identity = torch.arange(p + 1, device=self.device).expand(batch, -1).contiguous()
        self._rows = torch.arange(batch, device=self.device)
        self.reset()

    # -- state ---------------------------------------------------------------------------------------------------
    def reset(self, games: torch.Tensor | None = None) -> None:
        """Start new games: all of them, or those selected by a boolean/index tensor."""
        b, p, dev = self.batch, self.points, self.device
        if games is None:
            self.color = torch.zeros((b, p + 1), dtype=torch.int8, device=dev)
            self.mask = torch.ones((b, p + 1), dtype=torch.bool, device=dev)
            self.color[:, p] = EDGE
            self.labels = torch.full((b, p + 1), p, dtype=torch.long, device=dev)
            self.to_play = torch.zeros(b, dtype=torch.long, device=dev)
            self.ko = torch.full((b,), p, dtype=torch.long, device=dev)
            self.moves = torch.zeros(b, dtype=torch.long, device=dev)
            self.passes = torch.zeros(b, dtype=torch.long, device=dev)
            self.done = torch.zeros(b, dtype=torch.bool, device=dev)
            self.superko = torch.zeros(b, dtype=torch.bool, device=dev)
            self.history = torch.zeros((b, self.max_moves + 1), dtype=torch.long, device=dev)
            self.hashes = torch.zeros(b, dtype=torch.long, device=dev)
            self._refresh()
        else:
            idx = games.nonzero().squeeze(1) if games.dtype == torch.bool else games
            self.color[idx, :p] = EMPTY
            self.labels[idx] = p
            for t in (self.to_play, self.moves, self.passes, self.history, self.hashes, self.libs):
                t[idx] = 0
            self.ko[idx] = p
            self.done[idx] = False
            self.superko[idx] = False
            self.mask[idx] = True  # on an empty board every point is legal

    def reset_done(self) -> int:
        """Restart the finished games; returns how many were restarted."""
        finished = self.done.nonzero().squeeze(1)
        if len(finished):
            self.reset(finished)
        return len(finished)

    def _neighbour(self, values: torch.Tensor) -> torch.Tensor:
        """(B, P+1) per-point values -> (B, P, 4) values of each point's neighbours (sentinel column for edges)."""
        return values.gather(1, self._nbr_flat).view(self.batch, self.points, 4)

    def _refresh(self) -> None:
        """Recount liberties per group and rebuild the legal masks of the side to move."""
        p = self.points
        color = self.color[:, :p]
        empty = color == EMPTY
        nlab = self._neighbour(self.labels)                               # labels around each point
        d0, d1, d2, d3 = nlab.unbind(-1)
        distinct = torch.stack((empty, empty & (d1 != d0), empty & (d2 != d0) & (d2 != d1),
                                empty & (d3 != d0) & (d3 != d1) & (d3 != d2)), -1)
        libs = torch.zeros((self.batch, p + 1), dtype=torch.int16, device=self.device)
        libs.scatter_add_(1, nlab.view(self.batch, -1), distinct.view(self.batch, -1).to(torch.int16))
        libs[:, p] = 0
        self.libs = libs
        # Per point: would a stone of the side to move placed next to it be fine because of it?
        point_libs = libs.gather(1, self.labels)
        me = (self.to_play + 1).view(-1, 1)
        helps = (self.color == EMPTY) | torch.where(self.color == me, point_libs >= 2,
                                                    (self.color == 3 - me) & (point_libs == 1))
        helps[:, p] = False
        legal = self.mask
        legal[:, :p] = empty & self._neighbour(helps).any(-1)
        legal[self._rows, self.ko] = False   # ko == P hits the pass column, restored next line
        legal[:, p] = True
        legal &= ~self.done.unsqueeze(1)

    # -- moves -------------------------------------------------------------------------------------------------
    def legal_mask(self) -> torch.Tensor:
        """(B, P+1) bool; all False for finished games."""
        return self.mask

    def step(self, actions: torch.Tensor, check: bool = True) -> None:
        """Play one move in every unfinished game (entries for finished games are ignored)."""
        p = self.points
        actions = actions.to(self.device, torch.long)
        active = ~self.done
        if check:
            if actions.shape != (self.batch,):
                raise UserError(f"actions must have shape ({self.batch},), got {tuple(actions.shape)}")
            bad = active & ((actions < 0) | (actions > p))
            if bad.any():
                raise UserError(f"actions out of range 0..{p} in games {bad.nonzero().flatten().tolist()[:5]}")
            illegal = active & ~self.mask.gather(1, actions.clamp(0, p).unsqueeze(1)).squeeze(1)
            if illegal.any():
                raise UserError(f"illegal moves in games {illegal.nonzero().flatten().tolist()[:5]}")
        act = torch.where(active, actions, torch.full_like(actions, p))
        place = act != p
        me = self.to_play + 1
        opp = 3 - me
        nb = self._nbr[act]                                             # (B, 4)
        nb_color = self.color.gather(1, nb)
        nb_label = self.labels.gather(1, nb)
        nb_libs = self.libs.gather(1, nb_label)
        placing = place.unsqueeze(1)
        none = torch.full_like(nb_label, -1)
        capture_lbl = torch.where(placing & (nb_color == opp.unsqueeze(1)) & (nb_libs == 1), nb_label, none)
        own_lbl = torch.where(placing & (nb_color == me.unsqueeze(1)), nb_label, none)
        in_eye = ((nb_color == opp.unsqueeze(1)) | (nb_color == EDGE)).all(1)
        labels = self.labels[:, :p]
        dead = torch.zeros_like(labels, dtype=torch.bool)
        capturing = (capture_lbl >= 0).any(1)
        if bool(capturing.any()):  # captures are rare: compare labels only in the games that capture
            rows_c = self._rows[capturing]
            dead[rows_c] = (labels[rows_c].unsqueeze(2) == capture_lbl[rows_c].unsqueeze(1)).any(2)
        color = self.color[:, :p]
        color.masked_fill_(dead, EMPTY)
        labels.masked_fill_(dead, p)
        # Relabel the merged neighbour groups to the new stone with one lookup table per game.
        relabel = self._identity.clone()
        merging = own_lbl >= 0
        relabel.scatter_(1, torch.where(merging, own_lbl, p), torch.where(merging, act.unsqueeze(1), p))
        labels.copy_(relabel.gather(1, labels))
        rows = self._rows[place]
        self.color[rows, act[place]] = me[place].to(torch.int8)
        self.labels[rows, act[place]] = act[place]
        n_dead = dead.sum(1)
        single = place & in_eye & (n_dead == 1)
        self.ko = torch.where(single, dead.long().argmax(1), torch.full_like(self.ko, p))
        self.moves += active.long()
        self.passes = torch.where(active, torch.where(place, 0, self.passes + 1), self.passes)
        h = self.hashes + torch.where(place, self._zobrist[me, act.clamp(max=p - 1)], 0)
        captured_any = n_dead > 0
        if bool(captured_any.any()):
            rows_c = self._rows[captured_any]
            removed = self._zobrist[opp[captured_any]] * dead[rows_c]
            h[rows_c] -= removed.sum(1)
        self.hashes = h
        # Unused history slots hold 0, the empty board's hash, which no position after a stone is placed has.
        seen = (self.history == h.unsqueeze(1)).any(1)
        self.superko |= place & seen
        self.history[self._rows[active], self.moves[active]] = h[active]
        self.to_play = torch.where(active, 1 - self.to_play, self.to_play)
        self.done |= active & (self.superko | (self.passes >= 2) | (self.moves >= self.max_moves))
        self._refresh()

    def random_step(self, generator: torch.Generator | None = None) -> int:
        """Play a uniformly random legal move in every unfinished game; returns how many moves were played."""
        n = int((~self.done).sum())
        noise = torch.rand((self.batch, self.points + 1), generator=generator, device=self.device)
        actions = (noise * self.mask).argmax(1)
        self.step(actions, check=False)
        return n

    # -- results -------------------------------------------------------------------------------------------------
    def area_delta(self) -> torch.Tensor:
        """(B,) Black's Tromp-Taylor area minus White's."""
        p = self.points
        color = self.color[:, :p]
        empty = color == EMPTY
        ncol = self._neighbour(self.color)
        reach_b = empty & (ncol == BLACK_C).any(-1)
        reach_w = empty & (ncol == WHITE_C).any(-1)
        pad = torch.zeros((self.batch, 1), dtype=torch.bool, device=self.device)
        for _ in range(p):
            grown_b = reach_b | (empty & self._neighbour(torch.cat((reach_b, pad), 1)).any(-1))
            grown_w = reach_w | (empty & self._neighbour(torch.cat((reach_w, pad), 1)).any(-1))
            if torch.equal(grown_b, reach_b) and torch.equal(grown_w, reach_w):
                break
            reach_b, reach_w = grown_b, grown_w
        black = (color == BLACK_C) | (reach_b & ~reach_w)
        white = (color == WHITE_C) | (reach_w & ~reach_b)
        return black.sum(1) - white.sum(1)

    def outcome(self) -> torch.Tensor:
        """(B,) +1 Black wins, -1 White wins, 0 draw (superko or exact tie); meaningful where ``done``."""
        score = self.area_delta().double() - self.komi
        result = torch.sign(score).long()
        return torch.where(self.superko, torch.zeros_like(result), result)

    def planes(self) -> torch.Tensor:
        """(B, 2, N, N) uint8 black and white stones."""
        color = self.color[:, :self.points]
        return torch.stack((color == BLACK_C, color == WHITE_C), 1).to(torch.uint8).view(
            self.batch, 2, self.size, self.size)
