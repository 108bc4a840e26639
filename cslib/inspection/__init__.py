"""Finished shard sets for people: examples side by side, statistics, validation, notebook and HTML views.

Building lives in the rest of `cslib`; nothing here writes a shard.
"""
