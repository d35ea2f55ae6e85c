"""Secrets are never stored: memories, wisdom and MOSAEIC captures are masked by the services,
whoever writes them (an MCP client, or an agent that read a key pasted into a context)."""

from __future__ import annotations

import pytest

from agents.runner import run_ooda_cycle
from dionysus_mcp.secrets import MASK, ProcessSecrets, Redactor
from tests.helpers import CONTEXT

KEY = "sk-proj-Zq81xVv0pasted-into-a-context"


def test_long_secrets_are_masked_anywhere_short_ones_only_as_tokens_tiny_ones_never():
    redactor = Redactor([KEY, "hunter2", "x", "abc"])
    assert redactor.text(f"key={KEY};") == f"key={MASK};"
    assert redactor.text("password hunter2, not hunter22 or xhunter2") == f"password {MASK}, not hunter22 or xhunter2"
    # a 1-character password used to turn "Examples" into "E***amples"
    assert redactor.text("Examples of abc") == "Examples of abc"


def test_process_secrets_read_the_environment_at_each_use(monkeypatch):
    secrets = ProcessSecrets(["fixed-secret-value"], env={})
    assert secrets.mask("fixed-secret-value") == MASK
    env = {"GROQ_API_KEY": KEY, "HOME": "/root/somewhere-long"}
    later = ProcessSecrets(env=env)
    assert later.mask(KEY) == KEY.replace(KEY, MASK)
    env["OTHER_TOKEN"] = "token-value-set-later"
    assert later.mask("token-value-set-later /root/somewhere-long") == f"{MASK} /root/somewhere-long"


async def test_services_mask_memories_wisdom_and_mosaeic(runtime, monkeypatch):
    monkeypatch.setenv("DIONYSUS_TEST_API_KEY", KEY)
    await runtime.memory.remember(f"the deploy key is {KEY}", tags=[f"key:{KEY}"])
    capture = await runtime.mosaeic.capture(senses=f"a note reading {KEY}", context=f"pasted {KEY}")
    wisdom = await runtime.wisdom.add_wisdom(f"Rotate {KEY} often", domain="security")
    assert KEY not in capture.content and KEY not in wisdom.text
    recall = await runtime.memory.semantic_recall(f"deploy key note pasted {KEY}", 10)
    stored = [hit.content for hit in recall.hits] + [t for hit in recall.hits for t in hit.tags]
    assert len(recall.hits) == 2 and all(KEY not in text for text in stored)
    assert any(MASK in text for text in stored)
    principles = await runtime.wisdom.query_wisdom("rotate", 5)
    assert [p.text for p in principles.principles] == [f"Rotate {MASK} often"]


@pytest.mark.parametrize("variable", ["OPENAI_API_KEY", "SOME_SERVICE_TOKEN", "VAULT_SECRET", "DB_PASSWORD"])
async def test_a_key_pasted_into_a_context_does_not_come_back_from_recall(runtime, monkeypatch, variable):
    monkeypatch.setenv(variable, KEY)
    result = await run_ooda_cycle(runtime, f"{CONTEXT} My key is {KEY}, please keep it safe.")
    assert result.status == "success"
    recall = await runtime.memory.semantic_recall(f"my key is {KEY} keep it safe", 20)
    assert recall.hits and all(KEY not in hit.content for hit in recall.hits)
    assert any(MASK in hit.content for hit in recall.hits)  # the captured context, masked
