"""Progress of long work, reported by library code and shown by whoever called it.

Library code marks its long steps::

    with progress.task("FEM: assembling the P2 matrix") as t:      # a step of unknown length
        ...
    with progress.task("targeting: evaluating poses", total=n) as t:
        for ...:
            t.advance()

Nothing is shown unless a caller installs a reporter (:func:`reporting`); the command line
installs one that draws on stderr with `rich` (``--quiet`` installs none).  Steps may nest.
Reporters get ``start(label, total) -> handle``, ``advance(handle, n)`` and ``finish(handle)``.
"""

from __future__ import annotations

import contextlib
import contextvars
import time

__all__ = ["task", "reporting", "RichReporter", "LogReporter"]

_REPORTER: contextvars.ContextVar = contextvars.ContextVar("efield_progress_reporter", default=None)


class _Task:
    def __init__(self, reporter, label: str, total):
        self._reporter = reporter
        self._handle = reporter.start(label, total) if reporter is not None else None
        self.done = 0

    def advance(self, n: int = 1) -> None:
        """Mark ``n`` more units of this step done."""
        self.done += n
        if self._reporter is not None:
            self._reporter.advance(self._handle, n)

    def update_total(self, total: int) -> None:
        """Set the step's total once it is known."""
        if self._reporter is not None and hasattr(self._reporter, "set_total"):
            self._reporter.set_total(self._handle, total)


@contextlib.contextmanager
def task(label: str, total: int | None = None):
    """A long step named ``label`` (what is being done, for a person), of ``total`` units if known."""
    reporter = _REPORTER.get()
    t = _Task(reporter, label, total)
    try:
        yield t
    finally:
        if reporter is not None:
            reporter.finish(t._handle)


@contextlib.contextmanager
def reporting(reporter):
    """Show the progress of everything run inside this block with ``reporter`` (None: nothing)."""
    token = _REPORTER.set(reporter)
    try:
        yield reporter
    finally:
        _REPORTER.reset(token)
        if reporter is not None and hasattr(reporter, "close"):
            reporter.close()


class RichReporter:
    """Draws each step on stderr with a spinner, a bar (when the total is known), elapsed time and
    an estimate of the time left; finished steps of at least ``SHOW_AFTER_S`` seconds stay as one line
    with their duration."""

    SHOW_AFTER_S = 0.5

    def __init__(self, console=None):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self._console = console or Console(stderr=True)
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("left"),
                                  TimeRemainingColumn(), console=self._console, transient=True)
        self._started = {}
        self._progress.start()

    def start(self, label, total):
        handle = self._progress.add_task(label, total=total)
        self._started[handle] = (label, time.perf_counter())
        return handle

    def advance(self, handle, n):
        self._progress.advance(handle, n)

    def set_total(self, handle, total):
        self._progress.update(handle, total=total)

    def finish(self, handle):
        label, t0 = self._started.pop(handle)
        self._progress.remove_task(handle)
        seconds = time.perf_counter() - t0
        if seconds >= self.SHOW_AFTER_S:
            self._console.print(f"  {label}: done in {seconds:.1f} s", highlight=False)

    def close(self):
        self._progress.stop()


class LogReporter:
    """Collects ``(label, seconds)`` of finished steps (for tests and logs)."""

    def __init__(self):
        self.finished: list[tuple[str, float]] = []
        self.advanced: dict[str, int] = {}
        self._open = {}
        self._n = 0

    def start(self, label, total):
        self._n += 1
        self._open[self._n] = (label, time.perf_counter())
        self.advanced[label] = 0
        return self._n

    def advance(self, handle, n):
        self.advanced[self._open[handle][0]] += n

    def finish(self, handle):
        label, t0 = self._open.pop(handle)
        self.finished.append((label, time.perf_counter() - t0))
