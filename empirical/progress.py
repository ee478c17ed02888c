"""Progress of long work: a bar on a terminal, a line every `every_s` seconds elsewhere (a log, CI,
a notebook's captured output), nothing when told to be quiet.

The time left is estimated from the rate so far; where the work may stop early (training that
stops at 100% train accuracy) the estimate is an upper one and says so, since the total is only a
budget. `progress`: None (a bar on a terminal, else lines), True (a bar), False (nothing).
`$GENPROOF_PROGRESS` overrides what None means: `lines`, `bar` or `off` (the pytest plugin sets
`off` for its session unless it is set: a test's captured output is shown only when it fails).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Callable, Iterable, Iterator, TextIO, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
ENV = "GENPROOF_PROGRESS"
FIRST_LINE_S = 10.0  # off a terminal, the first line (with the estimate) comes after this warm-up
EVERY_S = 30.0  # and then one line per this many seconds


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def plural(unit: str) -> str:
    """`unit` counted: step -> steps, quantity -> quantities."""
    return unit[:-1] + "ies" if unit.endswith("y") and unit[-2:-1] not in "aeiou" else unit + "s"


class Progress:
    """Count `total` units of work named `desc`; `stops_early` names the rule that may end it before
    `total` (the estimate of the time left is then "at most")."""

    def __init__(self, total: int, desc: str, unit: str = "step", progress: bool | None = None,
                 stops_early: str | None = None, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.total, self.desc, self.unit, self.stops_early = total, desc, unit, stops_early
        self.stream, self.clock = stream or sys.stderr, clock
        self.n, self.postfix = 0, {}
        terminal = getattr(self.stream, "isatty", lambda: False)()
        auto = os.environ.get(ENV) or ("bar" if terminal else "lines")
        if auto not in ("bar", "lines", "off"):
            raise ValueError(f"${ENV} must be bar, lines or off, got {auto!r}")
        self.mode = "off" if progress is False else "bar" if progress else auto
        self.bar = None
        if self.mode == "bar":
            no_eta = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}, {rate_fmt}{postfix}]"
            self.bar = tqdm(total=total, desc=f"{desc} ({stops_early})" if stops_early else desc, unit=unit,
                            leave=False, file=self.stream, bar_format=no_eta if stops_early else None)
        self.start = clock()
        self.due = self.start + FIRST_LINE_S
        self.lines = 0

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.mode == "lines" and (now := self.clock()) >= self.due:
            self.due = now + EVERY_S
            self._line(now)

    def set_postfix(self, shown: dict) -> None:
        self.postfix = dict(shown)
        if self.bar is not None:
            self.bar.set_postfix(shown)

    def _line(self, now: float) -> None:
        elapsed = now - self.start
        rate = self.n / elapsed if elapsed > 0 else 0.0
        left = "unknown" if rate == 0 else _duration((self.total - self.n) / rate)
        shown = "".join(f", {k} {v}" for k, v in self.postfix.items())
        early = f"at most {left} left ({self.stops_early})" if self.stops_early else f"about {left} left"
        units = plural(self.unit)
        print(f"{self.desc}: {self.n:,}/{self.total:,} {units} after {_duration(elapsed)} "
              f"({rate:.3g} {units}/s); {early}{shown}", file=self.stream, flush=True)
        self.lines += 1

    def write(self, text: str) -> None:
        """A message between the updates, above the bar on a terminal."""
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.lines:  # a log that was told the work is under way is told when it ended
            print(f"{self.desc}: done, {self.n:,} {plural(self.unit)} in {_duration(self.clock() - self.start)}",
                  file=self.stream, flush=True)


def progress(items: Iterable[T], desc: str, unit: str, total: int | None = None,
             progress: bool | None = None) -> Iterator[T]:
    """`items`, counted by a `Progress` (a bar on a terminal, lines elsewhere)."""
    items = list(items) if total is None else items
    counter = Progress(len(items) if total is None else total, desc, unit, progress)
    try:
        for item in items:
            yield item
            counter.update()
    finally:
        counter.close()
