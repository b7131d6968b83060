"""Query API: filters, latest capture, tabular rows, read-only SQL, exports."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmsim.cloud import CaptureFilter, CloudCore
from dmsim.cloud._records import iso_from_ns, parse_count, parse_time
from dmsim.cloud.samples import binary_request, file_metadata, tabular_request
from dmsim.errors import CloudError

S = 1_000_000_000
BASE = 1_700_000_000


@pytest.fixture
def filled(core: CloudCore) -> CloudCore:
    core.ingest_data_capture(
        tabular_request([{"t": 1}, {"t": 2}], component_name="temp", tags=["lab"]), key="t1"
    )
    core.ingest_data_capture(
        tabular_request(
            [{"t": 3}], component_name="temp", start_ns=(BASE + 10) * S, tags=["lab", "night"]
        ),
        key="t2",
    )
    core.ingest_data_capture(
        tabular_request(
            [{"h": 40}], component_name="hum", part_id="part-2", start_ns=(BASE + 5) * S
        ),
        key="h1",
    )
    core.ingest_data_capture(binary_request([b"a", b"b"], start_ns=(BASE + 1) * S), key="c1")
    core.ingest_file(file_metadata("notes.txt", file_extension=".txt"), b"hello", key="f1")
    return core


def _names(items: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(i.component_name, i.kind) for i in items]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (CaptureFilter(part_id="part-2"), 1),
        (CaptureFilter(component_name="temp"), 3),
        (CaptureFilter(component_type="rdk:component:camera"), 2),
        (CaptureFilter(method_name="ReadImage"), 2),
        (CaptureFilter(data_type="tabular"), 4),
        (CaptureFilter(data_type="binary"), 2),
        (CaptureFilter(data_type="file"), 1),
        (CaptureFilter(tags=("lab",)), 3),
        (CaptureFilter(tags=("lab", "night")), 1),
        (CaptureFilter(since=BASE + 5), 2),
        (CaptureFilter(since=BASE + 1, until=BASE + 10), 4),
        (CaptureFilter(limit=2), 2),
        (CaptureFilter(offset=6), 1),
    ],
)
def test_filters(filled: CloudCore, query: CaptureFilter, expected: int) -> None:
    assert len(filled.query(query)) == expected
    if query.limit is None and not query.offset:
        assert filled.count(query) == expected


def test_results_are_ordered_by_capture_time(filled: CloudCore) -> None:
    times = [i.captured_ns for i in filled.query(CaptureFilter(data_type="tabular"))]
    assert times == sorted(times)


def test_latest_capture_per_component(filled: CloudCore) -> None:
    latest = filled.latest()
    by_component = {(i.part_id, i.component_name): i for i in latest}
    assert len(latest) == 4
    assert by_component[("part-1", "temp")].data() == {"t": 3.0}
    assert by_component[("part-1", "camera-1")].time_requested_ns == (BASE + 2) * S
    assert len(filled.latest(CaptureFilter(data_type="tabular"))) == 2


def test_tabular_rows_flatten_the_reading(filled: CloudCore) -> None:
    rows = filled.tabular_rows(CaptureFilter(component_name="temp"))
    assert [r["t"] for r in rows] == [1.0, 2.0, 3.0]
    assert rows[0]["time_requested"] == "2023-11-14T22:13:20.000000000Z"
    with pytest.raises(CloudError, match="tabular rows need"):
        filled.tabular_rows(CaptureFilter(data_type="binary"))


def test_sql_over_the_readings_view(filled: CloudCore) -> None:
    result = filled.sql(
        "SELECT component_name, json_extract(data, '$.t') AS t FROM readings"
        " WHERE json_extract(data, '$.t') >= ? ORDER BY t",
        [2],
    )
    assert result.columns == ("component_name", "t")
    assert result.rows == (("temp", 2.0), ("temp", 3.0))
    assert not result.truncated
    tags = filled.sql("SELECT DISTINCT j.value FROM readings, json_each(readings.tags) AS j")
    assert sorted(r[0] for r in tags.rows) == ["lab", "night"]


@pytest.mark.parametrize(
    ("statement", "rows"),
    [
        (
            "WITH t AS (SELECT component_name, count(*) n FROM readings GROUP BY 1)"
            " SELECT count(*) FROM t",
            ((2,),),
        ),
        ("WITH t AS MATERIALIZED (SELECT item_id FROM readings) SELECT count(*) FROM t", ((4,),)),
        ("WITH t AS NOT MATERIALIZED (SELECT 1 FROM readings) SELECT count(*) FROM t", ((4,),)),
        (
            "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 5)"
            " SELECT count(*), max(x) FROM r",
            ((5, 5),),
        ),
        ("WITH a AS (SELECT 1 AS x), b AS (SELECT x FROM a) SELECT count(*) FROM b", ((1,),)),
        ("SELECT count(*) FROM (SELECT 1 FROM readings)", ((4,),)),
        ("SELECT count(*) FROM readings", ((4,),)),
        ("SELECT count(*) FROM json_each('[1, 2]')", ((2,),)),
        ("WITH readings AS (SELECT 7 AS x) SELECT x FROM readings", ((7,),)),
        ("WITH mine AS (SELECT count(*) FROM readings) SELECT * FROM mine", ((4,),)),
    ],
)
def test_sql_reads_common_table_expressions(
    filled: CloudCore, statement: str, rows: tuple[tuple[object, ...], ...]
) -> None:
    assert filled.sql(statement).rows == rows


def test_sql_explains_a_query_plan(filled: CloudCore) -> None:
    plan = filled.sql("EXPLAIN QUERY PLAN SELECT count(*) FROM readings")
    assert plan.columns == ("id", "parent", "notused", "detail")
    assert "items" in plan.rows[0][3]


def test_sql_truncates_large_results(filled: CloudCore) -> None:
    result = filled.sql("SELECT item_id FROM readings", max_rows=2)
    assert (len(result.rows), result.truncated) == (2, True)


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM readings",
        "DELETE FROM items",
        "UPDATE items SET part_id = 'x'",
        "INSERT INTO uploads (upload_key) VALUES ('x')",
        "DROP VIEW readings",
        "CREATE TABLE t (a)",
        "SELECT * FROM items",
        "SELECT upload_key FROM uploads",
        "SELECT sql FROM sqlite_master",
        "PRAGMA query_only = OFF",
        "ATTACH DATABASE '/tmp/x.db' AS x",
        "SELECT 1; DELETE FROM items",
        "BEGIN",
        "SELECT count(*) FROM items",
        "SELECT count(*) FROM uploads",
        "SELECT count(*) FROM sqlite_master",
        "SELECT count(*) FROM main.sqlite_schema",
        "SELECT count(*) FROM dbstat",
        "SELECT count(*) FROM pragma_table_info('items')",
        "SELECT name FROM pragma_table_info('items')",
        "SELECT load_extension('x')",
        "WITH t AS (SELECT 1) SELECT count(*) FROM t, items",
        "WITH t AS (SELECT * FROM items) SELECT count(*) FROM t",
        # SQLite names reads inside a CTE after the CTE, as it names reads inside the view
        # after the view: a CTE called `readings` must not read `items` as if it were the view.
        "WITH readings AS (SELECT raw, file_name FROM items) SELECT * FROM readings",
        "WITH READINGS AS MATERIALIZED (SELECT kind FROM items) SELECT * FROM readings",
        'WITH t AS (SELECT 1), "readings"(k) AS (SELECT upload_key FROM items)'
        " SELECT k FROM t, readings",
        "WITH readings AS (SELECT raw FROM items INDEXED BY items_by_time) SELECT * FROM readings",
        "SELECT (WITH readings AS (SELECT raw FROM main.items) SELECT raw FROM readings)",
    ],
)
def test_sql_refuses_anything_but_reading_the_view(filled: CloudCore, statement: str) -> None:
    before = filled.count()
    with pytest.raises(CloudError) as refused:
        filled.sql(statement)
    assert refused.value.code == "INVALID_ARGUMENT"
    assert filled.count() == before
    filled.ingest_data_capture(tabular_request([{"after": 1}]), key=f"after-{statement}")
    assert filled.count() == before + 1  # the connection still writes normally afterwards


@pytest.mark.parametrize("result", ["max(x)", "count(*)"])
def test_sql_stops_a_runaway_statement(filled: CloudCore, result: str) -> None:
    with pytest.raises(CloudError, match="stopped after"):
        filled.sql(
            "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r)"
            f" SELECT {result} FROM r",
            max_steps=1_000_000,
        )


def test_export_jsonl_has_one_object_per_item(filled: CloudCore) -> None:
    out = io.StringIO()
    assert filled.export(out, format="jsonl") == 7
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(records) == 7
    file_record = next(r for r in records if r["kind"] == "file")
    assert (file_record["file_name"], file_record["size"]) == ("notes.txt", 5)
    assert {r["data"]["t"] for r in records if r["component_name"] == "temp"} == {1.0, 2.0, 3.0}


def test_export_csv_round_trips_through_a_csv_reader(filled: CloudCore) -> None:
    out = io.StringIO()
    filled.export(out, format="csv", query=CaptureFilter(component_name="temp"))
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [json.loads(r["data"])["t"] for r in rows] == [1.0, 2.0, 3.0]
    assert rows[2]["tags"] == '["lab", "night"]'


def test_unknown_item_is_not_found(core: CloudCore) -> None:
    with pytest.raises(CloudError, match="NOT_FOUND"):
        core.get_item("nope")


def test_tabular_item_has_no_blob(filled: CloudCore) -> None:
    item = filled.query(CaptureFilter(data_type="tabular"))[0]
    with pytest.raises(CloudError, match="has no blob"):
        filled.read_blob(item.item_id)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data_type": "video"}, "filter.data_type"),
        ({"limit": -1}, "filter.limit"),
        ({"since": 10.0, "until": 5.0}, r"until \(5.0\) is before since"),
        ({"since": float("nan")}, "filter.since: nan is not a time between"),
        ({"until": float("inf")}, "filter.until: inf is not a time between"),
        ({"since": 1e30}, "filter.since: 1e[+]30 is not a time between 1970-01-01T00:00:00Z"),
        ({"since": -5.0}, "filter.since: -5.0 is not a time between"),
        ({"limit": 2**63}, "filter.limit: 9223372036854775808 is more than 2\\^63 - 1"),
        ({"offset": 2**63}, "filter.offset: 9223372036854775808 is more than"),
    ],
)
def test_bad_filters_are_rejected(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(CloudError, match=message):
        CaptureFilter(**kwargs)


def test_times_far_apart_but_in_range_do_not_overflow(filled: CloudCore) -> None:
    everything = CaptureFilter(since=0, until=9_223_372_036)  # 1970 … 2262, int64 nanoseconds
    assert len(filled.query(everything)) == 7


@given(st.integers(min_value=-(10**18), max_value=4 * 10**18))
def test_iso_stamps_are_utc_with_nine_fraction_digits(ns: int) -> None:
    whole = datetime.fromtimestamp(ns // 10**9, tz=UTC)
    assert iso_from_ns(ns) == f"{whole:%Y-%m-%dT%H:%M:%S}.{ns % 10**9:09d}Z"


def test_iso_stamps_of_neighbouring_instants_keep_their_own_second() -> None:
    assert iso_from_ns(1_700_000_000_999_999_999) == "2023-11-14T22:13:20.999999999Z"
    assert iso_from_ns(1_700_000_001_000_000_000) == "2023-11-14T22:13:21.000000000Z"
    assert iso_from_ns(-1) == "1969-12-31T23:59:59.999999999Z"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1700000000.5", 1_700_000_000.5),
        ("1.7e9", 1_700_000_000.0),
        ("20231114", 20_231_114.0),  # a plain number is always seconds, never an ISO basic date
        ("2023-11-14", 1_699_920_000.0),
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-14T23:13:20+01:00", 1_700_000_000.0),
        ("0", 0.0),
    ],
)
def test_parse_time(text: str, seconds: float) -> None:
    assert parse_time(text, "--since") == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nan", "'nan' is neither seconds since the epoch nor an ISO-8601"),
        ("inf", "'inf' is neither"),
        ("1e30", "'1e30' is not a time between 1970-01-01T00:00:00Z and 2262-04-11T23:47:16Z"),
        ("-1e12", "'-1e12' is not a time between"),
        ("-5", "'-5' is not a time between"),  # before 1970: refused, most likely a mistake
        ("1969-12-31T23:59:59Z", "'1969-12-31T23:59:59Z' is not a time between"),
        ("9999-12-31", "is not a time between"),
        ("20231114T221320Z", "is neither"),  # ISO-8601 needs its dashes here
        ("\u0661\u0662", "is neither"),  # Arabic-Indic digits, which float() reads
        (" 5", "is neither"),
        ("1_000", "is neither"),
    ],
)
def test_parse_time_rejects_what_is_no_time(text: str, message: str) -> None:
    with pytest.raises(CloudError, match=message) as refused:
        parse_time(text, "--since")
    assert str(refused.value).startswith(f"INVALID_ARGUMENT: --since: {text!r} is ")


def test_parse_count() -> None:
    assert parse_count("0", "limit") == 0
    assert parse_count(str(2**63 - 1), "limit") == 2**63 - 1
    for text in ("-1", "1.5", "\u00b2", "\u0661", " 1", "1_0", "", "0x10"):
        with pytest.raises(CloudError, match=re.escape(f"limit: {text!r} is not a whole number")):
            parse_count(text, "limit")
    with pytest.raises(CloudError, match=r"limit: 99999999999999999999 is more than 2\^63 - 1"):
        parse_count("99999999999999999999", "limit")
