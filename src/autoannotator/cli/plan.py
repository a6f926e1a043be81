"""The command that estimates before spending: plan."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from autoannotator.cli.common import app, err, errors_as_lines
from autoannotator.cli.configure import NO_REVIEWER, SPECIALISTS_HELP, routing_option, run_config
from autoannotator.read.task import BUILTIN_TASKS
from autoannotator.run.planning import REFERENCE_LLM, plan
from autoannotator.vote.aggregate import AggregatorName


@app.command("plan")
def plan_command(
    input: Annotated[Path, typer.Argument(help="CSV, JSONL or Parquet file to label.")],
    task: Annotated[str, typer.Option(help=f"Task YAML file, or a built-in: {', '.join(BUILTIN_TASKS)}.")],
    specialists: Annotated[str | None, typer.Option(help=SPECIALISTS_HELP)] = None,
    aggregate: Annotated[AggregatorName, typer.Option(help="How votes combine.")] = "majority",
    hard_rule: Annotated[str, typer.Option(help="As for annotate.")] = "not-unanimous",
    llm: Annotated[str | None, typer.Option(help="As for annotate; prices are looked up by MODEL.")] = None,
    review: Annotated[str, typer.Option(help="As for annotate.")] = "auto",
    prices: Annotated[Path | None, typer.Option(help="Price table YAML.")] = None,
    probe: Annotated[int, typer.Option(help="Rows the specialists vote on to measure the hard share.")] = 200,
    routing: Annotated[str, typer.Option(help="As for annotate: trust (a range) or rule.")] = "trust",
    calibration: Annotated[Path | None, typer.Option(help="As for annotate (its rows are reviewed too).")] = None,
    probe_reviews: Annotated[
        int,
        typer.Option(
            min=0,
            help="With --llm: ask the reviewer about this many probe rows (paid: one call each) for a most "
            "likely figure beside the range; a replay file is asked about all of them, free.",
        ),
    ] = 0,
) -> None:
    """Estimate what annotate would spend on the LLM, and what labelling every row with it would cost."""
    with errors_as_lines():
        config = run_config(
            input, task, specialists, aggregate, hard_rule, 1000, llm, review, None, False, 8, None, None, prices
        ).model_copy(update={"routing": routing_option(routing), "calibration": calibration})
        estimate = plan(config, probe=probe, probe_reviews=probe_reviews)
        if config.review is None:
            err.print(f"note: {NO_REVIEWER.format(run='RUN')} Priced below: {REFERENCE_LLM}, for reference.")
        table = Table("", "value", title=f"Plan for {input} (prices of {estimate.price_date})")
        table.add_row("rows", f"{estimate.rows:,}")
        auto = " (auto, by card matching: a run with --llm may choose otherwise)" if specialists == "auto" else ""
        table.add_row("specialists", ", ".join(estimate.specialists) + auto)
        gate = "hard-row share" if estimate.sent is None else "hard-row share with --routing rule"
        table.add_row(f"{gate} (probe of {estimate.probe_rows})", f"{estimate.hard_share:.1%}")
        if estimate.sent is not None:
            low, high = estimate.sent
            table.add_row("rows to the LLM (measured trust: the audit decides)", f"{low:,.0f} to {high:,.0f}")
            if estimate.likely is not None:
                table.add_row(
                    f"most likely at the start (the trust test on {estimate.likely_evidence} reviewed probe rows)",
                    f"{estimate.likely:,.0f} (${estimate.likely * estimate.row_usd:,.4f})",
                )
            else:
                table.add_row("most likely", f"--probe-reviews 100 tells (about ${100 * estimate.row_usd:,.4f})")
        table.add_row("model", estimate.model)
        table.add_row(
            "tokens per review call (in / out)",
            f"{estimate.prompt_tokens:,.0f} / {estimate.completion_tokens:,.0f}",
        )
        table.add_row("calls per hard row", str(estimate.calls_per_hard_row))
        low_usd, high_usd = estimate.review_range_usd
        spread = f"${low_usd:,.4f}" + ("" if estimate.sent is None else f" to ${high_usd:,.4f}")
        table.add_row("estimated review cost", spread)
        table.add_row("LLM zero-shot on every row", f"${estimate.llm_only_usd:,.4f}")
        least, most = estimate.saving_range
        table.add_row("saving", f"{least:.0%}" if estimate.sent is None else f"{least:.0%} to {most:.0%}")
        Console().print(table)
