"""Executes the dual-encoder retrieval notebook, at smoke and at full size."""

import re

import pytest

from tests.notebook_runner import execute, figure_count, outputs_text

NOTEBOOK = "02_dual_encoder_retrieval.ipynb"


def recalls(text):
    """`{"image→text": [R@1, R@5, R@10], "text→image": [...]}` and chance R@1."""
    found = {}
    for direction in ("image→text", "text→image"):
        match = re.search(
            rf"^{direction}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$",
            text,
            re.MULTILINE,
        )
        assert match, f"no {direction} recall row in the notebook's output"
        found[direction] = [float(v) for v in match.groups()]
    return found


def test_notebook_runs_top_to_bottom(tmp_path):
    notebook = execute(NOTEBOOK, tmp_path, smoke=True)
    text = outputs_text(notebook)
    rows = recalls(text)
    for r1, r5, r10, chance in rows.values():
        assert 0 <= r1 <= r5 <= r10 <= 100
        assert chance > 0
    assert "final training loss" in text
    # The samples, the loss curve, nearest captions, three nearest-image rows.
    assert figure_count(notebook) >= 4


@pytest.mark.slow
def test_notebook_full_run_retrieves_far_above_chance(tmp_path):
    notebook = execute(NOTEBOOK, tmp_path, smoke=False)
    rows = recalls(outputs_text(notebook))
    i2t_r1, _, i2t_r10, chance = rows["image→text"]
    t2i_r1, _, t2i_r10, _ = rows["text→image"]
    assert chance == pytest.approx(0.2)  # 500 test images
    # Measured: 53.6 / 27.8 R@1 (about 270 and 140 times chance).
    assert i2t_r1 > 100 * chance and t2i_r1 > 50 * chance
    assert i2t_r10 > 70 and t2i_r10 > 50
    assert figure_count(notebook) >= 4
