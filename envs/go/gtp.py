"""GTP (Go Text Protocol v2), both sides: a client for external engines such as GNU Go, and our engine.

Client: :class:`GtpClient` runs a program and exchanges commands; :class:`GtpPlayer` makes it a :class:`Player`
(it is told every move before ``genmove``, so it always holds the same position as our game). GNU Go is always
started with ``--chinese-rules --capture-all-dead`` so its ``final_score`` is an area count comparable with ours.

Engine: :class:`GtpEngine` answers GTP commands for one of our players (``rllab gtp``); malformed input gets a
``? message`` answer and never ends the session.
"""

from __future__ import annotations

import os
import select
import shlex
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

import numpy as np

from envs.go.engine import BLACK, MAX_SIZE, MIN_SIZE, WHITE, GoGame, default_komi
from envs.go.opponents import RESIGN, Player
from rllab.errors import UserError

GNUGO = "/usr/games/gnugo"
GNUGO_FLAGS = ("--mode", "gtp", "--chinese-rules", "--capture-all-dead")


class GtpError(UserError):
    """The external engine answered ``? ...``, died, or did not answer in time."""


class GtpRejected(GtpError):
    """The engine is alive but answered ``? ...`` (unknown command, illegal move, bad size)."""


def gnugo_command(level: int = 1, binary: str = GNUGO) -> list[str]:
    """GNU Go's GTP command line with the flags our scoring needs."""
    return [binary, *GNUGO_FLAGS, "--level", str(level)]


def with_gnugo_flags(argv: list[str]) -> list[str]:
    """Add GTP mode and area-scoring flags to a GNU Go command line that lacks them."""
    if Path(argv[0]).name != "gnugo":
        return argv
    extra = [f for f in ("--chinese-rules", "--capture-all-dead") if f not in argv]
    if "--mode" not in argv:
        extra = ["--mode", "gtp", *extra]
    return [argv[0], *extra, *argv[1:]]


class GtpClient:
    """One external GTP program on pipes. Every failure becomes a :class:`GtpError` with the program's name."""

    def __init__(self, argv: list[str], timeout: float = 60.0):
        self.argv = with_gnugo_flags(list(argv))
        self.name = Path(self.argv[0]).name
        self.timeout = timeout
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, bufsize=0)
        except FileNotFoundError:
            hint = " (install it: apt-get install gnugo)" if self.name == "gnugo" else ""
            raise GtpError(f"GTP program not found: {self.argv[0]}{hint}") from None
        except PermissionError:
            raise GtpError(f"GTP program is not executable: {self.argv[0]}") from None
        self._buffer = b""

    def send(self, command: str) -> str:
        """Send one command and return the answer text (without ``=``); ``? ...`` raises :class:`GtpError`."""
        if self.proc.poll() is not None:
            raise GtpError(f"GTP engine {self.name} died (exit status {self.proc.returncode}); "
                           f"cannot send {command!r}")
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write((command + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise GtpError(f"GTP engine {self.name} died (broken pipe) while sending {command!r}") from None
        lines = []
        while True:
            line = self._readline(command)
            if not line.strip():
                if lines:
                    break
                continue
            lines.append(line)
        text = "\n".join(lines)
        if text.startswith("?"):
            raise GtpRejected(f"{self.name} rejected {command!r}: {text[1:].strip() or 'error'}")
        if not text.startswith("="):
            raise GtpError(f"{self.name} answered {command!r} with non-GTP output: {text[:80]!r}")
        return text[1:].strip()

    def _readline(self, command: str) -> str:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], self.timeout)
            if not ready:
                raise GtpError(f"GTP engine {self.name} gave no answer to {command!r} within {self.timeout:.0f} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise GtpError(f"GTP engine {self.name} died while answering {command!r}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode(errors="replace").rstrip("\r")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("quit")
            except GtpError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class GtpPlayer(Player):
    """An external GTP engine as a player; may answer ``resign`` (returned as :data:`RESIGN`)."""

    def __init__(self, argv: list[str], timeout: float = 60.0):
        self.client = GtpClient(argv, timeout)
        self.name = self.client.name
        self._sent = 0
        self.rng = np.random.default_rng()

    def reset(self, game: GoGame, rng: np.random.Generator) -> None:
        self.rng = rng
        self.client.send(f"boardsize {game.size}")
        self.client.send("clear_board")
        self.client.send(f"komi {game.komi}")
        try:  # GNU Go seeds from the clock otherwise; engines without the command just say "?"
            self.client.send(f"set_random_seed {int(rng.integers(1 << 30))}")
        except GtpRejected:
            pass
        self._sent = 0

    def sync(self, game: GoGame) -> None:
        """Send the moves the engine has not seen yet."""
        for i in range(self._sent, len(game.history)):
            color = "b" if i % 2 == 0 else "w"
            self.client.send(f"play {color} {game.action_to_gtp(game.history[i])}")
        self._sent = len(game.history)

    def select(self, game: GoGame, observation: np.ndarray | None, mask: np.ndarray) -> int:
        self.sync(game)
        answer = self.client.send(f"genmove {'b' if game.to_play == BLACK else 'w'}").lower()
        if answer == "resign":
            return RESIGN
        action = game.gtp_to_action(answer)
        self._sent += 1
        return action

    def final_score(self, game: GoGame) -> str:
        """The engine's own count of the final position (for cross-checking our scoring)."""
        self.sync(game)
        return self.client.send("final_score")

    def close(self) -> None:
        self.client.close()


def parse_score(text: str) -> float:
    """``"B+3.5"`` -> 3.5, ``"W+2"`` -> -2, ``"0"`` -> 0 (Black's margin)."""
    text = text.strip().upper()
    if text in ("0", "JIGO", "DRAW"):
        return 0.0
    if len(text) < 3 or text[0] not in "BW" or text[1] != "+":
        raise GtpError(f"cannot parse score {text!r}")
    try:
        value = float(text[2:])
    except ValueError:
        raise GtpError(f"cannot parse score {text!r}") from None
    return value if text[0] == "B" else -value


def format_score(margin: float) -> str:
    if margin == 0:
        return "0"
    return f"{'B' if margin > 0 else 'W'}+{abs(margin):g}"


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
        except Exception as exc:  # noqa: BLE001  (a GTP session must survive any input; report, never crash)
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
        if color != self.game.to_play:
            raise UserError(f"illegal move (it is {'black' if self.game.to_play == BLACK else 'white'}'s turn)")
        action = self.game.gtp_to_action(args[1])
        if not self.game.is_legal(action):
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


def split_command(command: str) -> list[str]:
    """A GTP program's command line from a spec string, with a clear error for unbalanced quotes."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UserError(f"bad GTP command line {command!r}: {exc}") from None
    if not argv:
        raise UserError("empty GTP command line")
    return argv
