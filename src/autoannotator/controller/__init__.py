"""The meta-controller: choose the specialists for a task and write their adapters, checked against evidence
(`selection`; the questions to the LLM are in `asking`)."""

from autoannotator.controller.asking import adapter_prompt, choice_prompt, llm_adapter, llm_choice
from autoannotator.controller.selection import (
    SLOW_ON_CPU,
    TRAINABLES,
    Selection,
    candidate_cards,
    matching,
    probe_check,
    select,
    summary,
)

__all__ = [
    "SLOW_ON_CPU",
    "TRAINABLES",
    "Selection",
    "adapter_prompt",
    "candidate_cards",
    "choice_prompt",
    "llm_adapter",
    "llm_choice",
    "matching",
    "probe_check",
    "select",
    "summary",
]
