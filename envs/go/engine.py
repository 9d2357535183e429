"""Single-game Go rules, identical to OpenSpiel's ``go`` (the oracle our tests compare against).

Rules: Tromp-Taylor area scoring with komi, suicide illegal, simple ko in the legal set (OpenSpiel's definition:
a stone played into an eye of the opponent that captures exactly one stone bans the captured point for one move),
a non-pass move that repeats any earlier whole-board position (positional superko) ends the game as a draw, two
consecutive passes end the game, and after ``max_moves`` moves (default 2·N², passes included) the position is
scored.

Why bitboards: a board is two Python ints (bit ``row*N + col``), so dilation, liberties and the whole legal set
are a handful of big-int operations, and the legal set and stone planes become numpy arrays with one
``np.unpackbits`` each. Groups are tracked incrementally (stones and liberties per group), so a move touches only
its neighbours' groups. Points are numbered like OpenSpiel's actions: ``row*N + col`` with row 0 at the bottom
(GTP row 1), pass = N².
"""

from __future__ import annotations

from functools import cache

import numpy as np

from rllab.core.errors import UserError

BLACK, WHITE = 0, 1
MIN_SIZE, MAX_SIZE = 2, 19
# Fair-ish area komi per size (reference: 5x5 solved at 25, 7x7 ~9, 9x9 ~7); .5 avoids draws by score.
DEFAULT_KOMI = {5: 24.5, 7: 8.5, 9: 7.5}
FALLBACK_KOMI = 7.5
GTP_COLUMNS = "ABCDEFGHJKLMNOPQRST"


def default_komi(size: int) -> float:
    """The komi a size uses unless told otherwise."""
    return DEFAULT_KOMI.get(size, FALLBACK_KOMI)


class _Geometry:
    """Per-size constants: neighbour lists, masks, byte counts (built once per size)."""

    def __init__(self, size: int):
        n = size
        self.size = n
        self.points = n * n
        self.full = (1 << self.points) - 1
        self.pass_action = self.points
        col0 = sum(1 << (r * n) for r in range(n))
        self.not_first_col = self.full & ~col0
        self.not_last_col = self.full & ~(col0 << (n - 1))
        self.neighbours = tuple(
            tuple(q for q in ((p + n) if p + n < self.points else -1,
                              (p + 1) if p % n != n - 1 else -1,
                              (p - 1) if p % n != 0 else -1,
                              (p - n) if p - n >= 0 else -1) if q >= 0)
            for p in range(self.points))
        self.neighbour_bits = tuple(sum(1 << q for q in ns) for ns in self.neighbours)
        self.mask_bytes = (self.points + 1 + 7) // 8
        self.pass_bit = 1 << self.points

    def dilate(self, x: int) -> int:
        """The points orthogonally adjacent to ``x`` (x itself excluded unless adjacent to itself)."""
        n = self.size
        return (((x << 1) & self.not_first_col) | ((x >> 1) & self.not_last_col) | (x << n) | (x >> n)) & self.full


@cache
def geometry(size: int) -> _Geometry:
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or not MIN_SIZE <= size <= MAX_SIZE:
        raise UserError(f"board size must be an integer in {MIN_SIZE}..{MAX_SIZE}, got {size!r}")
    return _Geometry(int(size))


def bits(x: int):
    """Indices of the set bits of ``x``, lowest first."""
    while x:
        low = x & -x
        yield low.bit_length() - 1
        x ^= low


class GoGame:
    """One game of Go. ``play`` applies a move for the side to move; ``clone`` copies the whole state.

    Attributes kept public because the env, opponents and tests read them: ``stones`` ([black, white]
    bitboards), ``to_play``, ``ko`` (banned point or -1), ``moves`` (moves played, passes included),
    ``history`` (actions played), ``superko``, ``over``.
    """

    __slots__ = (
        "_atari",
        "_captures",
        "_cells",
        "_consecutive_passes",
        "_glibs",
        "_group",
        "_gstones",
        "_mask",
        "_mask_bits",
        "_planes",
        "_seen",
        "geo",
        "history",
        "ko",
        "komi",
        "max_moves",
        "moves",
        "over",
        "resigned",
        "size",
        "stones",
        "superko",
        "to_play",
    )

    def __init__(self, size: int = 9, komi: float | None = None, max_moves: int | None = None):
        self.geo = geometry(size)
        self.size = self.geo.size
        self.komi = float(default_komi(self.size) if komi is None else komi)
        if max_moves is None:
            max_moves = 2 * self.size * self.size
        if not isinstance(max_moves, (int, np.integer)) or max_moves < 2:
            raise UserError(f"max_moves must be an integer >= 2, got {max_moves!r}")
        self.max_moves = int(max_moves)
        self.stones = [0, 0]
        self.to_play = BLACK
        self.ko = -1
        self.moves = 0
        self.history: list[int] = []
        self.superko = False
        self.over = False
        self.resigned = -1                        # colour that resigned (GTP players may), -1 if none
        self._consecutive_passes = 0
        # The bitboards as bytes (black points, then white), kept in step; ``planes()`` is a numpy view of them.
        # A bytearray item write is cheaper than a numpy one, and this runs for every stone placed or captured.
        self._cells = bytearray(2 * self.geo.points)
        self._planes = np.frombuffer(self._cells, np.uint8).reshape(2, self.size, self.size)
        self._mask = np.zeros(self.geo.points + 1, dtype=bool)
        self._mask_bits = 0
        self._group = [-1] * self.geo.points      # point -> group id (the point that founded the group)
        self._gstones: dict[int, int] = {}        # group id -> stone bitboard
        self._glibs: tuple[dict[int, int], dict[int, int]] = ({}, {})  # per colour: group id -> liberty bitboard
        self._seen = {0}                          # every whole-board position so far (black | white << N²)
        self._captures = [0, 0]                   # stones captured by black, by white
        self._atari = [0, 0]                      # per colour: stones of groups with exactly one liberty

    # -- copying -----------------------------------------------------------------------------------------
    def clone(self) -> GoGame:
        """An independent copy (for search, look-ahead and opponents)."""
        other = GoGame.__new__(GoGame)
        other.geo, other.size, other.komi, other.max_moves = self.geo, self.size, self.komi, self.max_moves
        other.stones = self.stones[:]
        other.to_play, other.ko, other.moves = self.to_play, self.ko, self.moves
        other.history = self.history[:]
        other.superko, other.over, other.resigned = self.superko, self.over, self.resigned
        other._consecutive_passes = self._consecutive_passes
        other._cells = self._cells[:]
        other._planes = np.frombuffer(other._cells, np.uint8).reshape(2, other.size, other.size)
        other._mask, other._mask_bits = self._mask.copy(), self._mask_bits
        other._group = self._group[:]
        other._gstones = dict(self._gstones)
        other._glibs = (dict(self._glibs[0]), dict(self._glibs[1]))
        other._seen = set(self._seen)
        other._captures = self._captures[:]
        other._atari = self._atari[:]
        return other

    # -- queries -------------------------------------------------------------------------------------------
    @property
    def pass_action(self) -> int:
        return self.geo.pass_action

    @property
    def empty(self) -> int:
        return self.geo.full & ~(self.stones[0] | self.stones[1])

    @property
    def captures(self) -> tuple[int, int]:
        """Stones captured so far by (black, white)."""
        return self._captures[0], self._captures[1]

    def legal_bits(self) -> int:
        """The legal points of the side to move as a bitboard, pass bit (N²) included; 0 once the game is over.

        An empty point with an empty neighbour is always legal; only the (few) points walled in by stones need
        the group test: legal if it joins an own group with another liberty or captures an opponent group.
        """
        if self.over:
            return 0
        geo = self.geo
        full = geo.full
        empty = full & ~(self.stones[0] | self.stones[1])
        n = geo.size
        breathing = (((empty << 1) & geo.not_first_col) | ((empty >> 1) & geo.not_last_col)
                     | (empty << n) | (empty >> n))
        legal = empty & breathing
        walled = empty & ~breathing
        if walled:
            # Walled-in points are legal next to an own group with another liberty or an opponent group in atari.
            me = self.to_play
            atari = self._atari
            support = (self.stones[me] & ~atari[me]) | atari[1 - me]
            legal |= walled & (((support << 1) & geo.not_first_col) | ((support >> 1) & geo.not_last_col)
                                | (support << n) | (support >> n))
        if self.ko >= 0:
            legal &= ~(1 << self.ko)
        return legal | geo.pass_bit

    def legal_mask(self) -> np.ndarray:
        """Boolean mask over the N²+1 actions (pass last); a fresh array the caller may keep.

        The previous mask is cached and patched where the legal set changed (usually a few points), which is
        cheaper than unpacking the whole bitboard every move.
        """
        legal = self.legal_bits()
        old = self._mask_bits
        mask = self._mask
        added, removed = legal & ~old, old & ~legal
        while added:
            low = added & -added
            added ^= low
            mask[low.bit_length() - 1] = True
        while removed:
            low = removed & -removed
            removed ^= low
            mask[low.bit_length() - 1] = False
        self._mask_bits = legal
        return mask.copy()

    def legal_actions(self) -> list[int]:
        """Sorted legal actions, pass last (OpenSpiel's order)."""
        return list(bits(self.legal_bits()))

    def is_legal(self, action: int) -> bool:
        return 0 <= action <= self.geo.points and bool(self.legal_bits() >> action & 1)

    def planes(self) -> np.ndarray:
        """(2, N, N) uint8 view (copy before changing it): black stones, white stones (row 0 = the bottom row)."""
        return self._planes

    def color_at(self, point: int) -> int:
        """BLACK, WHITE or -1 for empty."""
        if self.stones[0] >> point & 1:
            return BLACK
        if self.stones[1] >> point & 1:
            return WHITE
        return -1

    def atari_stones(self, color: int) -> int:
        """Stones of ``color`` whose group has exactly one liberty."""
        return self._atari[color]

    def group_liberties(self, point: int) -> int:
        """Liberty bitboard of the group at ``point`` (0 if the point is empty)."""
        gid = self._group[point]
        if gid < 0:
            return 0
        color = self.color_at(point)
        return self._glibs[color][gid]

    def group_stones(self, point: int) -> int:
        gid = self._group[point]
        return self._gstones[gid] if gid >= 0 else 0

    def repeats_position(self, point: int) -> bool:
        """Would the side to move playing ``point`` recreate an earlier whole-board position (a superko draw)?"""
        me, geo = self.to_play, self.geo
        bit = 1 << point
        captured = 0
        opp_libs = self._glibs[1 - me]
        for q in geo.neighbours[point]:
            gid = self._group[q]
            if gid in opp_libs and opp_libs[gid] == bit:
                captured |= self._gstones[gid]
        own, opp = self.stones[me] | bit, self.stones[1 - me] & ~captured
        black, white = (own, opp) if me == BLACK else (opp, own)
        return (black | (white << geo.points)) in self._seen

    def move_effect(self, point: int) -> tuple[int, int]:
        """(stones captured, liberties of the mover's group) if the side to move played ``point`` now.

        Cheap look-ahead for the heuristic opponent; does not check legality.
        """
        me, geo = self.to_play, self.geo
        bit = 1 << point
        group = bit
        captured = 0
        own_libs, opp_libs = self._glibs[me], self._glibs[1 - me]
        for q in geo.neighbours[point]:
            gid = self._group[q]
            if gid < 0:
                continue
            if gid in own_libs:
                group |= self._gstones[gid]
            elif opp_libs[gid] == bit:
                captured |= self._gstones[gid]
        empty_after = (self.empty & ~bit) | captured
        return captured.bit_count(), (geo.dilate(group) & empty_after).bit_count()

    # -- moves -------------------------------------------------------------------------------------------
    def play(self, action: int) -> None:
        """Play ``action`` for the side to move. Raises :class:`UserError` for an illegal move."""
        if self.over:
            raise UserError("the game is over; no more moves can be played")
        geo = self.geo
        if not isinstance(action, (int, np.integer)) or isinstance(action, bool) or not 0 <= action <= geo.points:
            raise UserError(f"action must be an integer in 0..{geo.points} (pass = {geo.points}), got {action!r}")
        action = int(action)
        if action != geo.pass_action and not self.legal_bits() >> action & 1:
            side = "black" if self.to_play == BLACK else "white"
            raise UserError(f"illegal move {self.action_to_gtp(action)} for {side}"
                            " (occupied, suicide or ko)")
        self.apply(action)

    def apply(self, action: int) -> None:
        """Play a move already known to be legal, without checks (the fast path for env, search and benchmarks)."""
        self.history.append(action)
        moves = self.moves = self.moves + 1
        me = self.to_play
        points = self.geo.points
        if action == points:  # pass
            self.ko = -1
            self._consecutive_passes += 1
            if self._consecutive_passes >= 2:
                self.over = True
        else:
            self._consecutive_passes = 0
            self._place(action, me)
            stones = self.stones
            key = stones[0] | (stones[1] << points)
            seen = self._seen
            if key in seen:  # this whole-board position occurred before
                self.superko = self.over = True
            else:
                seen.add(key)
        self.to_play = 1 - me
        if moves >= self.max_moves:
            self.over = True

    def _place(self, p: int, me: int) -> None:
        """Put a stone of ``me`` on ``p``: captures, group merge, liberties, atari sets and the ko point."""
        geo = self.geo
        bit = 1 << p
        group_of = self._group
        gstones = self._gstones
        own_libs, opp_libs = self._glibs[me], self._glibs[1 - me]
        stones = self.stones
        atari = self._atari
        # Played into an opponent's eye (every neighbour an opponent stone): the ko candidate shape.
        in_eye = True
        own_ids = None
        dead = 0
        for q in geo.neighbours[p]:
            gid = group_of[q]
            if gid < 0:
                in_eye = False
            elif gid in own_libs:
                in_eye = False
                if own_ids is None:
                    own_ids = [gid]
                elif gid not in own_ids:
                    own_ids.append(gid)
            else:  # an opponent group (ids are unique across colours), unless already captured via another side
                libs = opp_libs.get(gid)
                if libs is None:
                    continue
                libs &= ~bit
                if libs:
                    opp_libs[gid] = libs
                    if not libs & (libs - 1):
                        atari[1 - me] |= gstones[gid]
                else:
                    dead |= gstones.pop(gid)
                    del opp_libs[gid]
        mine = stones[me] | bit
        stones[me] = mine
        cells = self._cells
        cells[me * geo.points + p] = 1
        if dead:
            stones[1 - me] &= ~dead
            atari[1 - me] &= ~dead
            self._captures[me] += dead.bit_count()
            offset = (1 - me) * geo.points
            for q in bits(dead):
                group_of[q] = -1
                cells[offset + q] = 0
        empty = geo.full & ~(mine | stones[1 - me])
        # Merge into the largest neighbouring group so that only the smaller ones are relabelled. Without a
        # capture the new liberties are the old ones plus the stone's empty neighbours, minus the stone itself.
        libs = geo.neighbour_bits[p]
        if own_ids is None:
            gid, merged = p, bit
        else:
            gid = own_ids[0] if len(own_ids) == 1 else max(own_ids, key=lambda g: gstones[g].bit_count())
            merged = gstones[gid] | bit
            libs |= own_libs[gid]
            for other in own_ids:
                if other != gid:
                    g = gstones.pop(other)
                    libs |= own_libs.pop(other)
                    merged |= g
                    for q in bits(g):
                        group_of[q] = gid
        group_of[p] = gid
        gstones[gid] = merged
        if dead:
            libs = geo.dilate(merged) & empty
            # The mover's other groups touching the captured stones gain those points as liberties.
            touching = geo.dilate(dead) & mine & ~merged
            while touching:
                other = group_of[(touching & -touching).bit_length() - 1]
                g = gstones[other]
                glibs = own_libs[other] = geo.dilate(g) & empty
                touching &= ~g
                if glibs & (glibs - 1):
                    atari[me] &= ~g
            self.ko = (dead.bit_length() - 1) if in_eye and not dead & (dead - 1) else -1
        else:
            libs &= empty
            self.ko = -1
        own_libs[gid] = libs
        if libs & (libs - 1):
            atari[me] &= ~merged
        else:
            atari[me] |= merged

    # -- scoring -----------------------------------------------------------------------------------------
    def score(self) -> float:
        """Black's Tromp-Taylor area margin minus komi (what OpenSpiel's returns are the sign of)."""
        return self.area_delta() - self.komi

    def area_delta(self) -> int:
        """Black's area (stones + empty regions touching only black) minus White's.

        Two floods through the empty points, one from each colour's stones: a region reached by only one colour
        is its territory, a region reached by both is neutral. Cheaper than filling each region on its own.
        """
        black, white = self.stones
        empty = self.geo.full & ~(black | white)
        reach_b, reach_w = self._flood(black, empty), self._flood(white, empty)
        return (black.bit_count() - white.bit_count() + (reach_b & ~reach_w).bit_count()
                - (reach_w & ~reach_b).bit_count())

    def _flood(self, seed: int, empty: int) -> int:
        """The empty points connected through empty points to a stone of ``seed``."""
        dilate = self.geo.dilate
        region = dilate(seed) & empty
        while True:
            grown = (region | dilate(region)) & empty
            if grown == region:
                return region
            region = grown

    def resign(self) -> None:
        """The side to move gives up (not an OpenSpiel action: external GTP engines may resign)."""
        if self.over:
            raise UserError("the game is over; nobody can resign")
        self.resigned = self.to_play
        self.over = True

    def outcome(self) -> int:
        """+1 Black wins, -1 White wins, 0 draw (superko or an exact komi tie). Valid once the game is over."""
        if self.resigned >= 0:
            return 1 if self.resigned == WHITE else -1
        if self.superko:
            return 0
        s = self.score()
        return (s > 0) - (s < 0)

    def returns(self) -> tuple[float, float]:
        """(black, white) returns like OpenSpiel's ``returns()``: 0 until the game is over."""
        if not self.over:
            return 0.0, 0.0
        o = float(self.outcome())
        return o, -o

    # -- coordinates ---------------------------------------------------------------------------------------
    def action_to_gtp(self, action: int) -> str:
        """``"C3"`` style vertex (row 0 = row 1), ``"pass"`` for N²."""
        if action == self.geo.pass_action:
            return "pass"
        row, col = divmod(action, self.size)
        return f"{GTP_COLUMNS[col]}{row + 1}"

    def gtp_to_action(self, vertex: str) -> int:
        """Parse a GTP vertex for this board size; raises :class:`UserError` when malformed or off the board."""
        v = vertex.strip().upper()
        if v == "PASS":
            return self.geo.pass_action
        if len(v) < 2 or v[0] not in GTP_COLUMNS or not v[1:].isdigit():
            raise UserError(f"invalid vertex {vertex!r}")
        col, row = GTP_COLUMNS.index(v[0]), int(v[1:]) - 1
        if not (0 <= col < self.size and 0 <= row < self.size):
            raise UserError(f"vertex {vertex!r} is off the {self.size}x{self.size} board")
        return row * self.size + col

    def to_text(self) -> str:
        """ASCII board, top row first, ``X`` black, ``O`` white, ``.`` empty, with GTP coordinates."""
        n = self.size
        lines = []
        for row in range(n - 1, -1, -1):
            cells = []
            for col in range(n):
                c = self.color_at(row * n + col)
                cells.append("X" if c == BLACK else "O" if c == WHITE else ".")
            lines.append(f"{row + 1:2d} " + " ".join(cells))
        lines.append("   " + " ".join(GTP_COLUMNS[:n]))
        return "\n".join(lines)

