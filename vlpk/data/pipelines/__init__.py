"""Step 4 of the data flow, pipeline: `tf.data` batches for the models.

`image_preprocessor` decodes, guards and resizes images, the same in
training and in the serving graph; `pipeline` (contrastive and
classification batches from files), `pretraining` (every objective's
targets), `raw` (raw bytes and strings, as a served model takes them) and
`conversations` (vision-LM conversations) build the datasets.
"""
