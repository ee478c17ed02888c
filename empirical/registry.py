"""One way to extend each kind of thing: a `Registry` of named factories with a one-line description.

Data sets, models and update rules (here, in `empirical/`), bound families and claims (in
`genproof/`) each keep one `Registry`. Adding a thing is one call, `REG.add(name, factory,
description)` or the decorator `@REG.register(name, description)`; a command-line tool lists a
registry with `REG.describe()`; an unknown name is a `ValueError` that suggests the closest one.

A registry may name modules of its own package that register entries (`modules`, imported by
name before its first lookup): the update rules of `empirical.robust` register so, without the
loop importing them. Models and data sets are also open to other packages, through entry points:
a registry made with `group` ("genproof.models", "genproof.datasets") imports, the first time it
is read, every module that an installed distribution names in that group, and such a module
registers its entries with the same call. genproof declares its own modules there too (pyproject.toml), and each entry keeps
its `origin` (the distribution and entry point it came from, "genproof" for the built-ins), which
`describe()` shows. An entry point that does not load is a warning, never a failed command.

    MODELS = Registry("model")
    @MODELS.register("mlp", "depth hidden ReLU layers of width units")
    def _mlp(config, input_shape, num_classes): ...
    MODELS.get("mlp")(config, (1, 8, 8), 10)
"""

from __future__ import annotations

import difflib
import importlib
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator


@dataclass(frozen=True)
class Entry:
    """A registered thing: its `name`, its `factory` (what the registry hands out) and a one-line
    `description` for listings; `origin`: who registered it (for `--list`)."""

    name: str
    factory: Any
    description: str
    origin: str = "genproof"


class Registry:
    """Named entries of one `kind` ("data set", "model", "update rule", "bound family", "claim"),
    kept in the order they were added."""

    def __init__(self, kind: str, group: str | None = None, modules: tuple[str, ...] = ()):
        self.kind = kind
        self.group = group  # the entry-point group whose modules register more entries
        self.modules = modules  # modules of this package that register entries, imported by name
        self._entries: dict[str, Entry] = {}
        self._plugins_pending = group is not None or bool(modules)
        self._loading: str | None = None  # the entry point being loaded

    def _all(self) -> dict[str, Entry]:
        if self._plugins_pending:
            self._plugins_pending = False
            for module in self.modules:  # by name: the module registers here, so it imports this one's
                importlib.import_module(module)
            if self.group:
                self._load_plugins()
        return self._entries

    def _load_plugins(self) -> None:
        from importlib.metadata import entry_points

        for ep in sorted(entry_points(group=self.group), key=lambda e: (e.dist is None, e.name)):
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else "an unnamed distribution"
            self._loading = f"{dist}, entry point {ep.name} = {ep.value}"
            try:
                ep.load()
            except Exception as err:  # someone else's package: say so, and go on without it
                warnings.warn(f"{self.group} entry point {ep.name} = {ep.value} ({dist}) did not load, its "
                              f"{self.kind}s are missing: {type(err).__name__}: {err}", stacklevel=2)
            finally:
                self._loading = None

    def add(self, name: str, factory: Any, description: str) -> Any:
        """Register `factory` under `name`; a name is registered once. Returns `factory`."""
        if not name or not isinstance(name, str):
            raise ValueError(f"a {self.kind} needs a non-empty name, got {name!r}")
        if not description or "\n" in description:
            raise ValueError(f"{self.kind} {name!r} needs a one-line description, got {description!r}")
        old = self._entries.get(name)
        if old is not None and old.factory is not factory:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = Entry(name, factory, description, self._loading or _caller())
        return factory

    def register(self, name: str, description: str) -> Callable[[Any], Any]:
        """Decorator form of `add`."""
        return lambda factory: self.add(name, factory, description)

    def check(self, name: str) -> str:
        """`name` if registered, else a `ValueError` naming the closest match and every known name."""
        entries = self._all()
        if name not in entries:
            close = difflib.get_close_matches(str(name), list(entries), n=1)
            guess = f" did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown {self.kind} {name!r};{guess} known: {', '.join(entries)}")
        return name

    def get(self, name: str) -> Any:
        """The factory registered under `name`."""
        return self._entries[self.check(name)].factory

    def entry(self, name: str) -> Entry:
        return self._entries[self.check(name)]

    def names(self) -> tuple[str, ...]:
        return tuple(self._all())

    def describe(self) -> str:
        """One line per entry, `name  description`, for `--list` and `--help`; a registry open to
        entry points adds where each entry came from."""
        entries = self._all()
        width = max((len(n) for n in entries), default=0)
        return "\n".join(f"  {e.name:<{width}}  {e.description}" + (f" [from {e.origin}]" if self.group else "")
                         for e in entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._all()

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._all().values())

    def __len__(self) -> int:
        return len(self._all())


def _caller() -> str:
    """Who called `add`: "genproof" for the package's own modules, else the caller's module."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    module = frame.f_globals.get("__name__", "?") if frame is not None else "?"
    return "genproof" if module.split(".")[0] in ("empirical", "genproof", "constructions") else module
