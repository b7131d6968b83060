"""Read dmsim's reading identity (protobuf unknown field 71000, see
:mod:`dmsim.storage._identity`) from what a client uploaded.

The cloud only reads identities. It looks for the field on each ``SensorData`` and, for
StreamingDataCaptureUpload (which carries no ``SensorData``), on the ``SensorMetadata``.
Readings without an identity (written by rdk or any other client) decode to ``None``; so does
a malformed identity: the reading is still valid Viam data, the oracle just cannot follow it.
"""

from __future__ import annotations

from google.protobuf.message import Message
from google.protobuf.unknown_fields import UnknownFieldSet

from dmsim.errors import StorageError
from dmsim.storage._identity import IDENTITY_FIELD_NUMBER, ReadingId, parse_identity

__all__ = ["decode_reading_id"]

_LENGTH_DELIMITED = 2


def decode_reading_id(message: Message) -> ReadingId | None:
    chunks = [
        bytes(field.data)
        for field in UnknownFieldSet(message)
        if field.field_number == IDENTITY_FIELD_NUMBER and field.wire_type == _LENGTH_DELIMITED
    ]
    if not chunks:
        return None
    try:
        return parse_identity(chunks)
    except StorageError:
        return None
