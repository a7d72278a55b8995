"""Org files for tests, built from entries: most tests share one neighbourhood,
和谐社区 → 阳光小区 → 3号楼 → 3号楼1单元, with its four leaders."""

from __future__ import annotations


def node(key: str, name: str, level: str, parent: str | None = None,
         chat_id: int | None = None) -> str:
    lines = [f'key = "{key}"', f'name = "{name}"', f'level = "{level}"']
    if parent is not None:
        lines.append(f'parent = "{parent}"')
    if chat_id is not None:
        lines.append(f"chat_id = {chat_id}")
    return _entry("nodes", lines)


def leader(node_key: str, user_id: int, name: str) -> str:
    return _entry("leaders", [f'node = "{node_key}"', f"user_id = {user_id}", f'name = "{name}"'])


def resident(user_id: int, node_key: str, unit: str | None = None) -> str:
    lines = [f"user_id = {user_id}", f'node = "{node_key}"']
    if unit is not None:
        lines.append(f'unit = "{unit}"')
    return _entry("residents", lines)


def property_company(user_id: int) -> str:
    """阳光物业, taking repairs first in 阳光小区."""
    return _entry("partners", ['node = "sunshine"', 'kind = "property"', 'name = "阳光物业"',
                               f"user_ids = [{user_id}]", 'categories = ["repair"]'])


def harmony(*, grid: str = "b3-u1", building_chat: int | None = None,
            compound_chat: int | None = None) -> str:
    """The four nodes of the chain, parents first."""
    return (node("harmony", "和谐社区", "community")
            + node("sunshine", "阳光小区", "compound", "harmony", compound_chat)
            + node("b3", "3号楼", "building", "sunshine", building_chat)
            + node(grid, "3号楼1单元", "grid", "b3"))


def harmony_leaders(grid: int, building: int, compound: int, community: int, *,
                    grid_key: str = "b3-u1") -> str:
    """王邻长, 李楼长, 赵片长 and 孙书记, one on each node of the chain."""
    return (leader(grid_key, grid, "王邻长") + leader("b3", building, "李楼长")
            + leader("sunshine", compound, "赵片长") + leader("harmony", community, "孙书记"))


def _entry(section: str, lines: list[str]) -> str:
    return f"\n[[{section}]]\n" + "\n".join(lines) + "\n"
