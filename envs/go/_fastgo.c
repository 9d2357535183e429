/* Fast Go for search: a padded-array board with incremental groups, a light playout policy, and a UCT/RAVE tree.
 *
 * Why C: a Monte-Carlo player lives on playouts; this file plays ~100x more of them per second than the exact
 * Python engine (rllab/envs/go/engine.py), whose rules it reproduces move for move (tests/test_go_fast.py checks
 * legal sets, captures, ko, superko and scores against GoGame on random games).
 *
 * Rules (as engine.py, i.e. OpenSpiel's): Tromp-Taylor area scoring with komi, suicide illegal, simple ko (a stone
 * played into an opponent's eye that captures exactly one stone bans that point for one move), two passes end the
 * game, ``max_moves`` moves (passes included) end it, and a non-pass move repeating an earlier whole-board position
 * ends it as a draw (positional superko; checked by Board.play and in the tree, not inside playouts).
 *
 * Points are padded: index (row + 1) * (n + 2) + col + 1, so the 4 and 8 neighbours of a board point are always
 * valid indices (off-board cells hold EDGE). Actions are OpenSpiel's: row * n + col (row 0 = bottom), pass = n*n.
 * Point 0 is off the board and stands for pass inside this file.
 *
 * Python types: Board (exact play, legal masks, scoring, one playout) and Tree (search). The tree runs playouts
 * itself (Tree.search) or, for a network, hands out leaves (Tree.select_leaf) and takes priors and a value back
 * (Tree.expand_leaf): one tree for both, so a network-guided player plugs into the same selection and reuse code.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXN 19
#define MAXSIDE (MAXN + 2)
#define MAXPTS (MAXSIDE * MAXSIDE)
#define MAXWORDS ((MAXPTS + 63) / 64)
#define PASS 0
#define EMPTY 0
#define BLACK 1
#define WHITE 2
#define EDGE 3
#define MAXCAND 128

/* ---------------------------------------------------------------------------------------------------------------
 * Geometry and random numbers
 * ------------------------------------------------------------------------------------------------------------- */

typedef struct {
    int n, side, npts, nwords, nact;
    int16_t act2pt[MAXN * MAXN];
    int16_t pt2act[MAXPTS];  /* -1 off the board */
    int8_t line[MAXPTS];     /* 1 = first line, 0 = off the board */
    int16_t row[MAXPTS], col[MAXPTS];
    uint64_t zobrist[2][MAXPTS];
} Geo;

static Geo *geos[MAXN + 1];

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

typedef struct {
    uint64_t s;
} Rng;

static void rng_seed(Rng *r, uint64_t seed) {
    uint64_t s = seed;
    r->s = splitmix(&s) | 1;
}

static inline uint64_t rng_next(Rng *r) {
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 2685821657736338717ULL;
}

static inline uint32_t rng_below(Rng *r, uint32_t n) {
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static inline double rng_unit(Rng *r) { return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

static const Geo *get_geo(int n) {
    if (n < 2 || n > MAXN) return NULL;
    if (geos[n]) return geos[n];
    Geo *g = (Geo *)calloc(1, sizeof(Geo));
    if (!g) return NULL;
    g->n = n;
    g->side = n + 2;
    g->npts = g->side * g->side;
    g->nwords = (g->npts + 63) / 64;
    g->nact = n * n;
    for (int p = 0; p < MAXPTS; p++) g->pt2act[p] = -1;
    for (int r = 0; r < n; r++) {
        for (int c = 0; c < n; c++) {
            int a = r * n + c, p = (r + 1) * g->side + c + 1;
            g->act2pt[a] = (int16_t)p;
            g->pt2act[p] = (int16_t)a;
            g->row[p] = (int16_t)r;
            g->col[p] = (int16_t)c;
            int d = r < c ? r : c;
            if (n - 1 - r < d) d = n - 1 - r;
            if (n - 1 - c < d) d = n - 1 - c;
            g->line[p] = (int8_t)(d + 1);
        }
    }
    uint64_t s = 0x5EED0F60ULL + (uint64_t)n;
    for (int c = 0; c < 2; c++)
        for (int p = 0; p < MAXPTS; p++) g->zobrist[c][p] = splitmix(&s);
    geos[n] = g;
    return g;
}

/* ---------------------------------------------------------------------------------------------------------------
 * Board
 * ------------------------------------------------------------------------------------------------------------- */

typedef struct {
    const Geo *g;
    int to_play, ko, passes, moves, max_moves, last, last2, over, superko;
    int captures[3];
    int nempty;
    double komi;
    uint64_t hash;
    uint8_t color[MAXPTS];
    int16_t gid[MAXPTS];    /* root point of the stone's group, -1 when empty */
    int16_t next[MAXPTS];   /* circular list of a group's stones */
    int16_t gsize[MAXPTS];  /* stones of the group (valid at its root) */
    int16_t empties[MAXPTS];
    int16_t epos[MAXPTS];
    uint64_t libs[MAXPTS * MAXWORDS]; /* liberty bitset of the group rooted at a point: libs[root * nwords ...] */
} Board;

#define LIBS(b, r) ((b)->libs + (size_t)(r) * (b)->g->nwords)

static void board_init(Board *b, const Geo *g, double komi, int max_moves) {
    b->g = g;
    b->to_play = BLACK;
    b->ko = PASS;
    b->passes = b->moves = b->over = b->superko = 0;
    b->last = b->last2 = PASS;
    b->max_moves = max_moves;
    b->captures[0] = b->captures[1] = b->captures[2] = 0;
    b->komi = komi;
    b->hash = 0;
    b->nempty = 0;
    for (int p = 0; p < g->npts; p++) {
        b->color[p] = EDGE;
        b->gid[p] = -1;
        b->next[p] = (int16_t)p;
        b->gsize[p] = 0;
    }
    for (int a = 0; a < g->nact; a++) {
        int p = g->act2pt[a];
        b->color[p] = EMPTY;
        b->epos[p] = (int16_t)b->nempty;
        b->empties[b->nempty++] = (int16_t)p;
    }
    memset(b->libs, 0, sizeof(uint64_t) * (size_t)g->npts * g->nwords);
}

/* Copy only the part of the arrays this board size uses (a 9x9 board is ~4 KB, the struct is ~40 KB). */
static void board_copy(Board *d, const Board *s) {
    const int np = s->g->npts;
    memcpy(d, s, offsetof(Board, color));
    memcpy(d->color, s->color, (size_t)np);
    memcpy(d->gid, s->gid, sizeof(int16_t) * np);
    memcpy(d->next, s->next, sizeof(int16_t) * np);
    memcpy(d->gsize, s->gsize, sizeof(int16_t) * np);
    memcpy(d->empties, s->empties, sizeof(int16_t) * np);
    memcpy(d->epos, s->epos, sizeof(int16_t) * np);
    memcpy(d->libs, s->libs, sizeof(uint64_t) * (size_t)np * s->g->nwords);
}

static inline void bit_set(uint64_t *l, int p) { l[p >> 6] |= 1ULL << (p & 63); }
static inline void bit_clear(uint64_t *l, int p) { l[p >> 6] &= ~(1ULL << (p & 63)); }

static inline int libs_count(const Board *b, int r) {
    const uint64_t *l = LIBS(b, r);
    int c = 0;
    for (int w = 0; w < b->g->nwords; w++) c += __builtin_popcountll(l[w]);
    return c;
}

/* 0, 1 or 2 (two or more): the common question, answered without counting everything. */
static inline int libs_upto2(const Board *b, int r) {
    const uint64_t *l = LIBS(b, r);
    int c = 0;
    for (int w = 0; w < b->g->nwords; w++) {
        uint64_t x = l[w];
        if (x) {
            if (x & (x - 1)) return 2;
            if (++c >= 2) return 2;
        }
    }
    return c;
}

static inline int libs_first(const Board *b, int r) {
    const uint64_t *l = LIBS(b, r);
    for (int w = 0; w < b->g->nwords; w++)
        if (l[w]) return w * 64 + __builtin_ctzll(l[w]);
    return -1;
}

static inline void empty_remove(Board *b, int p) {
    int i = b->epos[p];
    int q = b->empties[--b->nempty];
    b->empties[i] = (int16_t)q;
    b->epos[q] = (int16_t)i;
}

static inline void empty_add(Board *b, int p) {
    b->epos[p] = (int16_t)b->nempty;
    b->empties[b->nempty++] = (int16_t)p;
}

/* Join the groups rooted at a and r; the larger keeps its root so that fewer stones are relabelled. */
static int group_merge(Board *b, int a, int r) {
    if (b->gsize[a] < b->gsize[r]) {
        int t = a;
        a = r;
        r = t;
    }
    int s = r;
    do {
        b->gid[s] = (int16_t)a;
        s = b->next[s];
    } while (s != r);
    int t = b->next[a];
    b->next[a] = b->next[r];
    b->next[r] = (int16_t)t;
    b->gsize[a] = (int16_t)(b->gsize[a] + b->gsize[r]);
    uint64_t *la = LIBS(b, a);
    const uint64_t *lr = LIBS(b, r);
    for (int w = 0; w < b->g->nwords; w++) la[w] |= lr[w];
    return a;
}

/* Remove the group rooted at r (captured by colour c); its points become liberties of c's neighbouring groups. */
static int group_capture(Board *b, int r, int c) {
    const int side = b->g->side, o = 3 - c;
    int n = 0, s = r;
    do {
        b->color[s] = EMPTY;
        b->gid[s] = -1;
        empty_add(b, s);
        b->hash ^= b->g->zobrist[o - 1][s];
        n++;
        s = b->next[s];
    } while (s != r);
    s = r;
    do {
        const int nb[4] = {s + side, s + 1, s - 1, s - side};
        for (int k = 0; k < 4; k++)
            if (b->color[nb[k]] == c) bit_set(LIBS(b, b->gid[nb[k]]), s);
        int nx = b->next[s];
        b->next[s] = (int16_t)s;
        s = nx;
    } while (s != r);
    b->captures[c] += n;
    return n;
}

/* Put a stone of c on p (known legal): captures, merges, liberties, ko point. */
static void board_place(Board *b, int p, int c) {
    const Geo *g = b->g;
    const int side = g->side, o = 3 - c, nw = g->nwords;
    const int nb[4] = {p + side, p + 1, p - 1, p - side};
    int in_eye = 1;
    empty_remove(b, p);
    b->color[p] = (uint8_t)c;
    b->gid[p] = (int16_t)p;
    b->next[p] = (int16_t)p;
    b->gsize[p] = 1;
    b->hash ^= g->zobrist[c - 1][p];
    uint64_t *mine = LIBS(b, p);
    memset(mine, 0, sizeof(uint64_t) * nw);
    for (int k = 0; k < 4; k++) {
        int q = nb[k], cq = b->color[q];
        if (cq == EMPTY) {
            in_eye = 0;
            bit_set(mine, q);
        } else if (cq != EDGE) {
            if (cq == c) in_eye = 0;
            bit_clear(LIBS(b, b->gid[q]), p);
        }
    }
    int root = p;
    for (int k = 0; k < 4; k++) {
        int q = nb[k];
        if (b->color[q] == c && b->gid[q] != root) root = group_merge(b, root, b->gid[q]);
    }
    int captured = 0, cap_point = PASS;
    for (int k = 0; k < 4; k++) {
        int q = nb[k];
        if (b->color[q] == o && libs_upto2(b, b->gid[q]) == 0) {
            cap_point = q;
            captured += group_capture(b, b->gid[q], c);
        }
    }
    b->ko = (in_eye && captured == 1) ? cap_point : PASS;
}

static int board_legal(const Board *b, int p) {
    if (b->over) return 0;
    if (p == PASS) return 1;
    if (b->color[p] != EMPTY || p == b->ko) return 0;
    const int side = b->g->side, c = b->to_play;
    const int nb[4] = {p + side, p + 1, p - 1, p - side};
    for (int k = 0; k < 4; k++)
        if (b->color[nb[k]] == EMPTY) return 1;
    for (int k = 0; k < 4; k++) {
        int cq = b->color[nb[k]];
        if (cq == c) {
            if (libs_upto2(b, b->gid[nb[k]]) >= 2) return 1;
        } else if (cq == 3 - c) {
            if (libs_upto2(b, b->gid[nb[k]]) == 1) return 1;
        }
    }
    return 0;
}

/* One move (known legal) for the side to move; superko is the caller's business (see position_repeats). */
static void board_play(Board *b, int p) {
    b->moves++;
    if (p == PASS) {
        b->ko = PASS;
        if (++b->passes >= 2) b->over = 1;
    } else {
        b->passes = 0;
        board_place(b, p, b->to_play);
    }
    b->last2 = b->last;
    b->last = p;
    b->to_play = 3 - b->to_play;
    if (b->moves >= b->max_moves) b->over = 1;
}

/* Black's Tromp-Taylor area minus White's, minus komi. */
static double board_score(const Board *b) {
    const Geo *g = b->g;
    const int side = g->side;
    uint8_t seen[MAXPTS];
    int16_t stack[MAXPTS];
    memset(seen, 0, (size_t)g->npts);
    int area = 0;
    for (int a = 0; a < g->nact; a++) {
        int p = g->act2pt[a], c = b->color[p];
        if (c == BLACK) {
            area++;
        } else if (c == WHITE) {
            area--;
        } else if (!seen[p]) {
            int top = 0, size = 0, reach = 0;
            stack[top++] = (int16_t)p;
            seen[p] = 1;
            while (top) {
                int q = stack[--top];
                size++;
                const int nb[4] = {q + side, q + 1, q - 1, q - side};
                for (int k = 0; k < 4; k++) {
                    int r = nb[k], cr = b->color[r];
                    if (cr == EMPTY) {
                        if (!seen[r]) {
                            seen[r] = 1;
                            stack[top++] = (int16_t)r;
                        }
                    } else if (cr != EDGE) {
                        reach |= cr;
                    }
                }
            }
            if (reach == BLACK) area += size;
            else if (reach == WHITE) area -= size;
        }
    }
    return area - b->komi;
}

/* ---------------------------------------------------------------------------------------------------------------
 * Shape knowledge shared by the playout policy and the tree priors
 * ------------------------------------------------------------------------------------------------------------- */

/* 3x3 shapes around an empty centre where playing is usually good in MoGo-style playouts (Gelly et al. 2006:
 * hane, cut and edge shapes). Rows are listed top to bottom; the centre is the move. X and O are the two
 * colours (each shape also holds with the colours swapped, and under the 8 rotations/reflections), '.' empty,
 * '#' off the board, '?' anything, 'x' anything but X, 'o' anything but O. */
static const char *SHAPES[][3] = {
    {"XOX", "...", "???"}, /* hane that encloses */
    {"XO.", "...", "?.?"}, /* hane that does not cut */
    {"XO?", "X..", "x.?"}, /* hane at the head (magari) */
    {".O.", "X..", "..."}, /* diagonal attachment */
    {"XO?", "O.o", "?o?"}, /* cut between two diagonal stones */
    {"XO?", "O.X", "???"}, /* cut with a peep */
    {"?X?", "O.O", "ooo"}, /* cut between two stones on a line */
    {"OX?", "o.O", "???"}, /* knight's-move cut */
    {"X.?", "O.?", "###"}, /* edge: chase along the edge */
    {"OX?", "X.O", "###"}, /* edge: block a cut */
    {"?X?", "x.O", "###"}, /* edge: block a connection */
    {"?XO", "x.x", "###"}, /* edge: descend */
    {"?OX", "X.O", "###"}, /* edge: cut */
};
#define NSHAPES ((int)(sizeof(SHAPES) / sizeof(SHAPES[0])))

static uint8_t shape_table[1 << 16];

static int cell_mask(char ch, int swap) {
    int x = swap ? WHITE : BLACK, o = swap ? BLACK : WHITE;
    switch (ch) {
    case '.': return 1 << EMPTY;
    case 'X': return 1 << x;
    case 'O': return 1 << o;
    case 'x': return 0xF & ~(1 << x);
    case 'o': return 0xF & ~(1 << o);
    case '#': return 1 << EDGE;
    default: return 0xF;
    }
}

static void shape_mark(const int *masks, int cell, int code) {
    if (cell == 8) {
        shape_table[code] = 1;
        return;
    }
    for (int v = 0; v < 4; v++)
        if (masks[cell] >> v & 1) shape_mark(masks, cell + 1, code | v << (2 * cell));
}

/* The 8 neighbours in the code's order: N, NE, E, SE, S, SW, W, NW as (row, col) cells of a 3x3 grid. */
static const int CELL_R[8] = {0, 0, 1, 2, 2, 2, 1, 0};
static const int CELL_C[8] = {1, 2, 2, 2, 1, 0, 0, 0};

static void build_shapes(void) {
    for (int s = 0; s < NSHAPES; s++) {
        char grid[3][3];
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) grid[r][c] = SHAPES[s][r][c];
        for (int sym = 0; sym < 8; sym++) {
            char t[3][3];
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < 3; c++) {
                    int rr = r, cc = c;
                    if (sym & 1) cc = 2 - cc;            /* mirror */
                    if (sym & 2) rr = 2 - rr;            /* flip */
                    if (sym & 4) { int x = rr; rr = cc; cc = x; } /* transpose */
                    t[r][c] = grid[rr][cc];
                }
            for (int swap = 0; swap < 2; swap++) {
                int masks[8];
                for (int k = 0; k < 8; k++) masks[k] = cell_mask(t[CELL_R[k]][CELL_C[k]], swap);
                shape_mark(masks, 0, 0);
            }
        }
    }
}

static inline int shape_code(const Board *b, int p) {
    const uint8_t *c = b->color;
    const int s = b->g->side;
    /* grid row 0 is the row above (+side) */
    return c[p + s] | c[p + s + 1] << 2 | c[p + 1] << 4 | c[p - s + 1] << 6 | c[p - s] << 8 | c[p - s - 1] << 10 |
           c[p - 1] << 12 | c[p + s - 1] << 14;
}

/* All four neighbours are c's stones or the edge, and the diagonals do not make it false. */
static int is_true_eye(const Board *b, int p, int c) {
    const int s = b->g->side;
    const int nb[4] = {p + s, p + 1, p - 1, p - s};
    for (int k = 0; k < 4; k++) {
        int cq = b->color[nb[k]];
        if (cq != c && cq != EDGE) return 0;
    }
    const int dg[4] = {p + s + 1, p + s - 1, p - s + 1, p - s - 1};
    int bad = 0, edge = 0;
    for (int k = 0; k < 4; k++) {
        int cq = b->color[dg[k]];
        if (cq == EDGE) edge = 1;
        else if (cq == 3 - c) bad++;
    }
    return edge ? bad == 0 : bad < 2;
}

/* Liberties of c's group after c plays p (capped at 3); 3 when it captures. Does not check legality. */
static int libs_after(const Board *b, int p, int c) {
    const int s = b->g->side, nw = b->g->nwords;
    const int nb[4] = {p + s, p + 1, p - 1, p - s};
    uint64_t l[MAXWORDS];
    memset(l, 0, sizeof(uint64_t) * nw);
    for (int k = 0; k < 4; k++) {
        int q = nb[k], cq = b->color[q];
        if (cq == EMPTY) {
            bit_set(l, q);
        } else if (cq == c) {
            const uint64_t *lq = LIBS(b, b->gid[q]);
            for (int w = 0; w < nw; w++) l[w] |= lq[w];
        } else if (cq == 3 - c && libs_upto2(b, b->gid[q]) == 1) {
            return 3;
        }
    }
    bit_clear(l, p);
    int n = 0;
    for (int w = 0; w < nw && n < 3; w++) n += __builtin_popcountll(l[w]);
    return n < 3 ? n : 3;
}

static int has_own_neighbour(const Board *b, int p, int c) {
    const int s = b->g->side;
    return b->color[p + s] == c || b->color[p + 1] == c || b->color[p - 1] == c || b->color[p - s] == c;
}

static int add_cand(int *cand, int n, int p) {
    for (int i = 0; i < n; i++)
        if (cand[i] == p) return n;
    if (n < MAXCAND) cand[n++] = p;
    return n;
}

/* Moves that capture or save groups in atari next to the last move. */
static int atari_moves(const Board *b, int *cand) {
    const int side = b->g->side, c = b->to_play, o = 3 - c, last = b->last;
    int roots[9], nr = 0, n = 0;
    const int around[9] = {last, last + side, last - side, last + 1, last - 1,
                           last + side + 1, last + side - 1, last - side + 1, last - side - 1};
    for (int k = 0; k < 9; k++) {
        int q = around[k], cq = b->color[q];
        if (cq != BLACK && cq != WHITE) continue;
        int r = b->gid[q], dup = 0;
        for (int i = 0; i < nr; i++) dup |= roots[i] == r;
        if (dup) continue;
        roots[nr++] = r;
        if (libs_upto2(b, r) != 1) continue;
        int lib = libs_first(b, r);
        if (cq == o) {
            n = add_cand(cand, n, lib);
            continue;
        }
        /* own group in atari: capture a neighbour in atari, or extend if that gives two liberties */
        int st = r;
        do {
            const int nb[4] = {st + side, st + 1, st - 1, st - side};
            for (int j = 0; j < 4; j++)
                if (b->color[nb[j]] == o && libs_upto2(b, b->gid[nb[j]]) == 1)
                    n = add_cand(cand, n, libs_first(b, b->gid[nb[j]]));
            st = b->next[st];
        } while (st != r);
        if (libs_after(b, lib, c) >= 2) n = add_cand(cand, n, lib);
    }
    return n;
}

static int shape_moves(const Board *b, int *cand) {
    const int side = b->g->side, last = b->last;
    const int around[8] = {last + side, last - side, last + 1, last - 1,
                           last + side + 1, last + side - 1, last - side + 1, last - side - 1};
    int n = 0;
    for (int k = 0; k < 8; k++) {
        int q = around[k];
        if (b->color[q] == EMPTY && shape_table[shape_code(b, q)]) cand[n++] = q;
    }
    return n;
}

/* ---------------------------------------------------------------------------------------------------------------
 * Playouts
 * ------------------------------------------------------------------------------------------------------------- */

#define P_ATARI 0.9        /* chance to look for captures / escapes next to the last move */
#define P_SHAPE 0.9        /* chance to look for 3x3 shapes next to the last move */
#define P_KEEP_SELF_ATARI_1 0.4  /* a random single-stone self-atari is kept this often (throw-ins, nakade) */

/* Pick a candidate at random among the acceptable ones (legal, not a self-atari unless it captures). */
static int pick_candidate(const Board *b, Rng *r, int *cand, int n) {
    while (n > 0) {
        int i = (int)rng_below(r, (uint32_t)n), p = cand[i];
        if (board_legal(b, p) && libs_after(b, p, b->to_play) >= 2) return p;
        cand[i] = cand[--n];
    }
    return PASS;
}

static int random_move(const Board *b, Rng *r) {
    const int n = b->nempty, c = b->to_play;
    if (n == 0) return PASS;
    int start = (int)rng_below(r, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        int j = start + i;
        if (j >= n) j -= n;
        int p = b->empties[j];
        if (!board_legal(b, p) || is_true_eye(b, p, c)) continue;
        if (libs_after(b, p, c) == 1) {
            if (has_own_neighbour(b, p, c) || rng_unit(r) >= P_KEEP_SELF_ATARI_1) continue;
        }
        return p;
    }
    return PASS;
}

static int uniform_move(const Board *b, Rng *r) {
    /* OpenSpiel's random rollouts: uniform over the legal actions, pass included */
    int legal[MAXN * MAXN + 1], n = 0;
    for (int i = 0; i < b->nempty; i++)
        if (board_legal(b, b->empties[i])) legal[n++] = b->empties[i];
    legal[n++] = PASS;
    return legal[rng_below(r, (uint32_t)n)];
}

static int policy_move(const Board *b, Rng *r) {
    int cand[MAXCAND];
    if (b->last != PASS) {
        if (rng_unit(r) < P_ATARI) {
            int p = pick_candidate(b, r, cand, atari_moves(b, cand));
            if (p != PASS) return p;
        }
        if (rng_unit(r) < P_SHAPE) {
            int p = pick_candidate(b, r, cand, shape_moves(b, cand));
            if (p != PASS) return p;
        }
    }
    return random_move(b, r);
}

typedef struct {
    int16_t pt;
    int8_t color;
} Played;

/* Play to the end; returns Black's result in [0, 1] (1 win, 0.5 draw by score). Records moves when seq != NULL. */
static double playout(Board *b, Rng *r, int light, Played *seq, int *nseq, int capseq) {
    while (!b->over) {
        int p = light ? policy_move(b, r) : uniform_move(b, r);
        if (seq && *nseq < capseq) {
            seq[*nseq].pt = (int16_t)p;
            seq[*nseq].color = (int8_t)b->to_play;
            (*nseq)++;
        }
        board_play(b, p);
    }
    double s = board_score(b);
    return s > 0 ? 1.0 : (s < 0 ? 0.0 : 0.5);
}

/* ---------------------------------------------------------------------------------------------------------------
 * Python: Board
 * ------------------------------------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    Board b;
    uint64_t *hist; /* hashes of every position after a non-pass move, plus the empty board */
    int nhist, caphist;
} BoardObject;

static PyTypeObject BoardType;

static int hist_push(uint64_t **hist, int *n, int *cap, uint64_t h) {
    if (*n >= *cap) {
        int nc = *cap ? 2 * *cap : 64;
        uint64_t *nh = (uint64_t *)realloc(*hist, sizeof(uint64_t) * nc);
        if (!nh) return -1;
        *hist = nh;
        *cap = nc;
    }
    (*hist)[(*n)++] = h;
    return 0;
}

static int hist_has(const uint64_t *hist, int n, uint64_t h) {
    for (int i = 0; i < n; i++)
        if (hist[i] == h) return 1;
    return 0;
}

static int act_to_point(const Board *b, PyObject *arg, int *p) {
    long a = PyLong_AsLong(arg);
    if (a == -1 && PyErr_Occurred()) return -1;
    if (a < 0 || a > b->g->nact) {
        PyErr_Format(PyExc_ValueError, "action must be in 0..%d (pass = %d), got %ld", b->g->nact, b->g->nact, a);
        return -1;
    }
    *p = a == b->g->nact ? PASS : b->g->act2pt[a];
    return 0;
}

static inline int point_to_act(const Board *b, int p) { return p == PASS ? b->g->nact : b->g->pt2act[p]; }

/* Exact play: legality, then superko against the whole history. */
static int exact_play(Board *b, uint64_t **hist, int *nhist, int *caphist, int p) {
    if (b->over) {
        PyErr_SetString(PyExc_ValueError, "the game is over");
        return -1;
    }
    if (!board_legal(b, p)) {
        PyErr_SetString(PyExc_ValueError, "illegal move (occupied, suicide or ko)");
        return -1;
    }
    board_play(b, p);
    if (p != PASS) {
        if (hist_has(*hist, *nhist, b->hash)) {
            b->superko = b->over = 1;
        } else if (hist_push(hist, nhist, caphist, b->hash) < 0) {
            PyErr_NoMemory();
            return -1;
        }
    }
    return 0;
}

static PyObject *Board_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"size", "komi", "max_moves", NULL};
    int size = 9, max_moves = -1;
    double komi = 7.5;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|idi", kwlist, &size, &komi, &max_moves)) return NULL;
    const Geo *g = get_geo(size);
    if (!g) {
        PyErr_Format(PyExc_ValueError, "board size must be in 2..%d, got %d", MAXN, size);
        return NULL;
    }
    if (max_moves < 0) max_moves = 2 * size * size;
    if (max_moves < 1) {
        PyErr_SetString(PyExc_ValueError, "max_moves must be >= 1");
        return NULL;
    }
    BoardObject *self = (BoardObject *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    board_init(&self->b, g, komi, max_moves);
    self->hist = NULL;
    self->nhist = self->caphist = 0;
    if (hist_push(&self->hist, &self->nhist, &self->caphist, 0) < 0) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static void Board_dealloc(BoardObject *self) {
    free(self->hist);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static BoardObject *board_clone(const Board *b, const uint64_t *hist, int nhist) {
    BoardObject *o = (BoardObject *)BoardType.tp_alloc(&BoardType, 0);
    if (!o) return NULL;
    board_copy(&o->b, b);
    o->caphist = nhist > 64 ? nhist : 64;
    o->nhist = nhist;
    o->hist = (uint64_t *)malloc(sizeof(uint64_t) * o->caphist);
    if (!o->hist) {
        Py_DECREF(o);
        return (BoardObject *)PyErr_NoMemory();
    }
    if (nhist) memcpy(o->hist, hist, sizeof(uint64_t) * nhist);
    return o;
}

static PyObject *Board_copy(BoardObject *self, PyObject *unused) {
    return (PyObject *)board_clone(&self->b, self->hist, self->nhist);
}

static PyObject *Board_play(BoardObject *self, PyObject *arg) {
    int p;
    if (act_to_point(&self->b, arg, &p) < 0) return NULL;
    if (exact_play(&self->b, &self->hist, &self->nhist, &self->caphist, p) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Board_legal_mask(BoardObject *self, PyObject *unused) {
    const Board *b = &self->b;
    PyObject *out = PyBytes_FromStringAndSize(NULL, b->g->nact + 1);
    if (!out) return NULL;
    char *m = PyBytes_AS_STRING(out);
    for (int a = 0; a < b->g->nact; a++) m[a] = (char)board_legal(b, b->g->act2pt[a]);
    m[b->g->nact] = (char)!b->over;
    return out;
}

static PyObject *Board_colors(BoardObject *self, PyObject *unused) {
    const Board *b = &self->b;
    PyObject *out = PyBytes_FromStringAndSize(NULL, b->g->nact);
    if (!out) return NULL;
    char *m = PyBytes_AS_STRING(out);
    for (int a = 0; a < b->g->nact; a++) m[a] = (char)b->color[b->g->act2pt[a]];
    return out;
}

static PyObject *Board_score(BoardObject *self, PyObject *unused) { return PyFloat_FromDouble(board_score(&self->b)); }

static PyObject *Board_outcome(BoardObject *self, PyObject *unused) {
    if (self->b.superko) return PyLong_FromLong(0);
    double s = board_score(&self->b);
    return PyLong_FromLong(s > 0 ? 1 : (s < 0 ? -1 : 0));
}

static PyObject *Board_playout(BoardObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"seed", "light", NULL};
    unsigned long long seed = 0;
    int light = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|Kp", kwlist, &seed, &light)) return NULL;
    Board b;
    Rng r;
    rng_seed(&r, seed);
    board_copy(&b, &self->b);
    int start = b.moves;
    double result = playout(&b, &r, light, NULL, NULL, 0);
    return Py_BuildValue("(di)", result, b.moves - start);
}

static PyObject *Board_playouts(BoardObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"count", "seed", "light", NULL};
    int count;
    unsigned long long seed = 0;
    int light = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "i|Kp", kwlist, &count, &seed, &light)) return NULL;
    Board *b = (Board *)malloc(2 * sizeof(Board));
    if (!b) return PyErr_NoMemory();
    Board *start = b + 1;
    board_copy(start, &self->b); /* a snapshot: the GIL is released below */
    Rng r;
    rng_seed(&r, seed);
    double wins = 0;
    long long moves = 0;
    Py_BEGIN_ALLOW_THREADS
    for (int i = 0; i < count; i++) {
        board_copy(b, start);
        wins += playout(b, &r, light, NULL, NULL, 0);
        moves += b->moves - start->moves;
    }
    Py_END_ALLOW_THREADS
    free(b);
    return Py_BuildValue("(dL)", wins, moves);
}

static PyObject *Board_get_int(BoardObject *self, void *which) {
    const Board *b = &self->b;
    switch ((intptr_t)which) {
    case 0: return PyLong_FromLong(b->to_play - 1);
    case 1: return PyLong_FromLong(b->moves);
    case 2: return PyBool_FromLong(b->over);
    case 3: return PyBool_FromLong(b->superko);
    case 4: return PyLong_FromLong(b->ko == PASS ? -1 : b->g->pt2act[b->ko]);
    case 5: return PyLong_FromLong(b->g->n);
    case 6: return Py_BuildValue("(ii)", b->captures[BLACK], b->captures[WHITE]);
    case 7: return PyLong_FromUnsignedLongLong(b->hash);
    case 8: return PyFloat_FromDouble(b->komi);
    case 9: return PyLong_FromLong(b->max_moves);
    default: return PyLong_FromLong(b->last == PASS && b->moves == 0 ? -1 : point_to_act(b, b->last));
    }
}

static PyMethodDef Board_methods[] = {
    {"copy", (PyCFunction)Board_copy, METH_NOARGS, "An independent copy."},
    {"play", (PyCFunction)Board_play, METH_O, "Play an action for the side to move (ValueError if illegal)."},
    {"legal_mask", (PyCFunction)Board_legal_mask, METH_NOARGS, "bytes of 0/1 over the n*n+1 actions."},
    {"colors", (PyCFunction)Board_colors, METH_NOARGS, "bytes over the n*n points: 0 empty, 1 black, 2 white."},
    {"score", (PyCFunction)Board_score, METH_NOARGS, "Black's Tromp-Taylor area margin minus komi."},
    {"outcome", (PyCFunction)Board_outcome, METH_NOARGS, "+1 Black wins, -1 White wins, 0 draw."},
    {"playout", (PyCFunction)Board_playout, METH_VARARGS | METH_KEYWORDS,
     "playout(seed=0, light=True) -> (Black's result in [0, 1], moves played); the board is unchanged."},
    {"playouts", (PyCFunction)Board_playouts, METH_VARARGS | METH_KEYWORDS,
     "playouts(count, seed=0, light=True) -> (Black's summed result, moves played) over count playouts."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Board_getset[] = {
    {"to_play", (getter)Board_get_int, NULL, "0 Black, 1 White", (void *)0},
    {"moves", (getter)Board_get_int, NULL, "moves played, passes included", (void *)1},
    {"over", (getter)Board_get_int, NULL, "game over", (void *)2},
    {"superko", (getter)Board_get_int, NULL, "ended by a repeated position (a draw)", (void *)3},
    {"ko", (getter)Board_get_int, NULL, "banned point (action) or -1", (void *)4},
    {"size", (getter)Board_get_int, NULL, "board size", (void *)5},
    {"captures", (getter)Board_get_int, NULL, "stones captured by (Black, White)", (void *)6},
    {"hash", (getter)Board_get_int, NULL, "Zobrist hash of the stones", (void *)7},
    {"komi", (getter)Board_get_int, NULL, "komi", (void *)8},
    {"max_moves", (getter)Board_get_int, NULL, "move cap", (void *)9},
    {"last_move", (getter)Board_get_int, NULL, "last action or -1", (void *)10},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject BoardType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "rllab.envs.go._fastgo.Board",
    .tp_basicsize = sizeof(BoardObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Board(size=9, komi=7.5, max_moves=2*size*size): exact Go rules on a padded array.",
    .tp_new = Board_new,
    .tp_dealloc = (destructor)Board_dealloc,
    .tp_methods = Board_methods,
    .tp_getset = Board_getset,
};

/* ---------------------------------------------------------------------------------------------------------------
 * Tree
 * ------------------------------------------------------------------------------------------------------------- */

typedef struct {
    int32_t first;  /* first child in the pool, -1 until expanded */
    int16_t nchild;
    int16_t move;   /* point, PASS = 0 */
    float n, w;     /* visits and wins of the player who played `move` */
    float an, aw;   /* AMAF (RAVE) visits and wins */
    float pn, pw;   /* heuristic prior as pseudo-visits and pseudo-wins */
    float p;        /* policy prior (a network's), 0 in playout mode */
} Node;

typedef struct {
    double c_uct, c_puct, rave_equiv, fpu;
    int expand_visits, heuristic_priors, light;
    /* heuristic prior weights (pseudo-visits) */
    double even, terminal, eye, self_atari, capture, escape, shape, near1, near2, edge_empty, third_empty;
} Params;

typedef struct {
    PyObject_HEAD
    Board root;
    uint64_t *hist;
    int nhist, caphist;
    Node *nodes;
    int nnodes, capnodes, maxnodes;
    Params prm;
    Rng rng;
    /* per-simulation scratch */
    int *path;
    uint64_t *path_hash;
    Played *seq;
    int capseq, maxdepth;
    /* the leaf handed out by select_leaf, waiting for expand_leaf */
    int pending_depth, pending_nseq;
    int busy;
    long long sims;
} TreeObject;

static int tree_reset_nodes(TreeObject *t) {
    t->nnodes = 1;
    memset(&t->nodes[0], 0, sizeof(Node));
    t->nodes[0].first = -1;
    t->pending_depth = -1;
    return 0;
}

static int tree_reserve(TreeObject *t, int extra) {
    if (t->nnodes + extra <= t->capnodes) return 0;
    if (t->nnodes + extra > t->maxnodes) return -1;
    int nc = t->capnodes * 2;
    while (nc < t->nnodes + extra) nc *= 2;
    if (nc > t->maxnodes) nc = t->maxnodes;
    Node *nn = (Node *)realloc(t->nodes, sizeof(Node) * (size_t)nc);
    if (!nn) return -1;
    t->nodes = nn;
    t->capnodes = nc;
    return 0;
}

/* Heuristic prior of c playing p: pseudo-visits (pn) and pseudo-wins (pw) from shape knowledge. */
static void heuristic_prior(const TreeObject *t, const Board *b, int p, Node *ch) {
    const Params *q = &t->prm;
    const int c = b->to_play, side = b->g->side;
    float pn = (float)q->even, pw = (float)(q->even / 2);
    if (p == PASS) {
        if (b->last == PASS && b->moves > 0) {
            /* the opponent passed: passing ends the game, so its value is the score, known now */
            double s = board_score(b) * (c == BLACK ? 1 : -1);
            ch->pn = (float)q->terminal;
            ch->pw = (float)(s > 0 ? q->terminal : (s < 0 ? 0 : q->terminal / 2));
        } else {
            ch->pn = pn;
            ch->pw = (float)(q->even * 0.1);
        }
        return;
    }
    if (is_true_eye(b, p, c)) {
        pn += (float)q->eye;
    } else {
        int la = libs_after(b, p, c);
        const int nb[4] = {p + side, p + 1, p - 1, p - side};
        int captures = 0, escapes = 0;
        for (int k = 0; k < 4; k++) {
            int cq = b->color[nb[k]];
            if (cq == 3 - c && libs_upto2(b, b->gid[nb[k]]) == 1) captures += b->gsize[b->gid[nb[k]]];
            if (cq == c && libs_upto2(b, b->gid[nb[k]]) == 1) escapes = 1;
        }
        if (captures) {
            double w = q->capture * (captures > 1 ? 2 : 1);
            pn += (float)w;
            pw += (float)w;
        } else if (la == 1) {
            pn += (float)q->self_atari;
        }
        if (escapes && la >= 3) {
            pn += (float)q->escape;
            pw += (float)q->escape;
        }
        if (shape_table[shape_code(b, p)]) {
            pn += (float)q->shape;
            pw += (float)q->shape;
        }
        if (b->last != PASS) {
            int dr = abs(b->g->row[p] - b->g->row[b->last]), dc = abs(b->g->col[p] - b->g->col[b->last]);
            int d = dr > dc ? dr : dc;
            double bonus = d == 1 ? q->near1 : (d == 2 ? q->near2 : 0);
            pn += (float)bonus;
            pw += (float)bonus;
        }
        int line = b->g->line[p];
        if (line <= 3) {
            /* is the 5x5 (Chebyshev radius 2) around p empty? */
            int empty_area = 1;
            for (int dr = -2; dr <= 2 && empty_area; dr++)
                for (int dc = -2; dc <= 2; dc++) {
                    int r = b->g->row[p] + dr, cc = b->g->col[p] + dc;
                    if (r < 0 || cc < 0 || r >= b->g->n || cc >= b->g->n) continue;
                    int cq = b->color[b->g->act2pt[r * b->g->n + cc]];
                    if (cq == BLACK || cq == WHITE) {
                        empty_area = 0;
                        break;
                    }
                }
            if (empty_area && line <= 2) {
                pn += (float)q->edge_empty;
            } else if (empty_area && line == 3 && b->g->n >= 7) {
                pn += (float)q->third_empty;
                pw += (float)q->third_empty;
            }
        }
    }
    ch->pn = pn;
    ch->pw = pw;
}

/* Children for every legal move plus pass; priors from `priors` (per action, a network's) or the heuristics. */
static int tree_expand(TreeObject *t, int node, const Board *b, const float *priors) {
    const Geo *g = b->g;
    if (tree_reserve(t, g->nact + 1) < 0) return -1;
    int first = t->nnodes, k = 0;
    double total = 0;
    for (int a = 0; a <= g->nact; a++) {
        int p = a == g->nact ? PASS : g->act2pt[a];
        if (!board_legal(b, p)) continue;
        Node *ch = &t->nodes[first + k++];
        memset(ch, 0, sizeof(Node));
        ch->first = -1;
        ch->move = (int16_t)p;
        if (priors) {
            ch->p = priors[a] > 0 ? priors[a] : 0;
            total += ch->p;
        } else if (t->prm.heuristic_priors) {
            heuristic_prior(t, b, p, ch);
        }
    }
    if (priors && k) {
        for (int i = 0; i < k; i++) {
            Node *ch = &t->nodes[first + i];
            ch->p = total > 0 ? (float)(ch->p / total) : (float)(1.0 / k);
        }
    }
    t->nnodes += k;
    t->nodes[node].first = first;
    t->nodes[node].nchild = (int16_t)k;
    return 0;
}

static int tree_select(TreeObject *t, int node) {
    const Node *nd = &t->nodes[node];
    const Params *q = &t->prm;
    const double parent_n = nd->n > 1 ? nd->n : 1;
    const double log_n = log(parent_n), sqrt_n = sqrt(parent_n);
    int best = nd->first;
    double best_v = -1e300;
    for (int i = 0; i < nd->nchild; i++) {
        const Node *ch = &t->nodes[nd->first + i];
        double n = ch->n + ch->pn, v;
        if (n > 0) {
            v = (ch->w + ch->pw) / n;
        } else {
            v = q->fpu;
        }
        if (q->rave_equiv > 0 && ch->an > 0) {
            double beta = ch->an / (ch->an + n + n * ch->an / q->rave_equiv);
            v = (1 - beta) * v + beta * (ch->aw / ch->an);
        }
        if (q->c_uct > 0) v += q->c_uct * sqrt(log_n / (ch->n + 1));
        if (q->c_puct > 0) v += q->c_puct * ch->p * sqrt_n / (1 + ch->n);
        if (v > best_v) {
            best_v = v;
            best = nd->first + i;
        }
    }
    return best;
}

static int path_repeats(const TreeObject *t, const Board *b, int depth) {
    if (hist_has(t->hist, t->nhist, b->hash)) return 1;
    for (int d = 1; d < depth; d++)
        if (t->path_hash[d] == b->hash) return 1;
    return 0;
}

/* Walk from the root to a leaf on `b` (a copy of the root), expanding on the way; returns the leaf's depth. */
static int tree_descend(TreeObject *t, Board *b, int *nseq, int expand) {
    int depth = 0;
    t->path[0] = 0;
    *nseq = 0;
    while (!b->over && depth < t->maxdepth) {
        int node = t->path[depth];
        if (t->nodes[node].first < 0) {
            if (!expand || (node != 0 && t->nodes[node].n + 1 < t->prm.expand_visits)) break;
            if (tree_expand(t, node, b, NULL) < 0) break; /* tree full: play out from here */
        }
        int child = tree_select(t, node);
        int p = t->nodes[child].move;
        t->seq[*nseq].pt = (int16_t)p;
        t->seq[*nseq].color = (int8_t)b->to_play;
        (*nseq)++;
        board_play(b, p);
        depth++;
        t->path[depth] = child;
        t->path_hash[depth] = b->hash;
        if (p != PASS && path_repeats(t, b, depth)) b->superko = b->over = 1;
    }
    return depth;
}

static double terminal_result(const Board *b) {
    if (b->superko) return 0.5;
    double s = board_score(b);
    return s > 0 ? 1.0 : (s < 0 ? 0.0 : 0.5);
}

/* Credit Black's result `res` along the path; with amaf, every child whose move its player made first later in
 * the simulation gets an AMAF update (the RAVE statistics). */
static void tree_backup(TreeObject *t, int depth, int nseq, double res, int amaf) {
    uint8_t first[MAXPTS];
    if (amaf) memset(first, 0, (size_t)t->root.g->npts);
    int k = nseq;
    int color = t->root.to_play;
    if (depth & 1) color = 3 - color;
    t->nodes[0].n += 1;
    for (int d = depth; d >= 0; d--) {
        if (amaf)
            while (k > d) {
                k--;
                if (t->seq[k].pt != PASS) first[t->seq[k].pt] = (uint8_t)t->seq[k].color;
            }
        /* color = the player to move at depth d */
        double win = color == BLACK ? res : 1 - res;
        Node *nd = &t->nodes[t->path[d]];
        if (d < depth) {
            Node *ch = &t->nodes[t->path[d + 1]];
            ch->n += 1;
            ch->w += (float)win;
        }
        if (amaf && nd->first >= 0) {
            for (int i = 0; i < nd->nchild; i++) {
                Node *ch = &t->nodes[nd->first + i];
                if (ch->move != PASS && first[ch->move] == color) {
                    ch->an += 1;
                    ch->aw += (float)win;
                }
            }
        }
        color = 3 - color;
    }
}

static void tree_simulate(TreeObject *t, Board *b) {
    int nseq;
    board_copy(b, &t->root);
    int depth = tree_descend(t, b, &nseq, 1);
    double res;
    if (b->over) {
        res = terminal_result(b);
    } else {
        res = playout(b, &t->rng, t->prm.light, t->seq, &nseq, t->capseq);
    }
    tree_backup(t, depth, nseq, res, t->prm.rave_equiv > 0);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Visits of the most and second most visited root children. */
static void root_top2(const TreeObject *t, double *first, double *second) {
    const Node *r = &t->nodes[0];
    *first = *second = 0;
    if (r->first < 0) return;
    for (int i = 0; i < r->nchild; i++) {
        double n = t->nodes[r->first + i].n;
        if (n > *first) {
            *second = *first;
            *first = n;
        } else if (n > *second) {
            *second = n;
        }
    }
}

static void Tree_dealloc(TreeObject *t) {
    free(t->hist);
    free(t->nodes);
    free(t->path);
    free(t->path_hash);
    free(t->seq);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static PyTypeObject TreeType;

static PyObject *Tree_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"board", "seed", "max_nodes", "c_uct", "c_puct", "rave_equiv", "fpu", "expand_visits",
                             "heuristic_priors", "light", NULL};
    BoardObject *board;
    unsigned long long seed = 0;
    int max_nodes = 2000000, expand_visits = 2, heuristic = 1, light = 1;
    double c_uct = 0.0, c_puct = 0.0, rave_equiv = 2000.0, fpu = 1.0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|Kiddddipp", kwlist, &BoardType, &board, &seed, &max_nodes, &c_uct,
                                     &c_puct, &rave_equiv, &fpu, &expand_visits, &heuristic, &light))
        return NULL;
    if (max_nodes < 1000) {
        PyErr_SetString(PyExc_ValueError, "max_nodes must be >= 1000");
        return NULL;
    }
    TreeObject *t = (TreeObject *)type->tp_alloc(type, 0);
    if (!t) return NULL;
    board_copy(&t->root, &board->b);
    t->caphist = board->nhist > 64 ? board->nhist : 64;
    t->nhist = board->nhist;
    t->hist = (uint64_t *)malloc(sizeof(uint64_t) * t->caphist);
    t->maxnodes = max_nodes;
    t->capnodes = 4096;
    t->nodes = (Node *)malloc(sizeof(Node) * t->capnodes);
    t->maxdepth = 4 * MAXPTS;
    t->capseq = board->b.max_moves + t->maxdepth + 8;
    t->path = (int *)malloc(sizeof(int) * (t->maxdepth + 1));
    t->path_hash = (uint64_t *)malloc(sizeof(uint64_t) * (t->maxdepth + 1));
    t->seq = (Played *)malloc(sizeof(Played) * t->capseq);
    if (!t->hist || !t->nodes || !t->path || !t->path_hash || !t->seq) {
        Py_DECREF(t);
        return PyErr_NoMemory();
    }
    memcpy(t->hist, board->hist, sizeof(uint64_t) * board->nhist);
    t->prm = (Params){.c_uct = c_uct, .c_puct = c_puct, .rave_equiv = rave_equiv, .fpu = fpu,
                      .expand_visits = expand_visits, .heuristic_priors = heuristic, .light = light,
                      .even = 10, .terminal = 100, .eye = 60, .self_atari = 30, .capture = 20, .escape = 20, .shape = 12,
                      .near1 = 12, .near2 = 6, .edge_empty = 12, .third_empty = 6};
    rng_seed(&t->rng, seed);
    tree_reset_nodes(t);
    return (PyObject *)t;
}

static int tree_check_idle(TreeObject *t) {
    if (t->busy) {
        PyErr_SetString(PyExc_RuntimeError, "the tree is searching in another thread");
        return -1;
    }
    return 0;
}

static PyObject *Tree_search(TreeObject *t, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"sims", "seconds", "early_stop", NULL};
    long long sims = 0;
    double seconds = 0;
    int early_stop = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|Ldp", kwlist, &sims, &seconds, &early_stop)) return NULL;
    if (tree_check_idle(t) < 0) return NULL;
    if (sims <= 0 && seconds <= 0) {
        PyErr_SetString(PyExc_ValueError, "give sims > 0 or seconds > 0");
        return NULL;
    }
    if (t->root.over) return PyLong_FromLong(0);
    Board *b = (Board *)malloc(sizeof(Board));
    if (!b) return PyErr_NoMemory();
    t->pending_depth = -1;
    t->busy = 1;
    long long done = 0;
    Py_BEGIN_ALLOW_THREADS
    double start = now_seconds(), deadline = start + seconds;
    for (;;) {
        tree_simulate(t, b);
        done++;
        if (sims > 0 && done >= sims) break;
        if ((done & 63) == 0) {
            double now = now_seconds();
            if (seconds > 0 && now >= deadline) break;
            if (early_stop && (done & 255) == 0) {
                /* stop when the most visited move can no longer be overtaken within the budget */
                double left = 1e300, a, c;
                if (sims > 0) left = (double)(sims - done);
                if (seconds > 0) {
                    double by_time = (deadline - now) * done / (now - start + 1e-9);
                    if (by_time < left) left = by_time;
                }
                root_top2(t, &a, &c);
                if (a - c > left) break;
            }
        }
    }
    Py_END_ALLOW_THREADS
    t->busy = 0;
    t->sims += done;
    free(b);
    return PyLong_FromLongLong(done);
}

/* Network mode, step 1: descend to a leaf (no playout); (board, actions from the root), or None for a terminal
 * leaf, which is backed up at once. */
static PyObject *Tree_select_leaf(TreeObject *t, PyObject *unused) {
    if (tree_check_idle(t) < 0) return NULL;
    if (t->root.over) {
        PyErr_SetString(PyExc_ValueError, "the root position is terminal");
        return NULL;
    }
    BoardObject *leaf = board_clone(&t->root, NULL, 0);
    if (!leaf) return NULL;
    int nseq;
    int depth = tree_descend(t, &leaf->b, &nseq, 0);
    if (leaf->b.over) {
        tree_backup(t, depth, nseq, terminal_result(&leaf->b), 0);
        t->sims++;
        t->pending_depth = -1;
        Py_DECREF(leaf);
        Py_RETURN_NONE;
    }
    /* the leaf's own superko history: the game's plus the path's */
    for (int i = 0; i < t->nhist; i++)
        if (hist_push(&leaf->hist, &leaf->nhist, &leaf->caphist, t->hist[i]) < 0) break;
    for (int d = 1; d <= depth; d++)
        if (t->seq[d - 1].pt != PASS) hist_push(&leaf->hist, &leaf->nhist, &leaf->caphist, t->path_hash[d]);
    t->pending_depth = depth;
    t->pending_nseq = nseq;
    PyObject *path = PyList_New(depth);
    if (!path) {
        Py_DECREF(leaf);
        return NULL;
    }
    for (int d = 0; d < depth; d++)
        PyList_SET_ITEM(path, d, PyLong_FromLong(point_to_act(&t->root, t->seq[d].pt)));
    return Py_BuildValue("(NN)", (PyObject *)leaf, path);
}

/* Network mode, step 2: priors (one float per action) and the leaf's value for its side to move, in [0, 1]. */
static PyObject *Tree_expand_leaf(TreeObject *t, PyObject *args) {
    PyObject *obj;
    double value;
    if (!PyArg_ParseTuple(args, "Od", &obj, &value)) return NULL;
    if (t->pending_depth < 0) {
        PyErr_SetString(PyExc_ValueError, "no pending leaf: call select_leaf() first");
        return NULL;
    }
    if (!(value >= 0 && value <= 1)) {
        PyErr_SetString(PyExc_ValueError, "value must be a win probability in [0, 1]");
        return NULL;
    }
    const Geo *g = t->root.g;
    float *priors = NULL;
    Py_buffer view;
    int have_view = 0;
    if (obj != Py_None) {
        if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return NULL;
        have_view = 1;
        if (!view.format || strcmp(view.format, "f") != 0 || view.len != (Py_ssize_t)sizeof(float) * (g->nact + 1)) {
            PyBuffer_Release(&view);
            PyErr_Format(PyExc_ValueError, "priors must be a contiguous float32 array of %d values", g->nact + 1);
            return NULL;
        }
        priors = (float *)view.buf;
    }
    int depth = t->pending_depth;
    Board *b = (Board *)malloc(sizeof(Board));
    if (!b) {
        if (have_view) PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    board_copy(b, &t->root);
    for (int d = 0; d < depth; d++) board_play(b, t->nodes[t->path[d + 1]].move);
    int leaf = t->path[depth];
    if (t->nodes[leaf].first < 0) tree_expand(t, leaf, b, priors);
    int leaf_color = b->to_play;
    free(b);
    if (have_view) PyBuffer_Release(&view);
    double res = leaf_color == BLACK ? value : 1 - value;
    tree_backup(t, depth, t->pending_nseq, res, 0);
    t->sims++;
    t->pending_depth = -1;
    Py_RETURN_NONE;
}

/* Keep the subtree under `child` as the new tree (breadth first, so each node's children stay contiguous). */
static int tree_reroot(TreeObject *t, int child) {
    Node *old = t->nodes;
    int oldn = t->nnodes;
    Node *fresh = (Node *)malloc(sizeof(Node) * (size_t)t->capnodes);
    int *queue = (int *)malloc(sizeof(int) * (size_t)oldn);
    if (!fresh || !queue) {
        free(fresh);
        free(queue);
        return -1;
    }
    fresh[0] = old[child];
    queue[0] = child;
    int head = 0, tail = 1, nn = 1;
    while (head < tail) {
        int o = queue[head], ni = head;
        head++;
        if (old[o].first < 0) {
            fresh[ni].first = -1;
            continue;
        }
        fresh[ni].first = nn;
        for (int i = 0; i < old[o].nchild; i++) {
            fresh[nn + i] = old[old[o].first + i];
            queue[tail++] = old[o].first + i;
        }
        nn += old[o].nchild;
    }
    free(queue);
    free(old);
    t->nodes = fresh;
    t->nnodes = nn;
    return 0;
}

static PyObject *Tree_advance(TreeObject *t, PyObject *arg) {
    if (tree_check_idle(t) < 0) return NULL;
    int p;
    if (act_to_point(&t->root, arg, &p) < 0) return NULL;
    int child = -1;
    const Node *r = &t->nodes[0];
    if (r->first >= 0)
        for (int i = 0; i < r->nchild; i++)
            if (t->nodes[r->first + i].move == p) child = r->first + i;
    if (exact_play(&t->root, &t->hist, &t->nhist, &t->caphist, p) < 0) return NULL;
    if (child < 0 || t->root.over) {
        tree_reset_nodes(t);
    } else if (tree_reroot(t, child) < 0) {
        return PyErr_NoMemory();
    }
    t->pending_depth = -1;
    Py_RETURN_NONE;
}

/* [(action, visits, wins, amaf visits, amaf wins, prior visits, prior wins, policy prior)] of the root's children. */
static PyObject *Tree_root_stats(TreeObject *t, PyObject *unused) {
    const Node *r = &t->nodes[0];
    int k = r->first < 0 ? 0 : r->nchild;
    PyObject *out = PyList_New(k);
    if (!out) return NULL;
    for (int i = 0; i < k; i++) {
        const Node *c = &t->nodes[r->first + i];
        PyObject *row = Py_BuildValue("(iddddddd)", point_to_act(&t->root, c->move), (double)c->n, (double)c->w,
                                      (double)c->an, (double)c->aw, (double)c->pn, (double)c->pw, (double)c->p);
        if (!row) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, row);
    }
    return out;
}

static PyObject *Tree_root_board(TreeObject *t, PyObject *unused) {
    return (PyObject *)board_clone(&t->root, t->hist, t->nhist);
}

static PyObject *Tree_get(TreeObject *t, void *which) {
    switch ((intptr_t)which) {
    case 0: return PyLong_FromLong(t->nnodes);
    case 1: return PyLong_FromLongLong(t->sims);
    default: return PyFloat_FromDouble(t->nodes[0].n);
    }
}

static PyMethodDef Tree_methods[] = {
    {"search", (PyCFunction)Tree_search, METH_VARARGS | METH_KEYWORDS,
     "search(sims=0, seconds=0, early_stop=True) -> simulations run (playouts from the leaves)."},
    {"select_leaf", (PyCFunction)Tree_select_leaf, METH_NOARGS,
     "Descend to a leaf for an external evaluator: (Board, actions from the root), or None when the leaf was "
     "terminal (already counted)."},
    {"expand_leaf", (PyCFunction)Tree_expand_leaf, METH_VARARGS,
     "expand_leaf(priors float32[n*n+1] or None, value in [0, 1] for the leaf's side to move)."},
    {"advance", (PyCFunction)Tree_advance, METH_O, "Play an action at the root, keeping its subtree."},
    {"root_stats", (PyCFunction)Tree_root_stats, METH_NOARGS,
     "[(action, n, w, amaf_n, amaf_w, prior_n, prior_w, policy)] for the root's children."},
    {"root_board", (PyCFunction)Tree_root_board, METH_NOARGS, "A copy of the root position."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Tree_getset[] = {
    {"nodes", (getter)Tree_get, NULL, "nodes in the tree", (void *)0},
    {"simulations", (getter)Tree_get, NULL, "simulations run since creation", (void *)1},
    {"root_visits", (getter)Tree_get, NULL, "visits of the root (kept across advance)", (void *)2},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject TreeType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "rllab.envs.go._fastgo.Tree",
    .tp_basicsize = sizeof(TreeObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Tree(board, seed=0, max_nodes=2000000, c_uct=0, c_puct=0, rave_equiv=2000, fpu=1, expand_visits=2,"
              " heuristic_priors=True, light=True): UCT search with RAVE and priors.",
    .tp_new = Tree_new,
    .tp_dealloc = (destructor)Tree_dealloc,
    .tp_methods = Tree_methods,
    .tp_getset = Tree_getset,
};

/* ---------------------------------------------------------------------------------------------------------------
 * Module
 * ------------------------------------------------------------------------------------------------------------- */

static PyObject *shape_match(PyObject *self, PyObject *args) {
    /* shape_match(code) -> bool: for tests of the 3x3 table */
    int code;
    if (!PyArg_ParseTuple(args, "i", &code)) return NULL;
    if (code < 0 || code >= (1 << 16)) {
        PyErr_SetString(PyExc_ValueError, "code must be in 0..65535");
        return NULL;
    }
    return PyBool_FromLong(shape_table[code]);
}

static PyObject *board_shape_at(PyObject *self, PyObject *args) {
    /* shape_at(board, action) -> bool: the 3x3 shape table's verdict on an empty point */
    BoardObject *b;
    PyObject *a;
    if (!PyArg_ParseTuple(args, "O!O", &BoardType, &b, &a)) return NULL;
    int p;
    if (act_to_point(&b->b, a, &p) < 0) return NULL;
    if (p == PASS || b->b.color[p] != EMPTY) Py_RETURN_FALSE;
    return PyBool_FromLong(shape_table[shape_code(&b->b, p)]);
}

static PyMethodDef module_methods[] = {
    {"shape_match", shape_match, METH_VARARGS, "shape_match(code) -> whether a 16-bit 3x3 code is a good shape."},
    {"shape_at", board_shape_at, METH_VARARGS, "shape_at(board, action) -> whether the 3x3 shape there is good."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "_fastgo", "Fast Go board, playouts and UCT/RAVE tree.",
                                       -1, module_methods};

PyMODINIT_FUNC PyInit__fastgo(void) {
    build_shapes();
    if (PyType_Ready(&BoardType) < 0 || PyType_Ready(&TreeType) < 0) return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    Py_INCREF(&BoardType);
    Py_INCREF(&TreeType);
    if (PyModule_AddObject(m, "Board", (PyObject *)&BoardType) < 0 ||
        PyModule_AddObject(m, "Tree", (PyObject *)&TreeType) < 0 ||
        PyModule_AddIntConstant(m, "MAX_SIZE", MAXN) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
