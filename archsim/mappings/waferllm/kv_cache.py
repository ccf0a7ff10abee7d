"""KV cache on a core grid: WaferLLM's shift-based cache and the concatenation baseline.

Tokens of a layer's cache sit along the rows of a decode stage (each KV head's dims along the
columns of its group). Concatenation (as on a GPU) appends every new token to the last row:
that row fills first and does all the extra attention work. The shift-based cache appends to
the last row and then lets each row pass its oldest token to the row above until a row with
room absorbs it, so rows differ by at most one token, order is kept (row r holds older
tokens than row r+1) and every move is a one-hop transfer between neighbouring rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from archsim.mappings.waferllm.comm import NeighbourShift
from archsim.mappings.waferllm.layouts import cdiv


class ShiftKVCache:
    """Functional model of the shift-based cache (token ids per row); used by tests and docs."""

    def __init__(self, rows: int, prompt=()):
        self.rows = [[] for _ in range(rows)]
        self.moves = 0            # row-to-row token moves (one hop each)
        for t in prompt:
            self.append(t)

    def append(self, token) -> int:
        """Add a token at the bottom and rebalance; returns the one-hop moves it took."""
        rows = self.rows
        rows[-1].append(token)
        moves = 0
        r = len(rows) - 1
        # pass the oldest token up while the row above holds fewer tokens than this one
        while r > 0 and len(rows[r - 1]) < len(rows[r]):
            rows[r - 1].append(rows[r].pop(0))
            moves += 1
            r -= 1
        self.moves += moves
        return moves

    def tokens(self) -> list:
        return [t for row in self.rows for t in row]

    def counts(self) -> list:
        return [len(r) for r in self.rows]

    def balanced(self) -> bool:
        c = self.counts()
        return max(c) - min(c) <= 1

    def ordered(self) -> bool:
        flat = self.tokens()
        return flat == sorted(flat)


class ConcatKVCache:
    """The concatenation baseline: the prompt is spread by prefill, new tokens pile up on
    the last row."""

    def __init__(self, rows: int, prompt=()):
        prompt = list(prompt)
        per = cdiv(len(prompt), rows) if prompt else 0
        self.rows = [prompt[i * per:(i + 1) * per] for i in range(rows)]

    def append(self, token) -> int:
        self.rows[-1].append(token)
        return 0

    def tokens(self) -> list:
        return [t for row in self.rows for t in row]

    def counts(self) -> list:
        return [len(r) for r in self.rows]


@dataclass(frozen=True)
class KVPolicy:
    name: str = "shift"     # 'shift' or 'concat'

    def tokens_on_busiest_row(self, rows: int, kv_len: int, prompt: int) -> int:
        """Tokens the most loaded row holds (it bounds attention's local work)."""
        if self.name == "concat":
            return cdiv(prompt, rows) + max(kv_len - prompt, 0)
        return cdiv(kv_len, rows)

    def max_tokens(self, free_bytes_total: float, bytes_per_token: float, rows: int,
                   prompt: int = 0) -> int:
        """The longest context the cache holds: the shift cache fills every row;
        concatenation spreads the `prompt` over the rows and piles every new token on the
        last, so that row's share bounds it."""
        if bytes_per_token <= 0:
            return 0
        balanced = int(max(free_bytes_total, 0) // bytes_per_token)
        if self.name == "shift":
            return balanced
        row = balanced // rows
        spread = cdiv(prompt, rows)
        if spread > row:
            # not even the prompt fits: the longest prompt that does, spread
            return row * rows
        return prompt + row - spread

    def step_comm(self, grid, kv_elems: int, batch: int, bits: int):
        """The fabric work of one decode step per layer (None for concatenation); `kv_elems`:
        the cached elements per token a core holds (its K and V dims)."""
        if self.name != "shift":
            return None
        rows, cols = grid
        return NeighbourShift(n=rows, lines=cols, axis="y", elements=kv_elems * batch, bits=bits)
