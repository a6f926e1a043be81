"""The commands that hand rows to people and bring their labels back: export, ask-people, ask-people-first,
fill-sheet, import."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from autoannotator.cli.common import app, err, errors_as_lines, ledger_path
from autoannotator.errors import InputError
from autoannotator.handoff.first import fill_sheet, first_rows, write_sheet
from autoannotator.handoff.labelstudio import answers, pull, push, send
from autoannotator.handoff.sheets import (
    MAX_REPORTED,
    export_rows,
    label_studio_config,
    read_decisions,
    stored,
    unknown_choices,
)
from autoannotator.ledger import Ledger, asks, humans, output
from autoannotator.read.io import Source, atomic_path, beside
from autoannotator.read.task import load_task
from autoannotator.run.checks import check_overwrite
from autoannotator.run.outputs import write_output
from autoannotator.trust.people import DISAGREE, MIN_ROWS, ask, describe, rejudge_run

LABEL_STUDIO = "label-studio"
TOKEN_ENV = "LABEL_STUDIO_API_KEY"

# The options of a hand-off to people (a file or a Label Studio server), shared by export and ask-people.
ServerUrl = Annotated[str | None, typer.Argument(help="With --to label-studio: the server's URL.")]
SheetOut = Annotated[
    Path | None, typer.Option(help="review.csv (fill the label column) or tasks.json (Label Studio).")
]
ToTool = Annotated[str | None, typer.Option(help="'label-studio': import the rows into a server (see URL).")]
Project = Annotated[int | None, typer.Option(help="Label Studio project id (default: create one).")]
Token = Annotated[str | None, typer.Option(envvar=TOKEN_ENV, help="Label Studio access token.")]
CsvSafe = Annotated[bool, typer.Option(help="Neutralise cells a spreadsheet would run as formulas (= + - @).")]


@app.command("export")
def export_command(
    run_dir: Annotated[Path, typer.Argument(help="The run folder.")],
    url: ServerUrl = None,
    out: SheetOut = None,
    to: ToTool = None,
    project: Project = None,
    token: Token = None,
    csv_safe: CsvSafe = True,
    sample: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Instead of the unresolved rows: this many labelled rows drawn at random (seeded), for people "
            "to spot-check; the sheet's run_label column holds the run's label, a label filled in replaces it.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="With --sample: the draw's seed.")] = 0,
) -> None:
    """Hand the unresolved rows (or, with --sample, a random sample of the labelled ones) to people: a review
    sheet, Label Studio tasks with the votes as predictions, or (--to label-studio URL) a project on a Label
    Studio server."""
    with errors_as_lines(), Ledger(ledger_path(run_dir)) as ledger:
        rows = None if sample is None else output.sample(ledger, sample, seed)
        what = "unresolved rows" if sample is None else "sampled labelled rows"
        _hand_over(ledger, rows, what, Handoff(url, out, to, project, token, csv_safe))


@app.command("ask-people")
def ask_people_command(
    run_dir: Annotated[Path, typer.Argument(help="The run folder.")],
    url: ServerUrl = None,
    rows: Annotated[int, typer.Option(min=1, help="How many rows to ask (100-300 give a tight estimate).")] = 100,
    out: SheetOut = None,
    to: ToTool = None,
    project: Project = None,
    token: Token = None,
    csv_safe: CsvSafe = True,
    disagreements: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="The share of rows drawn where the reviewer and the specialists differ."
        ),
    ] = 0.5,
    seed: Annotated[int, typer.Option(help="The draw's seed.")] = 0,
) -> None:
    """Ask people for the true label of the rows that help most: where the reviewer and the specialists
    disagree, and at random (weighted, so the estimates stay unbiased). `import` brings the answers back and
    re-judges the run on them, without asking the reviewer again."""
    with errors_as_lines(), Ledger(ledger_path(run_dir)) as ledger:
        if ledger.meta("config").get("task", {}).get("multi_label"):
            raise typer.BadParameter("ask-people supports single-label tasks only (for now)")
        chosen, before = ask(ledger, rows, share=disagreements, seed=seed)
        if before:
            err.print(f"note: this run's rows for people were drawn before ({len(chosen):,}); a run has one draw")
        split = sum(stratum == DISAGREE for _, stratum, _ in chosen)
        what = f"rows for people ({split:,} in doubt: the reviewer and the specialists differ, or none settled it)"
        _hand_over(
            ledger,
            output.at(ledger, {pos for pos, _, _ in chosen}),
            what,
            Handoff(url, out, to, project, token, csv_safe),
        )


@app.command("ask-people-first")
def ask_people_first_command(
    input: Annotated[Path, typer.Argument(help="The CSV, JSONL or Parquet file (or dataset) to be labelled.")],
    task: Annotated[str, typer.Option(help="Task YAML file, or a built-in (its text and id fields).")],
    out: Annotated[Path, typer.Option(help="The sheet for people: CSV, JSONL or Parquet (fill `label`).")],
    url: ServerUrl = None,
    rows: Annotated[int, typer.Option(min=2, help="How many rows to draw (100-200 measure the run well).")] = 100,
    seed: Annotated[int, typer.Option(help="The draw's seed.")] = 0,
    to: ToTool = None,
    project: Project = None,
    token: Token = None,
    csv_safe: CsvSafe = True,
) -> None:
    """Before a run: draw rows uniformly from INPUT for people to label, as a sheet (and, with --to label-studio
    URL, as a Label Studio project: `fill-sheet` brings its answers into the sheet). Give the filled sheet to
    annotate as --calibration: the specialists are judged against the people's labels and keep the rows where
    they are at least as accurate as the reviewer, those rows take the people's labels, and the run ends
    re-judged on them with an estimate of the whole output's accuracy."""
    with errors_as_lines():
        check_overwrite([("--out", out)], [("input", input)])
        if out.exists():  # people may have filled it: a new draw must not replace their work
            raise InputError(out, "already exists (people may have filled it): choose another --out")
        spec = load_task(task)
        server = None if to is None else _server(to, url, token)  # checked before any row is read
        source = Source(input, text_field=spec.text_field, id_field=spec.id_field)
        drawn = first_rows(source, rows, seed=seed)
        if server is not None:  # first: a server that fails leaves no sheet, so the same command can run again
            data = [{"id": r["id"], "text": r[spec.text_field], "weight": r["weight"]} for r in drawn]
            title = f"autoannotator first draw: {input.name}"
            chosen, n, there = send(*server, list(spec.label_names), data, project=project, title=title)
            err.print(f"{n:,} rows -> {server[0]}/projects/{chosen} ({there:,} already there); when they are "
                      f"labelled: autoannotator fill-sheet {out} {server[0]} {chosen} --task {task}",
                      markup=False)  # fmt: skip
            typer.echo(chosen)
        write_sheet(drawn, out, spec.text_field, csv_safe=csv_safe)
        err.print(f"{len(drawn):,} rows drawn for people -> {out}", markup=False)
        err.print(
            f"Fill the label column ({', '.join(spec.label_names)}), then annotate with --calibration {out}",
            markup=False,
        )


@app.command("fill-sheet")
def fill_sheet_command(
    sheet: Annotated[Path, typer.Argument(help="The sheet ask-people-first wrote (rewritten in place).")],
    url: Annotated[str, typer.Argument(help="The Label Studio server's URL.")],
    project: Annotated[int, typer.Argument(help="The project ask-people-first created.")],
    source: Annotated[str, typer.Option("--from", help="Where the answers are: 'label-studio'.")] = LABEL_STUDIO,
    token: Token = None,
    task: Annotated[
        str | None, typer.Option(help="Task YAML file, or a built-in: refuse answers that are not its labels.")
    ] = None,
) -> None:
    """Write the answers people gave in a Label Studio project into the label column of the sheet
    `ask-people-first` drew (single-label tasks), ready for annotate --calibration."""
    with errors_as_lines():
        if not sheet.is_file():
            raise InputError(sheet, "file not found")
        allowed = None if task is None else set(load_task(task).label_names)
        server, key = _server(source, url, token)
        given = answers(server, key, project)
        several = sorted(ident for ident, (chosen, _, _) in given.items() if len(chosen) != 1)
        if several:
            raise InputError(
                sheet, f"tasks of {server}/projects/{project} with more than one choice: {several[:MAX_REPORTED]}",
                field="label",
            )  # fmt: skip
        labels = {ident: chosen[0] for ident, (chosen, _, _) in given.items()}
        foreign = sorted(ident for ident, label in labels.items() if allowed is not None and label not in allowed)
        if foreign:  # before the sheet is touched
            raise InputError(
                sheet, f"answers in {server}/projects/{project} that are not labels of {task}: rows "
                f"{foreign[:MAX_REPORTED]}", field="label",
            )  # fmt: skip
        n, total = fill_sheet(sheet, labels)
        err.print(f"{n:,} of the sheet's {total:,} rows labelled in {server}/projects/{project} -> {sheet}",
                  markup=False)  # fmt: skip


@dataclass(frozen=True)
class Handoff:
    """Where rows for people go: a file (`out`) or a Label Studio server (`to`, `url`, `project`, `token`)."""

    url: str | None
    out: Path | None
    to: str | None
    project: int | None
    token: str | None
    csv_safe: bool


def _hand_over(ledger: Ledger, rows: list[dict[str, Any]] | None, what: str, where: Handoff) -> None:
    """Write `rows` (None: the unresolved ones) for people where `where` says, and say how many went."""
    if where.to is not None:
        server, key = _server(where.to, where.url, where.token)
        chosen, n, there = push(ledger, server, key, project=where.project, rows=rows)
        err.print(f"{n:,} new {what} -> {server}/projects/{chosen} ({there:,} already there)", markup=False)
        typer.echo(chosen)
        return
    out = where.out
    if out is None:
        raise typer.BadParameter("give --out FILE, or --to label-studio URL")
    n = export_rows(ledger, out, rows=rows, csv_safe=where.csv_safe)
    err.print(f"{n:,} {what} -> {out}", markup=False)
    if out.suffix.lower() == ".json":
        config = beside(out, ".label_config.xml", stem=True)
        with atomic_path(config) as tmp:
            run = ledger.meta("config")
            xml = label_studio_config(run["labels"], multiple=bool(run.get("task", {}).get("multi_label")))
            tmp.write_text(xml, encoding="utf-8")
        err.print(f"Label Studio labeling config -> {config} (printed below)", markup=False)
        typer.echo(config.read_text(encoding="utf-8"), nl=False)


@app.command("import")
def import_command(
    run_dir: Annotated[Path, typer.Argument(help="The run folder.")],
    decisions: Annotated[
        str, typer.Argument(help="A filled review.csv or a Label Studio JSON export; with --from, the URL.")
    ],
    out: Annotated[Path, typer.Option(help="The output file to rewrite with the people's labels.")],
    project: Annotated[int | None, typer.Argument(help="With --from label-studio: the project id.")] = None,
    source: Annotated[
        str | None, typer.Option("--from", help="'label-studio': read the annotations from a server.")
    ] = None,
    token: Annotated[str | None, typer.Option(envvar=TOKEN_ENV, help="Label Studio access token.")] = None,
    annotator: Annotated[str | None, typer.Option(help="Who decided (kept in the ledger).")] = None,
) -> None:
    """Bring people's decisions back into the run (source 'human') and rewrite the output."""
    with errors_as_lines(), Ledger(ledger_path(run_dir)) as ledger:
        if source is None:
            check_overwrite([("--out", out)], [("review sheet", Path(decisions))])
        config = ledger.meta("config")
        task_labels, multi = config["labels"], bool(config.get("task", {}).get("multi_label"))
        who: dict[str, tuple[str | None, str]] = {}
        if source is not None:
            server, key = _server(source, decisions, token)
            pulled = pull(ledger, server, key, project)
            labels = {ident: stored(chosen, task_labels, multi=multi) for ident, (chosen, _, _) in pulled.items()}
            who = {ident: (person, at) for ident, (_, person, at) in pulled.items()}
            where: Path = Path(server)
            wrong = sorted({c for chosen, _, _ in pulled.values() for c in unknown_choices(chosen, task_labels)})
            if wrong:  # a file's labels are checked row by row in read_decisions
                raise InputError(where, f"labels not in the task: {wrong[:MAX_REPORTED]}", field="label")
        else:
            where = Path(decisions)
            separator = config.get("task", {}).get("label_separator", "|")
            labels = read_decisions(where, task_labels, multi=multi, separator=separator)
        unknown = sorted(set(labels) - ledger.known_ids(list(labels)))
        if unknown:
            raise InputError(where, f"{len(unknown)} ids not in this run: {unknown[:MAX_REPORTED]}", field="id")
        n = humans.set_human_labels(ledger, labels, annotator=annotator, who=who)
        rejudged = rejudge_run(ledger)
        write_output(ledger, out)
        err.print(f"{n:,} human labels imported; {out} rewritten")
        if rejudged is not None:
            err.print(describe(rejudged), markup=False)
        elif asked := asks.asked(ledger):
            have = sum(person is not None for *_, person in asked)
            err.print(
                f"Not re-judged: {have:,} of the {len(asked):,} rows asked of people have their label (at least "
                f"{MIN_ROWS}, not all the same, are needed).",
                markup=False,
            )


def _server(kind: str, url: str | None, token: str | None) -> tuple[str, str]:
    """(URL, token) of the Label Studio server a --to / --from names."""
    if kind != LABEL_STUDIO:
        raise typer.BadParameter(f"unknown tool {kind!r}: only {LABEL_STUDIO!r}")
    if not url:
        raise typer.BadParameter(f"{LABEL_STUDIO} needs the server's URL")
    if not token:
        raise typer.BadParameter(f"{LABEL_STUDIO} needs an access token: --token or {TOKEN_ENV}")
    return url.rstrip("/"), token
