"""The cover page's words are data (mappings/cover_texts.toml): every language says everything."""
from gateway.documents.cover import COUNTRY_NAMES, TEXTS


def test_every_cover_language_has_every_text():
    assert {"nb", "nn", "en", "da"} <= set(TEXTS)
    for language, texts in TEXTS.items():
        assert texts.keys() == TEXTS["nb"].keys(), language
        assert all(text.strip() for text in texts.values()), language


def test_country_names_are_capitals_by_iso_code():
    assert COUNTRY_NAMES["DK"] == "DENMARK"
    assert all(len(code) == 2 and code.isupper() and name == name.upper() for code, name in COUNTRY_NAMES.items())
