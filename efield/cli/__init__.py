"""Command line: ``efield coils | stimulators | field | dose | translate | target | model | view | cohort | head build |
report | demo``.

Results go to stdout (tables, or JSON with ``--json``); messages and progress go to stderr.
Every argument, file and output-folder check runs before any computation.
"""

from __future__ import annotations

import click

from ._shared import (  # noqa: F401
    MM,
    MM_POSITIVE,
    MSO,
    THRESHOLD_MSO,
    VM_POSITIVE,
    _Number,
    exit_cleanly_on_sigterm,
    fail,
)

_exit_cleanly_on_sigterm = exit_cleanly_on_sigterm  # the name tests and older scripts use

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tms-efield")
def main():
    """TMS electric-field dosimetry: coils, fields in heads, dose translation and coil targeting."""
    exit_cleanly_on_sigterm()


def _register() -> None:
    from ._cohort import cohort_cmd
    from ._demo import demo_cmd
    from ._dose import dose_cmd, translate_cmd
    from ._field import field_cmd
    from ._head import head_group
    from ._model import model_cmd
    from ._report import report_cmd
    from ._tables import coils_cmd, stimulators_cmd
    from ._target import target_cmd
    from ._view import view_cmd

    for cmd in (coils_cmd, stimulators_cmd, field_cmd, dose_cmd, translate_cmd, target_cmd, demo_cmd,
                report_cmd, view_cmd, model_cmd, cohort_cmd, head_group):
        main.add_command(cmd)


_register()
