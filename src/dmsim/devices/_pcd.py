"""PCD v0.7 point clouds: an encoder (ascii or binary) and a strict parser.

The parser checks what a sloppy one lets through: every header line present and in order,
``FIELDS``/``SIZE``/``TYPE``/``COUNT`` of equal length, ``WIDTH × HEIGHT == POINTS``, and a data
section of exactly the right length (binary: ``POINTS × row size`` bytes; ascii: ``POINTS``
lines of the right number of values). It raises :class:`PcdError` naming what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dmsim.errors import DmsimError

__all__ = ["PcdError", "PointCloud", "encode_pcd", "parse_pcd"]

_HEADER_KEYS = (
    "VERSION",
    "FIELDS",
    "SIZE",
    "TYPE",
    "COUNT",
    "WIDTH",
    "HEIGHT",
    "VIEWPOINT",
    "POINTS",
    "DATA",
)
_DTYPES = {
    ("F", 4): "<f4",
    ("F", 8): "<f8",
    ("I", 1): "<i1",
    ("I", 2): "<i2",
    ("I", 4): "<i4",
    ("I", 8): "<i8",
    ("U", 1): "<u1",
    ("U", 2): "<u2",
    ("U", 4): "<u4",
    ("U", 8): "<u8",
}


class PcdError(DmsimError):
    """A byte string is not a valid PCD v0.7 point cloud."""


@dataclass(frozen=True, slots=True)
class PointCloud:
    """A parsed cloud: ``data`` is a structured array with one named column per field."""

    fields: tuple[str, ...]
    width: int
    height: int
    data_format: str
    data: npt.NDArray[np.void]

    @property
    def points(self) -> int:
        return int(self.data.shape[0])

    def xyz(self) -> npt.NDArray[np.float64]:
        return np.stack([self.data[c].astype(np.float64) for c in ("x", "y", "z")], axis=1)


def encode_pcd(
    xyz: npt.NDArray[np.float32], rgb: npt.NDArray[np.uint32], *, data_format: str = "binary"
) -> bytes:
    """PCD v0.7 with fields ``x y z`` (float32, metres) and ``rgb`` (packed 0xRRGGBB, int32),
    the layout rdk writes."""
    count = int(xyz.shape[0])
    header = (
        "# .PCD v0.7 - Point Cloud Data file format\n"
        "VERSION 0.7\nFIELDS x y z rgb\nSIZE 4 4 4 4\nTYPE F F F I\nCOUNT 1 1 1 1\n"
        f"WIDTH {count}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {count}\nDATA {data_format}\n"
    )
    rows = np.empty(count, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("rgb", "<i4")])
    rows["x"], rows["y"], rows["z"] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    rows["rgb"] = rgb.astype(np.int64).astype("<i4")
    if data_format == "binary":
        return header.encode("ascii") + rows.tobytes()
    if data_format != "ascii":
        raise PcdError(f"unknown PCD data format {data_format!r} (use binary or ascii)")
    lines = [
        f"{x:.6g} {y:.6g} {z:.6g} {c}"
        for x, y, z, c in zip(
            rows["x"].tolist(),
            rows["y"].tolist(),
            rows["z"].tolist(),
            rows["rgb"].tolist(),
            strict=True,
        )
    ]
    return (header + "\n".join(lines) + ("\n" if lines else "")).encode("ascii")


def _read_header(blob: bytes) -> tuple[dict[str, list[str]], int]:
    values: dict[str, list[str]] = {}
    expected = iter(_HEADER_KEYS)
    offset = 0
    while "DATA" not in values:
        end = blob.find(b"\n", offset)
        if end < 0:
            raise PcdError(f"header ends before DATA (after {', '.join(values) or 'nothing'})")
        try:
            line = blob[offset:end].decode("ascii").strip()
        except UnicodeDecodeError:
            raise PcdError(f"header line at byte {offset} is not ASCII") from None
        offset = end + 1
        if not line or line.startswith("#"):
            continue
        key, *rest = line.split()
        want = next(expected, None)
        if key != want:
            raise PcdError(f"header line {key!r} where {want!r} was expected")
        values[key] = rest
    return values, offset


def _int(values: dict[str, list[str]], key: str) -> int:
    items = values[key]
    if len(items) != 1 or not items[0].isdecimal():
        raise PcdError(f"{key} must be one non-negative integer, got {' '.join(items)!r}")
    return int(items[0])


def parse_pcd(blob: bytes) -> PointCloud:
    """Parse and validate a PCD v0.7 byte string (``ascii`` or ``binary`` data)."""
    values, offset = _read_header(blob)
    if values["VERSION"] not in (["0.7"], [".7"]):
        raise PcdError(f"VERSION must be 0.7, got {' '.join(values['VERSION'])!r}")
    fields = values["FIELDS"]
    if not fields or len(set(fields)) != len(fields):
        raise PcdError("FIELDS must name at least one field, each once")
    for key in ("SIZE", "TYPE", "COUNT"):
        if len(values[key]) != len(fields):
            raise PcdError(f"{key} has {len(values[key])} entries for {len(fields)} fields")
    dtype_fields = []
    for name, size, kind, count in zip(
        fields, values["SIZE"], values["TYPE"], values["COUNT"], strict=True
    ):
        code = _DTYPES.get((kind, int(size) if size.isdecimal() else -1))
        if code is None or not count.isdecimal() or int(count) < 1:
            raise PcdError(f"field {name!r}: unsupported TYPE/SIZE/COUNT {kind}/{size}/{count}")
        dtype_fields.append((name, code) if int(count) == 1 else (name, code, (int(count),)))
    dtype = np.dtype(dtype_fields)
    width, height, points = _int(values, "WIDTH"), _int(values, "HEIGHT"), _int(values, "POINTS")
    if width * height != points:
        raise PcdError(f"WIDTH × HEIGHT = {width * height} but POINTS = {points}")
    if len(values["VIEWPOINT"]) != 7:
        raise PcdError("VIEWPOINT must have 7 numbers")
    data_format = " ".join(values["DATA"])
    body = blob[offset:]
    if data_format == "binary":
        if len(body) != points * dtype.itemsize:
            raise PcdError(
                f"binary data is {len(body)} bytes; {points} points × {dtype.itemsize} = "
                f"{points * dtype.itemsize} expected"
            )
        data = np.frombuffer(body, dtype=dtype).copy()
    elif data_format == "ascii":
        data = _parse_ascii(body, dtype, points)
    else:
        raise PcdError(f"DATA {data_format!r} is not supported (ascii or binary)")
    return PointCloud(tuple(fields), width, height, data_format, data)


def _parse_ascii(body: bytes, dtype: np.dtype[np.void], points: int) -> npt.NDArray[np.void]:
    lines = body.decode("ascii", errors="replace").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) != points:
        raise PcdError(f"ascii data has {len(lines)} lines for {points} points")
    width = sum(int(np.prod(dtype[name].shape or (1,))) for name in dtype.names or ())
    rows = []
    for index, line in enumerate(lines):
        parts = line.split()
        if len(parts) != width:
            raise PcdError(f"ascii point {index} has {len(parts)} values, {width} expected")
        try:
            rows.append([float(p) for p in parts])
        except ValueError:
            raise PcdError(f"ascii point {index} has a non-numeric value") from None
    flat = np.array(rows, dtype=np.float64).reshape(points, width)
    data = np.empty(points, dtype=dtype)
    column = 0
    for name in dtype.names or ():
        n = int(np.prod(dtype[name].shape or (1,)))
        block = flat[:, column : column + n]
        data[name] = block[:, 0] if n == 1 else block
        column += n
    return data
