"""`vlpk data sample`: tiny stand-ins in each real format, which convert cleanly."""

import json
import shlex

import pytest

from vlpk.cli import main
from vlpk.data.shapes.samples import SAMPLE_FORMATS


@pytest.mark.parametrize("format", SAMPLE_FORMATS)
def test_each_sample_converts_with_its_own_command(
    format, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert (
        main(
            [
                "data",
                "sample",
                "--format",
                format,
                "--out",
                format,
                "--images",
                "4",
                "--image-size",
                "32",
            ]
        )
        == 0
    )
    sample = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sample["format"] == format
    for command in sample["convert"].split(" && "):
        words = shlex.split(command)
        assert words[:3] == ["vlpk", "data", "convert"]
        assert main(words[1:]) == 0
        out = capsys.readouterr().out
        assert "0 skipped" in out and not out.startswith("0 examples")


def test_an_unknown_format_exits_2(tmp_path):
    with pytest.raises(SystemExit) as raised:
        main(["data", "sample", "--format", "coco", "--out", str(tmp_path)])
    assert raised.value.code == 2
