"""Reviewers of hard rows: an LLM asked as a registered strategy says (zero-shot, few-shot, chain of thought,
self-consistency, or one of yours), or recorded answers."""

from autoannotator.review import strategies as strategies
from autoannotator.review.base import HardRow, Reviewer, Status, Verdict, parse_label
from autoannotator.review.config import ReviewConfig, build_reviewer, check_reviewer, llm_gateway
from autoannotator.review.llm import LLMReviewer
from autoannotator.review.prompts import Examples, Prompts
from autoannotator.review.replay import ReplayReviewer
from autoannotator.review.strategy import STRATEGIES, Strategy, register, strategy

__all__ = [
    "STRATEGIES",
    "Examples",
    "HardRow",
    "LLMReviewer",
    "Prompts",
    "ReplayReviewer",
    "ReviewConfig",
    "Reviewer",
    "Status",
    "Strategy",
    "Verdict",
    "build_reviewer",
    "check_reviewer",
    "llm_gateway",
    "parse_label",
    "register",
    "strategy",
]
