"""Telegram-facing handlers, registered in one place.

Order matters:
- group -2: every update first records its user and settles the language;
- group -1: a press in a group of a button that lives only in private chats is refused
  (handlers/presses.py), so no handler acts on it or redraws a group message with it;
- group 0: commands, buttons and group life; within a group only the first
  matching handler runs, so an edited message is caught first (it runs nothing
  again, handlers/edits.py) and the catch-alls come last: plain private text (the
  answer to the bot's last question), then unknown commands.
"""

from __future__ import annotations

from telegram.ext import Application

from handlers import (
    away,
    broadcasts,
    care,
    care_consent,
    consult_meetings,
    consultation,
    dashboard,
    edits,
    errors,
    events,
    families,
    forms,
    groups,
    inputs,
    leader_removal,
    menu,
    offers,
    org,
    presses,
    privacy,
    report_actions,
    report_for,
    reports,
    start,
    stats,
    users,
    volunteers,
)


def register_all(app: Application) -> None:
    users.register(app)
    presses.register(app)
    edits.register(app)  # first in group 0: an edited message reaches no command or answer
    start.register(app)
    org.register(app)
    leader_removal.register(app)
    privacy.register(app)
    offers.register(app)  # before reports: a group's /report replying to a voice
    reports.register(app)
    report_actions.register(app)
    groups.register(app)
    consultation.register(app)
    consult_meetings.register(app)
    broadcasts.register(app)
    events.register(app)
    families.register(app)
    stats.register(app)
    care.register(app)
    care_consent.register(app)
    volunteers.register(app)
    dashboard.register(app)
    away.register(app)
    report_for.register(app)
    forms.register(app)
    menu.register(app)  # the menu's big buttons, before plain text is taken as an answer
    inputs.register(app)
    errors.register_fallbacks(app)
    errors.register(app)
