"""The table of periods: dekads and months."""

from __future__ import annotations

from vegcube import composite


def test_periods_table_dekads_and_months():
    d = composite.periods("2020-02-05", "2020-03-25", "dekad")
    assert [str(s.date()) for s in d.start] == [
        "2020-02-01",
        "2020-02-11",
        "2020-02-21",
        "2020-03-01",
        "2020-03-11",
        "2020-03-21",
    ]
    assert str(d.end[2].date()) == "2020-02-29"  # leap year
    assert d.period_of_year.tolist() == [4, 5, 6, 7, 8, 9]
    m = composite.periods("2020-11-15", "2021-01-02", "month")
    assert m.period_of_year.tolist() == [11, 12, 1]
    assert str(m.end[0].date()) == "2020-11-30"
