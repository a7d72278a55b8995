"""Consultation storage on a real SQLite file: proposals, supports once, polls closed once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from storage.consultation import ConsultationRepo
from storage.db import open_database
from tests.backend import database_in
from tests.harness import DAYTIME


async def test_proposals_supports_and_polls(tmp_path: Path) -> None:
    db = await open_database(database_in(tmp_path / "c"))
    try:
        repo = ConsultationRepo(db)
        async with db.write() as tx:
            await tx.execute("INSERT INTO nodes(key, name, level, created_at, updated_at)"
                             " VALUES ('b3', '3号楼', 'building', '2026-01-01', '2026-01-01')")
            first = await repo.propose(tx, 1, 3001, "加装电梯", None, DAYTIME)
            second = await repo.propose(tx, 1, 3002, "楼道照明", None, DAYTIME)
            assert await repo.support(tx, first, 3002, DAYTIME)
            assert not await repo.support(tx, first, 3002, DAYTIME)  # once only
        found = await repo.open_proposals([1])
        assert [(p.id, p.supporters) for p in found] == [(first, 2), (second, 1)]
        async with db.write() as tx:
            poll = await repo.create_poll(tx, 1, -100, None, 1001, DAYTIME + timedelta(hours=1),
                                          [first, second], DAYTIME)
            await repo.posted(tx, poll, "555", 7)
            await repo.record_vote(tx, poll, 3001, [0, 1], True, DAYTIME)
            await repo.record_vote(tx, poll, 3001, [1], True, DAYTIME)  # changed
            await repo.record_vote(tx, poll, 9999, [0], False, DAYTIME)
            assert await repo.close_poll(tx, poll, DAYTIME)
            assert not await repo.close_poll(tx, poll, DAYTIME)
        assert await repo.counted_votes(poll) == [[1]]
        assert (await repo.poll_by_tg("555")).id == poll  # type: ignore[union-attr]
        assert await repo.options(poll) == [first, second]
    finally:
        await db.close()
