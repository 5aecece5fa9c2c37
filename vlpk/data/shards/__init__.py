"""Step 3 of the data flow, shard: records written to TFRecord shards, and read back.

`convert` (and `convert_karpathy`, `convert_beam`) check images and write
shards with a manifest; `reading` reads them back as records and as
caption pairs; `shard_splits` gives the jobs their splits (training
streamed, evaluation unpacked). Next: `vlpk.data.pipelines`.
"""
