"""Deterministic synthetic data for scripts/benchmark_speed.py: basins, links, memories, recall
queries, OODA contexts and execution traces.

The text is made of pronounceable pseudo-words with a Zipf-distributed filler vocabulary, so
BM25 sees realistic posting-list lengths (a few very common terms, a long tail), and every
memory mentions the keywords of one or two basins, as user notes about a theme do. Memories are
attached to basins exactly as `MemoryService.remember` would attach them (the same relevance
formula over name + keywords, top 3), computed here once so seeding 10,000 memories does not
list every basin 10,000 times.
"""

from __future__ import annotations

import bisect
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from schema.text import STOPWORDS, tokens
from schema.models import Memory, MemoryBasin, StepRecord, ToolCallRecord, TraceRecord, utcnow

_ONSETS = "b c d f g h k l m n p r t v z br cl dr fl gr kr pl pr st tr".split()
_VOWELS = "a e i o u ai ea io ou".split()
_CODAS = ["", "", "", "n", "r", "l", "m", "k", "nd", "rt"]

KINDS = ("semantic", "episodic", "procedural")
AGENTS = ("perception", "reasoning", "metacognition")


def _words(rng: random.Random, count: int) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(rng.randint(2, 3))) + rng.choice(_CODAS)
        # Words that the tokenizer would fold or drop would blur the statistics.
        if word in seen or word in STOPWORDS or word.endswith("s") or tokens(word) != [word]:
            continue
        seen.add(word)
        out.append(word)
    return out


@dataclass
class BasinSpec:
    name: str
    description: str
    keywords: list[str]
    stability: float


class Corpus:
    def __init__(self, basins: int = 200, seed: int = 5, filler_vocabulary: int = 3000, keywords_per_basin: int = 4):
        self.rng = random.Random(seed)
        words = _words(self.rng, filler_vocabulary + basins * (keywords_per_basin + 1))
        self.filler = words[:filler_vocabulary]
        # Zipf weights (s = 1.1) as a cumulative table for bisect sampling.
        weights = [1.0 / (rank + 1) ** 1.1 for rank in range(filler_vocabulary)]
        total = sum(weights)
        acc = 0.0
        self._cum: list[float] = []
        for w in weights:
            acc += w / total
            self._cum.append(acc)
        rest = words[filler_vocabulary:]
        self.basins: list[BasinSpec] = []
        for i in range(basins):
            chunk = rest[i * (keywords_per_basin + 1):(i + 1) * (keywords_per_basin + 1)]
            name = f"{chunk[0]}-{i:03d}"
            self.basins.append(
                BasinSpec(
                    name=name,
                    description=f"Theme {i}: notes about {' and '.join(chunk[1:3])}.",
                    keywords=chunk[1:],
                    stability=round(self.rng.uniform(0.3, 0.9), 3),
                )
            )
        self._terms = [set(tokens(" ".join([b.name, *b.keywords]))) for b in self.basins]
        self.links: list[tuple[str, str, float]] = []
        self._neighbours: dict[int, list[int]] = {i: [] for i in range(basins)}
        self._pools: dict[int, list[str]] = {}

    # --- basins ----------------------------------------------------------------------------------
    def make_links(self, per_basin: int = 3) -> list[tuple[str, str, float]]:
        n = len(self.basins)
        pairs: set[tuple[int, int]] = set()
        for i in range(n):
            while sum(1 for a, _ in pairs if a == i) < min(per_basin, n - 1):
                j = self.rng.randrange(n)
                if j != i and (i, j) not in pairs and (j, i) not in pairs:
                    pairs.add((i, j))
        self.links = []
        for i, j in sorted(pairs):
            self._neighbours[i].append(j)
            self._neighbours[j].append(i)
            self.links.append((self.basins[i].name, self.basins[j].name, round(self.rng.uniform(0.2, 0.9), 3)))
        return self.links

    # --- text ----------------------------------------------------------------------------------
    def filler_word(self) -> str:
        return self.filler[min(bisect.bisect_left(self._cum, self.rng.random()), len(self.filler) - 1)]

    def sentence(self, words: int, must: list[str]) -> str:
        out = [self.filler_word() for _ in range(words)]
        for kw in must:
            out.insert(self.rng.randrange(len(out) + 1), kw)
        # A few stopwords, as prose has.
        for _ in range(words // 6):
            out.insert(self.rng.randrange(len(out) + 1), self.rng.choice(("the", "and", "of", "to", "with", "when")))
        return " ".join(out).capitalize() + "."

    # --- memories --------------------------------------------------------------------------------
    def memory(self, created_at: datetime) -> Memory:
        primary = self.rng.randrange(len(self.basins))
        chosen = [primary]
        if self._neighbours[primary] and self.rng.random() < 0.5:
            chosen.append(self.rng.choice(self._neighbours[primary]))
        must = [kw for i in chosen for kw in self.rng.sample(self.basins[i].keywords, 2)]
        content = " ".join(self.sentence(self.rng.randint(10, 22), must[k::2]) for k in range(2))
        tags = self.rng.sample(self.basins[primary].keywords, self.rng.randint(0, 2))
        return Memory(
            id=f"mem-{uuid.UUID(int=self.rng.getrandbits(128)).hex[:16]}",
            kind=self.rng.choice(KINDS),
            content=content,
            tags=tags,
            importance=round(self.rng.uniform(0.1, 1.0), 3),
            created_at=created_at,
            basins=[MemoryBasin(basin_id=bid, weight=w) for bid, w in self.related(content + " " + " ".join(tags))],
        )

    def related(self, text: str, limit: int = 3) -> list[tuple[str, float]]:
        """BasinService.related's formula (share of the basin's terms the text mentions), top
        `limit`, as basin *names*; `bind_ids` maps them to stored ids."""
        query = set(tokens(text))
        scored = []
        for spec, terms in zip(self.basins, self._terms):
            hits = len(terms & query)
            if hits:
                scored.append((spec.name, min(1.0, hits / min(len(terms), len(query)))))
        scored.sort(key=lambda p: (-p[1], p[0]))
        return [(name, round(rel, 6)) for name, rel in scored[:limit]]

    def memories(self, count: int, ids_by_name: dict[str, str]) -> list[Memory]:
        start = utcnow() - timedelta(days=60)
        out = []
        for i in range(count):
            m = self.memory(start + timedelta(seconds=60 * i))
            m.basins = [MemoryBasin(basin_id=ids_by_name[b.basin_id], weight=b.weight) for b in m.basins]
            out.append(m)
        return out

    # --- queries -------------------------------------------------------------------------------
    def recall_queries(self, count: int) -> list[str]:
        out = []
        for _ in range(count):
            spec = self.rng.choice(self.basins)
            words = self.rng.sample(spec.keywords, self.rng.randint(1, 2))
            words += [self.filler[self.rng.randrange(20, 400)] for _ in range(self.rng.randint(1, 3))]
            self.rng.shuffle(words)
            out.append("what do I know about " + " ".join(words))
        return out

    def ooda_contexts(self, count: int) -> list[str]:
        out = []
        for _ in range(count):
            a, b = self.rng.sample(self.basins, 2)
            out.append(
                f"I keep coming back to {a.keywords[0]} and {a.keywords[1]}; {b.keywords[0]} makes it worse "
                f"and {self.filler_word()} {self.filler_word()} does not help. What should I change?"
            )
        return out

    # --- traces ----------------------------------------------------------------------------------
    def observation(self, chars: int) -> str:
        text = []
        while sum(len(t) + 1 for t in text) < chars:
            text.append(self.sentence(12, [self.rng.choice(self.rng.choice(self.basins).keywords)]))
        return " ".join(text)[:chars]

    def _pooled_observation(self, chars: int) -> str:
        # Generating prose is slow next to a store write; 100,000 traces draw from a pool.
        pool = self._pools.setdefault(chars, [])
        if len(pool) < 256:
            pool.append(self.observation(chars))
            return pool[-1]
        return pool[self.rng.randrange(len(pool))]

    def step_payloads(self, steps: int, observation_chars: int = 1500, planning_interval: int = 3) -> list[dict]:
        """What a persistence callback writes for one agent run: planning steps every
        `planning_interval` steps, action steps with a tool call and its full observation."""
        out: list[dict] = []
        for n in range(1, steps + 1):
            if (n - 1) % planning_interval == 0:
                out.append({
                    "step_number": n, "step_type": "planning", "plan": self.observation(600),
                    "model_output": self.observation(600), "input_tokens": 900 + 40 * n, "output_tokens": 150,
                    "unpruned_input_tokens": 900 + 40 * n, "duration_ms": 1.0,
                })
            out.append({
                "step_number": n, "step_type": "action",
                "model_output": self.observation(200),
                "tool_calls": [{"id": f"call_{n}", "name": "semantic_recall", "arguments": {"query": self.recall_queries(1)[0], "k": 5}}],
                "observations": self.observation(observation_chars),
                "input_tokens": 1200 + 300 * n, "output_tokens": 60, "unpruned_input_tokens": 1200 + 380 * n,
                "duration_ms": 2.0,
            })
        return out

    def trace_run(self, started_at: datetime, steps_per_trace: int, observation_chars: int) -> list[tuple[TraceRecord, list[StepRecord]]]:
        """One stored OODA run as the store holds it: the manager's trace and its three
        delegated sub-runs, each completed, with `steps_per_trace` action steps."""
        run_id = f"run-{uuid.UUID(int=self.rng.getrandbits(128)).hex[:12]}"
        root_id = f"trace-{uuid.UUID(int=self.rng.getrandbits(128)).hex}"
        out = []
        for k, agent in enumerate(("ConsciousnessManager", *AGENTS)):
            trace_id = root_id if k == 0 else f"trace-{uuid.UUID(int=self.rng.getrandbits(128)).hex}"
            start = started_at + timedelta(milliseconds=40 * k)
            status = "error" if self.rng.random() < 0.02 else "success"
            steps = [
                StepRecord(
                    id=f"{trace_id}:action:{n}",
                    trace_id=trace_id,
                    step_number=n,
                    step_type="action",
                    started_at=start + timedelta(milliseconds=10 * n),
                    completed_at=start + timedelta(milliseconds=10 * n + 8),
                    duration_ms=8.0,
                    model_output="Calling semantic_recall.",
                    tool_calls=[ToolCallRecord(id=f"call_{n}", name="semantic_recall", arguments={"query": "focus", "k": 5})],
                    observations=self._pooled_observation(observation_chars),
                    input_tokens=800 + 100 * n,
                    output_tokens=40,
                    unpruned_input_tokens=800 + 150 * n,
                )
                for n in range(1, steps_per_trace + 1)
            ]
            out.append((
                TraceRecord(
                    id=trace_id,
                    run_id=run_id,
                    agent_name=agent,
                    parent_id=None if k == 0 else root_id,
                    parent_step=None if k == 0 else k,
                    model="scripted",
                    task="Run one OODA cycle (observe, orient, decide) on this situation." if k == 0 else f"{agent} phase",
                    status=status,
                    summary="A decision." if status == "success" else None,
                    error="AgentError: boom" if status == "error" else None,
                    started_at=start,
                    completed_at=start + timedelta(milliseconds=400),
                    input_tokens=sum(s.input_tokens for s in steps),
                    output_tokens=sum(s.output_tokens for s in steps),
                    pruned_tokens_saved=sum(s.unpruned_input_tokens - s.input_tokens for s in steps),
                    step_count=len(steps),
                ),
                steps,
            ))
        return out
