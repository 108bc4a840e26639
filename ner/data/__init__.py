"""Training data: cslib shard sets read through their schema, pseudo-label files, length buckets and
the seeded order of every epoch. Imports nothing from the model, training or inference layers."""

from ner.data.pseudo_labels import load_pseudo, write_pseudo
from ner.data.records import Example, TextPair, UnlabeledSentence
from ner.data.shards import find_shard_dirs, load_pairs, load_text_pairs, open_shard_dir, open_shard_dirs
from ner.data.unlabeled import iter_unlabeled, load_unlabeled

__all__ = ["Example", "TextPair", "UnlabeledSentence", "find_shard_dirs", "iter_unlabeled", "load_pairs",
           "load_pseudo", "load_text_pairs", "load_unlabeled", "open_shard_dir", "open_shard_dirs", "write_pseudo"]
