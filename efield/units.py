"""Units at the edges: text such as ``100A/us`` → SI values (A/s)."""

from __future__ import annotations

__all__ = ["parse_didt", "A_PER_US"]

#: 1 A/µs in A/s
A_PER_US = 1e6


def parse_didt(text: str, name: str = "didt") -> float:
    """Parse one rate of change of current such as ``"100A/us"`` or ``"1.5e8 A/s"`` into A/s.

    Units as in :func:`efield.intensity.parse_intensity` (A/s, A/ms, A/µs); a bare number, another
    kind of intensity, a range or a list is refused with a message naming ``name``.
    """
    from .intensity import IntensityError, parse_intensity

    if not isinstance(text, str):
        raise TypeError(f"{name} must be text such as '100A/us'; got {text!r}")
    try:
        value = parse_intensity(text)
    except IntensityError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if value.kind != "didt" or len(value.values) != 1:
        raise ValueError(f"{name} {text!r} must be one rate of change of current such as '100A/us'; "
                         f"got {value.unit} {'range' if value.is_range else 'value'}(s)")
    return value.values[0]
