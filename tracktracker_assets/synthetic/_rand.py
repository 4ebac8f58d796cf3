"""Small deterministic helpers: stable hashing and Spotify-style ids, weighted picks, Poisson draws.

Randomness comes from random.Random seeded through _mix (never hash(), which changes per process), so
the same seed gives the same bytes on every run.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

_MASK64 = (1 << 64) - 1
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _mix(*parts: int) -> int:
    """SplitMix64-style mixing: stable across runs and Python versions, unlike hash()."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = ((h ^ (p & _MASK64)) * 0xBF58476D1CE4E5B9) & _MASK64
        h = ((h ^ (h >> 31)) * 0x94D049BB133111EB) & _MASK64
        h ^= h >> 29
    return h


def _key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _spotify_id(*parts: object) -> str:
    """22 base62 characters, stable for the same parts (track / episode / chapter identity)."""
    n = int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=17).digest(), "big")
    chars = []
    for _ in range(22):
        n, r = divmod(n, 62)
        chars.append(_B62[r])
    return "".join(chars)


def _cum(weights: Iterable[float]) -> list[float]:
    return list(itertools.accumulate(weights))


@lru_cache(maxsize=64)
def _zipf_cum(n: int, s: float) -> tuple[float, ...]:
    return tuple(itertools.accumulate(1.0 / (k + 1) ** s for k in range(n)))


def _pick(rnd: Callable[[], float], cum: Sequence[float]) -> int:
    i = bisect_right(cum, rnd() * cum[-1])
    return i if i < len(cum) else len(cum) - 1


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
