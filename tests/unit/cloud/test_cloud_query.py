"""Query API: filters, latest capture, tabular rows, read-only SQL, exports."""

from __future__ import annotations

import csv
import io
import json

import pytest

from dmsim.cloud import CaptureFilter, CloudCore
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


def test_sql_stops_a_runaway_statement(filled: CloudCore) -> None:
    with pytest.raises(CloudError, match="stopped after"):
        filled.sql(
            "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT max(x) FROM r",
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
    ],
)
def test_bad_filters_are_rejected(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(CloudError, match=message):
        CaptureFilter(**kwargs)
