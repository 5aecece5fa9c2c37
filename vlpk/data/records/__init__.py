"""Step 2 of the data flow, record: what every reader returns, and its TFRecord form.

`example.Example` is the one record type of every reader; `tfrecord` is its
layout as a `tf.train.Example` in a shard, and `vqa_groups` folds an
image's VQA questions into one record. Next: `vlpk.data.shards`.
"""
