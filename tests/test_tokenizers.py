from __future__ import annotations

import pytest

from cslib import CslibError, segment, tokenize, word_tokenize


def test_language_tokenizers_are_real():
    assert word_tokenize("東京タワーは日本にある", "ja")[:2] == ["東京", "タワー"]
    assert "北京" in word_tokenize("我爱北京天安门", "zh")
    assert word_tokenize("Das ist ein Haus, oder?", "de") == ["Das", "ist", "ein", "Haus", ",", "oder", "?"]


def test_panx_style_characters_for_zh_ja():
    assert tokenize("東京 iPhone", "ja") == ["東", "京", "i", "P", "h", "o", "n", "e"]
    assert segment("東京タワー", "ja", "words") == ["東京", "タワー"]
    assert tokenize("Hola, mundo.", "es") == ["Hola", ",", "mundo", "."]


def test_unknown_language():
    with pytest.raises(CslibError, match="unknown language code 'xx'"):
        tokenize("x", "xx")
