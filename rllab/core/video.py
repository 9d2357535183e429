"""Write recorded ``rgb_array`` frames to a video file: ``.gif`` with Pillow, ``.mp4`` with imageio-ffmpeg.

The file is written beside its target and renamed into place, so an interrupted write leaves no broken video.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rllab.core.atomic import write_with
from rllab.core.errors import UserError

VIDEO_SUFFIXES = (".gif", ".mp4")
_MP4_HINT = "writing .mp4 needs imageio and imageio-ffmpeg: pip install imageio imageio-ffmpeg (or write a .gif)"


def _check_frames(frames: list[np.ndarray]) -> list[np.ndarray]:
    if not frames:
        raise UserError("no frames to write: the episode recorded nothing (was render_mode='rgb_array' set?)")
    checked = []
    for i, frame in enumerate(frames):
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise UserError(f"frame {i} is {frame.dtype} {frame.shape}; expected uint8 (height, width, 3)")
        if frame.shape != frames[0].shape:
            raise UserError(f"frame {i} has shape {frame.shape}, frame 0 has {np.shape(frames[0])}")
        checked.append(frame)
    return checked


def write_video(frames: list[np.ndarray], path: str | Path, fps: float = 30) -> Path:
    """Write ``frames`` (uint8 RGB, all one shape) to ``path``; the suffix picks the format. Returns the path."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise UserError(f"unsupported video format {path.suffix or '(none)'!r} for {path}; use .gif or .mp4")
    if not fps or fps <= 0:
        raise UserError(f"fps must be positive, got {fps}")
    frames = _check_frames(frames)
    if suffix == ".gif":
        write_with(path, lambda tmp: _write_gif(frames, tmp, fps), suffix=suffix)
    else:
        try:
            import imageio.v2 as imageio
            import imageio_ffmpeg  # noqa: F401  (the ffmpeg binary imageio's mp4 writer needs)
        except ImportError as exc:
            raise UserError(_MP4_HINT) from exc
        write_with(path, lambda tmp: _write_mp4(imageio, frames, tmp, fps), suffix=suffix)
    return path


def _write_gif(frames: list[np.ndarray], path: Path, fps: float) -> None:
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    # GIF delays are whole centiseconds, so very high frame rates play slower than asked.
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)


def _write_mp4(imageio: Any, frames: list[np.ndarray], path: Path, fps: float) -> None:
    # H.264 in yuv420p (what every player opens) needs even sizes: pad odd ones by one edge pixel.
    height, width = frames[0].shape[:2]
    pad = ((0, height % 2), (0, width % 2), (0, 0))
    with imageio.get_writer(path, format="FFMPEG", fps=fps, codec="libx264", macro_block_size=1,
                            pixelformat="yuv420p") as out:
        for frame in frames:
            out.append_data(np.pad(frame, pad, mode="edge") if height % 2 or width % 2 else frame)
