"""The report page in a real browser: headless Chromium (Debian's package, installed by `make test`) loads
report.html at desktop and phone widths; the test fails on console errors, broken images, a horizontally
scrolling page or a repeated title, and keeps screenshots in its temp folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from autoannotator import evaluate
from autoannotator.report import figures
from entry import run_cli

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
CHECK = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(String(e.message || e.target?.src || e)), true);
const original = console.error;
console.error = (...args) => { window.__errors.push(args.join(" ")); original(...args); };
window.addEventListener("load", () => {
  const root = document.documentElement;
  const images = [...document.images];
  const result = {
    errors: window.__errors,
    images: images.length,
    broken: images.filter(i => !i.complete || i.naturalWidth === 0).length,
    overflowing: root.scrollWidth > root.clientWidth,
    widest_image: Math.max(0, ...images.map(i => i.getBoundingClientRect().width)),
    viewport: root.clientWidth,
    h1: document.querySelectorAll("h1").length,
    summary_first: !!(document.querySelector("ul") && document.querySelector("figure") &&
      (document.querySelector("ul").compareDocumentPosition(document.querySelector("figure"))
       & Node.DOCUMENT_POSITION_FOLLOWING)),
    cells_break_words: [...document.querySelectorAll("td, th")].filter(
      c => getComputedStyle(c).overflowWrap !== "normal" || getComputedStyle(c).wordBreak !== "normal").length,
    headings: [...document.querySelectorAll("h2, figcaption")].map(h => h.textContent),
  };
  const pre = document.createElement("pre");
  pre.id = "check";
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
});
</script>"""


def chromium(*args: str, width: int, height: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--enable-logging=stderr", "--v=0", f"--window-size={width},{height}", "--virtual-time-budget=5000",
         *args],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, example_csv: Path) -> Path:
    """report.html of a run on the bundled example with no LLM, scored against its gold."""
    if CHROMIUM is None:
        if os.environ.get("AUTOANNOTATOR_REQUIRE_TOOLS") == "1":
            pytest.fail("chromium not found: `make browser` installs it")
        pytest.skip("chromium not installed (`make browser`; make test installs it)")
    folder = tmp_path_factory.mktemp("report")
    out = folder / "labels.jsonl"
    args = ("--task", "sentiment-2", "--out", out, "--specialists", "vader,textblob,afinn", "--quiet")
    run_cli("annotate", example_csv, *args)
    run_cli("eval", out, "--gold", example_csv, "--report", folder / "report")
    return folder / "report" / "report.html"


@pytest.mark.parametrize("device", list(WIDTHS))
def test_the_report_page_loads_cleanly_and_fits_the_screen(report: Path, device: str) -> None:
    width, height = WIDTHS[device]
    checked = report.with_name(f"checked-{device}.html")
    page = report.read_text(encoding="utf-8")
    assert page.count("<head>") == 1
    checked.write_text(page.replace("<head>", "<head>" + CHECK, 1), encoding="utf-8")
    dom = chromium("--dump-dom", checked.as_uri(), width=width, height=height)
    found = re.search(r'<pre id="check">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stderr[-2000:]
    result = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line and "error" in line.lower()]
    assert result["errors"] == [] and console == [], (result["errors"], console)
    assert result["images"] >= 2 and result["broken"] == 0
    assert not result["overflowing"], f"the page scrolls sideways at {width} px"
    assert result["widest_image"] <= result["viewport"]
    assert result["h1"] == 1
    assert result["summary_first"], "the summary comes before the figures"
    assert result["cells_break_words"] == 0, "table cells wrap between words, never inside one"
    assert "Rows to check first" in result["headings"]
    assert "The specialists' agreement" in result["headings"]
    shot = report.with_name(f"{device}.png")
    chromium(f"--screenshot={shot}", report.as_uri(), width=width, height=height)
    assert shot.stat().st_size > 10_000  # kept in the test's temp folder for a look


def test_a_single_stage_run_without_an_llm_draws_no_empty_or_overlapping_plot(
    report: Path, example_csv: Path
) -> None:
    scored = evaluate(report.parent.parent / "labels.jsonl", gold=example_csv)
    drawn = dict(figures(scored))
    tradeoff = drawn["Accuracy against the share sent to the LLM"]
    assert [t.get_text() for t in tradeoff.axes[0].texts] == ["this run"]  # no "stage 0" on the same point
    agreement = drawn["The specialists' agreement"]
    assert [a.get_title() for a in agreement.axes if a.get_title()] == ["pairwise agreement"]  # no empty panel
    cells = [t.get_text() for t in agreement.axes[0].texts]
    assert len(cells) == 9 and cells[0] == "1.00"  # the heatmap carries its numbers
    assert "Where the money went" not in drawn  # nothing was spent
