"""The annotated recipe template of `vegcube recipe init`, generated from the model: every key,
its default and what is accepted."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from .model import Recipe
from .processing import CompositeSpec

__all__ = ["template"]


def template() -> str:
    """An annotated recipe template documenting every key (for `vegcube recipe init`).

    Generated from the model, so it lists exactly the accepted keys; it validates as is.
    """
    lines = [
        "# vegcube recipe: every key, its default and what is accepted",
        "# Optional sections are commented out: remove the leading '# ' to use them.",
        "",
    ]

    def walk(model: type[BaseModel], indent: str, off: str = "") -> None:
        for name, field in model.model_fields.items():
            sub = _section_type(field.annotation)
            if sub is not None and getattr(field.annotation, "__origin__", None) is list:
                # a list of sections (alerts): one commented entry showing its keys
                lines.append(f"# {indent}{name}:  # {field.description}")
                for i, (key, f) in enumerate(sub.model_fields.items()):
                    value = _yaml_value(f.examples[0] if f.examples else f.default)
                    dash = "  " if i else "- "
                    lines.append(f"# {indent}  {dash}{key}: {value}  # {f.description}")
                continue
            if sub is not None:
                doc = (sub.__doc__ or "").strip().splitlines()[0]
                optional = field.default is None and name not in _ACTIVE_OPTIONAL
                mark = off or ("# " if optional else "")
                lines.append(f"{mark}{indent}{name}:  # {doc}")
                walk(sub, indent + "  ", mark)
                if sub is CompositeSpec:
                    lines.extend(_reducer_parameters(indent + "  "))
                continue
            value = field.examples[0] if field.examples else field.default
            note = " (required)" if field.is_required() else ""
            text = f"{name}: {_yaml_value(value)}  # {field.description}{note}"
            extra = field.json_schema_extra
            hidden = isinstance(extra, dict) and extra.get("template") == "commented"
            lines.append(f"{off or ('# ' if hidden else '')}{indent}{text}")

    walk(Recipe, "")
    return "\n".join(lines) + "\n"


def _reducer_parameters(indent: str) -> list[str]:
    """Each reducer parameter, commented out, with the reducers that take it."""
    from .. import composite

    by_name: dict[str, tuple[Any, list[str]]] = {}
    for r in composite.REDUCERS.values():
        for name, default in r.parameters().items():
            by_name.setdefault(name, (default, []))[1].append(r.name)
    return [
        f"# {indent}{name}: {_yaml_value(default)}  # {', '.join(names)}: "
        f"{composite.PARAMETERS.get(name, 'see the reducer')}"
        for name, (default, names) in by_name.items()
    ]


#: optional sections the template shows switched on (the indicators in it need a reference)
_ACTIVE_OPTIONAL = ("reference",)


def _section_type(ann: Any) -> type[BaseModel] | None:
    for cand in (ann, *getattr(ann, "__args__", ())):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return None


def _yaml_value(v: Any) -> str:
    if isinstance(v, tuple):
        v = list(v)
    return yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip()
