"""Export a capture directory to MCAP, for Foxglove and CRC-checked archives.

Choices (what Foxglove opens, per its docs on JSON and ``foxglove.CompressedImage``):

- one channel per collector, i.e. per (component, method, additional_params): message encoding
  ``json``, schema encoding ``jsonschema``; channel metadata carries the component type and the
  method parameters. The parameters split channels because collectors may differ in them only
  (board ``Analogs`` of pins A1 and A2): one channel per (component, method) would interleave
  their readings with nothing saying which is which. Topic ``/<component name>/<method>``, with
  ``/<key>=<value>,…`` (sorted by key, ``/ = , %`` and other unsafe characters percent-encoded)
  appended when there are parameters: unique (component names are unique on a machine), and
  stable because it depends on the collector alone, not on what else the directory holds.
- tabular readings: the ``Struct`` as a JSON object (plotted directly); the schema lists every
  field seen in the channel (two passes: infer, then write). Non-finite numbers, which JSON
  cannot hold, become the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` as in protobuf JSON.
- images (JPEG, PNG, WebP, AVIF by mime type or extension): ``foxglove.CompressedImage`` in JSON
  (``data`` base64, ``"contentEncoding": "base64"``); vision annotations go to
  ``<topic>/annotations`` as JSON.
- other binary payloads (point clouds, audio, unknown): MCAP attachments named
  ``<component>/<method>/<file stem>-<index><extension>`` with their media type.
- ``log_time`` = ``time_requested``, ``publish_time`` = ``time_received`` (ns; clamped at 0).
- chunk CRCs and the data-section CRC on (``enable_crcs``, ``enable_data_crcs``), zstd chunks.

The output is written through the filesystem port as ``<out>.part``, fsynced, then renamed (a
crash never leaves a half file under the final name). Damaged capture files, torn tails
included, contribute the readings before the damage and are listed in the report, as are files
that fail to read. An output that cannot be written is an error naming ``<out>`` (not the
``.part``, which is removed): read and write errors are kept apart so neither is blamed on the
other.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from google.protobuf import json_format, struct_pb2
from mcap.writer import CompressionType, Writer
from viam.proto.app.datasync import MimeType

from dmsim import __version__
from dmsim.errors import StorageError

from ._codec import CaptureFormatError
from ._fs import FileHandle, FileSystem
from ._inspect import (
    FileProblem,
    capture_files,
    method_parameters_of,
    read_failed_problem,
    torn_tail_problem,
    unopenable_problem,
)
from ._reader import CaptureReader, CaptureRecord

__all__ = ["ExportReport", "export_mcap", "struct_to_json"]

_Params = tuple[tuple[str, str], ...]
_IMAGE_FORMATS = {
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/png": "png",
    "image/webp": "webp",
    "image/avif": "avif",
}
_EXTENSION_MIME = {
    ".jpeg": "image/jpeg",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".pcd": "pointcloud/pcd",
}
_LEGACY_MIME = {
    MimeType.MIME_TYPE_IMAGE_JPEG: "image/jpeg",
    MimeType.MIME_TYPE_IMAGE_PNG: "image/png",
    MimeType.MIME_TYPE_APPLICATION_PCD: "pointcloud/pcd",
    MimeType.MIME_TYPE_VIDEO_MP4: "video/mp4",
}
_COMPRESSED_IMAGE_SCHEMA = {
    "title": "foxglove.CompressedImage",
    "type": "object",
    "properties": {
        "timestamp": {
            "type": "object",
            "properties": {
                "sec": {"type": "integer", "minimum": 0},
                "nsec": {"type": "integer", "minimum": 0, "maximum": 999_999_999},
            },
        },
        "frame_id": {"type": "string"},
        "data": {"type": "string", "contentEncoding": "base64"},
        "format": {"type": "string"},
    },
}
_ANNOTATIONS_SCHEMA = {
    "title": "viam.app.data.v1.Annotations",
    "type": "object",
    "properties": {"bboxes": {"type": "array"}, "classifications": {"type": "array"}},
}


def _number(x: float) -> float | str:
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def _value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return _number(value.number_value)
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return struct_to_json(value.struct_value)
    if kind == "list_value":
        return [_value(v) for v in value.list_value.values]
    return None


def struct_to_json(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A ``Struct`` as plain JSON data (total: unset values become ``null``)."""
    return {key: _value(struct.fields[key]) for key in sorted(struct.fields)}


def _schema_of(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        return {"type": "array"}
    if isinstance(value, dict):
        props = {k: _schema_of(v) for k, v in value.items()}
        return {"type": "object", "properties": props}
    return {}


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    if a == b:
        return a
    if a.get("type") == b.get("type") == "object":
        props = dict(a["properties"])
        for key, sub in b["properties"].items():
            props[key] = _merge(props[key], sub) if key in props else sub
        return {"type": "object", "properties": props}
    return {}  # fields whose kind changes between readings accept anything


@dataclass(slots=True)
class _Channel:
    topic: str
    kind: str
    metadata: dict[str, str]
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    channel_id: int | None = None
    annotations_id: int | None = None
    sequence: int = 0


@dataclass(frozen=True, slots=True)
class ExportReport:
    files: int
    messages: int
    attachments: int
    topics: tuple[str, ...]
    torn_tail_bytes: int
    problems: tuple[FileProblem, ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _HandleStream:
    """The write/tell/flush surface ``mcap.Writer`` needs, over a port file handle."""

    def __init__(self, handle: FileHandle) -> None:
        self._handle = handle
        self._pos = handle.size()

    def write(self, data: bytes) -> int:
        self._handle.write(bytes(data))
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        """Nothing buffered here; durability comes from the fsync at the end."""


def _mime(reader: CaptureReader, record: CaptureRecord) -> str:
    header = reader.metadata
    if header.mime_type:
        return header.mime_type
    legacy = _LEGACY_MIME.get(record.sensor_data.metadata.mime_type)
    if legacy:
        return legacy
    return _EXTENSION_MIME.get(header.file_extension.lower(), "application/octet-stream")


def _topic(component: str, method: str, params: _Params) -> str:
    topic = f"/{component}/{method}"
    if params:
        topic += "/" + ",".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)
    return topic


def _stamp(ns: int) -> int:
    return max(0, ns)


class _Exporter:
    def __init__(self, fs: FileSystem, files: Sequence[str]) -> None:
        self.fs = fs
        self.files = files
        # (component name, method, method parameters, kind)
        self.channels: dict[tuple[str, str, _Params, str], _Channel] = {}
        # An ordered set: a file may have several problems (a payload that cannot be read and
        # a torn tail), and both passes over the files meet the same ones.
        self.problems: dict[FileProblem, None] = {}
        self.torn = 0
        self.messages = 0
        self.attachments = 0

    def _records(self, path: str) -> Iterator[tuple[CaptureReader, CaptureRecord]]:
        """Every readable record of ``path``; damage is noted once, never raised."""
        try:
            reader = CaptureReader(self.fs, path)
        except CaptureFormatError as error:
            self.problems[FileProblem(path, error.offset, error.what)] = None
            return
        except StorageError as error:
            self.problems[unopenable_problem(path, error)] = None
            return
        except OSError as error:
            self.problems[read_failed_problem(path, error)] = None
            return
        with reader:
            try:
                for record in reader.records():
                    yield reader, record
            except CaptureFormatError as error:
                self.problems[FileProblem(path, error.offset, error.what)] = None
            except OSError as error:
                self.problems[read_failed_problem(path, error)] = None
            if reader.finished and reader.torn_tail_bytes:
                self.torn += reader.torn_tail_bytes
                self.problems[torn_tail_problem(reader)] = None

    def _channel(self, reader: CaptureReader, record: CaptureRecord) -> _Channel:
        md = reader.metadata
        image = record.is_binary and _mime(reader, record) in _IMAGE_FORMATS
        kind = "image" if image else ("binary" if record.is_binary else "tabular")
        params = method_parameters_of(md)
        key = (md.component_name, md.method_name, params, kind)
        channel = self.channels.get(key)
        if channel is None:
            topic = _topic(md.component_name, md.method_name, params)
            if any(c.topic == topic for c in self.channels.values()):
                topic += f"/{kind}"
            meta = {
                "component_type": md.component_type,
                "method_parameters": json.dumps(dict(params), sort_keys=True),
            }
            channel = self.channels[key] = _Channel(topic, kind, meta)
        return channel

    def infer(self) -> None:
        self.torn = 0
        for path in self.files:
            for reader, record in self._records(path):
                channel = self._channel(reader, record)
                if channel.kind == "tabular":
                    shape = _schema_of(struct_to_json(record.sensor_data.struct))
                    channel.schema = _merge(channel.schema, shape)

    def write(self, writer: Writer) -> None:
        self.torn = 0
        for channel in self.channels.values():
            if channel.kind == "binary":
                continue
            schema = _COMPRESSED_IMAGE_SCHEMA if channel.kind == "image" else channel.schema
            if channel.kind == "tabular":
                schema = {"title": channel.topic, **channel.schema}
            schema_id = writer.register_schema(
                name=str(schema["title"]),
                encoding="jsonschema",
                data=json.dumps(schema, sort_keys=True).encode(),
            )
            channel.channel_id = writer.register_channel(
                topic=channel.topic,
                message_encoding="json",
                schema_id=schema_id,
                metadata=channel.metadata,
            )
        for path in self.files:
            for reader, record in self._records(path):
                self._write_record(writer, path, reader, record)

    def _annotations_channel(self, writer: Writer, channel: _Channel) -> int:
        if channel.annotations_id is None:
            schema_id = writer.register_schema(
                name=str(_ANNOTATIONS_SCHEMA["title"]),
                encoding="jsonschema",
                data=json.dumps(_ANNOTATIONS_SCHEMA, sort_keys=True).encode(),
            )
            channel.annotations_id = writer.register_channel(
                topic=channel.topic + "/annotations", message_encoding="json", schema_id=schema_id
            )
        return channel.annotations_id

    def _write_record(
        self, writer: Writer, path: str, reader: CaptureReader, record: CaptureRecord
    ) -> None:
        channel = self._channel(reader, record)
        payload = b""
        if record.is_binary:
            try:
                payload = reader.read_payload(record)
            except OSError as error:
                self.problems[read_failed_problem(path, error)] = None
                return
        meta = record.sensor_data.metadata
        log_time = _stamp(meta.time_requested.ToNanoseconds())
        publish = log_time
        if meta.HasField("time_received"):
            publish = _stamp(meta.time_received.ToNanoseconds())
        if channel.kind == "binary":
            md = reader.metadata
            stem = posixpath.basename(path).rsplit(".", 1)[0]
            name = f"{md.component_name}/{md.method_name}/{stem}-{record.index}{md.file_extension}"
            writer.add_attachment(
                create_time=publish,
                log_time=log_time,
                name=name,
                media_type=_mime(reader, record),
                data=payload,
            )
            self.attachments += 1
            return
        if channel.kind == "image":
            sec, nsec = divmod(log_time, 1_000_000_000)
            body: dict[str, Any] = {
                "timestamp": {"sec": sec, "nsec": nsec},
                "frame_id": reader.metadata.component_name,
                "data": base64.b64encode(payload).decode("ascii"),
                "format": _IMAGE_FORMATS[_mime(reader, record)],
            }
        else:
            body = struct_to_json(record.sensor_data.struct)
        assert channel.channel_id is not None
        writer.add_message(
            channel_id=channel.channel_id,
            log_time=log_time,
            publish_time=publish,
            data=json.dumps(body, separators=(",", ":"), allow_nan=False).encode(),
            sequence=channel.sequence & 0xFFFFFFFF,
        )
        channel.sequence += 1
        self.messages += 1
        notes = meta.annotations
        if channel.kind == "image" and (notes.bboxes or notes.classifications):
            writer.add_message(
                channel_id=self._annotations_channel(writer, channel),
                log_time=log_time,
                publish_time=publish,
                data=json_format.MessageToJson(notes, indent=None).encode(),
                sequence=channel.sequence & 0xFFFFFFFF,
            )
            self.messages += 1


def _write_mcap(fs: FileSystem, exporter: _Exporter, path: str) -> None:
    if fs.exists(path):
        fs.unlink(path)  # left by an interrupted export
    handle = fs.open_append(path)
    try:
        writer = Writer(
            _HandleStream(handle),  # type: ignore[arg-type]
            compression=CompressionType.ZSTD,
            enable_crcs=True,
            enable_data_crcs=True,
        )
        writer.start(profile="", library=f"dmsim {__version__}")
        exporter.write(writer)
        writer.finish()  # type: ignore[no-untyped-call]
        handle.fsync()
    finally:
        handle.close()


def export_mcap(fs: FileSystem, capture_path: str, out_path: str) -> ExportReport:
    """Write every capture file under ``capture_path`` into the MCAP file ``out_path``.

    Raises :class:`StorageError` naming ``out_path`` if it cannot be written (no ``.part`` is
    left behind); a capture file that cannot be read is a problem in the report instead."""
    listing = capture_files(fs, capture_path)
    exporter = _Exporter(fs, listing.files)
    exporter.infer()
    part = out_path + ".part"
    try:
        _write_mcap(fs, exporter, part)
        fs.rename(part, out_path)
        fs.fsync_dir(posixpath.dirname(out_path))
    except OSError as error:
        with contextlib.suppress(OSError):  # the write error is the one to report
            if fs.exists(part):
                fs.unlink(part)
        raise StorageError(f"cannot write {out_path}: {error.strerror or error}") from error
    channels = exporter.channels.values()
    topics = [c.topic for c in channels if c.kind != "binary"]
    topics += [c.topic + "/annotations" for c in channels if c.annotations_id is not None]
    return ExportReport(
        files=len(listing.files),
        messages=exporter.messages,
        attachments=exporter.attachments,
        topics=tuple(sorted(topics)),
        torn_tail_bytes=exporter.torn,
        problems=listing.problems + tuple(exporter.problems),
    )
