"""One registry: process id → implementation + its JSON definition (``definitions/<id>.json``).

A process is a function of its openEO arguments (keyword names as in the definition; a
trailing underscore avoids a Python keyword: ``if_``); callbacks arrive as `Callback`s.
Adding a process is a function with ``@process("id")`` in the module of its family and its
definition file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["PROCESSES", "Process", "definition", "process"]


@dataclass(frozen=True)
class Process:
    """One implemented process: `fn(**arguments)`; `backend`: it also receives the backend
    (``_backend=``)."""

    id: str
    fn: Callable[..., Any]
    backend: bool = False

    @property
    def definition(self) -> dict[str, Any]:
        return definition(self.id)

    def parameters(self) -> dict[str, dict[str, Any]]:
        """The definition's parameters by name."""
        return {p["name"]: p for p in self.definition["parameters"]}


#: every implemented process by id
PROCESSES: dict[str, Process] = {}


def process(
    pid: str, *, backend: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the implementation of process `pid`."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if pid in PROCESSES:
            raise RuntimeError(f"process {pid!r} registered twice")
        PROCESSES[pid] = Process(pid, fn, backend)
        return fn

    return register


@cache
def definition(pid: str) -> dict[str, Any]:
    """The JSON definition of process `pid` (as served at ``/processes``)."""
    path = resources.files(__package__).joinpath("definitions", f"{pid}.json")
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result
