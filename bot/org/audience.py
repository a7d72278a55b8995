"""Who a leader's announcements reach: the scope node they pick, its bound chats."""

from __future__ import annotations

from bot.core.errors import BadInput, NotAllowed
from bot.org.org import OrgService
from storage.org import Chat, Node, OrgRepo


async def bound_chats(org: OrgRepo, node_id: int, *, inactive: bool = False) -> list[Chat]:
    """Every active chat bound to the node or a node below it (``inactive``: also those the
    bot was removed from, which a delivery report still names)."""
    by_node = await org.chats_by_node()
    return [chat for node in await org.subtree(node_id) for chat in by_node.get(node.id, [])
            if chat.active or inactive]


async def scope_of(org: OrgService, user_id: int, key: str | None) -> Node:
    """The node a leader speaks to: the one named, else the one they lead (if one)."""
    if key:
        node = await org.node(key)
        if not await org.may_manage(user_id, node):
            raise NotAllowed("scope.not_yours", key=node.key)
        return node
    roles = await org.roles(user_id)
    led = roles.led_nodes
    led_ids = {n.id for n in led}
    tops = []  # a leader of a node and of one below it speaks to the higher one
    for node in led:
        above = {a.id for a in await org.org.ancestors(node.id)} - {node.id}
        if not above & led_ids:
            tops.append(node)
    if len(tops) == 1:
        return tops[0]
    if not roles.leader:
        raise NotAllowed("scope.leaders_only")
    roots = await org.org.children(None)
    if roles.admin and not led and len(roots) == 1:
        return roots[0]
    raise BadInput("scope.which", keys=", ".join(n.key for n in tops or roots))
