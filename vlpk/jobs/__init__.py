"""The jobs behind the `vlpk` command: pretrain, finetune, quickstart, resume.

They read configs and run folders, and assemble the library's public objects
(`vlpk.models`, `vlpk.data`, `vlpk.callbacks`, ...); the library never imports
them.
"""
