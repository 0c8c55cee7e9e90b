"""HTML of ``cohort model report``: tables, calibration plots and decision curves (inline SVG).

Written for clinicians: a plain summary first, then the numbers, each plot with a text
alternative and its numbers also in a table. Everything interpolated is escaped.
"""

from __future__ import annotations

import io
import math
import re
from html import escape
from typing import Any

from spinemets.cohort._model_report import TRIPOD_AI

__all__ = ["render_model_html"]

_CSS = """
body{font-family:system-ui,sans-serif;max-width:76rem;margin:2rem auto;padding:0 1rem;
color:#1b1b1b;line-height:1.5;font-size:1.05rem}
h1{font-size:1.8rem}h2{margin-top:2.5rem;border-bottom:2px solid #005ea2}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #71767a;padding:.3rem .6rem;
text-align:right;vertical-align:top}th[scope=row],td.text{text-align:left}
thead th{background:#f0f0f0;text-align:left}
tr.model th,tr.model td{background:#e7f2fa;font-weight:600}
.scroll{overflow-x:auto;max-width:100%}caption{text-align:left;font-weight:600;padding:.3rem 0}
.warn{background:#fff1d2;border-left:.4rem solid #b38c00;padding:.6rem 1rem}
.label{background:#e7f2fa;border-left:.4rem solid #005ea2;padding:.6rem 1rem}
.brief{font-size:1.1rem}figure{margin:1rem 0}figure svg{max-width:100%;height:auto}
figcaption{max-width:60rem}
.author{color:#8b0a03;font-weight:600}
.ci{display:block;font-size:.85em;font-weight:400;color:#3d4551;white-space:nowrap}
"""

_COLORS = ["#1a1a1a", "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00",
           "#7f7f7f"]


def _num(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        text = f"{value:.{digits}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text
    return escape(str(value))


_NUMERIC = re.compile(r"^(&lt;|&gt;|[-–=0-9.])")


def _ci(entry: dict[str, Any] | None, digits: int = 2, *, corrected: bool = False) -> str:
    if not entry:
        return "–"
    prefix = "corrected_" if corrected else ""
    est = entry.get("corrected") if corrected else entry.get("estimate")
    lo, hi = entry.get(f"{prefix}lower"), entry.get(f"{prefix}upper")
    if est is None:
        return "–"
    if lo is None or hi is None:
        return _num(est, digits)
    return (f'{_num(est, digits)}<span class="ci">{_num(lo, digits)} to {_num(hi, digits)}'
            "</span>")


def _table(caption: str, head: list[str], rows: list[tuple[str, list[str]]],
           *, first_class: str = "") -> str:
    out = [f'<div class="scroll" role="region" aria-label="{escape(caption)}" tabindex="0">'
           f"<table><caption>{escape(caption)}</caption><thead><tr>"]
    out += [f'<th scope="col">{escape(h)}</th>' for h in head]
    out.append("</tr></thead><tbody>")
    for k, (css, cells) in enumerate(rows):
        cls = f' class="{css}"' if css else (f' class="{first_class}"' if k == 0 and
                                              first_class else "")
        out.append(f'<tr{cls}><th scope="row">{cells[0]}</th>')
        out += [f"<td{'' if _NUMERIC.match(c) or c == '–' else ' class=text'}>{c}</td>"
                for c in cells[1:]]
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def _figure_class() -> Any:
    import matplotlib as mpl  # noqa: PLC0415  (heavy import)

    mpl.use("Agg", force=False)
    from matplotlib.figure import Figure  # noqa: PLC0415

    return Figure


def _entities(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**report["model"], "short": "Model"}] + [
        {**s, "short": s["name"]} for s in report["classic_scores"]]


def _calibration_plot(report: dict[str, Any], horizon: str) -> str:
    figure = _figure_class()
    ents = _entities(report)
    cols = 4
    rows = math.ceil(len(ents) / cols)
    fig = figure(figsize=(12, 3.3 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= len(ents):
            ax.set_visible(False)
            continue
        cal = ents[k]["calibration"][horizon]
        color = _COLORS[k % len(_COLORS)]
        ax.plot([0, 1], [0, 1], color="#9e9e9e", linestyle=":", linewidth=1.2,
                label="perfect")
        curve = [(p, o) for p, o in zip(cal["curve"]["predicted"], cal["curve"]["observed"],
                                        strict=True) if o is not None]
        if curve:
            ax.plot([p for p, _ in curve], [o for _, o in curve], color=color, linewidth=2,
                    label="smoothed")
        for g in cal["groups"]:
            ax.errorbar(g["predicted"], g["observed"],
                        yerr=[[g["observed"] - g["lower"]], [g["upper"] - g["observed"]]],
                        fmt="o", color=color, markersize=5, capsize=3)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(f"{ents[k]['short']}\nICI {_num(cal['ici']['estimate'])}, slope "
                     f"{_num(cal['slope']['estimate'])}", fontsize=10)
        ax.set_xlabel("predicted risk of death", fontsize=9)
        ax.set_ylabel("observed risk of death", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"Calibration at {horizon} months: points are groups of patients (observed "
                 "with 95% CI), line is the smoothed curve; on the dotted line is perfect",
                 fontsize=11)
    return _svg(fig)


def _decision_plot(report: dict[str, Any], horizon: str) -> str:
    figure = _figure_class()
    ents = _entities(report)
    fig = figure(figsize=(10, 5.2), layout="constrained")
    ax = fig.add_subplot()
    first = ents[0]["decision_curve"][horizon]
    th = first["thresholds"]
    ax.plot(th, first["treat_all"], color="#7f7f7f", linewidth=1.5, linestyle="--",
            label="treat all")
    ax.plot(th, first["treat_none"], color="#7f7f7f", linewidth=1.5, linestyle=":",
            label="treat none")
    top = 0.05
    for k, ent in enumerate(ents):
        dc = ent["decision_curve"][horizon]
        style = {"linewidth": 3.0} if k == 0 else {"linewidth": 1.4, "alpha": 0.9}
        ax.plot(dc["thresholds"], dc["net_benefit"], color=_COLORS[k % len(_COLORS)],
                label=ent["short"], **style)
        if k == 0 and None not in dc["lower"] and None not in dc["upper"]:
            ax.fill_between(dc["thresholds"], dc["lower"], dc["upper"], color=_COLORS[0],
                            alpha=0.12, label="model 95% CI")
        top = max(top, *dc["net_benefit"])
    top = max(top, *first["treat_all"])
    ax.set_ylim(-0.05, top * 1.1)
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"threshold probability of death within {horizon} months", fontsize=11)
    ax.set_ylabel("net benefit", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=10)
    ax.set_title(f"Decision curves at {horizon} months", fontsize=12)
    return _svg(fig)


def _brief(report: dict[str, Any]) -> str:
    model = report["model"]
    scores = [s for s in report["classic_scores"] if s["harrell_c"]["estimate"] is not None]
    best = max(scores, key=lambda s: s["harrell_c"]["estimate"]) if scores else None
    hc = model["harrell_c"]
    text = (f"On {report['rows_compared']} patients ({report['events_compared']} deaths) with "
            f"every predictor and every score known, the model's C-index is "
            f"{_num(hc['estimate'])}")
    if "corrected" in hc:
        text += f" ({_num(hc['corrected'])} after correcting for optimism)"
    if best is not None:
        text += (f"; the best classic score, {escape(best['name'])}, has "
                 f"{_num(best['harrell_c']['estimate'])}")
    text += (". A C-index of 0.5 is chance and 1.0 perfect ranking. Calibration compares the "
             "predicted with the observed risk of death; decision curves show whether using a "
             "prediction would do more good than treating everyone or no one.")
    return f'<p class="brief">{text}</p>'


def _discrimination(report: dict[str, Any]) -> str:
    horizons = [f"{h:g}" for h in report["horizons"]]
    head = ["", "Harrell C", "Uno C", *(f"AUC {h} months" for h in horizons)]
    rows: list[tuple[str, list[str]]] = []
    for k, ent in enumerate(_entities(report)):
        label = f"Model {ent['name']} (apparent)" if k == 0 else ent["label"]
        cells = [escape(label), _ci(ent["harrell_c"]), _ci(ent["uno_c"]),
                 *(_ci(ent["time_dependent_auc"][h]) for h in horizons)]
        rows.append(("model" if k == 0 else "", cells))
        if k == 0 and "corrected" in ent["harrell_c"]:
            rows.append(("model", ["Model, optimism-corrected",
                                   _ci(ent["harrell_c"], corrected=True),
                                   _ci(ent["uno_c"], corrected=True),
                                   *(_ci(ent["time_dependent_auc"][h], corrected=True)
                                     for h in horizons)]))
    return _table("Discrimination (95% CI)", head, rows)


def _calibration_table(report: dict[str, Any], horizon: str) -> str:
    head = ["", "observed risk", "mean predicted", "slope (1 = ideal)",
            "log O/E (0 = ideal)", "ICI", "E50"]
    rows: list[tuple[str, list[str]]] = []
    for k, ent in enumerate(_entities(report)):
        cal = ent["calibration"][horizon]
        corrected = k == 0 and "corrected" in cal["slope"]
        cells = [escape(ent["short"]) + (" (optimism-corrected)" if corrected else ""),
                 _num(cal["observed_risk"]), _num(cal["mean_predicted_risk"]),
                 *(_ci(cal[m], 3 if m in {"ici", "e50"} else 2, corrected=corrected)
                   for m in ("slope", "intercept", "ici", "e50"))]
        rows.append(("model" if k == 0 else "", cells))
    return _table(f"Calibration at {horizon} months (95% CI)", head, rows)


def _decision_table(report: dict[str, Any], horizon: str) -> str:
    ents = _entities(report)
    first = ents[0]["decision_curve"][horizon]
    picks = [i for i, t in enumerate(first["thresholds"]) if round(t * 100) % 10 == 0]
    head = ["threshold", "treat all", *(e["short"] for e in ents)]
    rows = []
    for i in picks:
        cells = [f"{first['thresholds'][i]:.0%}", _num(first["treat_all"][i], 3)]
        for ent in ents:
            dc = ent["decision_curve"][horizon]
            entry = {"estimate": dc["net_benefit"][i], "lower": dc["lower"][i],
                     "upper": dc["upper"][i]}
            cells.append(_ci(entry, 3))
        rows.append(("", cells))
    return _table(f"Net benefit at {horizon} months (treat none = 0; 95% CI)", head, rows)


def _published(report: dict[str, Any]) -> str:
    parts = []
    for s in report["classic_scores"]:
        if not s["published"]:
            parts.append(f"<p>{escape(s['name'])}: no published band survival figures in "
                         "spinemets; only the recalibrated version is shown.</p>")
            continue
        head = ["band", "statistic", "months", "published", "observed here", "95% CI",
                "verdict", "verification", "source"]
        rows = [("", [escape(r["band"]), escape(r["statistic"]), _num(r["months"], 0),
                      f"{escape(r['op'])} {_num(r['published'])}", _num(r["observed"]),
                      f"{_num(r['ci'][0])} to {_num(r['ci'][1])}", escape(r["verdict"]),
                      escape(r["verification"]), f"<span>{escape(r['source'])}</span>"])
                for r in s["published"]]
        parts.append(_table(f"{s['name']}: published band figures against these patients",
                            head, rows))
    return "".join(parts)


def _coefficients(report: dict[str, Any]) -> str:
    rows = []
    for c in report["coefficients"]:
        lo = None if c["lower"] is None else math.exp(c["lower"])
        hi = None if c["upper"] is None else math.exp(c["upper"])
        rows.append(("", [escape(c["term"]), _ci({"estimate": c["hazard_ratio"], "lower": lo,
                                                   "upper": hi}), _num(c["coef"], 3)]))
    return _table("Hazard ratios (95% CI); above 1 = shorter survival", ["term",
                  "hazard ratio", "log hazard ratio"], rows)


def _card(report: dict[str, Any]) -> str:
    rows = [("", [escape(i["item"]), escape(i["status"]),
                  f'<span class="{"author" if i["status"] != "filled" else ""}">'
                  f"{escape(i['text'])}</span>"]) for i in report["model_card"]]
    return _table("Model card: TRIPOD+AI items", ["item", "status", "content"], rows)


def render_model_html(report: dict[str, Any]) -> str:
    """A self-contained HTML page of a model report (from ``build_report``).

    Parameters
    ----------
    report : dict
        Output of :func:`spinemets.cohort._model_report.build_report`.

    Returns
    -------
    str
        The HTML document.
    """
    horizons = [f"{h:g}" for h in report["horizons"]]
    optimism = report["optimism"][:1].upper() + report["optimism"][1:]
    synthetic = (f'<p class="warn"><strong>Synthetic data.</strong> '
                 f"{escape(report['synthetic'])}</p>" if report["synthetic"] else "")
    notes = "".join(f'<p class="warn">{escape(n)}</p>' for n in report["notes"])
    cal = "".join(
        f"<h3>{h} months</h3><figure role=\"img\" aria-label=\"Calibration plots at {h} months;"
        f' the numbers are in the table below">{_calibration_plot(report, h)}</figure>'
        f"{_calibration_table(report, h)}" for h in horizons)
    dca = "".join(
        f"<h3>{h} months</h3><figure role=\"img\" aria-label=\"Decision curves at {h} months; "
        f'the numbers are in the table below">{_decision_plot(report, h)}'
        "<figcaption>Net benefit of acting on a predicted risk of death at or above the "
        "threshold. A curve above both 'treat all' and 'treat none' means the prediction "
        "helps at that threshold.</figcaption></figure>"
        f"{_decision_table(report, h)}" for h in horizons)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(report['title'])}</title><style>{_CSS}</style></head><body><main>"
        f"<h1>{escape(report['title'])}</h1>{synthetic}"
        f'<p class="label"><strong>{escape(report["model_label"])}.</strong> Research output '
        "for audit and research; not for individual treatment decisions without external "
        "validation.</p>"
        f"{_brief(report)}{notes}"
        f"<p>Source: {escape(report['source'])}; {report['rows']} rows, "
        f"{report['rows_with_survival']} with survival data, {report['rows_model_complete']} "
        f"with every predictor, {report['rows_compared']} compared (every score complete too)."
        f" {escape(optimism)}. Intervals: {escape(report['confidence_intervals'])}."
        f"</p><p><strong>C-index.</strong> {escape(report['c_index_convention'])} Classic "
        "scores are recalibrated on these rows: their points keep their order, and the "
        "survival attached to each total is refitted here.</p>"
        f"<h2>Discrimination</h2>{_discrimination(report)}"
        "<h2>Calibration</h2><p>How close the predicted risk of death is to what happened. "
        "<strong>Slope</strong>: 1 is ideal; below 1, predictions are too extreme (typical "
        "of overfitting); above 1, too modest. <strong>log O/E</strong>: log of observed over "
        "expected deaths by the horizon; 0 is ideal, below 0 the model over-predicts death. "
        "<strong>ICI</strong> and <strong>E50</strong>: mean and median distance between "
        "predicted and observed risk (0 is ideal; they are never negative, so their bootstrap "
        "interval can lie above a small estimate). A recalibrated score matches the observed "
        "deaths on these rows by construction (log O/E 0).</p>"
        f"{cal}<h2>Decision curves</h2>{dca}"
        f"<h2>Published figures of the classic scores</h2>{_published(report)}"
        f"<h2>The model</h2>{_coefficients(report)}"
        f"<h2>Model card (TRIPOD+AI)</h2><p>Reporting items after {escape(TRIPOD_AI)} "
        "Items the software cannot know are marked for the authors.</p>"
        f"{_card(report)}</main></body></html>")
