"""An event as an iCalendar (.ics) file that phone calendars import, with its time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar
from icalendar import Event as IcsEvent

from storage.events import Event


def ics(event: Event, tz: ZoneInfo, stamp: datetime, domain: str = "linli.bot") -> bytes:
    """``stamp``: when the file is made (DTSTAMP); a later file for the same UID replaces
    an earlier one in calendars that import it again."""
    cal = Calendar()
    cal.add("prodid", "-//Linli//邻里//ZH")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    item = IcsEvent()
    item.add("uid", f"event-{event.id}@{domain}")
    item.add("summary", event.title)
    if event.description:
        item.add("description", event.description)
    item.add("location", event.place)
    # local times with a TZID (and the VTIMEZONE below), as calendars expect
    item.add("dtstart", event.starts_at.astimezone(tz))
    item.add("dtend", event.ends_at.astimezone(tz))
    item.add("dtstamp", stamp)
    item.add("last-modified", stamp)
    item.add("sequence", event.revision)  # a calendar replaces an older copy by this
    if event.recurrence in ("weekly", "monthly"):
        item.add("rrule", {"freq": event.recurrence})
    if event.state == "cancelled":
        item.add("status", "CANCELLED")
    cal.add_component(item)
    cal.add_missing_timezones()
    return cal.to_ical()
