"""`linli check`: is the organisation in the database consistent with the settings?"""

from __future__ import annotations

from config.settings import Settings
from storage.db import Database
from storage.org import OrgRepo


async def check_stored_org(db: Database, settings: Settings) -> list[tuple[str, str]]:
    """Problems as (node key, what is wrong): levels the settings no longer know, bad order."""
    org = OrgRepo(db)
    nodes = await org.all_nodes()
    by_id = {n.id: n for n in nodes}
    ranks = {key: i for i, key in enumerate(settings.level_keys)}
    problems: list[tuple[str, str]] = []
    for node in nodes:
        if node.level not in ranks:
            problems.append((f"node {node.key}", f"level {node.level!r} is not in the settings"))
            continue
        parent = by_id.get(node.parent_id) if node.parent_id is not None else None
        if parent is None or parent.level not in ranks:
            continue
        if ranks[parent.level] >= ranks[node.level]:
            problems.append((f"node {node.key}",
                             f"level {node.level} is not below its parent's ({parent.level})"))
    return problems
