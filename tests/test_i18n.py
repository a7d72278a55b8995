"""Catalogs: both languages complete, values escaped, language picked right."""

from __future__ import annotations

import pytest

from bot.core.i18n import CATALOG, Markup, number, pick_language, t


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    zh, en = CATALOG.messages["zh"], CATALOG.messages["en"]
    assert set(zh) == set(en)
    for key in zh:
        assert CATALOG.placeholders("zh", key) == CATALOG.placeholders("en", key), key


def test_values_are_escaped_but_markup_is_not() -> None:
    text = t("zh", "org.bound", node="<b>楼</b> & co", key="b3")
    assert "&lt;b&gt;楼&lt;/b&gt; &amp; co" in text
    assert t("en", "help.text", sections=Markup("<b>x</b>")).endswith("<b>x</b>")


def test_language_choice_order() -> None:
    assert pick_language("en", "zh-hans", "zh") == "en"  # /lang wins
    assert pick_language(None, "en-US", "zh") == "en"  # then Telegram's language
    assert pick_language(None, "ru", "zh") == "zh"  # then the default
    assert pick_language(None, None, "en") == "en"


def test_numbers_look_the_same_in_both_languages() -> None:
    assert number(12) == "#12"


pytestmark = pytest.mark.no_storage
