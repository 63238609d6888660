"""Test generators behind one interface: `llm` (LiteLLM) and `offline` (Pynguin)."""

from assay.engines.port import (
    Candidate,
    Engine,
    Feedback,
    GenerationContext,
    NothingGenerated,
    Segment,
    Target,
    Usage,
)

__all__ = [
    "Candidate",
    "Engine",
    "Feedback",
    "GenerationContext",
    "NothingGenerated",
    "Segment",
    "Target",
    "Usage",
]
