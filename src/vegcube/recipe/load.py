"""Reading a recipe: YAML (dates kept as text, aliases and repeated keys refused) or TOML files,
dicts or `Recipe`s, validated at once into one `RecipeError` naming every field; relative paths
resolved against the recipe file's folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import tomllib
import yaml
from pydantic import ValidationError

from ..errors import RecipeError
from .model import Recipe

__all__ = ["load_recipe"]


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader that keeps dates as text: pydantic parses them and names the field of a
    bad one (`time.end: ... day value is outside expected range` for 2023-02-30), and that
    refuses aliases (`*name`): a few nested ones expand into billions of values (an "alias
    bomb") when the recipe is written into run.json; a recipe never needs them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.YAMLError(
                f"YAML aliases (*{event.anchor}) are not accepted in a recipe "
                f"(line {event.start_mark.line + 1}); write the value out"
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        """A key given twice is an error (PyYAML keeps the last one silently)."""
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.YAMLError(
                    f"key {key!r} is given twice (lines {seen[key]} and {line}); keep one"
                )
            if isinstance(key, (str, int, float, bool)):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in rules if tag != "tag:yaml.org,2002:timestamp"]
    for first, rules in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise RecipeError(f"recipe file {path} does not exist (or is not a file)")
    kind = "TOML" if path.suffix == ".toml" else "YAML"
    try:
        if kind == "TOML":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        else:
            with path.open(encoding="utf-8") as stream:  # the file's name goes into the message
                data = yaml.load(stream, Loader=_YamlLoader)  # a SafeLoader
    except UnicodeDecodeError as exc:
        raise RecipeError(f"recipe file {path} is not UTF-8 text ({exc})") from None
    except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise RecipeError(
            f"recipe file {path} is not valid {kind}: {_at_line(exc, path)}"
        ) from None
    if data is None:
        raise RecipeError(f"recipe file {path} is empty; `vegcube recipe init` writes a template")
    if not isinstance(data, dict):
        raise RecipeError(
            f"recipe file {path} must hold a mapping of sections (name:, aoi:, time:, …), "
            f"got a {type(data).__name__}"
        )
    return data


def _at_line(exc: Exception, path: Path) -> str:
    """A TOML error with the text of its line (tomllib names the line, not the key)."""
    import re

    found = re.search(r"at line (\d+)", str(exc))
    if not isinstance(exc, tomllib.TOMLDecodeError) or found is None:
        return str(exc)
    try:
        line = path.read_text(encoding="utf-8").splitlines()[int(found.group(1)) - 1]
    except (OSError, IndexError, ValueError):
        return str(exc)
    return f"{exc}: `{line.strip()}`"


def _format(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if not field:  # checks across sections name their key at the start of the message
            field, _, msg = msg.partition(": ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; `vegcube recipe init` lists every key)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"].startswith("date_"):
            msg += f"; write a date: YYYY-MM-DD (got {err['input']!r})"
        lines.append(f"{field}: {msg}")
    return lines


def load_recipe(recipe: Recipe | dict[str, Any] | str | os.PathLike[str]) -> Recipe:
    """Validate a recipe given as a `Recipe`, a dict, or a YAML/TOML file path.

    Relative paths inside a recipe file are resolved against the file's folder.
    Raises `RecipeError` listing every problem, each prefixed with its key.
    """
    if isinstance(recipe, Recipe):
        return recipe
    base: Path | None = None
    if isinstance(recipe, dict):
        data = recipe
    else:
        path = Path(recipe)
        data, base = _read(path), path.parent
    try:
        parsed = Recipe.model_validate(data)
    except ValidationError as exc:
        problems = _format(exc)
        raise RecipeError(
            "invalid recipe:\n  " + "\n  ".join(problems), problems=problems
        ) from None
    if base is not None:
        parsed = _rebase(parsed, base)
    return parsed


def _rebase(recipe: Recipe, base: Path) -> Recipe:
    """Resolve relative file paths of a recipe file against its folder."""

    def fix(p: Path) -> Path:
        return p if p.is_absolute() else base / p

    out = recipe.output.model_copy(update={"dir": fix(recipe.output.dir)})
    regions = recipe.regions
    if regions is not None:
        regions = regions.model_copy(update={"path": fix(regions.path)})
    aoi = recipe.aoi
    if aoi.path is not None:
        aoi = aoi.model_copy(update={"path": fix(aoi.path)})

    def local(catalog: str) -> bool:  # a file or folder, not a URL or a known name
        from ..catalog.names import CATALOGS

        if "://" in catalog or catalog in CATALOGS:
            return False
        return catalog.endswith((".json", ".txt")) or "/" in catalog or (base / catalog).exists()

    src = recipe.source
    if local(src.catalog):  # a static catalog.json, a folder or list of files (SWI)
        src = src.model_copy(update={"catalog": str(fix(Path(src.catalog)))})
    lst = recipe.lst
    if lst is not None and lst.catalog and local(lst.catalog):
        lst = lst.model_copy(update={"catalog": str(fix(Path(lst.catalog)))})
    return recipe.model_copy(
        update={"output": out, "aoi": aoi, "source": src, "regions": regions, "lst": lst}
    )
