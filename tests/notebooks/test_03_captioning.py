"""Executes the captioning notebook, at smoke and at full size."""

import re

import pytest

from tests.notebook_runner import execute, figure_count, outputs_text

NOTEBOOK = "03_captioning.ipynb"
COLUMNS = ("BLEU-1", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr", "words")


def score_rows(text):
    """`{"greedy": {...}, "beam (3 beams)": {...}}`: the printed score table."""
    rows = {}
    for name in ("greedy", "beam (3 beams)"):
        number = r"\s+([\d.]+)"
        match = re.search(rf"^{re.escape(name)}{number * 6}$", text, re.MULTILINE)
        assert match, f"no {name!r} row in the notebook's score table"
        rows[name] = dict(zip(COLUMNS, map(float, match.groups())))
    return rows


def validation_accuracy(text):
    match = re.search(r"validation next-token accuracy ([\d.]+)%", text)
    assert match, "the notebook printed no validation accuracy"
    return float(match.group(1))


def test_notebook_runs_top_to_bottom(tmp_path):
    notebook = execute(NOTEBOOK, tmp_path, smoke=True)
    text = outputs_text(notebook)
    for row in score_rows(text).values():
        assert 0 <= row["BLEU-4"] <= row["BLEU-1"] <= 100
        assert row["CIDEr"] >= 0 and row["words"] >= 0  # untrained: maybe empty
    assert 0 <= validation_accuracy(text) <= 100
    assert "the samplers disagree on" in text
    # The training curves, the greedy grid, greedy against beam.
    assert figure_count(notebook) >= 3


@pytest.mark.slow
def test_notebook_full_run_captions_well(tmp_path):
    notebook = execute(NOTEBOOK, tmp_path, smoke=False)
    text = outputs_text(notebook)
    rows = score_rows(text)
    # Measured: CIDEr 341.2 greedy, 392.2 beam; BLEU-4 68.4 and 81.7;
    # validation next-token accuracy 80.3%; 32% of greedy captions exact.
    assert rows["greedy"]["CIDEr"] > 250 and rows["beam (3 beams)"]["CIDEr"] > 250
    assert rows["greedy"]["BLEU-4"] > 50 and rows["beam (3 beams)"]["BLEU-4"] > 50
    assert validation_accuracy(text) > 70
    exact = re.search(r"(\d+)% of \d+ greedy captions are word for word", text)
    assert exact and int(exact.group(1)) >= 15
    assert figure_count(notebook) >= 3
