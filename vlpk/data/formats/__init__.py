"""Step 1 of the data flow, format: one reader per dataset format.

Each reader turns its files (COCO captions, Karpathy splits, Flickr8k/30k,
VQA v2, CSV web pairs, LLaVA conversations, labelled image folders and
CSVs) into `vlpk.data.records.example.Example`s and reports bad records.
`registry` maps `vlpk data convert --format` to its reader. Next:
`vlpk.data.records`.
"""
