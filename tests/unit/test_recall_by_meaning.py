"""Recall, basin attachment, basin activation and wisdom by meaning, on a real SQLite file with
the default model (all-MiniLM-L6-v2, shipped in the package); WordLlama (the `wordllama` extra)
loaded from its installed wheel."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dionysus_mcp.cognition.embedding import NoEmbedder, WordLlamaEmbedder, create_embedder
from dionysus_mcp.cognition.memory import embedding_text
from dionysus_mcp.cognition.reindex import reindex
from dionysus_mcp.config import ConfigError, Settings
from dionysus_mcp.runtime import open_runtime
from dionysus_mcp.store.sqlite import SQLiteStore
from tests.helpers import embed_with_the_network_cut

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.meaning  # the runtimes here run the default model (tests/conftest.py)


def test_wordllama_loads_from_the_wheel_with_the_network_cut_off():
    assert embed_with_the_network_cut(
        "from dionysus_mcp.cognition.embedding import WordLlamaEmbedder", "WordLlamaEmbedder()"
    ) == ["wordllama-l2_supercat-256", "256", "float32"]


def test_embeddings_are_normalized_and_closer_for_paraphrases():
    e = WordLlamaEmbedder()
    v = e.embed(["I sleep badly when I drink coffee late", "insomnia after evening caffeine", "quarterly tax filing", ""])
    assert v.dtype == np.float32 and v.shape == (4, 256)
    assert np.allclose(np.linalg.norm(v[:3], axis=1), 1.0, atol=1e-5)
    assert not v[3].any()  # nothing to embed: a zero row, never NaN
    assert v[0] @ v[1] > v[0] @ v[2]
    assert create_embedder("none").embed(["x"]).shape == (1, 0)


def test_embedder_setting():
    assert Settings.from_env({}).embedder == "minilm"
    assert Settings.from_env({"DIONYSUS_EMBEDDER": "WordLlama"}).embedder == "wordllama"
    assert Settings.from_env({"DIONYSUS_EMBEDDER": "None"}).embedder == "none"
    with pytest.raises(ConfigError, match="DIONYSUS_EMBEDDER"):
        Settings.from_env({"DIONYSUS_EMBEDDER": "bert"})


async def test_recall_finds_a_memory_by_meaning_and_reports_both_components(runtime):
    target = await runtime.memory.remember("I sleep badly when I drink coffee late")
    for text in ("The quarterly tax return is due in April", "Walked the dog along the river", "Deploy with make release"):
        await runtime.memory.remember(text)
    result = await runtime.memory.semantic_recall("insomnia after evening caffeine", k=2)
    top = result.hits[0]
    assert top.memory_id == target.memory_id
    assert top.lexical == 0 and top.semantic is not None and top.semantic > 0
    assert top.relevance == 1.0 and result.searched == 4
    exact = (await runtime.memory.semantic_recall("quarterly tax")).hits[0]
    assert exact.content.startswith("The quarterly tax") and exact.lexical > 0


async def test_lexical_only_recall_has_no_semantic_component(runtime):
    runtime.memory.embedder = NoEmbedder()
    await runtime.memory.remember("I sleep badly when I drink coffee late")
    assert (await runtime.memory.semantic_recall("insomnia caffeine")).hits == []
    [hit] = (await runtime.memory.semantic_recall("coffee")).hits
    assert hit.semantic is None and hit.lexical > 0


async def test_remember_attaches_basins_by_meaning(runtime):
    await runtime.basins.upsert_basin("sleep", "rest, dreams and insomnia", ["sleep", "rest", "night"])
    await runtime.basins.upsert_basin("taxes", "filing returns and deductions", ["tax", "irs"])
    result = await runtime.memory.remember("I slumber poorly after an espresso in the evening")
    assert result.basins and result.basins[0] == "sleep"
    assert "taxes" not in result.basins
    # a changed description is embedded again
    await runtime.basins.upsert_basin("taxes", "espresso, coffee and slumber", ["tax", "irs"])
    related = dict((v.name, r) for v, r in await runtime.basins.related("I slumber poorly after an espresso"))
    assert related.get("taxes", 0) > 0


async def test_wisdom_ranks_by_meaning_too(runtime):
    await runtime.wisdom.add_wisdom("Rest well before making important choices", "health", 0.8)
    await runtime.wisdom.add_wisdom("Diversify investments across markets", "finance", 0.8)
    result = await runtime.wisdom.query_wisdom("sleep prior to deciding", k=2)
    assert result.principles[0].domain == "health"
    assert result.principles[0].lexical == 0 and result.principles[0].semantic > 0


async def test_old_sqlite_file_is_migrated_and_reindexed(tmp_path):
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE memories (id TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL, content TEXT NOT NULL,"
        " tags TEXT NOT NULL DEFAULT '[]', importance REAL NOT NULL DEFAULT 0.5, created_at TEXT NOT NULL);"
        "PRAGMA user_version = 1;"
    )
    conn.execute(
        "INSERT INTO memories VALUES ('m1', 'semantic', 'Drank coffee late, slept badly', ?, 0.5,"
        " '2026-01-01T00:00:00.000000Z')",
        (json.dumps(["health"]),),
    )
    conn.commit()
    conn.close()
    settings = Settings.from_env({"DIONYSUS_DB_PATH": str(path)})
    async with open_runtime(settings) as rt:
        [hit] = (await rt.memory.semantic_recall("coffee")).hits  # FTS filled from the old rows
        assert hit.memory_id == "m1" and hit.semantic is None
        assert await rt.store.memories.embedding_counts() == {"": 1}
        seen = []
        result = await reindex(rt.store.memories, rt.embedder, lambda done, todo: seen.append((done, todo)))
        assert (result.embedded, result.total, seen) == (1, 1, [(1, 1)])
        hit = (await rt.memory.semantic_recall("insomnia after caffeine")).hits[0]
        assert hit.memory_id == "m1" and hit.semantic > 0
        assert (await reindex(rt.store.memories, rt.embedder)).embedded == 0  # nothing left to do
    store = SQLiteStore(path)
    await store.open()  # opening again changes nothing
    assert await store.memories.embedding_counts() == {rt.embedder.name: 1}
    await store.close()


def test_reindex_command(tmp_path):
    env = {"DIONYSUS_DB_PATH": str(tmp_path / "r.db"), "PATH": "/usr/bin:/bin", "DIONYSUS_EMBEDDER": "none"}
    cmd = [sys.executable, "-m", "dionysus_mcp"]
    seed = "import anyio\nfrom dionysus_mcp.runtime import open_runtime\nasync def main():\n    async with open_runtime() as rt:\n        await rt.memory.remember('a note to embed later')\nanyio.run(main)\n"
    subprocess.run([sys.executable, "-c", seed], env=env, cwd=ROOT, check=True)
    out = subprocess.run([*cmd, "reindex"], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    assert "nothing to embed" in out.stdout
    env["DIONYSUS_EMBEDDER"] = "wordllama"
    out = subprocess.run([*cmd, "reindex"], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1 of 1 memories embedded with wordllama-l2_supercat-256 (256 dimensions)"
    assert "reindex: 1/1 memories embedded" in out.stderr


# --- rules a mutation run (scripts/mutation.sh recall) found unpinned ------------------------------


async def test_each_figure_of_a_hit_is_a_float_rounded_to_six_decimals(runtime):
    # Unrelated memories give the query's terms weight; partial matches give scores that are
    # not round numbers, so a figure rounded differently shows.
    for text in (
        "I sleep badly when I drink coffee late", "Coffee beans from Kenya", "Evening walks help me sleep",
        "The train to Lyon leaves at nine", "Invoice 60414 is due in March", "My sister plays the cello",
        "Tomatoes need full sun", "The office wifi password changed", "Backups run every Sunday night",
    ):
        await runtime.memory.remember(text, tags=["notes"])
    hits = (await runtime.memory.semantic_recall("coffee sleep", k=5)).hits
    assert len(hits) == 5 and hits[0].relevance == 1.0
    for h in hits:
        assert all(type(v) is float and v == round(v, 6) for v in (h.score, h.relevance, h.lexical, h.semantic)), h
        assert 0.0 < h.score <= 1.0 and -1.0 <= h.semantic <= 1.0 and h.lexical >= 0.0
        assert h.relevance == pytest.approx(h.score / hits[0].score, abs=2e-6)
    # So the checks above can fail: figures with all six decimals in use.
    assert any(v != round(v, 5) for h in hits for v in (h.score, h.relevance))


async def test_each_vector_records_the_model_that_made_it_from_content_and_tags(runtime):
    await runtime.memory.remember("a note", tags=["x", "y"])
    await runtime.memory.remember("another note")
    assert await runtime.store.memories.embedding_counts() == {runtime.embedder.name: 2}
    # The text embedded (reindex embeds the same): the content, then the tags on their own line.
    assert embedding_text("a note", ["x", "y"]) == "a note\nx y"
    assert embedding_text("a note", []) == "a note"


async def semantic_of(runtime, query: str, memory_id: str) -> float:
    hits = (await runtime.memory.semantic_recall(query, k=10)).hits
    return next(h.semantic for h in hits if h.memory_id == memory_id)


async def test_new_content_or_tags_get_a_new_vector_and_other_changes_keep_it(runtime):
    changed = (await runtime.memory.remember("apples and pears", tags=["fruit"])).memory_id
    await runtime.memory.update_memory(changed, importance=0.9)  # no new text: the vector stays
    assert await runtime.store.memories.embedding_counts() == {runtime.embedder.name: 1}
    await runtime.memory.update_memory(changed, content="quarterly tax filing")
    fresh = (await runtime.memory.remember("quarterly tax filing", tags=["fruit"])).memory_id
    assert await runtime.store.memories.embedding_counts() == {runtime.embedder.name: 2}
    # Same text, same vector: the changed memory was embedded again, from its new content.
    assert await semantic_of(runtime, "taxes", changed) == await semantic_of(runtime, "taxes", fresh)
    await runtime.memory.update_memory(changed, tags=["garden"])
    other = (await runtime.memory.remember("quarterly tax filing", tags=["garden"])).memory_id
    assert await semantic_of(runtime, "garden taxes", changed) == await semantic_of(runtime, "garden taxes", other)
    assert await semantic_of(runtime, "garden taxes", changed) != await semantic_of(runtime, "garden taxes", fresh)


async def test_remember_attaches_basins_by_meaning_with_fractional_weights(runtime):
    await runtime.basins.upsert_basin("sleep", description="rest, sleep and insomnia", keywords=["sleep", "insomnia"])
    await runtime.basins.upsert_basin("money", description="budget and bills", keywords=["budget", "rent"])
    result = await runtime.memory.remember("I could not get any slumber last night")  # no keyword in common
    assert result.basins == ["sleep"]
    [link] = (await runtime.store.memories.get(result.memory_id)).basins
    assert 0.0 < link.weight < 1.0 and link.weight == round(link.weight, 6)
