"""NER heads over word vectors: one interface (`ner.model.heads.base.Head`), one module per head."""

from ner.model.heads.base import Head
from ner.model.heads.relation import RelationHead
from ner.model.heads.token import TokenHead

#: Every head by its `--head` name.
HEADS: dict[str, type[Head]] = {cls.name: cls for cls in (RelationHead, TokenHead)}


def head_class(name: str) -> type[Head]:
    """The head called `name` (ValueError naming the choices otherwise)."""
    try:
        return HEADS[name]
    except KeyError:
        raise ValueError(f"head must be one of {tuple(HEADS)}, got {name!r}") from None


__all__ = ["HEADS", "Head", "RelationHead", "TokenHead", "head_class"]
