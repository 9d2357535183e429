"""GTP (Go Text Protocol v2) engine: serves one of our players to GUIs, GNU Go's twogtp or ``rllab match``.

Malformed input gets a ``? message`` answer and never ends the session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import IO

import numpy as np

from rllab.core.errors import UserError
from rllab.envs.go.engine import BLACK, MAX_SIZE, MIN_SIZE, WHITE, GoGame, default_komi
from rllab.envs.go.gtp_client import format_score
from rllab.envs.go.player import RESIGN, Player


class GtpEngine:
    """Answers GTP v2 commands for one of our players (a trained policy, random or heuristic)."""

    COMMANDS = ("protocol_version", "name", "version", "known_command", "list_commands", "boardsize",
                "clear_board", "komi", "play", "genmove", "undo", "final_score", "showboard", "quit")

    def __init__(self, player: Player, size: int = 9, komi: float | None = None, name: str = "rllab",
                 version: str = "0.1.0", seed: int = 0, fixed_size: bool = False):
        self.player = player
        self.name, self.version = name, version
        self.fixed_size = fixed_size
        self.komi = komi
        self.rng = np.random.default_rng(seed)
        self._komi_set = komi is not None
        self.game = GoGame(size, komi)
        self.player.reset(self.game, self.rng)
        self.running = True

    def handle(self, line: str) -> str | None:
        """One input line -> the full response (``=...`` or ``?...`` plus a blank line); None for empty input."""
        line = "".join(ch for ch in line.split("#", 1)[0] if ch in "\t\n" or 32 <= ord(ch) < 127)
        words = line.replace("\t", " ").split()
        if not words:
            return None
        ident = ""
        if words[0].isdigit():
            ident, words = words[0], words[1:]
            if not words:
                return f"?{ident} missing command\n\n"
        command, args = words[0].lower(), words[1:]
        handler: Callable[[list[str]], str] | None = getattr(self, f"_cmd_{command}", None)
        if command not in self.COMMANDS or handler is None:
            return f"?{ident} unknown command\n\n"
        try:
            return f"={ident} {handler(args)}".rstrip(" ") + "\n\n"
        except UserError as exc:
            return f"?{ident} {exc}\n\n"
        except Exception as exc:
            return f"?{ident} internal error: {type(exc).__name__}: {exc}\n\n"

    def serve(self, lines: Iterable[str], out: IO[str]) -> None:
        """Read commands until ``quit`` or end of input."""
        for line in lines:
            response = self.handle(line)
            if response is not None:
                out.write(response)
                out.flush()
            if not self.running:
                break

    # -- commands ------------------------------------------------------------------------------------------------
    def _cmd_protocol_version(self, args: list[str]) -> str:
        return "2"

    def _cmd_name(self, args: list[str]) -> str:
        return self.name

    def _cmd_version(self, args: list[str]) -> str:
        return self.version

    def _cmd_known_command(self, args: list[str]) -> str:
        self._arity(args, 1, "known_command COMMAND")
        return "true" if args[0].lower() in self.COMMANDS else "false"

    def _cmd_list_commands(self, args: list[str]) -> str:
        return "\n".join(self.COMMANDS)

    def _cmd_boardsize(self, args: list[str]) -> str:
        self._arity(args, 1, "boardsize SIZE")
        if not args[0].isdigit() or not MIN_SIZE <= int(args[0]) <= MAX_SIZE:
            raise UserError("unacceptable size")
        size = int(args[0])
        if self.fixed_size and size != self.game.size:
            raise UserError(f"unacceptable size (this model plays {self.game.size}x{self.game.size} only)")
        self._new_game(size)
        return ""

    def _cmd_clear_board(self, args: list[str]) -> str:
        self._new_game(self.game.size)
        return ""

    def _cmd_komi(self, args: list[str]) -> str:
        self._arity(args, 1, "komi FLOAT")
        try:
            komi = float(args[0])
        except ValueError:
            raise UserError("syntax error (komi needs a number)") from None
        if not np.isfinite(komi):
            raise UserError("syntax error (komi must be finite)")
        self.komi, self._komi_set = komi, True
        self.game.komi = komi
        return ""

    def _cmd_play(self, args: list[str]) -> str:
        self._arity(args, 2, "play COLOR VERTEX")
        color = self._color(args[0])
        if self.game.over:
            raise UserError("illegal move (the game is over)")
        action = self.game.gtp_to_action(args[1])
        if color != self.game.to_play:
            # GTP lets `play` place either colour (GUIs set up positions this way): the side to move passes first,
            # unless that pass would end the game (two passes in a row).
            if self.game.history and self.game.history[-1] == self.game.pass_action:
                raise UserError("illegal move (out of turn after a pass: the inserted pass would end the game)")
            trial = self.game.clone()
            trial.play(trial.pass_action)
            if not trial.is_legal(action):
                raise UserError("illegal move")
            self.game.play(self.game.pass_action)
        elif not self.game.is_legal(action):
            raise UserError("illegal move")
        self.game.play(action)
        return ""

    def _cmd_genmove(self, args: list[str]) -> str:
        self._arity(args, 1, "genmove COLOR")
        color = self._color(args[0])
        if self.game.over:
            return "pass"
        if color != self.game.to_play:
            raise UserError(f"it is {'black' if self.game.to_play == BLACK else 'white'}'s turn")
        action = self.player.select(self.game, None, self.game.legal_mask())
        if action == RESIGN:
            return "resign"
        self.game.play(action)
        return self.game.action_to_gtp(action)

    def _cmd_undo(self, args: list[str]) -> str:
        if not self.game.history:
            raise UserError("cannot undo")
        moves = self.game.history[:-1]
        self._new_game(self.game.size)
        for action in moves:
            self.game.play(action)
        return ""

    def _cmd_final_score(self, args: list[str]) -> str:
        return format_score(self.game.score()) if self.game.resigned < 0 else (
            "W+R" if self.game.resigned == BLACK else "B+R")

    def _cmd_showboard(self, args: list[str]) -> str:
        return "\n" + self.game.to_text()

    def _cmd_quit(self, args: list[str]) -> str:
        self.running = False
        return ""

    # -- helpers -------------------------------------------------------------------------------------------------
    def _new_game(self, size: int) -> None:
        komi = self.komi if self._komi_set else default_komi(size)
        self.game = GoGame(size, komi)
        self.player.reset(self.game, self.rng)

    @staticmethod
    def _arity(args: list[str], n: int, usage: str) -> None:
        if len(args) != n:
            raise UserError(f"syntax error (usage: {usage})")

    @staticmethod
    def _color(word: str) -> int:
        w = word.lower()
        if w in ("b", "black"):
            return BLACK
        if w in ("w", "white"):
            return WHITE
        raise UserError(f"syntax error (invalid color {word!r})")
