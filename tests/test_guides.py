"""Runs every guide in docs/guides, and the README's Python, top to bottom.

The README's two commands are fenced `sh` (they install), so only its
`python` block runs here, at the size it is written.
"""

import glob
import os
import subprocess
import sys

import pytest

from tests import guide_runner

GUIDES = sorted(glob.glob(os.path.join(guide_runner.REPO, "docs", "guides", "*.md")))


def run(path, workdir, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "tests.guide_runner", path, str(workdir)],
        cwd=guide_runner.REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


README = os.path.join(guide_runner.REPO, "README.md")


@pytest.mark.parametrize("path", GUIDES + [README], ids=os.path.basename)
def test_guide_runs_top_to_bottom(path, tmp_path):
    result = run(path, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]


def test_only_exact_bash_and_python_fences_run():
    markdown = (
        "Intro.\n\n```bash\necho one\n```\n\n```bash skip\nexit 1\n```\n\n"
        "```python\nx = 1\n```\n\n```text\nnot code\n```\n"
    )
    blocks = guide_runner.runnable_blocks(markdown)
    assert [(language, line) for language, _, line in blocks] == [
        ("bash", 3),
        ("python", 11),
    ]


def test_a_failing_block_fails_the_guide(tmp_path):
    guide = tmp_path / "guide.md"
    guide.write_text(
        "```python\nvalue = 41\n```\n\n```python\nassert value + 1 == 43\n```\n"
    )
    result = run(str(guide), tmp_path / "work", timeout=120)
    assert result.returncode != 0
    assert "guide.md:5: python block raised" in result.stdout


def test_python_blocks_share_a_namespace_and_bash_sees_vlpk(tmp_path):
    guide = tmp_path / "guide.md"
    guide.write_text(
        "```python\nvalue = 41\n```\n\n```python\nassert value + 1 == 42\n"
        "open('seen.txt', 'w').write('ok')\n```\n\n"
        "```bash\ntest -f seen.txt && vlpk --help > /dev/null\n```\n"
    )
    result = run(str(guide), tmp_path / "work", timeout=120)
    assert result.returncode == 0, result.stdout[-4000:]
