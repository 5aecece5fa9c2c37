"""Labelled image sets: Keras's folder layout and a CSV, converted with classes."""

import os

import keras
import pytest

from tests.data.test_convert import jpeg
from vlpk.cli import main
from vlpk.data.formats.labelled import read_image_folder, read_labelled_csv
from vlpk.data.shapes.samples import write_image_folders, write_labels_csv
from vlpk.data.shards.reading import read_records
from vlpk.data.shards.shard_splits import ShardSplit, read_manifest
from vlpk.errors import InputError


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("labelled")
    write_image_folders(root, {"train": 16, "test": 8})
    return root


def test_classes_and_labels_are_keras_image_dataset_from_directory(folders):
    examples, names = read_image_folder(folders / "train")
    ds = keras.utils.image_dataset_from_directory(
        folders / "train", shuffle=False, batch_size=None, image_size=(8, 8)
    )
    assert names == ds.class_names
    assert [e.label for e in examples] == [int(y) for _, y in ds]
    assert [e.image_path for e in examples] == ds.file_paths
    assert [e.image_id for e in examples] == list(range(16))
    assert all(e.captions == () for e in examples)


def test_stray_files_are_reported_or_left_out(tmp_path):
    (tmp_path / "b" / "nested").mkdir(parents=True)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "1.jpg").write_bytes(jpeg(0))
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    (tmp_path / "b" / "nested" / "2.PNG").write_bytes(jpeg(1))
    (tmp_path / "top.jpg").write_bytes(jpeg(2))
    skipped = []
    examples, names = read_image_folder(tmp_path, report=lambda *s: skipped.append(s))
    assert names == ["a", "b"]
    assert [(os.path.basename(e.image_path), e.label) for e in examples] == [
        ("1.jpg", 0),
        ("2.PNG", 1),
    ]
    assert skipped == [(str(tmp_path / "top.jpg"), "not inside a class folder")]
    with pytest.raises(InputError, match="not inside a class folder"):
        read_image_folder(tmp_path)
    with pytest.raises(InputError, match="no class folders"):
        read_image_folder(tmp_path / "a")


def test_csv_labels_are_its_sorted_distinct_values(folders, tmp_path):
    path = write_labels_csv(folders, "train", tmp_path / "labels.csv")
    examples, names = read_labelled_csv(path, folders)
    folder_examples, folder_names = read_image_folder(folders / "train")
    assert names == folder_names
    assert sorted(
        (os.path.basename(e.image_path), e.label) for e in examples
    ) == sorted((os.path.basename(e.image_path), e.label) for e in folder_examples)
    bad = tmp_path / "bad.csv"
    bad.write_text("image,label\na.jpg,cat\n,dog\nb.jpg,ant\n")
    skipped = []
    examples, names = read_labelled_csv(bad, report=lambda *s: skipped.append(s))
    assert names == ["ant", "cat"]
    assert [(e.image_id, e.label) for e in examples] == [(0, 1), (2, 0)]
    assert skipped == [(f"{bad}: line 3", "empty image path or label")]
    with pytest.raises(InputError, match=r"no \['class'\] column.*--label-column"):
        read_labelled_csv(bad, label_column="class")


def test_convert_writes_labels_and_class_names(folders, tmp_path):
    out = tmp_path / "shards"
    args = ["data", "convert", "--format", "imagefolder", "--images"]
    assert main(args + [str(folders / "train"), "--out", str(out)]) == 0
    manifest = read_manifest(out)
    examples, names = read_image_folder(folders / "train")
    assert manifest["class_names"] == names
    assert len(ShardSplit.open(out)) == 16
    labels = {int(r["image_id"]): int(r["label"]) for r in read_records(out)}
    assert labels == {e.image_id: e.label for e in examples}
    # A labels CSV converts to the same labels.
    csv_path = write_labels_csv(folders, "train", tmp_path / "labels.csv")
    args = ["data", "convert", "--format", "labels_csv", "--images", str(folders)]
    assert (
        main(args + ["--annotations", str(csv_path), "--out", str(tmp_path / "c")]) == 0
    )
    assert read_manifest(tmp_path / "c")["class_names"] == names
    by_file = {
        os.path.basename(r["source"].decode()): int(r["label"])
        for r in read_records(tmp_path / "c").as_numpy_iterator()
    }
    assert by_file == {os.path.basename(e.image_path): e.label for e in examples}
