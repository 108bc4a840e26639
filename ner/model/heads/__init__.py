"""NER heads over word vectors: one interface (`ner.model.heads.base.Head`), one module per head."""
