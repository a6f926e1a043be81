"""The label-model reference end to end: against a reviewer that is wrong on 30% of rows, three lexicon
specialists outvote it where the label model (Dawid-Skene over the reviewer and them) says they are more
likely right; against the reviewer itself (the default) they never can. The end line keeps the
assumption-free agreement beside the model's estimate and says which is which."""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import pytest

from autoannotator.testing import read_jsonl
from entry import run_cli

pytestmark = pytest.mark.slow
COLUMNS = ("text", "llm_label", "model", "setting", "prompt_tokens", "completion_tokens", "raw_response")
COMMON = ("--task", "sentiment-2", "--specialists", "vader,textblob,afinn", "--no-learn", "--quiet")


def weak_reviewer(example_csv: Path, folder: Path) -> tuple[Path, dict[str, str]]:
    """A replay file whose answers are the gold label flipped on 30% of rows (a hash of the text); and gold."""
    with example_csv.open(encoding="utf-8", newline="") as f:
        gold = {r["text"]: r["label"] for r in csv.DictReader(f)}
    flip = {"positive": "negative", "negative": "positive"}
    answers = folder / "answers.csv"
    with answers.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(
            ["text", "llm_label", "model", "setting", "prompt_tokens", "completion_tokens", "raw_response"]
        )
        for text, label in gold.items():
            said = flip[label] if int(hashlib.sha256(text.encode()).hexdigest(), 16) % 100 < 30 else label
            out.writerow([text, said, "weak", "flips 30%", 40, 1, said])
    return answers, gold


def accuracy(path: Path, gold: dict[str, str]) -> float:
    rows = read_jsonl(path)
    return sum(bool(r["label"] == gold[r["text"]]) for r in rows) / len(rows)


def test_the_specialists_outvote_a_weak_reviewer_where_the_label_model_trusts_them(
    example_csv: Path, tmp_path: Path
) -> None:
    answers, gold = weak_reviewer(example_csv, tmp_path)
    review = ("--review", f"replay:{answers}")
    plain = run_cli("annotate", example_csv, "--out", tmp_path / "llm.jsonl", *COMMON, *review)
    modelled = run_cli(
        "annotate", example_csv, "--out", tmp_path / "lm.jsonl", "--reference", "label-model", *COMMON, *review
    )
    reviewer = sum(
        r["label"] == gold[r["text"]] for r in read_jsonl(tmp_path / "llm.jsonl") if r["source"] == "llm"
    ) / len(gold)
    assert all(r["source"] == "llm" for r in read_jsonl(tmp_path / "llm.jsonl"))  # nothing agrees with it enough
    assert "no row could be accepted" in plain.stderr
    rows = read_jsonl(tmp_path / "lm.jsonl")
    assert sum(r["source"] == "consensus" for r in rows) / len(rows) > 0.4
    assert accuracy(tmp_path / "lm.jsonl", gold) > reviewer + 0.02  # better than the reviewer alone
    line = " ".join(modelled.stderr.split())
    agreement = re.search(r"estimated agreement with the reviewer (\d\.\d+) .*assumption-free\)", line)
    estimated = re.search(
        r"the label model estimates their accuracy (\d\.\d+) .* and the reviewer's (\d\.\d+)", line
    )
    assert agreement is not None and estimated is not None, line
    assert "model-based" in line
    assert 0.5 < float(estimated.group(2)) < 0.85  # the reviewer is measured as weak (truly 0.70)
    assert float(estimated.group(1)) > float(agreement.group(1))  # it may contradict the reviewer
    needs = re.search(r"holds only if the reviewer is wrong on (\d+)% of the audited rows where they differ", line)
    share = (float(estimated.group(1)) - float(agreement.group(1))) / (1 - float(agreement.group(1)))
    assert needs is not None and abs(int(needs.group(1)) - 100 * share) <= 1, line  # from the rounded figures


def test_a_label_model_needs_a_reviewer_and_is_not_beside_the_truth(example_csv: Path, tmp_path: Path) -> None:
    alone = run_cli("annotate", example_csv, "--out", tmp_path / "a.jsonl", "--reference", "label-model", *COMMON,
                    check=False)  # fmt: skip
    assert alone.returncode == 2 and "--reference label-model: it needs a reviewer" in alone.stderr
    assert not (tmp_path / "a.jsonl").exists()


def test_with_one_fixed_specialist_the_label_model_is_not_used_and_the_run_says_so(
    example_csv: Path, tmp_path: Path
) -> None:
    answers, _ = weak_reviewer(example_csv, tmp_path)
    args = ["--task", "sentiment-2", "--specialists", "vader", "--no-learn", "--quiet", "--review"]
    args.append(f"replay:{answers}")
    out = tmp_path / "one.jsonl"
    result = run_cli("annotate", example_csv, "--out", out, "--reference", "label-model", *args)
    line = " ".join(result.stderr.split())
    assert "--reference label-model was not used: it needs two fixed specialists beside the reviewer" in line
    assert "label model estimates" not in line
    run_cli("annotate", example_csv, "--out", tmp_path / "default.jsonl", *args)
    assert read_jsonl(out) == read_jsonl(tmp_path / "default.jsonl")  # judged against the reviewer, as by default
