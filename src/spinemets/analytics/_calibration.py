"""Calibration: observed band survival against what the score's paper states.

A published statement is a median (``median_months``: ``=`` about, ``<`` below, ``>=`` at least)
or a proportion alive at a horizon (``survival_at``). The observed value is the Kaplan-Meier
estimate of the band with its 95% confidence interval; a statement is ``consistent`` when the
published figure lies inside the interval (``=``) or the observed median is on the stated side
(``<``, ``>=``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spinemets.analytics._survival import GroupSurvival

__all__ = ["CalibrationRow", "calibrate", "statement_horizons"]


@dataclass(frozen=True, slots=True)
class CalibrationRow:
    """One published statement about one band and what the cohort shows."""

    band: str
    statistic: str
    months: float | None
    op: str
    published: float
    observed: float | None
    lower: float | None
    upper: float | None
    verdict: str  # consistent | differs | not estimable | band absent
    verification: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"band": self.band, "statistic": self.statistic, "months": self.months,
                "op": self.op, "published": self.published, "observed": self.observed,
                "ci": [self.lower, self.upper], "verdict": self.verdict,
                "verification": self.verification, "source": self.source}


def statement_horizons(statements: Sequence[Mapping[str, Any]]) -> list[float]:
    """Horizons (months) that the ``survival_at`` statements need."""
    return sorted({float(s["months"]) for s in statements if s["statistic"] == "survival_at"})


def _median_verdict(op: str, value: float, g: GroupSurvival) -> str:
    median, (lower, upper) = g.median, g.median_ci
    if op == "<":
        return "consistent" if median is not None and median < value else "differs"
    if op == ">=":
        return "consistent" if median is None or median >= value else "differs"
    if median is None and lower is None:
        return "not estimable"
    low = lower if lower is not None else 0.0
    return "consistent" if low <= value and (upper is None or value <= upper) else "differs"


def _row(s: Mapping[str, Any], g: GroupSurvival | None) -> CalibrationRow:
    months = float(s["months"]) if "months" in s else None
    common: dict[str, Any] = {"band": str(s["band"]), "statistic": str(s["statistic"]),
              "months": months,
              "op": str(s["op"]), "published": float(s["value"]),
              "verification": str(s["verification"]), "source": str(s["source"])}
    if g is None:
        return CalibrationRow(observed=None, lower=None, upper=None, verdict="band absent",
                              **common)
    if s["statistic"] == "median_months":
        return CalibrationRow(observed=g.median, lower=g.median_ci[0], upper=g.median_ci[1],
                              verdict=_median_verdict(str(s["op"]), float(s["value"]), g),
                              **common)
    assert months is not None
    surv, lower, upper = g.survival_at[months]
    inside = lower <= float(s["value"]) <= upper
    return CalibrationRow(observed=surv, lower=lower, upper=upper,
                          verdict="consistent" if inside else "differs", **common)


def calibrate(groups: Sequence[GroupSurvival], statements: Sequence[Mapping[str, Any]]
              ) -> list[CalibrationRow]:
    """Compare each published statement with the band's Kaplan-Meier estimate.

    Parameters
    ----------
    groups : sequence of GroupSurvival
        KM summaries by band, fitted with every horizon of :func:`statement_horizons`.
    statements : sequence of mapping
        Published statements (``band``, ``statistic``, ``op``, ``value``, optional ``months``,
        ``verification``, ``source``).

    Returns
    -------
    list of CalibrationRow
        One row per statement.
    """
    by_band = {g.group: g for g in groups}
    return [_row(s, by_band.get(str(s["band"]))) for s in statements]
