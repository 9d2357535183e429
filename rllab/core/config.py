"""Reading configuration, one way for every kind: YAML read safely, mappings turned into typed dataclasses with a
"did you mean" for mistyped fields, presets found by name in ``rllab/presets/<kind>/``, and ``--set`` overrides.

Every config of the lab (an SB3 run, the Note RNN, the tutor, an experiment spec) goes through
:func:`from_mapping` and a :class:`PresetKind`, so a typo is reported the same way everywhere, before anything is
written.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import re
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from rllab.core.errors import UserError, choices_hint

T = TypeVar("T")


class YamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads ``1e-4`` as a float (YAML 1.1 wants ``1.0e-4``)."""


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                   |\.[0-9_]+(?:[eE][-+][0-9]+)?
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


def safe_load(text: str) -> Any:
    """Parse YAML safely (no object construction), with scientific-notation floats."""
    return yaml.load(text, Loader=YamlLoader)


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file with one-line errors for a missing or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    try:
        return safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{path}: malformed YAML{where}: {problem}") from None


def read_mapping(path: str | Path) -> dict[str, Any]:
    """A YAML file that must hold a mapping (an empty file is an empty mapping)."""
    data = read_yaml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of fields, got {type(data).__name__}")
    return data


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known name, or an empty string."""
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_name(what: str, name: str, known: Iterable[str], source: str = "") -> UserError:
    """The one error for a name that is not among ``known``: the name, a suggestion and the valid choices."""
    known = sorted(known)
    prefix = f"{source}: " if source else ""
    return UserError(f"{prefix}unknown {what} {name!r}{did_you_mean(name, known)}; {choices_hint(known)}")


def from_mapping(cls: type[T], data: Any, source: str) -> T:
    """Build the dataclass ``cls`` from a mapping, refusing unknown fields by name (with a suggestion).

    Fields whose type is itself a dataclass are built recursively from nested mappings; the class's own
    ``__post_init__`` does the value checks.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{source} must be a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in data:
        if name not in fields:
            raise unknown_name("field", str(name), fields, source)
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        kind = hints.get(name)
        if dataclasses.is_dataclass(kind) and isinstance(kind, type) and not dataclasses.is_dataclass(value):
            value = from_mapping(kind, value, f"{source}: {name}")
        values[name] = value
    try:
        return cls(**copy.deepcopy(values))
    except TypeError as exc:  # a missing required field
        raise UserError(f"{source}: {exc}") from None


def to_plain(obj: Any) -> Any:
    """The YAML round-trip form of a config (dataclasses -> dicts, tuples -> lists), for storing and comparing."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    return obj


# -- presets -----------------------------------------------------------------------------------------------------

def preset_root() -> Path:
    """The shipped presets (package data)."""
    return Path(str(resources.files("rllab") / "presets"))


@dataclass(frozen=True)
class PresetKind:
    """One kind of preset: YAML files in ``rllab/presets/<folder>/``, named by file stem, or any YAML path."""

    folder: str
    label: str

    @property
    def path(self) -> Path:
        return preset_root() / self.folder

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.path.glob("*.yaml"))

    def file(self, name: str) -> Path:
        return self.path / f"{name}.yaml"

    def load(self, name_or_path: str | Path) -> tuple[str, dict[str, Any]]:
        """``(name, mapping)`` of a shipped preset or a YAML file; an unknown name lists the valid ones."""
        text = str(name_or_path)
        path = Path(text)
        if path.suffix in (".yaml", ".yml") or path.is_file():
            return path.stem, read_mapping(path)
        if text not in self.names():
            raise unknown_name(self.label, text, self.names())
        return text, read_mapping(self.file(text))

    def all(self) -> dict[str, dict[str, Any]]:
        return {name: read_mapping(self.file(name)) for name in self.names()}


TRAIN_PRESETS = PresetKind("train", "preset")
NOTE_RNN_PRESETS = PresetKind("note_rnn", "Note RNN preset")
TUTOR_PRESETS = PresetKind("tutor", "tutor preset")
EXPERIMENT_SPECS = PresetKind("experiments", "experiment spec")


# -- overrides ---------------------------------------------------------------------------------------------------

def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["a=1", "env_kwargs.size=7"]`` -> ``{"a": 1, "env_kwargs.size": 7}``; values are YAML scalars/lists."""
    overrides = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set expects key=value, got {item!r}")
        try:
            overrides[key.strip()] = safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            raise UserError(f"--set {key}: cannot parse value {raw!r}") from None
    return overrides


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """``set_dotted(d, "eval.episodes", 3)`` sets ``d["eval"]["episodes"]``, creating mappings on the way."""
    node = data
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise UserError(f"--set {key}: {'.'.join(parts[:i + 1])!r} is not a mapping")
        node = child
    node[parts[-1]] = value
