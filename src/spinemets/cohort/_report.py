"""HTML rendering of a validation report: tables plus Kaplan-Meier plots (matplotlib, inline SVG).

Everything interpolated is escaped; plots carry a text alternative and every number shown in a
plot is also in a table, so the page reads without the images.
"""

from __future__ import annotations

import io
from html import escape
from typing import Any

from spinemets.cohort._aggregate import SURVIVAL_REASONS
from spinemets.cohort._validate import C_INDEX_CONVENTION, ScoreValidation, ValidationReport

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;
color:#1b1b1b;line-height:1.5}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #71767a;padding:.3rem .6rem;
text-align:right}th[scope=row],td.text{text-align:left}td.long{min-width:12rem}
.scroll{overflow-x:auto;max-width:100%}caption{text-align:left;font-weight:600}
.warn{background:#fff1d2;border-left:.4rem solid #b38c00;padding:.6rem 1rem}
figure{margin:1rem 0}
"""


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return escape(str(value))


def _p_value(p: float | None) -> str:
    """A p-value as printed in papers: three decimals, or "< 0.001"."""
    return "< 0.001" if p is not None and p < 0.001 else _fmt(p)


def _calibration_cell(consistent: int, statements: int) -> str:
    if statements == 0:
        return "no published figures"
    return f"{consistent} of {statements}"


def _cell_class(value: Any) -> str:
    """Text left-aligned (long text kept readable); numbers right-aligned."""
    if not isinstance(value, str):
        return ""
    return ' class="text long"' if len(value) > 40 else ' class="text"'


def _table(caption: str, head: list[str], rows: list[list[Any]]) -> str:
    # A wide table scrolls inside its own keyboard-focusable region, not the page.
    out = [f'<div class="scroll" role="region" aria-label="{escape(caption)}" tabindex="0">'
           f"<table><caption>{escape(caption)}</caption><thead><tr>"]
    out += [f'<th scope="col">{escape(h)}</th>' for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append(f'<tr><th scope="row">{_fmt(row[0])}</th>')
        out += [f"<td{_cell_class(v)}>{_fmt(v)}</td>" for v in row[1:]]
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _plot(s: ScoreValidation) -> str:
    import matplotlib as mpl  # noqa: PLC0415  (heavy import)

    mpl.use("Agg", force=False)
    from matplotlib.figure import Figure  # noqa: PLC0415

    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    for g in s.groups:
        line = ax.step(g.timeline, g.survival, where="post", label=f"{g.group} (n={g.n})")[0]
        ax.fill_between(g.timeline, g.lower, g.upper, step="post", alpha=0.15,
                        color=line.get_color())
    ax.set_xlabel("months")
    ax.set_ylabel("survival")
    ax.set_ylim(0, 1)
    ax.set_title(f"Kaplan-Meier by band: {s.name}")
    ax.legend()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def _times(report: ValidationReport) -> str:
    if report.time_resolution is None:
        return "exact"
    return escape(f"rounded down to multiples of {report.time_resolution:g} months")


def _reasons(excluded: dict[str, int]) -> str:
    shown = [f"{SURVIVAL_REASONS[k]}: {v}" for k, v in excluded.items()
             if v and k in SURVIVAL_REASONS]
    return f" ({escape('; '.join(shown))})" if shown else ""


def _score_section(s: ScoreValidation) -> str:
    parts = [f'<section><h2 id="{escape(s.slug)}">{escape(s.name)} ({escape(s.slug)})</h2>',
             f"<p>{s.complete} rows used, {s.events} deaths; excluded: {s.incomplete} "
             f"incomplete, {s.error} with errors"
             + (f", {s.excluded.get('survival unusable', 0)} complete but without usable "
                "survival data" if s.excluded.get("survival unusable") else "")
             + f". Direction: {escape(s.direction)}.</p>"]
    parts += [f'<p class="warn">{escape(n)}</p>' for n in s.notes]
    if s.groups:
        alt = "; ".join(f"{g.group}: median {_fmt(g.median, 1)} months" for g in s.groups)
        parts.append(f'<figure role="img" aria-label="{escape(alt)}">{_plot(s)}'
                     f"<figcaption>Kaplan-Meier curves with 95% bands. {escape(alt)}."
                     "</figcaption></figure>")
        horizons = sorted({h for g in s.groups for h in g.survival_at})
        head = ["band", "n", "deaths", "median (months)", "95% CI low", "95% CI high",
                *(f"S({h:g} m)" for h in horizons)]
        rows = [[g.group, g.n, g.events, g.median, g.median_ci[0], g.median_ci[1],
                 *(g.survival_at[h][0] for h in horizons)] for g in s.groups]
        parts.append(_table("Survival by band", head, rows))
    if s.calibration:
        horizon = any(c.months is not None for c in s.calibration)  # not for medians only
        head = ["band", "statistic", *(["months"] if horizon else []), "op", "published",
                "observed", "CI low", "CI high", "verdict", "verification", "source"]
        rows = [[c.band, c.statistic, *([c.months] if horizon else []), c.op, c.published,
                 c.observed, c.lower, c.upper, c.verdict, c.verification, c.source]
                for c in s.calibration]
        parts.append(_table("Calibration against published band survival", head, rows))
    parts.append("</section>")
    return "".join(parts)


def render_html(report: ValidationReport) -> str:
    """A self-contained HTML page for a validation report.

    Parameters
    ----------
    report : ValidationReport
        Output of :func:`spinemets.cohort.validate_file`.

    Returns
    -------
    str
        The HTML document.
    """
    data = report.to_dict()
    comp = data["comparison"]
    head = ["score", "complete", "deaths", "bands", "Harrell C", "Uno C", "AUC 3 m", "AUC 6 m",
            "AUC 12 m", "log-rank p", "calibration consistent"]
    rows = [[c["score"], c["complete"], c["events"], c["bands"], c["harrell_c"], c["uno_c"],
             c.get("auc_3m"), c.get("auc_6m"), c.get("auc_12m"), _p_value(c["logrank_p"]),
             _calibration_cell(c["calibration_consistent"], c["calibration_statements"])]
            for c in comp]
    synthetic = (f'<p class="warn"><strong>Synthetic data.</strong> {escape(report.synthetic)}'
                 "</p>" if report.synthetic else "")
    body = "".join(_score_section(s) for s in report.scores)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Score validation: {escape(report.source)}</title><style>{_CSS}</style></head>"
        f"<body><main><h1>Survival validation of prognostic scores</h1>{synthetic}"
        f"<p>Source: {escape(report.source)}; {report.rows} rows, "
        f"{report.rows_without_survival} without usable survival data"
        f"{_reasons(report.survival_excluded)}; time column "
        f"<code>{escape(report.time_column)}</code> (months), event column "
        f"<code>{escape(report.event_column)}</code>; survival times {_times(report)}.</p>"
        f"<p><strong>C-index convention.</strong> {escape(C_INDEX_CONVENTION)}</p>"
        f"<p>Decision support research output: not clinically validated.</p>"
        f"{_table('Side-by-side comparison', head, rows)}{body}</main></body></html>")
