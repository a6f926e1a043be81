from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from autoannotator.errors import InputError
from autoannotator.read.io import Record, Skip, Source, batch_ends, row_id, write_rows


def rows_of(
    path: Path, *, id_field: str | None = None, batch_size: int = 2, start: int = 0
) -> list[Record | Skip]:
    source = Source(path, text_field="text", id_field=id_field)
    batches = list(source.batches(batch_size, start=start))
    assert all(len(b) <= batch_size for b in batches)
    return [row for batch in batches for row in batch]


def test_batches_start_small_and_double_up_to_the_batch_size(tmp_path: Path) -> None:
    """100, 200, 400, then 800 and 1,000-row batches; a run resumed at a boundary reads the same batches on."""
    assert list(itertools.islice(batch_ends(1000, 100), 6)) == [100, 300, 700, 1500, 2500, 3500]
    path = tmp_path / "d.csv"
    path.write_text("text\n" + "".join(f"row {i}\n" for i in range(40)), encoding="utf-8")
    whole = [[r.pos for r in b] for b in Source(path).batches(10, first=3)]
    assert [len(b) for b in whole] == [3, 6, 10, 10, 10, 1]
    assert [[r.pos for r in b] for b in Source(path).batches(10, start=9, first=3)] == whole[2:]
    assert [len(b) for b in Source(path).batches(10)] == [10, 10, 10, 10]


def test_csv_quoted_newlines_bom_and_positions(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes('\ufefftext,label\n"line one\nline two",a\nplain,b\n\n"say ""hi""",c\n'.encode())
    rows = rows_of(path)
    assert [r.text for r in rows if isinstance(r, Record)] == ["line one\nline two", "plain", 'say "hi"']
    assert [r.pos for r in rows] == [0, 1, 2]
    assert rows[0].id == row_id("line one\nline two", 0)


def test_bad_rows_become_skips_naming_field_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"id,text\n1,good\n2,caf\xe9 latin-1\n3,   \n4,\n5\n,no id\n6,also good\n")
    rows = rows_of(path, id_field="id")
    by_pos = {r.pos: r for r in rows}
    assert isinstance(by_pos[0], Record) and by_pos[0].id == "1"
    expected = {
        1: ("text", "not valid UTF-8"),
        2: ("text", "empty or whitespace-only text"),
        3: ("text", "empty or whitespace-only text"),
        4: ("", "1 fields where the header has 2"),
        5: ("id", "missing or empty id"),
    }
    for pos, (field, reason) in expected.items():
        skip = by_pos[pos]
        assert isinstance(skip, Skip), pos
        assert (skip.field, skip.reason) == (field, reason)
    assert isinstance(by_pos[6], Record) and by_pos[6].text == "also good"


def test_start_skips_rows_already_done(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text\n" + "".join(f"row {i}\n" for i in range(7)), encoding="utf-8")
    assert [r.pos for r in rows_of(path, start=5)] == [5, 6]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty file: no header row"), (b"body,label\nx,y\n", "no column 'text'")],
)
def test_file_level_errors_name_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        rows_of(path)
    assert str(path) in str(info.value)


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        rows_of(tmp_path / "absent.csv")
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(InputError, match="unknown format"):
        rows_of(tmp_path / "d.xlsx")


def test_jsonl_rows_and_their_problems(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    lines = [
        b'{"text": "fine", "n": 1}',
        b"{not json",
        b"[1, 2]",
        b'{"text": 5}',
        b"",
        b'{"text": "caf\xe9"}',
        b'{"text": "' + b"x" * 1_000_000 + b'"}',
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    rows = rows_of(path, batch_size=3)
    assert [type(r).__name__ for r in rows] == ["Record", "Skip", "Skip", "Skip", "Skip", "Record"]
    reasons = [r.reason for r in rows if isinstance(r, Skip)]
    assert reasons[0].startswith("invalid JSON")
    assert reasons[1:] == ["a JSON list, not an object", "text is a int, not a string", "not valid UTF-8"]
    last = rows[-1]
    assert isinstance(last, Record) and len(last.text) == 1_000_000


def test_jsonl_missing_text_field_and_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"body": "x"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="no column 'text'"):
        rows_of(path)
    path.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="empty file"):
        rows_of(path)


def test_parquet_streams_in_batches_with_nulls(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"text": ["a", None, "c"], "key": ["k1", "k2", "k3"]}), path)
    source = Source(path, text_field="text", id_field="key")
    rows = [r for b in source.batches(2) for r in b]
    assert [r.id for r in rows] == ["k1", "k2", "k3"]
    assert isinstance(rows[1], Skip) and rows[1].reason == "missing text"
    assert source.bytes_read == source.size


def test_large_csv_cell_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text\n" + "y" * 1_000_000 + "\n", encoding="utf-8")
    (row,) = rows_of(path)
    assert isinstance(row, Record) and len(row.text) == 1_000_000


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_writers_round_trip(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"out{suffix}"
    rows: list[dict[str, Any]] = [
        {"id": "a", "label": "x", "score": 0.5, "votes": {"v": {"label": "x"}}},
        {"id": "b", "label": None, "score": None, "votes": {}},
    ]
    n = write_rows(
        path,
        [rows[:1], rows[1:]],
        columns={"id": "string", "label": "string", "score": "float", "votes": "string"},
    )
    assert n == 2
    if suffix == ".jsonl":
        back = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert back == rows
    elif suffix == ".parquet":
        table = pq.read_table(path).to_pylist()
        assert [r["id"] for r in table] == ["a", "b"]
        assert json.loads(table[0]["votes"]) == {"v": {"label": "x"}}
        assert table[1]["score"] is None
    else:
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines[0] == "id,label,score,votes"
        assert lines[1].startswith('a,x,0.5,"{')


def test_writer_failure_leaves_no_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text("previous\n", encoding="utf-8")

    def chunks() -> Iterator[list[dict[str, object]]]:
        yield [{"id": "a"}]
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_rows(path, chunks(), columns={"id": "string"})
    assert path.read_text(encoding="utf-8") == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
