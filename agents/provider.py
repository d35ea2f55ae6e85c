"""An OpenAI-compatible endpoint, normalised: what every provider does differently ends here.

smolagents' `OpenAIServerModel.generate` assumes an ideal provider: it reads `response.usage`
unconditionally (several OpenAI-compatible servers omit it: `'NoneType' object has no attribute
'prompt_tokens'`), treats whatever the openai SDK returns as a completion (an HTML body comes
back as a `str`: `'str' object has no attribute 'choices'`), retries rate limits after 120-240 s
of sleep, and keeps the SDK's 600 s timeout. `ProviderModel` keeps smolagents' request building
(`_prepare_completion_kwargs`) and replaces the call around it:

- the openai client gets the configured timeout and no retries of its own; retries are ours:
  429, 408, 409 and 5xx answers and refused/reset connections are retried up to `retries`
  times, waiting what the provider's `Retry-After` asks (else 0.5 s, 1 s, 2 s, ...) — but never
  past the wait budget: a Retry-After beyond it fails at once rather than sleeping;
- a timeout is not retried: the configured timeout bounds a hung endpoint;
- the request runs in a helper thread the agent's thread waits on; the run's cancellation
  signal (`RunGroup.cancelled`) is linked to that wait, so cancelling stops waiting at once (no
  polling); the abandoned request ends at its timeout;
- a response without `usage` gets `token_usage=None`, which smolagents accepts and the token
  callback (callbacks/tokens.py) then counts with the tokenizer, marking the call as estimated;
- every failure becomes a `ProviderError`: one line naming the endpoint and the problem.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from smolagents import OpenAIServerModel
from smolagents.models import ChatMessage, TokenUsage, remove_content_after_stop_sequences

from callbacks.context import CancelSignal
from dionysus_mcp.errors import DionysusError, find_cause

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://api.openai.com/v1"
RETRYABLE_STATUS = {408, 409, 429}
MAX_WAIT_S = 60.0  # the most one Retry-After may make us wait, whatever the budget


class ProviderError(DionysusError):
    """The model endpoint failed; the message is one line naming the endpoint and the problem."""


class ProviderCancelled(ProviderError):
    """The run was cancelled while a model call was in flight."""


@dataclass(frozen=True)
class ProviderOptions:
    timeout_s: float = 60.0
    retries: int = 2
    temperature: float | None = None

    @property
    def wait_budget_s(self) -> float:
        """Total time retries may spend waiting, per model call."""
        return min(MAX_WAIT_S, self.timeout_s)


def provider_failure(exc: BaseException | None) -> ProviderError | None:
    """The ProviderError behind `exc` (smolagents wraps model errors in AgentGenerationError)."""
    return find_cause(exc, ProviderError)


def retry_after(response: Any) -> float | None:
    """Seconds the provider asks us to wait (`retry-after-ms`, `retry-after` as seconds or date)."""
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is not None:
                return max(0.0, email.utils.mktime_tz(parsed) - time.time())
    return None


def _snippet(text: Any, limit: int = 80) -> str:
    return " ".join(str(text).split())[:limit]


def _looks_like_html(text: str) -> bool:
    head = text.lstrip()[:200].lower()
    return head.startswith("<!doctype html") or head.startswith("<html") or "<body" in head


class ProviderModel(OpenAIServerModel):
    """smolagents' OpenAI-compatible model with provider differences normalised (module doc)."""

    def __init__(
        self,
        model_id: str,
        api_base: str | None,
        api_key: str,
        options: ProviderOptions | None = None,
        cancelled: CancelSignal | None = None,
    ):
        self.options = options or ProviderOptions()
        extra = {} if self.options.temperature is None else {"temperature": self.options.temperature}
        super().__init__(
            model_id=model_id,
            api_base=api_base,
            api_key=api_key,
            client_kwargs={"timeout": self.options.timeout_s, "max_retries": 0},
            retry=False,
            **extra,
        )
        self.endpoint = (api_base or DEFAULT_ENDPOINT).rstrip("/")
        self.cancelled = cancelled or CancelSignal()
        self.requests = 0  # HTTP requests made, retries included

    # --- the call ------------------------------------------------------------------------
    def generate(
        self,
        messages: list[Any],
        stop_sequences: list[str] | None = None,
        response_format: dict[str, str] | None = None,
        tools_to_call_from: list[Any] | None = None,
        **kwargs: Any,
    ) -> ChatMessage:
        completion_kwargs = self._prepare_completion_kwargs(
            messages=messages,
            stop_sequences=stop_sequences,
            response_format=response_format,
            tools_to_call_from=tools_to_call_from,
            model=self.model_id,
            custom_role_conversions=self.custom_role_conversions,
            convert_images_to_image_urls=True,
            **kwargs,
        )
        self._apply_rate_limit()
        response = self._with_retries(completion_kwargs)
        return self._message(response, stop_sequences)

    def generate_stream(self, *args: Any, **kwargs: Any) -> Any:
        # Our agents never stream (stdout is the MCP transport); one code path to normalise.
        raise ProviderError("streaming model output is not supported")

    def _message(self, response: Any, stop_sequences: list[str] | None) -> ChatMessage:
        choices = getattr(response, "choices", None)
        if not choices or getattr(choices[0], "message", None) is None:
            if isinstance(response, str) and _looks_like_html(response):
                raise ProviderError(f"the model endpoint {self.endpoint} answered with an HTML page, not a chat completion: {_snippet(response)!r}")
            raise ProviderError(f"the model endpoint {self.endpoint} answered with something that is not a chat completion: {_snippet(response)!r}")
        message = choices[0].message
        content = message.content
        if content is not None and stop_sequences is not None and not self.supports_stop_parameter:
            content = remove_content_after_stop_sequences(content, stop_sequences)
        if content is None and not message.tool_calls:
            raise ProviderError(f"the model endpoint {self.endpoint} answered with an empty message (no content, no tool call)")
        usage = getattr(response, "usage", None)
        prompt = getattr(usage, "prompt_tokens", None)
        completion = getattr(usage, "completion_tokens", None)
        token_usage = TokenUsage(input_tokens=prompt, output_tokens=completion or 0) if isinstance(prompt, int) and prompt > 0 else None
        return ChatMessage(role=message.role or "assistant", content=content, tool_calls=message.tool_calls, raw=response, token_usage=token_usage)

    def _with_retries(self, completion_kwargs: dict[str, Any]) -> Any:
        import openai

        budget = self.options.wait_budget_s
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._interruptible(lambda: self.client.chat.completions.create(**completion_kwargs))
            except openai.APITimeoutError:
                raise ProviderError(
                    f"the model endpoint {self.endpoint} did not answer within {self.options.timeout_s:g} s (DIONYSUS_MODEL_TIMEOUT)"
                ) from None
            except openai.APIConnectionError as exc:
                problem = _connection_problem(exc)
                retryable, asked = True, None
                failure = f"cannot reach the model endpoint {self.endpoint} ({problem}); check OPENAI_BASE_URL and that the server is running"
            except openai.APIStatusError as exc:
                status = exc.status_code
                retryable, asked = status in RETRYABLE_STATUS or status >= 500, retry_after(exc.response)
                failure = _status_problem(self.endpoint, status, exc, self.model_id)
            wait = asked if asked is not None else 0.5 * 2 ** (attempt - 1)
            if not retryable or attempt > self.options.retries:
                tries = f" (after {attempt} attempts)" if attempt > 1 else ""
                raise ProviderError(failure + tries) from None
            if wait > budget:
                raise ProviderError(f"{failure}; it asks to retry after {wait:g} s, beyond the retry budget of {budget:g} s") from None
            budget -= wait
            log.info("model call to %s failed (%s); retry %d in %.1f s", self.endpoint, failure, attempt, wait)
            if self.cancelled.wait(wait):
                raise ProviderCancelled("the run was cancelled while waiting to retry the model call")

    def _interruptible(self, request: Any) -> Any:
        """Run `request` in a helper thread; give up waiting as soon as the run is cancelled."""
        if self.cancelled.is_set():
            raise ProviderCancelled("the run was cancelled before the model call")
        done = threading.Event()
        outcome: dict[str, Any] = {}

        def call() -> None:
            try:
                outcome["value"] = request()
            except BaseException as exc:  # handed to the waiting thread
                outcome["error"] = exc
            finally:
                done.set()

        self.requests += 1
        self.cancelled.link(done)  # a cancel wakes the wait below as the answer would
        try:
            threading.Thread(target=call, name="model-request", daemon=True).start()
            done.wait()
        finally:
            self.cancelled.unlink(done)
        if "error" not in outcome and "value" not in outcome:
            raise ProviderCancelled("the run was cancelled during a model call")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]


def _connection_problem(exc: BaseException) -> str:
    text = ""
    cause: BaseException | None = exc
    while cause is not None:
        text += f" {cause}"
        cause = cause.__cause__ or cause.__context__
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered or "getaddrinfo" in lowered:
        return "unknown host"
    if "reset" in lowered or "disconnected" in lowered or "closed" in lowered:
        return "the connection was closed before a response"
    return "connection failed"


def _status_problem(endpoint: str, status: int, exc: Any, model_id: str) -> str:
    body = getattr(getattr(exc, "response", None), "text", "") or ""
    error = getattr(exc, "body", None)  # the SDK's parsed `error` object, when the body was JSON
    said = error.get("message") if isinstance(error, dict) else None
    detail = "an HTML error page" if _looks_like_html(body) else repr(_snippet(said or body or getattr(exc, "message", "")))
    if status in (401, 403):
        return f"the model endpoint {endpoint} refused the API key (HTTP {status}); check OPENAI_API_KEY"
    if status == 404:
        return f"the model endpoint {endpoint} has no model {model_id!r} or no chat-completions route (HTTP 404); check DIONYSUS_MODEL and OPENAI_BASE_URL"
    if status == 429:
        return f"the model endpoint {endpoint} is rate-limiting requests (HTTP 429)"
    return f"the model endpoint {endpoint} failed with HTTP {status}: {detail}"
