"""`cslib.split_sentences`: sentence spans of real paragraphs in en, de, ja and zh (abbreviations,
decimals, initials, quotes, 。 and its closing brackets)."""

from __future__ import annotations

from itertools import pairwise

import pytest

from cslib import CslibError, split_sentences

EN = [
    "Mr. Smith arrived in Washington on Monday.",
    "He met Dr. Jane Doe of Acme Inc. at 10 a.m. and the two spoke for 2.5 hours.",
    '"We are ready," she said.',
    '"Are you?"',
    "The U.S. Senate voted 52-48!",
    "See No. 7 on p. 12 for details, e.g. the budget.",
    "J. K. Rowling was not there...",
    "(It rained.)",
    "Angela Merkel visited Paris .",  # tokenized text: a period standing alone ends the sentence
]
DE = [
    "Am 3. Oktober 1990 wurde Deutschland wiedervereinigt.",
    "Die Feier in Berlin kostete ca. 2,5 Mio. Euro, d.h. mehr als geplant.",
    "Prof. Dr. Müller sprach z.B. über die Geschichte der Stadt im 19. Jahrhundert.",
    "Warum?",
    "„Niemand weiß es“, sagte Hr. Schmidt.",
    "Das Spiel endete 2:1.",
]
JA = [
    "安倍晋三首相は東京で記者会見を開いた。",
    "「経済を立て直します。」と首相は述べた。",  # a quotation followed by と is not a sentence of its own
    "映画『君の名は。』が公開された！",  # nor is a title ending in 。
    "本当ですか？",
    "「もう行きます。」",  # a closing bracket stays with its sentence
    "彼女はそう言って出て行った。",
    "Yahoo!ニュースによると、株価は３．５％上がった。",  # no boundary after Yahoo! nor inside ３．５
]
ZH = ["他说：“我们明天去北京。”", "然后他离开了。", "《你好！李焕英》是一部电影。"]


def _sentences(text: str, lang: str) -> list[str]:
    spans = split_sentences(text, lang)
    assert all(text[a:b] == text[a:b].strip() and a < b for a, b in spans)
    assert spans == sorted(spans) and all(b1 <= a2 for (_, b1), (a2, _) in pairwise(spans))
    assert "".join("".join(text[a:b].split()) for a, b in spans) == "".join(text.split())  # nothing lost
    return [text[a:b] for a, b in spans]


@pytest.mark.parametrize(("lang", "sentences", "sep"), [("en", EN, " "), ("de", DE, " "), ("ja", JA, ""),
                                                         ("zh", ZH, "")])
def test_paragraphs_split_into_their_sentences(lang: str, sentences: list[str], sep: str) -> None:
    assert _sentences(sep.join(sentences), lang) == sentences
    assert _sentences("  " + "\t ".join(sentences) + " \n", lang) == sentences  # any whitespace between


def test_what_does_not_end_a_sentence() -> None:
    for text in ("The U.S. Army paid $4.5 million to Acme Corp. in 2019.", "George W. Bush met Gov. Brown.",
                 "The ratio was 3.14 and 2.72 respectively.", "Visit example.com today.", "Prices fell. then rose."):
        assert _sentences(text, "en") == [text]
    assert _sentences("In 1999. The year after.", "en") == ["In 1999.", "The year after."]
    assert _sentences("Er wurde am 9. November geboren.", "de") == ["Er wurde am 9. November geboren."]
    assert _sentences("Sie kam 1999. Dann ging sie.", "de") == ["Sie kam 1999.", "Dann ging sie."]
    assert _sentences("The sun. Then the rain.", "en") == ["The sun.", "Then the rain."]  # `Sun.` is a day
    assert _sentences("No. He left.", "en") == ["No.", "He left."]  # `No.` before a number only


def test_blank_lines_scripts_without_case_and_edge_cases() -> None:
    assert _sentences("first paragraph without a stop\n\nsecond one\nstill second", "en") == \
        ["first paragraph without a stop", "second one\nstill second"]
    assert _sentences("यह पहला वाक्य है। यह दूसरा वाक्य है।", "hi") == ["यह पहला वाक्य है।", "यह दूसरा वाक्य है।"]
    assert _sentences("Москва большая. Париж красивый.", "ru") == ["Москва большая.", "Париж красивый."]
    assert _sentences("서울은 크다. 부산도 크다.", "ko") == ["서울은 크다.", "부산도 크다."]
    assert split_sentences("", "en") == [] and split_sentences(" \n\t", "ja") == []
    assert split_sentences("no stop at all", "en") == [(0, 14)]
    with pytest.raises(CslibError, match="unknown language code 'xx'"):
        split_sentences("Hi.", "xx")
