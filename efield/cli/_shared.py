"""What every command shares: number types with units, the head and intensity options, progress,
and the checks that run before any computation."""

from __future__ import annotations

import functools
import os
import sys

from pathlib import Path

import click
import numpy as np

from .._common.validation import MODEL_CHOICES

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


class _Number(click.ParamType):
    """A finite number (NaN and ±inf refused) within [low, high] (``open_low``: low itself refused)."""

    name = "number"

    def __init__(self, unit: str, low: float | None = None, high: float | None = None, open_low: bool = False):
        self.unit, self.low, self.high, self.open_low = unit, low, high, open_low

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            v = value
        else:
            try:
                v = float(value)
            except (TypeError, ValueError):
                self.fail(f"must be a number in {self.unit}; got {value!r}", param, ctx)
        allowed = self._allowed()
        if not np.isfinite(v):
            self.fail(f"must be a finite number in {self.unit}{allowed}; got {value!r}", param, ctx)
        if (self.low is not None and (v < self.low or (self.open_low and v == self.low))) or (
                self.high is not None and v > self.high):
            self.fail(f"must be {allowed.strip(' ,;')} ({self.unit}); got {v:g}", param, ctx)
        return v

    def _allowed(self) -> str:
        if self.low is None and self.high is None:
            return ""
        if self.low is not None and self.high is not None:
            return (f", above {self.low:g} and at most {self.high:g}" if self.open_low
                    else f", between {self.low:g} and {self.high:g}")
        if self.low is not None:
            return f", > {self.low:g}" if self.open_low else f", >= {self.low:g}"
        return f", <= {self.high:g}"


#: option types: millimetres (any sign unless stated), % MSO, motor thresholds in % MSO, V/m
MM = _Number("mm")
MM_POSITIVE = _Number("mm", low=0.0)
MSO = _Number("% MSO", low=0.0, high=100.0)
THRESHOLD_MSO = _Number("% MSO", low=0.0, high=100.0, open_low=True)
VM_POSITIVE = _Number("V/m", low=0.0, open_low=True)

HEAD_HELP = ("Head: human, rat, mouse (spheres); human-mesh, rat-mesh, mouse-mesh, dish (built-in meshes, FEM); "
             "a .msh (SimNIBS/gmsh, mm) or .vtu (m) head mesh; or a SimNIBS m2m_<id> folder.")
STIMULATORS_HELP = "Extra stimulator CSV (same columns as efield/dose/data/stimulators.csv)."
JSON_HELP = "Print the result as JSON on stdout (messages and progress stay on stderr)."
FORCE_HELP = "Write into an existing output folder: an empty one, or one written earlier by efield (replaced)."
QUIET_HELP = "No progress display on stderr."
MODEL_HELP = ("Mesh heads: 'fem' solves the head; 'precomputed' uses its cortical field model (built and cached on "
              "first use, see `efield model`); 'auto' uses the model when one is cached. The model gives the "
              "cortex and a sample of the brain (for the half-value depth) in milliseconds; the full volume field "
              "in scene.vtm needs 'fem'. The output names the model that ran.")


def model_option(f):
    """The ``--model auto|fem|precomputed`` option of the commands that compute a field on a mesh head."""
    return click.option("--model", "model", type=click.Choice(MODEL_CHOICES), default="auto",
                        show_default=True, help=MODEL_HELP)(f)


def fail(exc) -> None:
    """Stop with the message of ``exc`` (a one-line error, exit code 1)."""
    raise click.ClickException(str(exc))


def say(text: str) -> None:
    """A message for the person (stderr, so that stdout stays the result)."""
    click.echo(text, err=True)


def exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so staged outputs and locks are cleaned up as on Ctrl-C."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def long_running(f):
    """Add ``--quiet`` and show the progress of every long step on stderr while ``f`` runs."""

    @click.option("--quiet", "-q", is_flag=True, help=QUIET_HELP)
    @functools.wraps(f)
    def wrapper(*args, quiet=False, **kwargs):
        from .._common.progress import RichReporter, reporting

        reporter = None if quiet else RichReporter()
        with reporting(reporter):
            return f(*args, **kwargs)

    return wrapper


def check_output(out_dir, force: bool) -> None:
    """Refuse an output folder that cannot be written, before any computation."""
    from .._common.io import check_output_directory

    try:
        check_output_directory(out_dir, force)
    except OSError as exc:
        raise click.BadParameter(str(exc), param_hint="--out") from None


def load_head(spec, option: str = "--head"):
    """The head named on the command line, or a usage error listing every accepted form."""
    from ..physics.heads import load_any_head

    try:
        return load_any_head(spec)
    except (ValueError, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def head_spec_text(spec) -> str:
    """How a head was given, as recorded in outputs: a built-in name as is, a file or folder as its absolute path."""
    path = Path(str(spec)).expanduser()
    return str(path.resolve()) if path.exists() else str(spec)


def load_coil(spec, option: str = "--coil"):
    from coils import load_coil as _load

    try:
        return _load(spec)
    except (ValueError, OSError, KeyError) as exc:
        raise click.BadParameter(str(exc).strip('"'), param_hint=option) from None


def resolve_intensity(coil, didt_text, mso, stimulator=None, table=None, *, default_full: bool = True):
    """(dI/dt in A/s, how it was given) from ``--didt`` or ``--mso`` (% of ``stimulator``, default the
    coil's own); with neither, 100 % MSO of the coil's stimulator (``default_full``) or None."""
    from ..dose.intensity import parse_didt

    if didt_text and mso is not None:
        raise click.UsageError("give either --didt or --mso, not both")
    if didt_text:
        if stimulator:
            raise click.UsageError("--stimulator goes with --mso (the dI/dt given with --didt needs none)")
        try:
            return parse_didt(didt_text, "--didt"), f"dI/dt {didt_text} (given)"
        except (TypeError, ValueError) as exc:
            raise click.BadParameter(str(exc), param_hint="--didt") from None
    if mso is None and not default_full:
        return None, ""
    mso = 100.0 if mso is None else mso
    didt_max, stim = _didt_max(coil, stimulator, table)
    return didt_max * mso / 100.0, f"{mso:g} % MSO of {stim}"


def _didt_max(coil, stimulator, table):
    """dI/dt (A/s) at 100 % MSO of ``coil`` on ``stimulator`` (None: the coil's own) and its description."""
    from coils import list_coils

    if coil.name not in list_coils():
        if stimulator is not None:
            raise click.UsageError(f"coil {coil.name!r} is not a preset, so no stimulator table row knows it; "
                                   "give the intensity as --didt, e.g. --didt 100A/us")
        didt_max = coil.metadata.get("didt_max_a_per_s")
        if not didt_max:
            raise click.UsageError(f"coil {coil.name!r} has no known stimulator dI/dt at 100 % MSO; give --didt, "
                                   "e.g. --didt 100A/us")
        return didt_max, f"{coil.metadata.get('stimulator') or 'its stimulator'} ({didt_max / 1e6:.2f} A/µs at 100 %)"
    from ..dose.stimulators import stimulator_pair

    try:
        pair = stimulator_pair(coil.name, stimulator, table_path=table)
    except ValueError as exc:
        if stimulator is None:
            raise click.UsageError(f"{exc} (with --stimulator NAME)") from None
        raise click.BadParameter(str(exc), param_hint="--stimulator") from None
    return pair.didt_max, pair.describe()


def echo_json(data) -> None:
    from .._common.io import json_text

    click.echo(json_text(data))


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()
