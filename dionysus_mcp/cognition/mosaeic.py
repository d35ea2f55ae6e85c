"""MOSAEIC capture: one experience seen through five windows — senses, actions, emotions,
impulses, cognitions — stored as an experiential memory attached to the basins it touches."""

from __future__ import annotations

from pydantic import BaseModel

from dionysus_mcp.cognition.inputs import MosaeicCapture
from dionysus_mcp.cognition.memory import MemoryService
from dionysus_mcp.errors import InvalidInput

WINDOWS = ("senses", "actions", "emotions", "impulses", "cognitions")
MAX_WINDOW = MosaeicCapture.bound("senses", "max_length")  # every window's (cognition/inputs.py)


class MosaeicResult(BaseModel):
    memory_id: str
    windows: list[str]
    basins: list[str]
    content: str


class MosaeicService:
    def __init__(self, memory: MemoryService):
        self.memory = memory

    async def capture(
        self,
        senses: str | None = None,
        actions: str | None = None,
        emotions: str | None = None,
        impulses: str | None = None,
        cognitions: str | None = None,
        context: str | None = None,
        importance: float = 0.6,
    ) -> MosaeicResult:
        given = {"senses": senses, "actions": actions, "emotions": emotions, "impulses": impulses, "cognitions": cognitions}
        windows = {name: value.strip() for name, value in given.items() if value and value.strip()}
        if not windows:
            raise InvalidInput("give at least one of senses, actions, emotions, impulses, cognitions")
        for name, value in windows.items():
            if len(value) > MAX_WINDOW:
                raise InvalidInput(f"{name} is {len(value)} characters; the limit is {MAX_WINDOW}")
        context = (context or "").strip()
        if len(context) > MAX_WINDOW:
            raise InvalidInput(f"context is {len(context)} characters; the limit is {MAX_WINDOW}")
        lines = [f"{name.capitalize()}: {windows[name]}" for name in WINDOWS if name in windows]
        if context:
            lines.insert(0, f"Context: {context}")
        content = self.memory.secrets.mask("\n".join(lines))  # as remember() stores it
        stored = await self.memory.remember(
            content, kind="experiential", tags=["mosaeic", *windows], importance=importance
        )
        return MosaeicResult(memory_id=stored.memory_id, windows=list(windows), basins=stored.basins, content=content)
