"""Katakana → Chinese transliteration characters, for names no Chinese dictionary knows.

Chinese writes foreign names with a fixed set of characters chosen by sound (卡尔 Karl,
奥巴马 Obama), after the Xinhua transliteration tables. No PyPI package does English →
Chinese transliteration, but e2k gives the katakana reading (カール), whose morae map onto
those characters regularly: this table does that second step. The result is a plausible
transliterated name (ワシントン → 瓦辛顿; the established 华盛顿 comes from CC-CEDICT when
it has the name), which is what a Chinese NER model must learn to recognise as a name.
"""

from __future__ import annotations

_MORA = {
    "ア": "阿", "イ": "伊", "ウ": "乌", "エ": "埃", "オ": "奥",
    "カ": "卡", "キ": "基", "ク": "克", "ケ": "凯", "コ": "科",
    "ガ": "加", "ギ": "吉", "グ": "格", "ゲ": "盖", "ゴ": "戈",
    "サ": "萨", "シ": "西", "ス": "斯", "セ": "塞", "ソ": "索",
    "ザ": "扎", "ジ": "吉", "ズ": "兹", "ゼ": "泽", "ゾ": "佐",
    "タ": "塔", "チ": "奇", "ツ": "茨", "テ": "特", "ト": "托",
    "ダ": "达", "ヂ": "吉", "ヅ": "兹", "デ": "德", "ド": "多",
    "ナ": "纳", "ニ": "尼", "ヌ": "努", "ネ": "内", "ノ": "诺",
    "ハ": "哈", "ヒ": "希", "フ": "夫", "ヘ": "赫", "ホ": "霍",
    "バ": "巴", "ビ": "比", "ブ": "布", "ベ": "贝", "ボ": "博",
    "パ": "帕", "ピ": "皮", "プ": "普", "ペ": "佩", "ポ": "波",
    "マ": "马", "ミ": "米", "ム": "姆", "メ": "梅", "モ": "莫",
    "ヤ": "亚", "ユ": "尤", "ヨ": "约",
    "ラ": "拉", "リ": "里", "ル": "尔", "レ": "雷", "ロ": "罗",
    "ワ": "瓦", "ヲ": "沃", "ン": "恩", "ヴ": "夫",
    "ァ": "阿", "ィ": "伊", "ゥ": "乌", "ェ": "埃", "ォ": "奥", "ャ": "亚", "ュ": "尤", "ョ": "约",
}
_DIGRAPH = {
    "シャ": "沙", "シュ": "舒", "ショ": "肖", "シェ": "谢", "チャ": "查", "チュ": "丘", "チョ": "乔",
    "チェ": "切", "ジャ": "贾", "ジュ": "朱", "ジョ": "乔", "ジェ": "杰", "キャ": "卡", "キュ": "丘",
    "キョ": "乔", "ギャ": "加", "ニャ": "尼亚", "ニュ": "纽", "ヒュ": "休", "ミュ": "缪", "リュ": "留",
    "ファ": "法", "フィ": "菲", "フェ": "费", "フォ": "福", "ティ": "蒂", "ディ": "迪", "トゥ": "图",
    "ドゥ": "杜", "ウィ": "威", "ウェ": "韦", "ウォ": "沃", "イェ": "耶", "ツァ": "察", "ヴァ": "瓦",
    "ヴィ": "维", "ヴェ": "韦", "ヴォ": "沃", "デュ": "杜", "テュ": "丘",
}
# mora + イ as one syllable (diphthong): マイ → 迈, not 马伊
_DIPHTHONG = {"ア": "艾", "カ": "凯", "ガ": "盖", "サ": "赛", "タ": "泰", "ダ": "代", "ナ": "奈", "ハ": "海",
              "バ": "拜", "パ": "派", "マ": "迈", "ラ": "莱", "ワ": "怀", "レ": "雷", "ケ": "凯", "セ": "塞",
              "テ": "特", "デ": "德", "ベ": "贝", "ペ": "佩", "メ": "梅", "ヘ": "赫", "ネ": "内"}
# a consonant with no vowel of its own (e2k writes final t as ト): 特, not 托, unless a long vowel follows
_BARE = {"ト": "特", "ド": "德"}
# mora + ン as one syllable: カン → 坎, not 卡恩
_NASAL = {
    "ア": "安", "イ": "因", "ウ": "温", "エ": "恩", "オ": "昂",
    "カ": "坎", "キ": "金", "ク": "昆", "ケ": "肯", "コ": "孔", "ガ": "甘", "ギ": "金", "ゴ": "贡",
    "サ": "桑", "シ": "辛", "ス": "森", "セ": "森", "ソ": "松", "ザ": "赞", "ジ": "金", "ゼ": "曾",
    "タ": "坦", "チ": "钦", "テ": "滕", "ト": "顿", "ダ": "丹", "デ": "登", "ド": "东",
    "ナ": "南", "ニ": "宁", "ノ": "农", "ハ": "汉", "ヒ": "欣", "フ": "丰", "ヘ": "亨", "ホ": "洪",
    "バ": "班", "ビ": "宾", "ベ": "本", "ボ": "邦", "パ": "潘", "ピ": "平", "ペ": "彭", "ポ": "蓬",
    "マ": "曼", "ミ": "明", "メ": "门", "モ": "蒙", "ヤ": "扬", "ユ": "云", "ラ": "兰", "リ": "林",
    "ル": "伦", "レ": "伦", "ロ": "隆", "ワ": "万", "ジャ": "让", "ジョ": "琼", "シャ": "尚", "チャ": "钱",
}


def kana_to_hanzi(kana: str) -> str | None:
    """Katakana reading → transliteration characters; None when a character is not katakana."""
    out: list[str] = []
    i = 0
    while i < len(kana):
        c = kana[i]
        if c in "ーッ":  # long vowel and geminate: no character of their own
            i += 1
            continue
        if c == "・":
            out.append("·")
            i += 1
            continue
        unit = kana[i:i + 2] if kana[i:i + 2] in _DIGRAPH else c
        if unit not in _DIGRAPH and unit not in _MORA:
            return None
        j = i + len(unit)
        while j < len(kana) and kana[j] in "ーッ":
            j += 1
        if j < len(kana) and kana[j] == "ン" and unit in _NASAL:
            out.append(_NASAL[unit])
            i = j + 1
            continue
        if j == i + len(unit) and j < len(kana) and kana[j] == "イ" and unit in _DIPHTHONG:
            out.append(_DIPHTHONG[unit])
            i = j + 1
            continue
        long_vowel = i + len(unit) < len(kana) and kana[i + len(unit)] == "ー"
        out.append(_BARE[unit] if unit in _BARE and not long_vowel else _DIGRAPH.get(unit) or _MORA[unit])
        i += len(unit)
    return "".join(out) or None
