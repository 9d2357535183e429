"""What the network sees and what it is trained on, computed from :class:`BatchedGo` tensors for a whole batch.

Input planes, all from the side to move: own / opponent stones, a constant plane (so zero padding marks the
edge), own and opponent stones by the liberties of their group (1, 2, >= 3), the legal points (which carries the
ko ban), "the opponent just passed" and "Black to move". Liberty planes are the cheap tactical knowledge that
spares a small net from learning to count; the pass plane matters because two passes end the game.

Ownership (the Tromp-Taylor owner of every point at the end) is an auxiliary training target: dozens of labels
per position instead of one result, which is what makes small-budget training move (as in KataGo).

Symmetries: the 8 rotations/reflections of the square as point permutations; one permutation maps the planes,
the policy target (pass stays) and the ownership target, so an augmented sample is the same position turned.
"""

from __future__ import annotations

from functools import cache

import torch

from rllab.envs.go.batched import BLACK_C, EMPTY, WHITE_C, BatchedGo

OWN, OPP, ONES = 0, 1, 2
OWN_LIBS, OPP_LIBS = 3, 6          # three planes each: 1, 2, >= 3 liberties
LEGAL, PASSED, BLACK_TO_PLAY = 9, 10, 11
NUM_PLANES = 12


def planes(engine: BatchedGo) -> torch.Tensor:
    """(B, NUM_PLANES, N, N) uint8 input planes of every game in ``engine``, from its side to move."""
    b, p, n = engine.batch, engine.points, engine.size
    color = engine.color[:, :p]
    me = (engine.to_play + 1).to(color.dtype).unsqueeze(1)
    own = color == me
    opp = (color != EMPTY) & ~own
    libs = engine.libs.gather(1, engine.labels[:, :p])
    out = torch.empty((b, NUM_PLANES, p), dtype=torch.uint8, device=engine.device)
    out[:, OWN] = own
    out[:, OPP] = opp
    out[:, ONES] = 1
    for i, stones in ((OWN_LIBS, own), (OPP_LIBS, opp)):
        out[:, i] = stones & (libs == 1)
        out[:, i + 1] = stones & (libs == 2)
        out[:, i + 2] = stones & (libs >= 3)
    out[:, LEGAL] = engine.mask[:, :p]
    out[:, PASSED] = (engine.passes > 0).unsqueeze(1)
    out[:, BLACK_TO_PLAY] = (engine.to_play == 0).unsqueeze(1)
    return out.view(b, NUM_PLANES, n, n)


def legal_from_planes(x: torch.Tensor) -> torch.Tensor:
    """(B, N²+1) legal mask read back from input planes (pass is legal in every unfinished game)."""
    legal = x[:, LEGAL].flatten(1).bool()
    return torch.cat((legal, torch.ones_like(legal[:, :1])), 1)


def _dilate(x: torch.Tensor) -> torch.Tensor:
    """(B, N, N) bool -> the points orthogonally next to a set point."""
    out = torch.zeros_like(x)
    out[:, 1:] |= x[:, :-1]
    out[:, :-1] |= x[:, 1:]
    out[:, :, 1:] |= x[:, :, :-1]
    out[:, :, :-1] |= x[:, :, 1:]
    return out


def ownership(engine: BatchedGo) -> torch.Tensor:
    """(B, N²) int8 Tromp-Taylor owner of every point from Black's view: +1 Black, -1 White, 0 neutral.

    Its sum is :meth:`BatchedGo.area_delta` (a test checks it).
    """
    b, p, n = engine.batch, engine.points, engine.size
    color = engine.color[:, :p].view(b, n, n)
    black, white, empty = color == BLACK_C, color == WHITE_C, color == EMPTY
    reach_b, reach_w = _dilate(black) & empty, _dilate(white) & empty
    for _ in range(p):
        grown_b = reach_b | (_dilate(reach_b) & empty)
        grown_w = reach_w | (_dilate(reach_w) & empty)
        if torch.equal(grown_b, reach_b) and torch.equal(grown_w, reach_w):
            break
        reach_b, reach_w = grown_b, grown_w
    owner = (black | (reach_b & ~reach_w)).to(torch.int8) - (white | (reach_w & ~reach_b)).to(torch.int8)
    return owner.view(b, p)


@cache
def symmetry_perms(size: int) -> torch.Tensor:
    """(8, N²) long: ``turned[..., q] = original[..., perms[s, q]]`` for symmetry ``s`` (0 = identity)."""
    grid = torch.arange(size * size).view(size, size)
    perms = []
    for flip in (False, True):
        base = grid.t() if flip else grid
        for k in range(4):
            perms.append(torch.rot90(base, k, (0, 1)).reshape(-1))
    return torch.stack(perms)


def symmetry_actions(size: int) -> torch.Tensor:
    """(8, N²+1) long: where action ``a`` of the original position lands in the turned one (pass stays)."""
    perms = symmetry_perms(size)
    inverse = torch.empty_like(perms)
    inverse.scatter_(1, perms, torch.arange(size * size).expand_as(perms).contiguous())
    return torch.cat((inverse, torch.full((8, 1), size * size)), 1)


def augment(x: torch.Tensor, policy: torch.Tensor, owner: torch.Tensor,
            syms: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Turn each sample ``i`` by symmetry ``syms[i]``: planes (B, C, N, N), policy (B, N²+1), ownership (B, N²)."""
    b, c, n, _ = x.shape
    perm = symmetry_perms(n).to(x.device)[syms]                      # (B, N²)
    x = x.reshape(b, c, n * n).gather(2, perm.unsqueeze(1).expand(b, c, -1)).view(b, c, n, n)
    policy = torch.cat((policy[:, :-1].gather(1, perm), policy[:, -1:]), 1)
    return x, policy, owner.gather(1, perm)
