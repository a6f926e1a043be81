"""A run's report as plots (matplotlib, file-only Agg backend): accuracy against the share sent, the
specialists' agreement, where the money went, the reliability of the confidence column."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from typing import Any

from autoannotator.report.evaluation import Report


def png(figure: Any) -> str:
    """A matplotlib figure as a base64 PNG data URL (the figure is closed)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    pyplot().close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (no display needed), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def tradeoff_figure(
    points: Sequence[tuple[str, float, float]],
    curve: Sequence[tuple[float, float]] = (),
    title: str = "",
    *,
    metric: str = "accuracy",
) -> Any:
    """`metric` against gold (y) by the share of rows sent to the LLM (x): named points, optionally a curve."""
    plt = pyplot()

    figure, axes = plt.subplots(figsize=(5.5, 4))
    if curve:
        xs, ys = zip(*sorted(curve), strict=True)
        axes.plot(xs, ys, "-", color="tab:blue", label="routing threshold sweep")
    heights = [accuracy for _, _, accuracy in points] + [y for _, y in curve]
    bottom, top = max(0.0, min(heights) - 0.05), min(1.0, max(heights) + 0.05) + 0.02
    for name, share, accuracy in points:
        axes.plot(share, accuracy, "o")
        right = share > 0.7  # near an edge, a label goes to the other side of its point: inside the axes
        high = accuracy > top - 0.06
        axes.annotate(
            name,
            (share, accuracy),
            textcoords="offset points",
            xytext=(-5 if right else 5, -5 if high else 4),
            ha="right" if right else "left",
            va="top" if high else "bottom",
            fontsize=8,
        )
    axes.set_ylim(bottom, top)
    axes.set_xlabel("share of rows sent to the LLM")
    axes.set_ylabel(f"{metric} against gold")
    axes.set_xlim(-0.02, 1.02)
    axes.grid(alpha=0.3)
    if curve:
        axes.legend(loc="lower right", fontsize=8)
    axes.set_title(title, fontsize=10)
    return figure


def figures(report: Report) -> list[tuple[str, Any]]:
    figures = []
    overall = report.gold["all"].accuracy if report.gold is not None else None
    if overall is not None:
        points = [("this run", report.llm_share, overall)]
        staged = [s for s in report.stages if s.get("accuracy") is not None]
        if len(staged) > 1:  # one stage is the run itself: its point would hide under "this run"
            points += [(f"stage {s['stage']}", s["llm_share"], s["accuracy"]) for s in staged]
        figures.append(("Accuracy against the share sent to the LLM", tradeoff_figure(points)))
    micro = report.multi_label["all"].micro_f1 if report.multi_label is not None else None
    if micro is not None:
        points = [("this run", report.llm_share, micro)]
        staged = [s for s in report.stages if s.get("micro_f1") is not None]
        if len(staged) > 1:
            points += [(f"stage {s['stage']}", s["llm_share"], s["micro_f1"]) for s in staged]
        figures.append(("Micro-F1 against the share sent to the LLM", tradeoff_figure(points, metric="micro-F1")))
    if len(report.specialists) >= 2 and report.pairwise_agreement:  # one voter: nothing to compare
        figures.append(("The specialists' agreement", _agreement_figure(report)))
    if len(report.stages) > 1 and report.cost_usd > 0:
        figures.append(("Where the money went", _cost_figure(report)))
    if report.reliability is not None:
        plt = pyplot()
        figure, axes = plt.subplots(figsize=(4.5, 4))
        axes.plot([0, 1], [0, 1], "--", color="grey")
        axes.plot(report.reliability.confidence, report.reliability.accuracy, "o-")
        axes.set_xlabel("confidence")
        axes.set_ylabel("accuracy against gold")
        axes.set_title(f"reliability (ECE {report.reliability.ece:.3f})", fontsize=10)
        figures.append(("Reliability of the confidence column", figure))
    return figures


def _agreement_figure(report: Report) -> Any:
    """The pairwise agreement heatmap (numbers in the cells) and, when an LLM reviewed rows, each
    specialist's agreement with it."""
    plt = pyplot()
    names = list(report.specialists)
    values = [report.specialists[n].get("agreement_with_reviewer", float("nan")) for n in names]
    reviewed = any(not math.isnan(v) for v in values)
    figure, panels = plt.subplots(
        1, 2 if reviewed else 1, figsize=(10 if reviewed else 5.5, 4), layout="constrained"
    )
    left = panels[0] if reviewed else panels
    matrix = report.pairwise_agreement
    image = left.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if not math.isnan(value):
                left.text(
                    j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="w" if value < 0.6 else "k"
                )
    left.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    left.set_yticks(range(len(names)), names, fontsize=8)
    left.set_title("pairwise agreement", fontsize=10)
    figure.colorbar(image, ax=left)
    if reviewed:
        right = panels[1]
        right.barh(names, [0.0 if math.isnan(v) else v for v in values], color="tab:green")
        right.tick_params(axis="y", labelsize=8)
        right.set_xlim(0, 1)
        right.set_title("agreement with the reviewer", fontsize=10)
    return figure


def _cost_figure(report: Report) -> Any:
    """Dollars per stage beside the share of the stage's rows sent to the LLM."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(5.5, 3.5))
    stages = [str(s["stage"]) for s in report.stages]
    bars = axes.bar(stages, [s.get("cost_usd", 0.0) for s in report.stages], color="tab:orange")
    axes.bar_label(bars, labels=[f"{s['llm_share']:.0%} sent" for s in report.stages], fontsize=8)
    axes.set_xlabel("stage")
    axes.set_ylabel("USD")
    return figure
