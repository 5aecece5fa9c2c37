"""Evaluation metrics, computed as the field's reference tools compute them.

- `retrieval`: image↔text Recall@K and ranks (COCO 5k protocol);
- `vqa`: the official VQA v2 accuracy, normalization included;
- `captioning`: BLEU-1..4, METEOR, ROUGE-L and CIDEr through pycocoevalcap;
- `pope`: POPE's object-hallucination scores of yes/no answers;
- `result_files`: the standard results and annotation files, read with clear
  errors, and scored;
- `token_accuracy`: the masked-token accuracy monitored during training.
"""

from vlpk.metrics.captioning import METRICS as CAPTION_METRICS
from vlpk.metrics.captioning import coco_caption_scores
from vlpk.metrics.pope import pope_scores
from vlpk.metrics.result_files import evaluate_caption_files, evaluate_vqa_files
from vlpk.metrics.retrieval import retrieval_metrics, similarity_retrieval_metrics
from vlpk.metrics.token_accuracy import MaskedTokenAccuracy
from vlpk.metrics.vqa import normalize_answer, vqa_accuracy

__all__ = [
    "CAPTION_METRICS",
    "MaskedTokenAccuracy",
    "coco_caption_scores",
    "evaluate_caption_files",
    "evaluate_vqa_files",
    "normalize_answer",
    "pope_scores",
    "retrieval_metrics",
    "similarity_retrieval_metrics",
    "vqa_accuracy",
]
