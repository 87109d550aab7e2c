from pipelines.normalize import Normalizer, display_text, split_hashtag


def test_display_keeps_original_but_drops_html():
    s = display_text("<p>Ёлки &amp; палки</p><script>alert('x')</script>")
    assert s == "Ёлки & палки"


def test_matching_text_folds_case_yo_emoji_and_stretched_letters():
    n = Normalizer()("ВОООДЫ НЕЕЕТ!!! Ёлкин двор 😡🤬 #НетВоды @adm_kursk https://vk.com/wall-1_2")
    assert "воды нет" in n.text
    assert "елкин" in n.text
    assert n.hashtags == ["нет воды"]
    assert n.mentions == ["adm_kursk"]
    assert n.urls == ["https://vk.com/wall-1_2"]
    assert "😡" not in n.text
    assert ("вода" in n.lemmas[0]) and ("нет" in n.lemmas[1])


def test_hashtag_split():
    assert split_hashtag("ЯмыНаДорогах") == "ямы на дорогах"
    assert split_hashtag("жкх_курск") == "жкх курск"


def test_latin_transliteration_is_turned_back():
    n = Normalizer()("vody net na ulice Mira 6, Kursk")
    assert n.tokens[:3] == ["воды", "нет", "на"]
    assert "курск" in n.tokens


def test_ukrainian_letters_are_mapped():
    n = Normalizer()("У Судже нема світла третій день")
    assert "світла" not in n.text and "свитла" in n.text


def test_empty_and_emoji_only():
    assert Normalizer()("").tokens == []
    assert Normalizer()("👍👍🔥").tokens == []


def test_huge_text_is_cut_for_analysis():
    n = Normalizer(max_chars=20000)("яма " * 250_000)
    assert n.truncated and len(n.tokens) <= 5000
