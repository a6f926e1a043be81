"""Chat models behind one protocol, with cost accounting, a hard budget and a response cache.

>>> chat_model("openai:gpt-4o-mini").name
'gpt-4o-mini'
>>> usage()
'openai:MODEL, local, gguf:PATH'
"""

from __future__ import annotations

from autoannotator.errors import BudgetError
from autoannotator.llm import local, openai_compat
from autoannotator.llm.base import ChatModel, Checked, Completion, Message, Request
from autoannotator.llm.cost import Budget, PriceTable, load_prices
from autoannotator.llm.gateway import Answer, Gateway, RateLimiter
from autoannotator.llm.openai_compat import OpenAIChat
from autoannotator.llm.registry import Provider, chat_model, check, provider, register, usage

register("openai", Provider(openai_compat.build, local=False, argument="MODEL"))
register("local", Provider(local.build, local=True))
register("gguf", Provider(local.build, local=True, argument="PATH"))

__all__ = [
    "Answer",
    "Budget",
    "BudgetError",
    "ChatModel",
    "Checked",
    "Completion",
    "Gateway",
    "Message",
    "OpenAIChat",
    "PriceTable",
    "Provider",
    "RateLimiter",
    "Request",
    "chat_model",
    "check",
    "load_prices",
    "provider",
    "register",
    "usage",
]
