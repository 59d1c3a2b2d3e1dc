"""The evaluator: a process graph (nodes with `process_id`, `arguments`, one `result`) → value.

Arguments may reference other nodes (``{"from_node": id}``), parameters of the graph or of
the callback being evaluated (``{"from_parameter": name}``), or hold a callback
(``{"process_graph": {...}}``), which becomes a `Callback` the process calls with its
parameters (``x``, ``data``, ``context``…). `validate` finds every structural problem first
(unknown processes, missing or unknown arguments, dangling references, in callbacks too);
then nodes are evaluated once, on demand from the result node, and nothing is computed
(cubes stay dask-backed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import xarray as xr

from ...errors import InputError
from ._types import ArrayView, ProcessGraphError
from .registry import PROCESSES, Process

__all__ = ["Callback", "evaluate", "validate"]

_JSON_TYPES = {
    type(None): ("null",),
    bool: ("boolean",),
    int: ("integer", "number"),
    float: ("number",),
    str: ("string",),
    list: ("array",),
    dict: ("object",),
}


class Callback:
    """A child process graph, called with its parameters by the process that holds it."""

    def __init__(
        self, graph: Mapping[str, Any], *, backend: Any, scope: Mapping[str, Any], node: str
    ) -> None:
        self.graph, self.backend, self.scope, self.node = graph, backend, scope, node

    def __call__(self, **parameters: Any) -> Any:
        try:
            return _run(self.graph, backend=self.backend, scope={**self.scope, **parameters})
        except ProcessGraphError as exc:  # name the node holding the callback too
            raise exc.within(self.node) from None

    def single_process(self) -> tuple[str, dict[str, Any]] | None:
        """``(process_id, arguments)`` when the callback is one node (e.g. ``mean(data)``)."""
        if len(self.graph) != 1:
            return None
        (node,) = self.graph.values()
        return str(node.get("process_id")), dict(node.get("arguments") or {})


def evaluate(
    process_graph: Mapping[str, Any],
    *,
    backend: Any = None,
    parameters: Mapping[str, Any] | None = None,
) -> Any:
    """The value of the graph's result node (a `SaveResult` when it ends in save_result).

    `process_graph` is the graph's nodes, or a whole process (``{"process_graph": …,
    "parameters": […]}``, whose parameters' defaults apply where `parameters` lacks them).
    """
    graph, defaults = process_graph, {}
    if "process_graph" in graph and isinstance(graph["process_graph"], Mapping):
        declared = graph.get("parameters") or []
        defaults = {
            p["name"]: p["default"] for p in declared if isinstance(p, Mapping) and "default" in p
        }
        graph = graph["process_graph"]
    problems = validate(graph)
    if problems:
        raise problems[0]
    return _run(graph, backend=backend, scope={**defaults, **(parameters or {})})


def validate(process_graph: Mapping[str, Any]) -> list[ProcessGraphError]:
    """Every problem found without evaluating: the graph's shape, unknown processes, missing
    or unknown arguments, references to missing nodes, in every node and callback (for
    ``POST /validation``; `evaluate` raises the first)."""
    graph = process_graph
    if "process_graph" in graph and isinstance(graph["process_graph"], Mapping):
        graph = graph["process_graph"]
    problems: list[ProcessGraphError] = []
    _validate(graph, problems, prefix="")
    return problems


def _validate(graph: Any, problems: list[ProcessGraphError], prefix: str) -> None:
    try:
        _shape(graph)
    except ProcessGraphError as exc:
        problems.append(exc.within(prefix.rstrip("/")) if prefix else exc)
        return
    for nid, node in graph.items():
        where = f"{prefix}{nid}"
        proc = PROCESSES.get(node["process_id"])
        args = node.get("arguments") or {}
        if proc is None:
            problems.append(
                ProcessGraphError(
                    f"process {node['process_id']!r} is not supported",
                    code="ProcessUnsupported",
                    node=where,
                )
            )
        else:
            params = proc.parameters()
            for name, spec in params.items():
                if not spec.get("optional", False) and name not in args:
                    problems.append(
                        ProcessGraphError(
                            f"process {proc.id!r} needs argument {name!r}",
                            code="ProcessParameterRequired",
                            node=where,
                            argument=name,
                        )
                    )
            for name in args:
                if name not in params:
                    problems.append(
                        ProcessGraphError(
                            f"{name!r} is not a parameter of {proc.id!r}; "
                            f"accepted: {sorted(params)}",
                            code="ProcessParameterUnsupported",
                            node=where,
                            argument=name,
                        )
                    )
        for name, value in args.items():
            _references(value, graph, problems, where, name)


def _references(
    value: Any, graph: Mapping[str, Any], problems: list[ProcessGraphError], where: str, name: str
) -> None:
    if isinstance(value, Mapping):
        if "from_node" in value and value["from_node"] not in graph:
            problems.append(
                ProcessGraphError(
                    f"from_node {value['from_node']!r}: no such node", node=where, argument=name
                )
            )
        elif "process_graph" in value:
            _validate(value["process_graph"], problems, prefix=f"{where}/")
        else:
            for v in value.values():
                _references(v, graph, problems, where, name)
    elif isinstance(value, list):
        for v in value:
            _references(v, graph, problems, where, name)


def _shape(graph: Any) -> None:
    """A mapping of nodes, each with a process_id and arguments, exactly one result."""
    if not isinstance(graph, Mapping) or not graph:
        raise ProcessGraphError("a process graph must be a non-empty object of nodes")
    for nid, node in graph.items():
        if not isinstance(node, Mapping) or not isinstance(node.get("process_id"), str):
            raise ProcessGraphError(f"node {nid!r} has no process_id", node=str(nid))
        if not isinstance(node.get("arguments", {}), Mapping):
            raise ProcessGraphError(f"node {nid!r}: arguments must be an object", node=str(nid))
    results = [nid for nid, node in graph.items() if node.get("result") is True]
    if len(results) != 1:
        raise ProcessGraphError(
            f"a process graph needs exactly one result node; found {len(results)}: {results}"
        )


def _run(graph: Mapping[str, Any], *, backend: Any, scope: Mapping[str, Any]) -> Any:
    _shape(graph)
    results = [nid for nid, node in graph.items() if node.get("result") is True]
    return _Run(graph, backend, scope).node(results[0], ())


class _Run:
    def __init__(self, graph: Mapping[str, Any], backend: Any, scope: Mapping[str, Any]) -> None:
        self.graph, self.backend, self.scope = graph, backend, scope
        self.values: dict[str, Any] = {}

    def node(self, nid: str, stack: tuple[str, ...]) -> Any:
        if nid in self.values:
            return self.values[nid]
        if nid not in self.graph:
            raise ProcessGraphError(
                f"from_node {nid!r}: no such node", node=stack[-1] if stack else None
            )
        if nid in stack:
            raise ProcessGraphError(
                f"the graph has a cycle through {' → '.join((*stack, nid))}", node=nid
            )
        spec = self.graph[nid]
        pid = spec["process_id"]
        proc = PROCESSES.get(pid)
        if proc is None:
            raise ProcessGraphError(
                f"process {pid!r} is not supported",
                code="ProcessUnsupported",
                node=nid,
                hint="GET /processes lists the supported ones",
            )
        raw = dict(spec.get("arguments") or {})
        args: dict[str, Any] = {}
        for name, value in raw.items():
            try:
                args[name] = self.resolve(value, (*stack, nid), name)
            except ProcessGraphError as exc:
                raise exc.located(nid, name) from None
        try:
            _check(proc, args)
            kwargs = {("if_" if k == "if" else k): v for k, v in args.items()}
            if proc.backend:
                kwargs["_backend"] = self.backend
            value = proc.fn(**kwargs)
        except ProcessGraphError as exc:
            raise exc.located(nid) from None
        except InputError as exc:
            if proc.backend:  # the backend's own errors (NoDataAvailable, …) pass unchanged
                raise
            raise ProcessGraphError(str(exc), code="ProcessParameterInvalid", node=nid) from exc
        self.values[nid] = value
        return value

    def resolve(self, value: Any, stack: tuple[str, ...], name: str) -> Any:
        if isinstance(value, Mapping):
            if "from_node" in value:
                return self.node(str(value["from_node"]), stack)
            ref = value.get("from_parameter")
            if ref is not None and len(value) == 1:
                if ref not in self.scope:
                    raise ProcessGraphError(
                        f"parameter {ref!r} is not defined here; defined: {sorted(self.scope)}",
                        code="ProcessParameterRequired",
                    )
                return self.scope[ref]
            if "process_graph" in value:
                return Callback(
                    value["process_graph"], backend=self.backend, scope=self.scope, node=stack[-1]
                )
            return {k: self.resolve(v, stack, name) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, stack, name) for v in value]
        return value


def _check(proc: Process, args: Mapping[str, Any]) -> None:
    """Required arguments present, no unknown one, plain values of an accepted JSON type."""
    params = proc.parameters()
    for name, spec in params.items():
        if not spec.get("optional", False) and name not in args:
            raise ProcessGraphError(
                f"process {proc.id!r} needs argument {name!r}",
                code="ProcessParameterRequired",
                argument=name,
            )
    for name, value in args.items():
        if name not in params:
            raise ProcessGraphError(
                f"{name!r} is not a parameter of {proc.id!r}; accepted: {sorted(params)}",
                code="ProcessParameterUnsupported",
                argument=name,
            )
        accepted = _types(params[name].get("schema", {}))
        got = _JSON_TYPES.get(type(value))
        if isinstance(value, float) and value.is_integer():
            got = ("integer", "number")
        if (
            accepted is None
            or got is None
            or value is None
            or isinstance(value, (xr.DataArray, ArrayView, Callback))
        ):
            continue
        if not set(got) & accepted:
            raise ProcessGraphError(
                f"{proc.id}: {name} must be {' or '.join(sorted(accepted))}; "
                f"got {got[0]} {value!r:.60}",
                code="ProcessParameterInvalid",
                argument=name,
            )


def _types(schema: Any) -> set[str] | None:
    """The JSON types a schema accepts (None: any)."""
    if isinstance(schema, list):
        out: set[str] = set()
        for s in schema:
            t = _types(s)
            if t is None:
                return None
            out |= t
        return out
    if not isinstance(schema, Mapping):
        return None
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return _types(schema[key])
    t = schema.get("type")
    if t is None:
        return None
    return {t} if isinstance(t, str) else set(t)
