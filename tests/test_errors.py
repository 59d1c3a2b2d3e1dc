"""Errors carry their field and hint apart from the message; the CLI's --version and
--traceback."""

from __future__ import annotations

import importlib.metadata
import pickle

from typer.testing import CliRunner

from vegcube.cli import _common, app
from vegcube.errors import BandError, InputError, RecipeError, SourceError, VegcubeError


def test_an_error_is_rekeyed_not_rewritten():
    err = SourceError("no collection 'x'", field="source.collection", hint="use one of: a, b")
    assert str(err) == "source.collection: no collection 'x'; use one of: a, b"
    lst = err.at("lst.collection")  # the caller knows which key the user wrote
    assert str(lst) == "lst.collection: no collection 'x'; use one of: a, b"
    assert str(err).startswith("source.collection")  # the original is unchanged
    assert isinstance(lst, SourceError) and lst.exit_code == 2
    # across processes (a dask worker's error) field and hint survive
    back = pickle.loads(pickle.dumps(lst))
    assert type(back) is SourceError and str(back) == str(lst)


def test_bad_input_is_one_family_of_value_errors():
    for cls in (RecipeError, SourceError, BandError):
        assert issubclass(cls, InputError) and issubclass(cls, ValueError)
        assert cls("x").exit_code == 2
    assert str(BandError("band 'red': missing", field="indices")) == "indices: band 'red': missing"
    assert RecipeError("a", problems=["a", "b"]).problems == ["a", "b"]
    assert VegcubeError("boom").exit_code == 1


def test_version_and_traceback_options(tmp_path, monkeypatch):
    runner = CliRunner()
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.output.strip() == f"vegcube {importlib.metadata.version('vegcube')}"

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("vegcube.runner.run", broken)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("x: 1\n")
    monkeypatch.setattr(_common, "settings", _common.Settings())
    plain = runner.invoke(app, ["run", str(recipe)])
    assert plain.exit_code == 1 and "ZeroDivisionError: a bug" in plain.output
    assert "Traceback" not in plain.output
    traced = runner.invoke(app, ["--traceback", "run", str(recipe)])
    assert traced.exit_code == 1 and "Traceback" in traced.output and "broken" in traced.output
