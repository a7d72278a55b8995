"""Machinery every feature stands on: the notifier, the scheduler, the inbox, clock, i18n, times.
Knows no feature: may use storage/ and config/ only, never org/ or a pillar."""
