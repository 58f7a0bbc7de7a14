"""Units at the edges: text such as ``100A/us`` → SI values (A/s)."""

from __future__ import annotations

import math
import re

__all__ = ["parse_didt", "A_PER_US"]

#: 1 A/µs in A/s
A_PER_US = 1e6

_DIDT_UNITS = {"a/s": 1.0, "a/ms": 1e3, "a/us": 1e6, "a/µs": 1e6, "a/μs": 1e6, "ka/ms": 1e6,
               "ka/us": 1e9, "ka/µs": 1e9, "ka/μs": 1e9}
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_DIDT_RE = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-zµμ/]+)\s*$")


def parse_didt(text: str, name: str = "didt") -> float:
    """Parse a rate of change of current such as ``"100A/us"`` or ``"1.5e8 A/s"`` into A/s.

    Units: A/s, A/ms, A/us (= A/µs), kA/ms, kA/us.  A bare number is refused (ambiguous).
    """
    if not isinstance(text, str):
        raise TypeError(f"{name} must be text such as '100A/us'; got {text!r}")
    m = _DIDT_RE.match(text)
    if not m:
        raise ValueError(f"{name} {text!r} is not a number with a unit such as '100A/us' or '1e8A/s'")
    unit = m.group(2).lower()
    if unit not in _DIDT_UNITS:
        raise ValueError(f"{name} {text!r}: unit {m.group(2)!r} is not one of {sorted(set(_DIDT_UNITS))}")
    value = float(m.group(1)) * _DIDT_UNITS[unit]
    if not math.isfinite(value):
        raise ValueError(f"{name} {text!r} is not finite")
    return value
