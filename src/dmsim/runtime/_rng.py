"""A seeded RNG tree: child generators derived by name, so adding one stream shifts no other."""

from __future__ import annotations

import hashlib
import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["RngTree"]


class RngTree:
    """A node of the tree: ``RngTree(7).child("devices").child("arm-1").random()``."""

    __slots__ = ("path", "seed")

    def __init__(self, seed: int, path: str = "") -> None:
        self.seed = seed
        self.path = path

    def child(self, name: str) -> RngTree:
        if "/" in name:
            raise ValueError(f"RNG child names cannot contain '/': {name!r}")
        return RngTree(self.seed, f"{self.path}/{name}")

    def derived_seed(self) -> int:
        """A 64-bit seed that depends only on the root seed and this node's path."""
        digest = hashlib.blake2b(
            f"{self.seed}:{self.path}".encode(), digest_size=8, person=b"dmsim-rng"
        ).digest()
        return int.from_bytes(digest, "big")

    def random(self) -> random.Random:
        """A fresh ``random.Random`` for this node (the same sequence every call)."""
        return random.Random(self.derived_seed())

    def numpy(self) -> np.random.Generator:
        """A fresh numpy ``Generator`` for this node (the same sequence every call)."""
        import numpy as np  # lazily: commands that never simulate a device skip its import

        return np.random.default_rng(self.derived_seed())

    def __repr__(self) -> str:
        return f"RngTree(seed={self.seed}, path={self.path or '/'!r})"
