"""Well-formed upload messages for tests, benchmarks and demos of the cloud."""

from ._samples import Box, binary_request, file_metadata, streaming_metadata, tabular_request

__all__ = ["Box", "binary_request", "file_metadata", "streaming_metadata", "tabular_request"]
