"""COCO caption metrics: equal to pycocoevalcap's own COCOEvalCap, key by key.

A pycocoevalcap run (two PTB tokenizer runs and METEOR, all Java) takes about
five seconds, so the three runs below are shared through module fixtures and
the error tests need no Java at all.
"""

import shutil
import sys

import pytest

from vlpk.errors import InputError
from vlpk.metrics.captioning import METRICS, coco_caption_scores

needs_java = pytest.mark.skipif(
    shutil.which("java") is None, reason="pycocoevalcap needs a Java runtime"
)

REFERENCES = {
    1: [
        "A dog runs on the grass.",
        "a brown dog running in a field",
        "the dog is running",
    ],
    2: ["Two cats sleep on a bed.", "cats asleep on a bed"],
    3: [
        "a man rides a red bike down the street",
        "a person riding a bicycle",
        "A man on a bike.",
        "cyclist on a road",
        "a red bicycle and its rider",
    ],
    4: [
        "a plate of food with broccoli",
        "broccoli and rice on a plate",
        "a dinner plate with vegetables",
        "food on a white plate",
    ],
    # Not captioned: it must not count (CIDEr's document frequencies would
    # change if it did).
    5: ["a bus parked on the side of a road", "a yellow bus"],
}
CANDIDATES = {
    1: "a dog running on grass",
    2: "a cat on a bed",
    3: "a man riding a bike",
    4: "a plate with broccoli and rice",
}


class _CocoLike:
    """What COCOEvalCap reads of a pycocotools `COCO`: image ids and anns."""

    def __init__(self, captions):
        self.imgToAnns = {
            image_id: [
                {"image_id": image_id, "id": 10 * image_id + i, "caption": c}
                for i, c in enumerate(texts)
            ]
            for image_id, texts in captions.items()
        }

    def getImgIds(self):
        return list(self.imgToAnns)


class _NoSpice:
    """Stands in for SPICE, which downloads Stanford models on first use."""

    def compute_score(self, gts, res):
        return 0.0, [0.0] * len(gts)

    def method(self):
        return "SPICE"


@pytest.fixture(scope="module")
def ours():
    import pycocoevalcap.meteor.meteor as meteor_module

    started = []

    class RecordedMeteor(meteor_module.Meteor):
        def __init__(self):
            super().__init__()
            started.append(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(meteor_module, "Meteor", RecordedMeteor)
        scores = coco_caption_scores(REFERENCES, CANDIDATES)
    return scores, started


@pytest.fixture(scope="module")
def official():
    import pycocoevalcap.eval as eval_module

    coco = _CocoLike(REFERENCES)
    coco_result = _CocoLike({k: [v] for k, v in CANDIDATES.items()})
    evaluator = eval_module.COCOEvalCap(coco, coco_result)
    # As pycocoevalcap's example does to evaluate the result images only.
    evaluator.params["image_id"] = coco_result.getImgIds()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(eval_module, "Spice", _NoSpice)
        evaluator.evaluate()
    return evaluator.eval


@needs_java
def test_equals_coco_eval_cap(ours, official):
    scores, _ = ours
    assert set(official) == set(METRICS) | {"SPICE"}
    for name in METRICS:
        assert scores[name] == pytest.approx(official[name], abs=1e-9), name
    # Sanity: a real, imperfect score on every metric.
    assert all(0.0 < scores[name] < 1.0 for name in METRICS if name != "CIDEr")


@needs_java
def test_keys_are_the_seven_metrics_as_floats(ours):
    scores, _ = ours
    assert list(scores) == [
        "Bleu_1",
        "Bleu_2",
        "Bleu_3",
        "Bleu_4",
        "METEOR",
        "ROUGE_L",
        "CIDEr",
    ]
    assert all(type(value) is float for value in scores.values())


@needs_java
def test_meteor_process_is_closed(ours):
    _, started = ours
    assert len(started) == 1
    # The Java process has exited, though the object is still alive.
    assert started[0].meteor_p.poll() is not None


@needs_java
def test_perfect_candidates():
    # Each candidate is one of its references (tokenized alike).
    perfect = {image_id: REFERENCES[image_id][0] for image_id in CANDIDATES}
    scores = coco_caption_scores(REFERENCES, perfect)
    # pycocoevalcap's BLEU adds tiny smoothing terms: 0.99999999993.
    assert scores["Bleu_1"] == pytest.approx(1.0, abs=1e-6)
    assert scores["Bleu_4"] == pytest.approx(1.0, abs=1e-6)
    assert scores["METEOR"] == pytest.approx(1.0, abs=1e-9)
    assert scores["ROUGE_L"] == pytest.approx(1.0, abs=1e-9)


def test_no_java_is_an_input_error(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(InputError, match=r"Java runtime.*apt install default-jre"):
        coco_caption_scores(REFERENCES, CANDIDATES)


def test_no_pycocoevalcap_is_an_input_error(monkeypatch):
    for name in (
        "pycocoevalcap",
        "pycocoevalcap.tokenizer.ptbtokenizer",
        "pycocoevalcap.bleu.bleu",
        "pycocoevalcap.meteor.meteor",
        "pycocoevalcap.rouge.rouge",
        "pycocoevalcap.cider.cider",
    ):
        # A None entry makes `import` fail, as for a missing package.
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(InputError, match=r'pip install "vlpk\[eval\]"'):
        coco_caption_scores(REFERENCES, CANDIDATES)


def test_bad_inputs():
    with pytest.raises(InputError, match="no candidate captions"):
        coco_caption_scores(REFERENCES, {})
    with pytest.raises(InputError, match=r"1 candidate image id\(s\).*: 9\."):
        coco_caption_scores(REFERENCES, {1: "a dog", 9: "a cat"})
    with pytest.raises(InputError, match="image 1 should be a string, got int"):
        coco_caption_scores(REFERENCES, {1: 5})
    with pytest.raises(InputError, match="references of image 1 should be a non-empty"):
        coco_caption_scores({1: []}, {1: "a dog"})
    with pytest.raises(InputError, match="references of image 1 should be a non-empty"):
        coco_caption_scores({1: "a dog"}, {1: "a dog"})
