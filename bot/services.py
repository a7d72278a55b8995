"""Everything a handler needs, created once at start-up and closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

from bot.assess.monthly import MonthlyReport
from bot.assess.stats import StatsService
from bot.consult.consultation import ConsultationService
from bot.consult.followups import FollowUpService
from bot.consult.meetings import MeetingService
from bot.core.calendars import Calendars, CalendarWatch
from bot.core.clock import Clock
from bot.core.i18n import pick_language
from bot.core.notifier import Notifier
from bot.core.scheduler import Scheduler
from bot.core.speech import SpeechToText, load_engine
from bot.culture.events import EventService
from bot.culture.families import FamilyService
from bot.culture.holidays import HolidayOffers
from bot.lead.broadcasts import BroadcastService
from bot.org.away import AwayService
from bot.org.org import OrgService
from bot.org.privacy import PrivacyService
from bot.reports.back import BackSummary
from bot.reports.digest import OverdueDigest
from bot.reports.notices import ReportNotices
from bot.reports.reports import ReportService
from bot.reports.sameproblem import SameProblems
from bot.service.care import CareService
from bot.service.volunteers import VolunteerService
from config.settings import Settings
from storage.away import AwayRepo
from storage.broadcasts import BroadcastRepo
from storage.care import CareRepo
from storage.consultation import ConsultationRepo
from storage.db import Database, open_database
from storage.deadlines import DeadlineRepo
from storage.events import EventRepo
from storage.families import FamilyRepo
from storage.org import OrgRepo
from storage.outbox import OutboxRepo
from storage.pending import PendingInput as PendingInput  # handlers take it from here
from storage.pending import PendingRepo
from storage.privacy import PrivacyRepo
from storage.replies import ReplyRepo
from storage.reports import ReportRepo
from storage.stats import StatsRepo
from storage.users import UserRepo
from storage.volunteers import VolunteerRepo


@dataclass
class Linli:
    settings: Settings
    clock: Clock
    db: Database
    users: UserRepo
    org_repo: OrgRepo
    outbox: OutboxRepo
    pending: PendingRepo
    notifier: Notifier
    org: OrgService
    scheduler: Scheduler
    report_repo: ReportRepo
    report_notices: ReportNotices
    reports: ReportService
    same_problems: SameProblems
    speech: SpeechToText | None
    digest: OverdueDigest
    consultation_repo: ConsultationRepo
    consultation: ConsultationService
    meetings: MeetingService
    followups: FollowUpService
    broadcasts: BroadcastService
    events: EventService
    holidays: HolidayOffers
    families: FamilyService
    stats: StatsService
    monthly: MonthlyReport
    care: CareService
    volunteers: VolunteerService
    away: AwayService
    back: BackSummary
    calendars: Calendars
    calendar_watch: CalendarWatch
    privacy: PrivacyService
    bot_username: str = ""

    @classmethod
    async def open(cls, settings: Settings, clock: Clock) -> Linli:
        db = await open_database(settings.database)
        users, org_repo, outbox = UserRepo(db), OrgRepo(db), OutboxRepo(db)
        notifier = Notifier(db, outbox, users, org_repo, clock)
        scheduler = Scheduler(db, DeadlineRepo(db), clock, notifier)
        report_repo = ReportRepo(db)
        stats = StatsService(settings, org_repo, StatsRepo(db))
        away_repo = AwayRepo(db)
        away = AwayService(settings, db, clock, org_repo, users, away_repo, scheduler)
        notices = ReportNotices(settings, org_repo, users, outbox, scheduler.deadlines, notifier,
                                report_repo, away)
        org = OrgService(settings, db, org_repo, clock)
        consultation_repo = ConsultationRepo(db)
        consultation = ConsultationService(settings, db, clock, org, consultation_repo, users,
                                           notifier, scheduler)
        meetings = MeetingService(consultation)
        event_repo = EventRepo(db)
        calendars = Calendars(settings, db)  # working-time deadlines ("2WD") count on it
        reports = ReportService(settings, db, clock, org_repo, report_repo, notifier, scheduler,
                                notices, ReplyRepo(db), calendars)
        return cls(
            settings=settings, clock=clock, db=db, users=users, org_repo=org_repo, outbox=outbox,
            pending=PendingRepo(db), notifier=notifier,
            org=org, scheduler=scheduler,
            report_repo=report_repo, report_notices=notices,
            reports=reports, same_problems=SameProblems(reports),
            speech=load_engine(settings.speech.engine, settings.speech.options),
            digest=OverdueDigest(settings, clock, org_repo, report_repo, users, notifier,
                                 scheduler),
            consultation_repo=consultation_repo, consultation=consultation,
            meetings=meetings, followups=FollowUpService(meetings, calendars),
            broadcasts=BroadcastService(settings, db, clock, org, BroadcastRepo(db), users,
                                        notifier, scheduler),
            events=EventService(settings, db, clock, org, event_repo, outbox, users, notifier,
                                scheduler),
            holidays=HolidayOffers(settings, clock, org_repo, event_repo, users, notifier,
                                   scheduler),
            families=FamilyService(settings, db, clock, org, FamilyRepo(db), notifier),
            stats=stats,
            monthly=MonthlyReport(settings, clock, org_repo, users, stats, notifier, scheduler),
            care=CareService(settings, db, clock, org_repo, org, CareRepo(db), users, notifier,
                             scheduler, calendars, PrivacyRepo(db)),
            volunteers=VolunteerService(settings, db, clock, org_repo, org, VolunteerRepo(db),
                                        users, notifier, scheduler),
            away=away,
            back=BackSummary(settings, away_repo, report_repo, notices, notifier, scheduler),
            calendars=calendars,
            calendar_watch=CalendarWatch(settings, clock, calendars, org_repo, users, notifier,
                                         scheduler),
            privacy=PrivacyService(settings, db, clock, org_repo, users, PrivacyRepo(db),
                                   scheduler, notifier),
        )

    async def close(self) -> None:
        await self.notifier.stop()
        await self.db.close()

    async def language_of(self, user_id: int) -> str:
        """The language to write to a user in when no update is at hand."""
        user = await self.users.get(user_id)
        if user is None:
            return self.settings.language
        return pick_language(user.language, user.language_code, self.settings.language)
