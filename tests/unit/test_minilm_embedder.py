"""DIONYSUS_EMBEDDER=minilm, the default: all-MiniLM-L6-v2 run by numpy from the float16 weights
shipped in the package (dionysus_mcp/cognition/models/), on a real SQLite file."""

from __future__ import annotations


import numpy as np
import pytest

from dionysus_mcp.cognition.embedding import EmbedderUnavailable, create_embedder
from dionysus_mcp.cognition.minilm import MiniLMEmbedder, RowCache
from dionysus_mcp.cognition.ranking import RANKINGS
from dionysus_mcp.cognition.reindex import reindex
from dionysus_mcp.config import Settings
from dionysus_mcp.runtime import open_runtime
from tests.helpers import embed_with_the_network_cut



@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def test_minilm_loads_from_the_package_with_the_network_cut_off():
    assert embed_with_the_network_cut(
        "from dionysus_mcp.cognition.embedding import create_embedder", "create_embedder('minilm')"
    ) == ["all-minilm-l6-v2-384", "384", "float32"]


def test_vectors_are_normalized_with_zero_rows_for_nothing(minilm):
    v = minilm.embed(["I sleep badly when I drink coffee late", "", "   ", "Quarterly tax filing"])
    assert v.dtype == np.float32 and v.shape == (4, 384)
    assert np.allclose(np.linalg.norm(v[[0, 3]], axis=1), 1.0, atol=1e-5)
    assert not v[1].any() and not v[2].any()
    assert minilm.embed([]).shape == (0, 384)


def test_a_text_gets_the_same_vector_alone_or_padded_in_a_batch(minilm):
    # Padding must be masked out of attention and pooling: a short text batched with long ones
    # (and split over several batches) embeds as it does alone.
    short = "Dentist appointment on Tuesday"
    longer = [f"A much longer note number {i} about the garden, the shed, the roses and the weather" for i in range(5)]
    cache = minilm._load().cache  # computed each time here, never read back
    cache.clear()
    alone = minilm.embed([short])[0]
    cache.clear()
    batched = MiniLMEmbedder(batch_size=2).embed([*longer, short])
    small = MiniLMEmbedder(batch_size=2)
    small._encoder = minilm._load()  # same weights, smaller batches
    cache.clear()
    assert np.allclose(small.embed([*longer, short])[-1], alone, atol=1e-5)
    assert np.allclose(batched[-1], alone, atol=1e-5)


def test_a_text_seen_before_is_not_encoded_again_and_the_cache_is_bounded(minilm, monkeypatch):
    encoder = minilm._load()
    encoder.cache.clear()
    encoded: list[int] = []
    real = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda batch: encoded.append(len(batch)) or real(batch))
    first = minilm.embed(["Dentist appointment on Tuesday", "Water the roses"])
    again = minilm.embed(["Water the roses", "A new note", "Dentist appointment on Tuesday"])
    assert encoded == [2, 1]  # only the new text the second time
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[2], first[0])
    assert np.allclose(np.linalg.norm(again, axis=1), 1.0, atol=1e-5)
    again[0][:] = 0  # a caller's array is its own: the cache keeps its row
    assert np.array_equal(minilm.embed(["Water the roses"])[0], first[1])

    small = RowCache(size=2)
    rows = np.eye(3, dtype=np.float32)
    small.put(["a", "b"], rows[:2])
    assert set(small.get(["a"])) == {0}  # "a" used: "b" is now the oldest
    small.put(["c"], rows[2:])
    assert set(small.get(["a", "b", "c"])) == {0, 2}


def test_matches_sentence_transformers_reference(minilm):
    # Cosines computed once by sentence-transformers 6.2.0 + torch 2.13.0 (CPU) on the float32
    # model files (docs/COGNITION.md: the numpy pass agreed to 1.8e-7 per component on them). The
    # shipped weights are float16, which moved cosines by up to 1.2e-4 on the recall benchmark's
    # 108 paraphrase pairs (1.07e-4 here): agree to 2e-4. Neither package is a dependency.
    a, b, c, d = minilm.embed(
        ["A man is playing a guitar.", "Someone is strumming an instrument.", "The stock market fell today.", "A man plays music."]
    )
    assert abs(float(a @ b) - REFERENCE_COSINES["guitar~strumming"]) < 2e-4
    assert abs(float(a @ c) - REFERENCE_COSINES["guitar~market"]) < 2e-4
    assert abs(float(a @ d) - REFERENCE_COSINES["guitar~music"]) < 2e-4


REFERENCE_COSINES = {"guitar~strumming": 0.587143, "guitar~market": -0.049711, "guitar~music": 0.744920}


@pytest.mark.parametrize(
    ("memory", "paraphrase", "unrelated"),
    [
        ("I sleep badly when I drink coffee late", "insomnia after evening caffeine", "the quarterly tax return is due"),
        ("My car broke down on the motorway", "vehicle failure during the highway drive", "I baked sourdough bread"),
        ("She is afraid of flying", "air travel terrifies her", "the meeting moved to Thursday"),
        ("We adopted a puppy last week", "recently got a young dog", "the server ran out of disk space"),
    ],
)
def test_paraphrase_is_closer_than_an_unrelated_text(minilm, memory, paraphrase, unrelated):
    m, p, u = minilm.embed([memory, paraphrase, unrelated])
    assert m @ p > m @ u + 0.2


def test_missing_weights_give_one_actionable_error(tmp_path):
    with pytest.raises(EmbedderUnavailable, match="reinstall dionysus-mcp") as err:
        MiniLMEmbedder(folder=tmp_path).embed(["x"])
    assert "\n" not in str(err.value)


def test_setting_selects_minilm_and_it_is_the_default():
    assert Settings.from_env({"DIONYSUS_EMBEDDER": "MiniLM"}).embedder == "minilm"
    assert Settings.from_env({}).embedder == "minilm"
    assert isinstance(create_embedder("minilm"), MiniLMEmbedder)


async def test_switching_to_minilm_reindexes_and_recalls_by_meaning(tmp_path):
    path = str(tmp_path / "switch.db")
    async with open_runtime(Settings.from_env({"DIONYSUS_DB_PATH": path, "DIONYSUS_EMBEDDER": "wordllama"})) as rt:
        target = await rt.memory.remember("I sleep badly when I drink coffee late")
        for text in ("The quarterly tax return is due in April", "Walked the dog along the river"):
            await rt.memory.remember(text)
    async with open_runtime(Settings.from_env({"DIONYSUS_DB_PATH": path, "DIONYSUS_EMBEDDER": "minilm"})) as rt:
        assert await rt.store.memories.embedding_counts() == {"wordllama-l2_supercat-256": 3}
        # Before the reindex, recall says its vectors are stale and finds them by words only.
        before = await rt.memory.semantic_recall("coffee late", k=3)
        assert (before.stale, before.searched) == (3, 3) and before.note == (
            "3 of 3 memories have no all-minilm-l6-v2-384 vector (written with another embedding model or none):"
            " they are found by words only until `dionysus-mcp reindex` embeds them"
        )
        nothing = await rt.memory.semantic_recall("lighthouse", k=3)  # no hit: still told why
        assert (nothing.hits, nothing.stale, nothing.note) == ([], 3, before.note)
        assert rt.memory.ranking == RANKINGS["minilm"] != RANKINGS["none"]  # the model's own weights
        assert [h.semantic for h in before.hits] == [None] and before.hits[0].memory_id == target.memory_id
        assert (await reindex(rt.store.memories, rt.embedder)).embedded == 3
        assert await rt.store.memories.embedding_counts() == {"all-minilm-l6-v2-384": 3}
        added = await rt.memory.remember("Forgot my umbrella and got soaked")  # embedded on the way in
        assert await rt.store.memories.embedding_counts() == {"all-minilm-l6-v2-384": 4}
        after = await rt.memory.semantic_recall("insomnia after evening caffeine", k=2)
        assert (after.stale, after.note) == (0, None)
        top = after.hits[0]
        assert top.memory_id == target.memory_id and 0.3 < top.semantic < 1 and top.semantic == round(top.semantic, 6)
        hit = (await rt.memory.semantic_recall("caught in the rain without protection", k=1)).hits[0]
        assert hit.memory_id == added.memory_id


async def test_minilm_attaches_basins_by_meaning_on_its_own_scale(tmp_path):
    settings = Settings.from_env({"DIONYSUS_DB_PATH": str(tmp_path / "b.db"), "DIONYSUS_EMBEDDER": "minilm"})
    async with open_runtime(settings) as rt:
        for name, description, keywords in (
            ("sleep", "rest, dreams and insomnia", ["sleep", "rest", "night"]),
            ("taxes", "filing returns and deductions", ["tax", "irs"]),
            ("family", "relatives and home life", ["kids", "parents"]),
            ("garden", "plants, soil and the allotment", ["roses", "compost"]),
            ("work", "projects, deadlines and the office", ["project", "deadline", "meeting"]),
            ("money", "bills, savings and the bank", ["budget", "invoice"]),
        ):
            await rt.basins.upsert_basin(name, description, keywords)
        # MiniLM's cosines for a note and a basin it is not about reach ~0.1-0.18: above
        # WordLlama's 0.08 floor (which attached "Paid the electricity bill" to family and work
        # too); its own range keeps each note to the basin it is about.
        for text, basin in (
            ("I slumber poorly after an espresso in the evening", "sleep"),
            ("Paid the electricity bill", "money"),
            ("Mum visits on Sunday with the children", "family"),
            ("Planted tulips by the fence", "garden"),
        ):
            assert (await rt.memory.remember(text)).basins == [basin], text
        await rt.wisdom.add_wisdom("Rest well before making important choices", "health", 0.8)
        await rt.wisdom.add_wisdom("Diversify investments across markets", "finance", 0.8)
        found = await rt.wisdom.query_wisdom("sleep prior to deciding", k=2)
        assert [p.domain for p in found.principles] == ["health"]
