"""The child's entry point: `python -I -S -X utf8 child.py CONFIG`.

Started by agents/sandbox/launcher.py with a scratch environment, an empty working directory and
no file descriptor but its stdin/stdout (the channel) and stderr. `-I -S`: no environment
variable, user site or site-packages is read, so `sys.path` is the standard library alone. The
bootstrap loads, by file path, exactly the modules the code needs to run:
- smolagents' `local_python_executor.py`, without smolagents' package `__init__` (which imports
  its agents, models, HTTP clients and images: ten times the time and far more memory than
  this file alone; docs/benchmarks.md, "Figures behind the code"). Its
  two relative imports get what it uses of them: `Tool` (only a type hint there) and
  `truncate_content`/`BASE_BUILTIN_MODULES` (our own cut, with a note of how much was cut;
  no module is authorized anyway);
- agents/code_guard.py, agents/sandbox/channel.py, interpreter.py and confine.py.
The packages they sit in are registered empty (`__path__ = []`), so nothing else of smolagents
or of the server (`agents`, `dionysus_mcp`, `callbacks`) can be imported here. Then the process
confines itself (confine.py) and only after that reads code.
"""

import importlib.util
import json
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name: str, path: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _package(name: str) -> None:
    module = types.ModuleType(name)
    module.__path__ = []  # type: ignore[attr-defined] - a package from which nothing else loads
    sys.modules[name] = module


def bootstrap(executor_path: str) -> types.ModuleType:
    for name in ("smolagents", "agents", "agents.sandbox"):
        _package(name)
    channel = _load("agents.sandbox.channel", os.path.join(HERE, "channel.py"))
    tools = types.ModuleType("smolagents.tools")
    tools.Tool = object  # type: ignore[attr-defined]
    utils = types.ModuleType("smolagents.utils")
    utils.BASE_BUILTIN_MODULES = []  # type: ignore[attr-defined]
    utils.truncate_content = lambda content, max_length=channel.MAX_OBSERVATION: channel.cut(content, max_length)  # type: ignore[attr-defined]
    sys.modules["smolagents.tools"], sys.modules["smolagents.utils"] = tools, utils
    _load("smolagents.local_python_executor", executor_path)
    _load("agents.code_guard", os.path.join(os.path.dirname(HERE), "code_guard.py"))
    _load("agents.sandbox.confine", os.path.join(HERE, "confine.py"))
    return _load("agents.sandbox.interpreter", os.path.join(HERE, "interpreter.py"))


class Channel:
    def __init__(self) -> None:
        from agents.sandbox import channel  # type: ignore[attr-defined]

        self.codec = channel
        self.inp, self.out = sys.stdin.buffer, sys.stdout.buffer

    def send(self, message: dict) -> None:
        self.out.write(self.codec.encode(message))
        self.out.flush()

    def receive(self) -> dict:
        line = self.inp.readline(self.codec.MAX_MESSAGE + 1)
        if not line:
            raise SystemExit(0)  # the server closed the channel: this run is over
        try:
            return self.codec.decode(line)
        except ValueError:
            raise SystemExit(2) from None

    def call(self, name: str, args: tuple, kwargs: dict) -> tuple[bool, object]:
        """A team member, tool or final_answer, run by the server; waits for its reply."""
        self.send({"t": "call", "name": name, "args": list(args), "kwargs": kwargs})
        reply = self.receive()
        if reply.get("t") != "reply":
            raise SystemExit(2)
        return bool(reply.get("ok")), reply.get("value")


def serve(interpreter_module: types.ModuleType, config: dict) -> None:
    from agents.sandbox.confine import confine  # type: ignore[attr-defined]

    channel = Channel()
    applied = confine(int(config["cpu_seconds"]), landlock_on=config["landlock"], drop_user_on=config["drop_user"])
    interpreter = interpreter_module.GuardedInterpreter(channel.call, escape_hatch=config["escape_hatch"])
    outside = sorted(m for m in sys.modules if m.split(".")[0] not in sys.stdlib_module_names and m != "__main__")
    channel.send({"t": "ready", "confinement": applied, "modules": outside, "path": list(sys.path)})
    while True:
        message = channel.receive()
        kind = message["t"]
        if kind == "tools":
            interpreter.send_tools(message["tools"])
        elif kind == "vars":
            interpreter.send_variables(message["values"])
        elif kind == "run":
            reply = interpreter_module.run_step(interpreter, message["code"])
            channel.send(reply)
            if reply.get("memory"):
                raise SystemExit(3)  # a process that ran out of memory is not trusted further


def main() -> None:
    config = json.loads(sys.argv[1])
    interpreter = bootstrap(config["executor"])
    if config.get("zygote"):
        zygote = _load("agents.sandbox.zygote", os.path.join(HERE, "zygote.py"))
        zygote.run(serve, interpreter, int(config["control_fd"]))
    serve(interpreter, config)


if __name__ == "__main__":
    main()
