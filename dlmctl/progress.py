"""Rich progress bars on stderr; plain periodic log lines when stderr is not a terminal."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

stderr = Console(stderr=True)


class Reporter:
    """``advance(n, **fields)`` moves the bar and shows ``fields`` (loss, steps/s, …)."""

    def __init__(self, progress: Progress | None, task, total: int, label: str, log_every: float):
        self._progress, self._task, self.total, self.label = progress, task, total, label
        self._done, self._log_every, self._last_log = 0, log_every, None

    def advance(self, n: int = 1, **fields) -> None:
        self._done += n
        text = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items())
        if self._progress is not None:
            self._progress.update(self._task, advance=n, fields=text)
        elif self._log_every and (self._last_log is None or time.monotonic() - self._last_log >= self._log_every
                                  or self._done == self.total):
            self._last_log = time.monotonic()
            print(f"{self.label}: {self._done}/{self.total} {text}", file=sys.stderr, flush=True)


@contextmanager
def progress_bar(label: str, total: int, enabled: bool = True, log_every: float = 30.0) -> Iterator[Reporter]:
    """A bar when enabled and stderr is a terminal; otherwise log lines at the first advance (the
    work has started: a log shows it at once), every ``log_every`` s and at the end (``log_every=0``
    or ``enabled=False``: silent)."""
    if enabled and stderr.is_terminal:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), TextColumn("{task.fields[fields]}"))
        with Progress(*columns, console=stderr, transient=False) as progress:
            task = progress.add_task(label, total=total, fields="")
            yield Reporter(progress, task, total, label, log_every)
    else:
        yield Reporter(None, None, total, label, log_every if enabled else 0)
