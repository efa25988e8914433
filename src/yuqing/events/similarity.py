"""Similarities of a batch's items to the recent events and to each other, as Python lists.

Both are products over the batch's own columns (``BatchVectors.used``): the recent events'
profiles are mapped onto them through a column table (their other columns add nothing to a
product). Only similarities of at least ``NEGLIGIBLE`` are kept, as Python lists (indptr,
indices, data) per item: the loop that places items one by one reads plain lists faster
than numpy scalars.

A **small batch** (a stream with links: a batch of 500 posts holds some 20 original posts
to compare by text) is multiplied as dense matrices, a few numpy calls whatever its size; a
sparse product costs a dozen scipy calls of checks and conversions each, about 1 ms a
batch on the shared machine. A large batch (news, imports: hundreds of articles) is
multiplied sparse, against scipy's own transpose (``.T.tocsr()``: the same arrays the
batch's keys gave column by column, and faster). Both give
the same similarities up to rounding in the last bits of a float32.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from yuqing.events.vectors import BUCKETS, BatchVectors

NEGLIGIBLE = 0.01  # similarities below (a tenth of the bar to join) are left out of sums
DENSE_CELLS = 1 << 17  # a batch whose dense matrices stay this small is multiplied dense

Lists = tuple[list[int], list[int], list[float]]

_TABLES = threading.local()


def _column_table() -> np.ndarray:
    """A column → compact column table, -1 where unused: one per thread (two imports may
    place batches at once), made once (4 MB) and reset after each use."""
    table = getattr(_TABLES, "table", None)
    if table is None:
        table = _TABLES.table = np.full(BUCKETS, -1, dtype=np.int32)
    return table


def _lists(rows: np.ndarray, columns: np.ndarray, values: np.ndarray, count: int) -> Lists:
    """Entries (row-major order) as per-row Python lists."""
    indptr = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=count), out=indptr[1:])
    return indptr.tolist(), columns.tolist(), values.tolist()


class Products:
    """The products of one batch (``to_events``, ``to_earlier``)."""

    def __init__(self, vectors: BatchVectors) -> None:
        self.vectors = vectors
        self.count = vectors.count
        self.width = len(vectors.used)
        self.dense = self.count * max(self.width, 1) <= DENSE_CELLS
        self._matrix: np.ndarray | None = None

    def _items(self) -> np.ndarray:
        """The batch's vectors as a dense items × used-columns matrix (small batches)."""
        if self._matrix is None:
            rows = self.vectors.matrix
            self._matrix = np.zeros((self.count, self.width), dtype=np.float32)
            owner = np.repeat(np.arange(self.count), np.diff(rows.indptr))
            self._matrix[owner, self.vectors.compact] = rows.data
        return self._matrix

    def to_events(
        self, columns: Sequence[np.ndarray], weights: Sequence[np.ndarray], members: np.ndarray
    ) -> Lists:
        """Each item's similarity to each event (given by its profile's columns and summed
        weights) divided by its member count: the event's part of the item's average."""
        count, events = self.count, len(columns)
        if not events or not self.width:
            return [0] * (count + 1), [], []
        lengths = np.fromiter(map(len, columns), np.int64, events)
        table, used = _column_table(), self.vectors.used
        table[used] = np.arange(len(used), dtype=np.int32)
        try:
            mapped = table[np.concatenate(columns)]
        finally:
            table[used] = -1
        kept = mapped >= 0
        values = np.concatenate(weights)[kept]
        members = np.maximum(members, 1)
        if self.dense and events * self.width <= DENSE_CELLS:
            owner = np.repeat(np.arange(events), lengths)[kept]
            profiles = np.zeros((events, self.width), dtype=np.float32)
            profiles[owner, mapped[kept]] = values
            shares = (self._items() @ profiles.T) / members
            rows, found = np.nonzero(shares >= NEGLIGIBLE)
            return _lists(rows, found, shares[rows, found], count)
        # kept entries before each profile's end (a profile may have no columns at all)
        indptr = np.concatenate([[0], np.cumsum(kept)])[np.concatenate([[0], np.cumsum(lengths)])]
        profiles_t = sparse.csr_matrix((values, mapped[kept], indptr), shape=(events, self.width)).T
        products = sparse.csr_matrix(self._sparse_items() @ profiles_t)
        data = products.data / members[products.indices]
        keep = data >= NEGLIGIBLE
        rows = np.repeat(np.arange(count), np.diff(products.indptr))
        return _lists(rows[keep], products.indices[keep], data[keep], count)

    def to_earlier(self) -> Lists:
        """Each item's similarities to the earlier items of its batch (only those can have
        been placed when it is)."""
        count = self.count
        if self.dense:
            items = self._items()
            products = items @ items.T
            rows, found = np.nonzero(np.tril(products, -1) >= NEGLIGIBLE)
            return _lists(rows, found, products[rows, found], count)
        items = self._sparse_items()
        products = items @ items.T.tocsr()  # scipy's transpose: rows ascending per column
        counts = np.diff(products.indptr)
        rows = np.repeat(np.arange(count), counts)
        keep = (products.indices < rows) & (products.data >= NEGLIGIBLE)
        return _lists(rows[keep], products.indices[keep], products.data[keep], count)

    def _sparse_items(self) -> sparse.csr_matrix:
        rows = self.vectors.matrix
        return sparse.csr_matrix(
            (rows.data, self.vectors.compact, rows.indptr), shape=(self.count, self.width)
        )
