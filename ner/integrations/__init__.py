"""Other libraries' entry points into a trained model: the spaCy pipeline component (`spacy_component`).

Each module imports its library at the top, so importing `ner.integrations` itself needs none of them.
"""
