"""GTP (Go Text Protocol v2) client: external engines such as GNU Go as players.

:class:`GtpClient` runs a program and exchanges commands; :class:`GtpPlayer` makes it a :class:`Player` (it is told
every move before ``genmove``, so it always holds the same position as our game). GNU Go is always started with
``--chinese-rules --capture-all-dead`` so its ``final_score`` is an area count comparable with ours.
"""

from __future__ import annotations

import os
import select
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np

from rllab.core.errors import UserError
from rllab.envs.go.engine import BLACK, GoGame
from rllab.envs.go.player import RESIGN, Player

GNUGO_PATHS = ("/usr/games/gnugo", "/usr/local/bin/gnugo", "/opt/homebrew/bin/gnugo")
GNUGO_FLAGS = ("--mode", "gtp", "--chinese-rules", "--capture-all-dead")


class GtpError(UserError):
    """The external engine answered ``? ...``, died, or did not answer in time."""


class GtpRejected(GtpError):
    """The engine is alive but answered ``? ...`` (unknown command, illegal move, bad size)."""


def gnugo_binary() -> str | None:
    """GNU Go on ``PATH``, or where Debian and Homebrew install it (``/usr/games`` is not on every ``PATH``)."""
    found = shutil.which("gnugo")
    if found:
        return found
    return next((p for p in GNUGO_PATHS if os.access(p, os.X_OK)), None)


def gnugo_command(level: int = 1, binary: str | None = None) -> list[str]:
    """GNU Go's GTP command line with the flags our scoring needs."""
    binary = binary or gnugo_binary() or "gnugo"
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


def split_command(command: str) -> list[str]:
    """A GTP program's command line from a spec string, with a clear error for unbalanced quotes."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UserError(f"bad GTP command line {command!r}: {exc}") from None
    if not argv:
        raise UserError("empty GTP command line")
    return argv
