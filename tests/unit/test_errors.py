"""Errors carry their field and hint apart from the message; one family of bad-input errors."""

from __future__ import annotations

import pickle

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
