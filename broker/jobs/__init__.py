"""rq jobs: thin module-level functions that take ids, load what they need, and call
a service. ``JOBS`` names them for the outbox, so a transition can ask for work by
name without importing the job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

JOBS: dict[str, Callable[..., Any]] = {}


def job(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        JOBS[name] = function
        return function

    return register
