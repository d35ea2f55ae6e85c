"""Execution traces: the service that writes and reads them, what reads return, the replay."""

from dionysus_mcp.traces.models import (
    TokenTotals,
    TokenUsageReport,
    TraceDetail,
    TracePage,
    TraceSummary,
    UsageRow,
    summarize,
)
from dionysus_mcp.traces.cursors import as_utc, decode_cursor, encode_cursor, step_id, step_totals
from dionysus_mcp.traces.service import MAX_DEPTH, RETRY_EVERY_S, SET_ASIDE_AFTER, TraceService
from schema.models import StepType, TraceRecord

__all__ = [
    "MAX_DEPTH", "RETRY_EVERY_S", "SET_ASIDE_AFTER", "StepType", "TokenTotals", "TokenUsageReport",
    "TraceDetail", "TracePage", "TraceRecord", "TraceService", "TraceSummary", "UsageRow", "as_utc",
    "decode_cursor", "encode_cursor", "step_id", "step_totals", "summarize",
]
