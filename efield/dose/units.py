"""Unit constants used at the edges (display units are converted to SI here and nowhere else)."""

from __future__ import annotations

__all__ = ["A_PER_US"]

#: 1 A/µs in A/s
A_PER_US = 1e6
