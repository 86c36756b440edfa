"""Micro-batching: the recommendation requests that are ready together are scored together.

Under load, a server's event loop wakes with several requests ready at once. Each
awaits :meth:`MicroBatcher.answer`; the first schedules one run of the batch at the
end of the loop's current turn (``call_soon``, plus ``window_s`` when set), by which
time the requests of that turn have joined it. The batch goes to
:meth:`~embrec.recommend.engine.Recommender.answer_many`: one
``predictor.score_users`` call for its known users and one product with the ranking
model for all, instead of one of each per request. A lone request waits for no one:
with nothing else ready, its batch of one runs at the end of the same turn.

If the batch fails, each query is answered on its own, so an error reaches only the
request that caused it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Q = TypeVar("Q")
R = TypeVar("R")

MAX_BATCH = 64


class MicroBatcher(Generic[Q, R]):
    """Collects queries awaited in one event-loop turn and answers them with one call."""

    def __init__(
        self,
        answer_many: Callable[[Sequence[Q]], list[R]],
        window_s: float = 0.0,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.answer_many = answer_many
        self.window_s = window_s
        self.max_batch = max_batch
        self._pending: list[tuple[Q, asyncio.Future[R]]] = []
        self.batches = 0
        self.answered = 0

    async def answer(self, query: Q) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((query, future))
        if len(self._pending) == 1:
            if self.window_s > 0:
                loop.call_later(self.window_s, self.run)
            else:
                loop.call_soon(self.run)
        elif len(self._pending) >= self.max_batch:
            self.run()
        return await future

    def run(self) -> None:
        """Answer every pending query now (a no-op when none is pending)."""
        batch, self._pending = self._pending, []
        if not batch:
            return
        self.batches += 1
        self.answered += len(batch)
        queries = [query for query, _ in batch]
        try:
            results = self.answer_many(queries)
        except Exception:
            for query, future in batch:
                self._settle_alone(query, future)
            return
        for (_, future), result in zip(batch, results):
            if not future.done():
                future.set_result(result)

    def _settle_alone(self, query: Q, future: asyncio.Future[R]) -> None:
        try:
            result = self.answer_many([query])[0]
        except Exception as error:  # noqa: BLE001 - handed to the request that asked
            if not future.done():
                future.set_exception(error)
            return
        if not future.done():
            future.set_result(result)
