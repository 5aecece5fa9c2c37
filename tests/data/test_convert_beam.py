"""`convert_examples_beam`: the Beam DirectRunner writes what the thread pool does."""

import importlib.util
import os
import re
import subprocess
import sys

import pytest

from tests.data.test_convert import bomb_png, jpeg
from tests.test_cli_convert import write_coco
from vlpk.cli import main
from vlpk.data.formats.registry import convert_dataset
from vlpk.data.shards.convert_beam import convert_dataset_beam

# Only the tests that run a pipeline need Beam: the others check what
# happens without it.
needs_beam = pytest.mark.skipif(
    importlib.util.find_spec("apache_beam") is None,
    reason='needs the beam extra: pip install "vlpk[beam]"',
)
TWO_WORKERS = "--runner=DirectRunner --direct_num_workers=2"


def write_pairs(root):
    """A CSV with good rows, bad images and bad rows (also before the first and
    after the last good row, so that the order of the skips is checked).

    Returns:
        `(csv path, images folder)`: 12 rows the reader keeps, 5 of them with
        bad images, 6 rows it skips, and a blank line.
    """
    images = root / "images"
    images.mkdir()
    for i in range(5):
        (images / f"good{i}.jpg").write_bytes(jpeg(i))
    (images / "truncated.jpg").write_bytes(jpeg(9, size=64)[:300])
    (images / "notes.jpg").write_bytes(b"this is not an image\n")
    (images / "bomb.png").write_bytes(bomb_png())
    (images / "empty.jpg").write_bytes(b"")
    lines = [
        b"image,caption",
        b"only-one-field",
        b"good0.jpg,a dog on a beach",
        b"good1.jpg,a red circle",
        b"truncated.jpg,fine caption",
        b"",
        b"good2.jpg,two cats",
        b",no image path",
        b"notes.jpg,fine caption",
        b"good3.jpg,   ",
        b"bomb.png,fine caption",
        b"good4.jpg,caf\xe9 in latin-1",
        b"good4.jpg,a blue square",
        b"empty.jpg,fine caption",
        b"missing.jpg,fine caption",
        "good0.jpg,一只红色的圆形".encode(),
        b'good1.jpg,"a caption, with a comma"',
        b"good2.jpg,the last good row",
        b"good3.jpg,a,b",
        b"good4.jpg,",
    ]
    path = root / "pairs.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path, images


def files(folder):
    """`{name: bytes}` of every file in `folder`, the manifest's `seconds` cut."""
    found = {}
    for name in sorted(os.listdir(folder)):
        data = (folder / name).read_bytes()
        if name == "manifest.json":
            data = re.sub(rb'"seconds": [0-9.e-]+', b'"seconds": 0', data)
        found[name] = data
    return found


@needs_beam
@pytest.mark.parametrize(
    "shard_size, block_bytes, compression",
    [
        (5, None, None),  # one block; the last shard is not full
        (4, 40, "gzip"),  # blocks of a few lines, rows across their ends
        (3, 1, None),  # a block per byte: most hold no line start at all
    ],
)
def test_beam_writes_the_same_shards_sidecars_and_manifest(
    tmp_path, shard_size, block_bytes, compression
):
    path, images = write_pairs(tmp_path)
    options = dict(shard_size=shard_size, compression=compression, verbose=0)
    local = convert_dataset("csv", path, images, tmp_path / "local", **options)
    beamed = convert_dataset_beam(
        "csv",
        path,
        images,
        tmp_path / "beam",
        pipeline_options=TWO_WORKERS if block_bytes is None else None,
        block_bytes=block_bytes,
        **options,
    )
    assert local["examples"] == 7 and local["records_read"] == 12
    assert len(local["skipped"]) == 6 + 5
    assert len(local["shards"]) == -(-12 // shard_size) > 1
    assert {k: v for k, v in beamed.items() if k != "seconds"} == {
        k: v for k, v in local.items() if k != "seconds"
    }
    # Byte for byte: the DirectRunner runs in this process, where protobuf
    # orders each record's feature map as it did for the local converter.
    local_files, beam_files = files(tmp_path / "local"), files(tmp_path / "beam")
    assert list(beam_files) == list(local_files)  # no Beam leftovers
    for name, data in local_files.items():
        assert beam_files[name] == data, name


@needs_beam
def test_a_full_last_shard_keeps_the_trailing_skips_last(tmp_path):
    path, images = write_pairs(tmp_path)
    options = dict(shard_size=6, verbose=0)  # 12 records: two full shards
    local = convert_dataset("csv", path, images, tmp_path / "local", **options)
    beamed = convert_dataset_beam(
        "csv", path, images, tmp_path / "beam", block_bytes=64, **options
    )
    assert beamed["skipped"] == local["skipped"]
    assert local["skipped"][-1]["source"].endswith("line 20")
    assert files(tmp_path / "beam") == files(tmp_path / "local")


@needs_beam
def test_resume_keeps_finished_shards_and_refuses_other_options(tmp_path):
    path, images = write_pairs(tmp_path)
    out = tmp_path / "out"
    first = convert_dataset("csv", path, images, out, shard_size=4, verbose=0)
    kept = out / first["shards"][0]["file"]
    mtime = os.stat(kept).st_mtime_ns
    os.remove(out / first["shards"][1]["file"])
    second = convert_dataset_beam("csv", path, images, out, shard_size=4, verbose=0)
    assert os.stat(kept).st_mtime_ns == mtime
    assert second["skipped"] == first["skipped"]
    with pytest.raises(ValueError, match="other options"):
        convert_dataset_beam("csv", path, images, out, shard_size=3, verbose=0)


@needs_beam
def test_strict_raises_at_the_same_first_bad_record(tmp_path):
    path, images = write_pairs(tmp_path)
    with pytest.raises(ValueError, match="line 2: expected 2 fields") as local:
        convert_dataset("csv", path, images, tmp_path / "a", strict=True, verbose=0)
    with pytest.raises(ValueError) as beamed:
        convert_dataset_beam("csv", path, images, tmp_path / "b", strict=True)
    assert str(beamed.value) == str(local.value)


@needs_beam
def test_a_format_read_in_the_driver_gives_the_same_output(tmp_path):
    images, annotations = write_coco(tmp_path)
    options = dict(shard_size=2, verbose=0)
    local = convert_dataset("coco", annotations, images, tmp_path / "local", **options)
    convert_dataset_beam("coco", annotations, images, tmp_path / "beam", **options)
    assert len(local["skipped"]) == 3 and len(local["shards"]) == 3
    assert files(tmp_path / "beam") == files(tmp_path / "local")


def convert(path, images, out, *flags):
    return main(
        [
            "data",
            "convert",
            "--format",
            "csv",
            "--images",
            str(images),
            "--annotations",
            str(path),
            "--out",
            str(out),
            "--shard-size",
            "4",
            *flags,
        ]
    )


@needs_beam
def test_cli_runner_beam(tmp_path, capsys):
    path, images = write_pairs(tmp_path)
    assert convert(path, images, tmp_path / "local") == 0
    flags = ["--runner", "beam", f"--beam-options={TWO_WORKERS}"]
    assert convert(path, images, tmp_path / "beam", *flags) == 0
    assert "7 examples written, 11 skipped" in capsys.readouterr().out
    assert files(tmp_path / "beam") == files(tmp_path / "local")
    assert convert(path, images, tmp_path / "c", "--beam-options=--x") == 2
    assert "--beam-options needs --runner beam" in capsys.readouterr().err


def test_cli_without_beam_exits_2_saying_how_to_install_it(
    tmp_path, capsys, monkeypatch
):
    path, images = write_pairs(tmp_path)
    monkeypatch.setitem(sys.modules, "apache_beam", None)  # `import` raises
    assert convert(path, images, tmp_path / "out", "--runner", "beam") == 2
    assert 'pip install "vlpk[beam]"' in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_refuses_formats_with_side_files(tmp_path, capsys):
    path, images = write_pairs(tmp_path)
    args = ["data", "convert", "--format", "karpathy", "--images", str(images)]
    args += ["--annotations", str(path), "--out", str(tmp_path / "o")]
    assert main([*args, "--runner", "beam"]) == 2
    assert "convert karpathy with the default runner" in capsys.readouterr().err


def test_local_converter_imports_no_beam():
    # The default runner must work without the extra installed.
    code = (
        "import sys, vlpk.cli, vlpk.data.formats.registry, vlpk.data.shards.convert; "
        "print('apache_beam' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().endswith("False")
