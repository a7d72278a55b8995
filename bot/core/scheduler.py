"""The one deadline mechanism, for every feature.

The database holds the deadlines; the JobQueue is only an alarm clock. At start
and after each change it is set for the earliest armed deadline, and a periodic
sweep is the safety net (APScheduler 3 drops a job whose time has passed unless
misfire_grace_time is None, so both jobs are created with None). Each deadline is
claimed (armed → fired) in the same transaction as the action it triggers, so it
fires once across racing jobs and restarts, and a crash mid-action leaves it armed.
An action that raises leaves it armed too, tried again after a growing pause (kept in
the database, so a restart does not start over) and logged once per failure: a
deadline that keeps failing neither spins nor fills the log.

Deadlines due together (a thousand reports filed in the same minute) are claimed in
batches, one statement per batch, and acted on in one transaction per batch: a
transaction costs several trips to the writer's thread and holds the single writer,
so one per deadline made the last of a burst fire seconds late. A batch holds deadlines
of one subject (reports, say), at most one per object (a later one of the same report
waits for the next batch, so it sees the first one's change as it would have in a
transaction of its own). When an action raises, the batch is rolled back, that
deadline alone is set back (its pause, its log line, recorded before the writer is let
go) and the others are tried again without it; a change that fails only when the
transaction ends (which action's it was is not known then) sends the batch back one
deadline per transaction.

A feature whose deadlines come due by the thousand (reports) acts on a whole batch at
once (``on_batch``): it reads what it needs for the lot in one go and writes each table
in one statement, which costs a database a fraction of a statement per deadline. Such
an action that raises sends its batch back one deadline per transaction too.

What an action owes beyond its change (a report moved up: the leaders before and after
and the reporter are told, each message drawn in each one's language) it may record
instead (``owe``), in the same transaction: done right after, in transactions of their
own, once every deadline due has fired. A burst so fires in a fraction of a second and
its messages follow (at Telegram's pace they take minutes to go out anyway); a crash in
between leaves the owed work recorded, and the next sweep does it, once. A deadline of
an object that is still owed something waits until that is done, so nothing about one
object is told out of order; a feature's own actions catch up first (``catch_up``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from telegram.ext import JobQueue

from bot.core import metrics
from bot.core.clock import Clock
from bot.core.notifier import Notifier
from storage.db import Database, Tx
from storage.deadlines import Deadline, DeadlineRepo
from storage.owed import Owed, OwedRepo

log = logging.getLogger(__name__)

SWEEP_EVERY = timedelta(seconds=30)
# deadlines acted on in one transaction: it holds the writer meanwhile (about 70 ms for
# 500 missed report deadlines on SQLite), and each costs a trip or two to the database
# and a commit (batches of 100 made a burst of 1,000 take 0.2 s, of 500, 0.15 s)
BATCH = 500
# the pause before trying a failed deadline again, after its 1st, 2nd, ... failure
RETRY_AFTER = (timedelta(seconds=10), timedelta(minutes=1), timedelta(minutes=5),
               timedelta(minutes=30), timedelta(hours=1))
DeadlineAction = Callable[[Tx, Deadline], Awaitable[None]]
# acts on a batch of deadlines of one subject (one per object), or on one
BatchAction = Callable[[Tx, list[Deadline]], Awaitable[None]]
# does, in one transaction, the work owed (of one subject), claimed in it
OwedWork = Callable[[Tx, list[Owed]], Awaitable[None]]


class Scheduler:
    def __init__(self, db: Database, deadlines: DeadlineRepo, clock: Clock,
                 notifier: Notifier) -> None:
        self.db, self.deadlines, self.clock, self.notifier = db, deadlines, clock, notifier
        self._actions: dict[str, DeadlineAction] = {}
        self._batch_actions: dict[str, BatchAction] = {}
        self._owed_work: dict[str, OwedWork] = {}
        self.owed = OwedRepo(db)
        self._job_queue: JobQueue[Any] | None = None
        self._alarm_at: datetime | None = None
        self.fired = 0
        self.batch = BATCH  # deadlines, or work owed, done in one transaction at most

    def on(self, subject: str, action: DeadlineAction, *, owed: OwedWork | None = None) -> None:
        """Features say what a missed deadline of theirs means (``owed``: how to do what
        they ``owe``)."""
        self._actions[subject] = action
        self._batch_actions.pop(subject, None)
        self._owed_work.pop(subject, None)
        if owed is not None:
            self._owed_work[subject] = owed

    def on_batch(self, subject: str, action: BatchAction, *,
                 owed: OwedWork | None = None) -> None:
        """The same, for an action that takes a batch of deadlines at once (see above)."""
        self.on(subject, lambda tx, deadline: action(tx, [deadline]), owed=owed)
        self._batch_actions[subject] = action

    async def owe(self, tx: Tx, subject: str, kind: str,
                  payloads: list[tuple[int, dict[str, Any]]]) -> None:
        """Record, in an action's transaction, work it leaves for right after (see above):
        for each object of the subject (its id), what the work needs to know."""
        await self.owed.add(tx, subject, kind, payloads, self.clock.now())

    async def catch_up(self, subject: str, subject_id: int, tx: Tx | None = None) -> None:
        """Do now what is still owed for this object (before an action on it, so that what
        the action tells comes after what the deadline's move told). In ``tx`` if given,
        else in transactions of its own (it takes the writer only if there is work)."""
        work = self._owed_work.get(subject)
        if work is None:
            return
        while owed := await self.owed.due(self.clock.now(), self.batch, (subject, subject_id)):
            if tx is not None:
                await self._claim_and_do(tx, work, owed)
                return
            if not await self._do_owed(owed):
                return

    async def arm(self, tx: Tx, subject: str, subject_id: int, kind: str,
                  due_at: datetime, deferred_by: tuple[str, ...] = ()) -> None:
        """``deferred_by``: the holidays that pushed a working-time deadline later, kept
        with it so that cards can say so (「遇国庆假期顺延至 10月9日」)."""
        await self.arm_all(tx, [(subject, subject_id, kind, due_at, deferred_by)])

    async def arm_all(self, tx: Tx, armed: list[tuple[str, int, str, datetime, tuple[str, ...]]],
                      ) -> None:
        """Many at once (subject, id, kind, due, deferred by), in one statement."""
        if not armed:
            return
        await self.deadlines.arm_all(tx, [(subject, subject_id, kind, due_at, "、".join(by) or None)
                                          for subject, subject_id, kind, due_at, by in armed],
                                     self.clock.now())
        self._wake_before(min(due_at for _, _, _, due_at, _ in armed))

    async def keep_armed(self, subject: str, kind: str, first_at: datetime) -> None:
        """A standing job (a daily digest, a monthly report) has one deadline armed at all
        times: armed here at the very first start, re-armed by its own action."""
        if await self.deadlines.armed_for(subject, 0):
            return
        async with self.db.write() as tx:
            await self.arm(tx, subject, 0, kind, first_at)

    async def start(self, job_queue: JobQueue[Any] | None) -> None:
        self._job_queue = job_queue
        await self.sweep()  # deadlines that passed while the bot was down: once each, now
        if job_queue is not None:
            job_queue.run_repeating(self._sweep_job, interval=SWEEP_EVERY, first=SWEEP_EVERY,
                                    name="linli-sweep", job_kwargs={"misfire_grace_time": None})
        await self._set_alarm()

    async def sweep(self) -> int:
        """Act on every deadline that is due, then do the work they owe (and again, for
        deadlines that waited for it); returns how many fired."""
        fired = 0
        while True:
            progressed = await self._fire_due()
            done = await self._do_all_owed()
            fired += progressed
            if not progressed and not done:
                break
        if fired:
            self.notifier.kick()
        return fired

    async def _fire_due(self) -> int:
        fired = 0
        while True:
            due = await self.deadlines.due(self.clock.now())
            if not due:
                break
            progressed = 0
            for batch in self._batches(due):
                progressed += await self._fire_batch(batch)
            fired += progressed
            if not progressed:
                break
        return fired

    async def _do_all_owed(self) -> int:
        done = 0
        while owed := await self.owed.due(self.clock.now(), self.batch):
            progressed = await self._do_owed(owed)
            if not progressed:
                break
            done += progressed
        return done

    async def _do_owed(self, owed: list[Owed]) -> int:
        """One transaction for the lot, claimed in it; when one raises, each alone, and the
        one that raises is tried again after a pause (logged once per failure)."""
        by_subject: dict[str, list[Owed]] = {}
        for item in owed:
            by_subject.setdefault(item.subject, []).append(item)
        done = 0
        for subject, items in by_subject.items():
            work = self._owed_work.get(subject)
            if work is None:
                log.error("no work for what deadlines of %s owe", subject)
                continue
            try:
                done += await self._do_owed_in_one(work, items)
            except Exception:
                for item in items:
                    try:
                        done += await self._do_owed_in_one(work, [item])
                    except Exception:
                        pause = RETRY_AFTER[min(item.failures, len(RETRY_AFTER) - 1)]
                        failures = await self.owed.failed(item.id, self.clock.now() + pause)
                        log.exception("work owed %s (%s #%s %s) failed (%d time(s)); tried"
                                      " again in %s", item.id, subject, item.subject_id,
                                      item.kind, failures, pause)
        if done:
            self.notifier.kick()
        return done

    async def _do_owed_in_one(self, work: OwedWork, items: list[Owed]) -> int:
        async with self.db.write() as tx:
            return await self._claim_and_do(tx, work, items)

    async def _claim_and_do(self, tx: Tx, work: OwedWork, items: list[Owed]) -> int:
        """The items this claimer got, done in ``tx``; how many."""
        claimed = await self.owed.claim(tx, [item.id for item in items])
        mine = [item for item in items if item.id in claimed]
        if mine:
            await work(tx, mine)
        return len(mine)

    def _batches(self, due: list[Deadline]) -> list[list[Deadline]]:
        """Up to ``batch`` deadlines each, in order: of one feature's subject, one deadline per
        object of it (what a batch's actions read ahead no other kind of action changes)."""
        batches: list[tuple[list[Deadline], set[tuple[str, int]]]] = []
        for deadline in due:
            if deadline.subject not in self._actions:
                log.error("no action for deadlines of %s", deadline.subject)
                continue
            key = (deadline.subject, deadline.subject_id)
            for batch, keys in batches:
                if len(batch) < self.batch and batch[0].subject == deadline.subject and (
                        key not in keys):
                    break
            else:
                batch, keys = [], set()
                batches.append((batch, keys))
            batch.append(deadline)
            keys.add(key)
        return [batch for batch, _ in batches]

    async def _fire_batch(self, batch: list[Deadline]) -> int:
        """Claim the batch in one statement and act on it in one transaction."""
        if len(batch) == 1:
            return int(await self.fire(batch[0]))
        if batch[0].subject in self._batch_actions:
            return await self._fire_together(batch)
        pending = list(batch)
        while pending:
            failing: Deadline | None = None
            try:
                async with self.db.write() as tx:
                    claimed = await self.deadlines.claim_many(
                        tx, await self._not_owed(tx, pending), self.clock.now())
                    for deadline in pending:
                        if deadline.id not in claimed:  # fired meanwhile, or cancelled
                            continue
                        try:
                            await self._actions[deadline.subject](tx, deadline)
                        except Exception:
                            await tx.rollback()  # the whole batch, the writer kept meanwhile
                            await self._failed(deadline, tx)
                            failing = deadline
                            break
            except Exception:  # a change failed at commit: whose is not known
                return sum([await self.fire(d) for d in pending])
            if failing is not None:
                pending.remove(failing)  # the others again, without it
                continue
            return self._done([d for d in pending if d.id in claimed])
        return 0

    async def _fire_together(self, batch: list[Deadline]) -> int:
        """A batch for an action that takes it whole; if it raises, one by one."""
        try:
            async with self.db.write() as tx:
                claimed = await self.deadlines.claim_many(
                    tx, await self._not_owed(tx, batch), self.clock.now())
                mine = [d for d in batch if d.id in claimed]
                if mine:
                    await self._batch_actions[batch[0].subject](tx, mine)
        except Exception:  # which deadline's doing it was is not known
            return sum([await self.fire(d) for d in batch])
        return self._done(mine)

    def _done(self, fired: list[Deadline]) -> int:
        self._count(fired)
        if fired:
            self.notifier.kick()  # once a batch: its messages go out during the next one
        return len(fired)

    async def _not_owed(self, tx: Tx, batch: list[Deadline]) -> list[int]:
        """The batch's deadlines whose object is owed nothing (the others wait)."""
        subject = batch[0].subject
        if subject not in self._owed_work:
            return [d.id for d in batch]
        owed = await self.owed.owed(tx, subject, [d.subject_id for d in batch])
        return [d.id for d in batch if d.subject_id not in owed]

    async def fire(self, deadline: Deadline) -> bool:
        action = self._actions.get(deadline.subject)
        if action is None:
            log.error("no action for deadlines of %s", deadline.subject)
            return False
        try:
            async with self.db.write() as tx:
                if not await self._not_owed(tx, [deadline]) or not await self.deadlines.claim(
                        tx, deadline.id, self.clock.now()):
                    return False  # someone else fired it, it was cancelled, or it waits
                try:
                    await action(tx, deadline)
                    await tx.settle()  # a change of its that fails, failing here
                except Exception:
                    await tx.rollback()  # its changes and its claim; the writer kept meanwhile
                    await self._failed(deadline, tx)
                    return False
        except Exception:  # the commit failed
            await self._failed(deadline)
            return False
        self._count([deadline])
        return True

    async def _failed(self, deadline: Deadline, tx: Tx | None = None) -> None:
        """Its action raised (its changes are rolled back): armed still, tried again later.
        Recorded in ``tx`` when given: no other sweep claims it between the two."""
        pause = RETRY_AFTER[min(deadline.failures, len(RETRY_AFTER) - 1)]
        failures = await self.deadlines.failed(deadline.id, self.clock.now() + pause, tx)
        log.exception("deadline %s (%s #%s %s) failed (%d time(s)); it stays armed and is"
                      " tried again in %s", deadline.id, deadline.subject,
                      deadline.subject_id, deadline.kind, failures, pause)

    def _count(self, fired: list[Deadline]) -> None:
        self.fired += len(fired)
        metrics.DEADLINES_FIRED.inc(len(fired))
        now = self.clock.now()
        for deadline in fired:
            metrics.DEADLINE_LATENESS.observe(max((now - deadline.due_at).total_seconds(), 0.0))

    # -- the alarm clock ------------------------------------------------------------

    def _wake_before(self, due_at: datetime) -> None:
        if self._job_queue is None:
            return
        if self._alarm_at is None or due_at < self._alarm_at:
            self._schedule(due_at)

    def _schedule(self, due_at: datetime) -> None:
        assert self._job_queue is not None
        for job in self._job_queue.get_jobs_by_name("linli-alarm"):
            job.schedule_removal()
        self._alarm_at = due_at
        delay = max((due_at - self.clock.now()).total_seconds(), 0.0)
        self._job_queue.run_once(self._alarm_job, when=delay, name="linli-alarm",
                                 job_kwargs={"misfire_grace_time": None})

    async def _set_alarm(self) -> None:
        self._alarm_at = None
        following = await self.deadlines.next_due_at()
        if following is not None and self._job_queue is not None:
            self._schedule(following)

    async def _alarm_job(self, _context: Any) -> None:
        await self.sweep()
        await self._set_alarm()

    async def _sweep_job(self, _context: Any) -> None:
        await self.sweep()
        await self._set_alarm()
