"""Hostile code through the ConsciousnessManager's executor, built as production builds it.

Each payload is what a real model could write after reading a prompt-injected memory. The
manager is built by the runner's own functions (`_group`, `build_manager`, `create_model`) on a
real, seeded SQLite store; the code runs through its executor the way smolagents' `run()` feeds
it (`send_variables`, `send_tools`, then one call per code step). Every payload must end in an
error naming how it was blocked or bounded, with no secret in what comes back and the store
unchanged. PAYLOADS is the table the issue-9 note reproduces.
"""

from __future__ import annotations

import sqlite3

import anyio.to_thread
import pytest

from agents.manager import build_manager
from agents.models import create_model, parse_model_spec
from agents.runner import _group
from agents.safe_executor import SafeExecutor
from dionysus_mcp.config import Settings
from dionysus_mcp.runtime import open_runtime
from tests.helpers import settings_env
from tests.sandbox_helpers import SPIN

SECRET = "neo4j-Pa55word-that-must-not-leak"
API_KEY = "sk-test-key-that-must-not-leak-0123"

NO_ATTRIBUTE = "has no attribute"  # a team member is a plain function: nothing hangs off it
NOT_ACCESSIBLE = "is not accessible"  # code_guard: `_` names, frame/generator internals
NOT_AVAILABLE = "is not among the explicitly allowed tools"  # not in the executor's namespace
NO_IMPORT = "imports are not available"
NO_SETTING = "attributes cannot be set or deleted"
SIZE = "over the sandbox's limit"
RENDER = "cannot be printed or formatted"
TIME = "ran longer than"
MEMORY = "allocated over"
RECURSION = "maximum recursion depth"
FORMAT = "not an attribute or an item"

LONG_TEXT = 's = "a" * 500000\n'

PAYLOADS: list[tuple[str, str, str]] = [
    # attribute walks from every team member and tool, and from what they raise
    ("issue's exploit", "perception.tools['semantic_recall'].runtime.settings.neo4j_password", NO_ATTRIBUTE),
    ("raw connection", "perception.tools['remember'].runtime.store._conn.execute('DELETE FROM memories')", NOT_ACCESSIBLE),
    ("reasoning's model", "reasoning.model.client_kwargs", NO_ATTRIBUTE),
    ("metacognition's memory", "metacognition.memory.steps", NO_ATTRIBUTE),
    ("final_answer's tool", "final_answer.forward", NO_ATTRIBUTE),
    ("getattr walk", "getattr(perception, 'tools')", NO_ATTRIBUTE),
    ("exception's obj", "try:\n    perception.missing\nexcept AttributeError as e:\n    leak = e.obj.tools", NO_ATTRIBUTE),
    ("closure", "perception.__closure__[0].cell_contents", NOT_ACCESSIBLE),
    ("globals", "reasoning.__globals__['os']", NOT_ACCESSIBLE),
    ("getattr dunder", "getattr(metacognition, '__globals__')", NOT_ACCESSIBLE),
    ("getattr built name", "getattr(perception, '_' + '_closure__')", NOT_ACCESSIBLE),
    ("wrapped", "final_answer.__wrapped__", NOT_ACCESSIBLE),
    ("builtin's module", "len.__self__", NOT_ACCESSIBLE),
    ("generator frame", "g = (x for x in [1])\ng.gi_frame.f_globals", NOT_ACCESSIBLE),
    ("map frame by getattr", "m = map(str, [1])\ngetattr(m, 'gi_' + 'frame')", NOT_ACCESSIBLE),
    ("traceback frame", "try:\n    perception(bogus=1)\nexcept Exception as e:\n    e.__traceback__.tb_frame", NOT_ACCESSIBLE),
    ("executor counter", "_operations_count['counter'] = -10**12", NOT_ACCESSIBLE),
    ("guard by name", "guarded_method(perception, '__globals__')", NOT_ACCESSIBLE),
    # the format mini-language walks attributes and items inside C: refused where it is used
    ("format exploit", "'{0.__globals__[inspect].os.environ[NEO4J_PASSWORD]}'.format(perception)", FORMAT),
    ("format_map walk", "'{p.__globals__}'.format_map({'p': reasoning})", FORMAT),
    ("unbound str.format", "str.format('{0.__globals__}', metacognition)", FORMAT),
    ("format index walk", "'{0[0]}'.format([perception])", FORMAT),
    ("format built at run time", "('{0.' + '__glob' + 'als__}').format(perception)", FORMAT),
    ("format joined at run time", "''.join(['{0.', '__globals__', '}']).format(final_answer)", FORMAT),
    ("format from an f-string", "f'{{0.{\"__globals__\"}}}'.format(perception)", FORMAT),
    ("f-string nested spec", "s = '0.__globals__'\nf'{perception:{s}}'", "must be written out"),
    ("format() built-in", "format(perception, '')", NOT_AVAILABLE),
    # module attribute chains: nothing is importable
    ("random._os", "import random\nrandom._os.system('id')", NO_IMPORT),
    ("statistics.sys", "import statistics\nstatistics.sys.modules", NO_IMPORT),
    ("re.enum.sys", "import re\nre.enum.sys.modules['os']", NO_IMPORT),
    ("time.sleep(60)", "import time\ntime.sleep(60)", NO_IMPORT),
    ("queue lock", "from queue import Queue\nQueue().get()", NO_IMPORT),
    ("__import__", "__import__('os').environ", NOT_ACCESSIBLE),
    # getattr / setattr / type tricks and dangerous built-ins
    ("setattr", "setattr(perception, 'description', 'pwned')", NOT_AVAILABLE),
    ("attribute assignment", "perception.description = 'pwned'", NO_SETTING),
    ("attribute deletion", "del reasoning.name", NO_SETTING),
    ("print buffer", "print_outputs.value = 'x'", NO_SETTING),
    ("type()", "type(perception)", NOT_AVAILABLE),
    ("type() class", "type('X', (), {'f': 1})", NOT_AVAILABLE),
    ("eval", "eval('1 + 1')", NOT_AVAILABLE),
    ("open", "open('/etc/passwd').read()", NOT_AVAILABLE),
    ("globals()", "globals()", NOT_AVAILABLE),
    ("vars()", "vars(metacognition)", NOT_AVAILABLE),
    ("class", "class A:\n    pass", "class definitions are not allowed"),
    ("generator function", "def g():\n    yield 1", "generators are not allowed"),
    ("SystemExit", "raise SystemExit(1)", "raising SystemExit is not allowed"),
    ("BaseExceptionGroup", "raise BaseExceptionGroup('x', [KeyboardInterrupt()])", "raising BaseExceptionGroup is not allowed"),
    ("two-argument iter", "list(iter(int, 1))", "takes 1 positional argument"),
    # time, loops, recursion
    ("infinite loop", SPIN, TIME),  # not a bare `pass`: smolagents' own turn cap could end that first
    ("counter reset", "operations_count['counter'] = -10**12\n" + SPIN, TIME),
    ("nested loops", "for i in range(10**6):\n    for j in range(10**6):\n        pass", TIME),
    ("caught stop", "while True:\n    try:\n        while True:\n            pass\n    except Exception:\n        pass", TIME),
    ("infinite recursion", "def f(n):\n    return f(n + 1)\nf(0)", RECURSION),
    # huge allocations
    ("huge string", "x = 'a' * 10**10", SIZE),
    ("huge list", "x = [0] * 10**9", SIZE),
    ("huge power", "9 ** 9 ** 9", SIZE),
    ("huge shift", "1 << 10**9", SIZE),
    ("huge pow()", "pow(7, 10**9)", SIZE),
    ("squaring loop", "x = 3\nwhile True:\n    x = x * x", SIZE),
    ("ljust", "'x'.ljust(10**9)", SIZE),
    ("replace blow-up", LONG_TEXT + "s.replace('', s)", SIZE),
    ("format width", "'{:>999999999}'.format(1)", SIZE),
    ("computed f-string width", "f'{1:>{10**9}}'", "must be written out"),
    ("f-string width", "f'{1:>999999999}'", SIZE),
    ("%-format width", "'%*d' % (10**9, 1)", SIZE),
    ("join blow-up", LONG_TEXT + "'-'.join([s, s, s])", SIZE),
    ("huge range", "list(range(10**10))", "range of"),
    ("sum of lists", "sum([[1]] * 10, [])", "sum adds numbers"),
    ("rendering", LONG_TEXT + "print([s] * 3 + [s] * 3)", RENDER),
    ("print flood", "while True:\n    print('x' * 100000)", "print output over"),
    ("memory growth", "a = []\nwhile True:\n    a.append('y' * 500000 + str(len(a)))", MEMORY),
]


def dump(db_path) -> dict[str, list[tuple]]:
    """Every row of every table of the SQLite file, to compare before and after."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}


@pytest.fixture
async def manager(tmp_path, monkeypatch):
    """The manager exactly as `run_ooda_cycle` builds it, its executor fed as smolagents' run() does."""
    from agents.demo import seed_if_empty

    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    db = tmp_path / "sandbox.db"
    settings = Settings.from_env(
        {**settings_env(), "DIONYSUS_DB_PATH": str(db), "NEO4J_PASSWORD": SECRET, "DIONYSUS_CODE_STEP_TIMEOUT": "2"}
    )
    async with open_runtime(settings) as runtime:
        await seed_if_empty(runtime)
        spec = parse_model_spec(runtime.settings.model)
        group, registry = _group(runtime, spec, (), None, None, True)
        agent = build_manager(runtime, lambda role: create_model(spec, role), group, registry)
        agent.python_executor.send_variables(variables=agent.state)
        agent.python_executor.send_tools({**agent.tools, **agent.managed_agents})
        try:
            yield agent, db
        finally:
            agent.cleanup()  # what the end of a run does: its child goes


def outcome(executor, code: str) -> tuple[str, object]:
    try:
        result = executor(code)
    except Exception as exc:  # noqa: BLE001 - the test looks at every way it can end
        return "error", str(exc)
    return "ran", result


def test_payload_table_is_large_enough():
    assert len(PAYLOADS) >= 70
    assert len({name for name, _, _ in PAYLOADS}) == len(PAYLOADS)


@pytest.mark.parametrize(("name", "code", "blocked_by"), PAYLOADS, ids=[p[0] for p in PAYLOADS])
async def test_hostile_payload_is_blocked_or_bounded(manager, name, code, blocked_by):
    agent, db = manager
    executor = agent.python_executor
    assert isinstance(executor, SafeExecutor)
    before = dump(db)
    if blocked_by in (MEMORY, SIZE):
        # What must stop it is its memory or the size guard, with time to spare even on a loaded
        # machine: the squarings the guard still allows take seconds in a niced child there.
        executor.step_seconds = 25.0
    kind, detail = await anyio.to_thread.run_sync(outcome, executor, code)
    assert kind == "error", f"{name} ran: {detail!r}"
    assert blocked_by in detail, detail
    assert SECRET not in detail and API_KEY not in detail
    assert dump(db) == before
    # The executor is still usable: the run would go on with its next step.
    kind, result = await anyio.to_thread.run_sync(outcome, executor, "final_answer({'decision': 'go on'})")
    assert kind == "ran" and result.is_final_answer and result.output == {"decision": "go on"}


async def test_team_members_are_plain_functions_returning_text(manager):
    agent, _ = manager
    executor = agent.python_executor
    code = (
        "report = perception(task='Context: a quiet morning')\n"
        "[isinstance(report, str), callable(perception), hasattr(perception, 'tools'), hasattr(report, 'runtime')]"
    )
    kind, result = await anyio.to_thread.run_sync(outcome, executor, code)
    assert kind == "ran", result
    assert result.output == [True, True, False, False]
    # In the child, a team member is a plain function: no public attribute hangs off it.
    public = ["tools", "model", "memory", "run", "name", "description", "managed_agents", "python_executor", "state"]
    code = f"[hasattr(m, a) for m in (perception, reasoning, metacognition, final_answer) for a in {public!r}]"
    kind, result = await anyio.to_thread.run_sync(outcome, executor, code)
    assert kind == "ran" and result.output == [False] * (4 * len(public)), result
    # What the server offered the child is the team's names and descriptions, nothing else.
    assert sorted(executor.team) == ["metacognition", "perception", "reasoning"]
    assert all(isinstance(doc, str) for doc in executor._offered().values())


async def test_a_team_member_failure_crosses_as_text_only(manager):
    agent, _ = manager
    code = "try:\n    perception(bogus=1)\nexcept Exception as e:\n    caught = e\n[len(caught.args), caught.args[0]]"
    kind, result = await anyio.to_thread.run_sync(outcome, agent.python_executor, code)
    assert kind == "ran", result
    assert result.output == [1, "perception takes task (text) and optional additional_args (a dict)"]


async def test_a_cancelled_run_stops_the_code_at_its_next_node(manager):
    agent, _ = manager
    agent.run_group.cancel()
    kind, detail = await anyio.to_thread.run_sync(outcome, agent.python_executor, "while True:\n    pass")
    assert kind == "error" and "the run was cancelled" in detail
