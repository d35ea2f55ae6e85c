"""The masking rule itself (dionysus_mcp/secrets.py): what counts as a secret, how it is masked
in text and in tool arguments / answers reduced to JSON. Where secrets really flow through a
run is checked in tests/integration/test_trace_secret_flows.py."""

from __future__ import annotations

import json

from pydantic import SecretStr

from dionysus_mcp.secrets import MASK, MAX_DEPTH, MIN_ANYWHERE, MIN_TOKEN, ProcessSecrets, Redactor, environment_secrets

KEY = "sk-live-0123456789"


def test_every_credential_looking_variable_is_a_secret_and_nothing_else(monkeypatch):
    for name in ("GROQ_API_KEY", "DIONYSUS_HTTP_TOKEN", "APP_SECRET", "NEO4J_PASSWORD"):
        monkeypatch.setenv(name, f"value-of-{name}")
    monkeypatch.setenv("DIONYSUS_LOG_LEVEL", "value-of-log-level")
    monkeypatch.setenv("API_KEY_HINT", "value-of-hint")
    found = environment_secrets()
    assert {f"value-of-{n}" for n in ("GROQ_API_KEY", "DIONYSUS_HTTP_TOKEN", "APP_SECRET", "NEO4J_PASSWORD")} <= set(found)
    assert "value-of-log-level" not in found and "value-of-hint" not in found


def test_text_masks_every_occurrence_and_leaves_the_rest():
    redactor = Redactor([KEY, None, 42])
    assert redactor.text(f"key={KEY}; again {KEY}.") == f"key={MASK}; again {MASK}."
    assert redactor.text("nothing to hide") == "nothing to hide"
    assert redactor.text(None) is None


def test_long_secrets_are_masked_anywhere_short_ones_only_as_words_and_tiny_ones_never():
    assert (MIN_TOKEN, MIN_ANYWHERE) == (4, 8)
    long_, short, tiny = "x" * MIN_ANYWHERE, "y" * MIN_TOKEN, "z" * (MIN_TOKEN - 1)
    redactor = Redactor([long_, short, tiny])
    # A long secret inside a word is still masked; the one below the bound is not a secret at all.
    assert redactor.text(f"a{long_}b {tiny}") == f"a{MASK}b {tiny}"
    # A short secret is masked as a whole word, never inside a longer word.
    assert redactor.text(f"{short} {short}y-{short}") == f"{MASK} {short}y-{MASK}"
    seven = "w" * (MIN_ANYWHERE - 1)
    assert Redactor([seven]).text(f"({seven}) {seven}w") == f"({MASK}) {seven}w"


def test_a_secret_inside_a_longer_one_does_not_leave_the_rest_behind():
    # Longest first: masking the inner one first would leave "key-" visible around it.
    inner, outer = "zzzzzz-12", "key-zzzzzz-12"
    assert Redactor([inner, outer]).text(f"[{outer}]") == f"[{MASK}]"
    assert Redactor([outer, inner]).text(f"[{outer}] [{inner}]") == f"[{MASK}] [{MASK}]"


def test_plain_keeps_primitives_and_masks_strings_keys_and_nested_values():
    redactor = Redactor([KEY])
    assert redactor.plain(None) is None and redactor.plain(True) is True
    assert redactor.plain(3) == 3 and redactor.plain(2.5) == 2.5
    assert redactor.plain(KEY) == MASK
    value = {KEY: [KEY, ("a", KEY)], "n": {"deep": KEY, "k": 1}}
    assert redactor.plain(value) == {MASK: [MASK, ["a", MASK]], "n": {"deep": MASK, "k": 1}}


def test_plain_reduces_other_objects_and_too_deep_nesting_to_a_placeholder():
    class Handle:
        def __repr__(self) -> str:
            return KEY

    redactor = Redactor([KEY])
    assert redactor.plain(Handle()) == "<Handle>"
    assert redactor.plain({"h": [Handle()]}) == {"h": ["<Handle>"]}

    def nested(levels: int, leaf):
        for _ in range(levels):
            leaf = [leaf]
        return leaf

    # MAX_DEPTH containers are walked; the one below them becomes a placeholder.
    assert MAX_DEPTH == 6
    assert redactor.plain(nested(MAX_DEPTH, KEY)) == nested(MAX_DEPTH, MASK)
    assert redactor.plain(nested(MAX_DEPTH + 1, KEY)) == nested(MAX_DEPTH, "<list>")
    deep = {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}
    assert redactor.plain(deep) == {"a": {"b": {"c": {"d": {"e": {"f": "<dict>"}}}}}}


def test_as_text_keeps_text_and_writes_anything_else_as_sorted_json():
    redactor = Redactor([KEY])
    assert redactor.as_text(None) is None
    assert redactor.as_text(f"café {KEY}") == f"café {MASK}"
    text = redactor.as_text({"z": KEY, "a": "café", "n": [1, None]})
    assert text == '{"a": "café", "n": [1, null], "z": "***"}'
    assert json.loads(text) == {"a": "café", "n": [1, None], "z": MASK}
    assert redactor.as_text(7) == "7"


def test_a_short_secret_is_text_not_a_pattern():
    # "a.b9" as a regex would mask "axb9" too; "ab(c9" would not even compile, failing every write.
    assert Redactor(["a.b9"]).text("axb9 and a.b9") == f"axb9 and {MASK}"
    assert Redactor(["ab(c9"]).text("see ab(c9 here") == f"see {MASK} here"
    assert Redactor(["x+y*z"]).text("x+y*z xxyz") == f"{MASK} xxyz"


def test_a_secret_that_begins_another_leaves_nothing_of_the_longer_one():
    short, longer = "prefix-secret-1", "prefix-secret-1-and-more"
    for order in ([short, longer], [longer, short]):
        assert Redactor(order).text(f"[{longer}] [{short}]") == f"[{MASK}] [{MASK}]"


def test_a_secret_the_settings_hold_as_secretstr_is_masked_by_its_value():
    # The runtime hands the settings' secrets over as SecretStr: masking must use the value, not
    # SecretStr's own "**********" text.
    value = "neo4j-pass-0123456789"
    secrets = ProcessSecrets([SecretStr(value), None, ""], env={})
    masked = secrets.mask(f"auth failed for {value}; retrying")
    assert value not in masked and masked == f"auth failed for {MASK}; retrying"
