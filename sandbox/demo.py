"""The demo neighbourhood: who lives there, its org file, and the history the sandbox
opens with, made by driving the real bot through the emulator (so every state is real).

和谐社区 → 阳光小区 → 3号楼 (3号楼1单元) and 5号楼 (5号楼1单元); a leader on each node,
阳光物业 for repairs, twelve residents, a building group each, the compound's forum.
"""

from __future__ import annotations

import asyncio
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sandbox.fakegram import FakeTelegram

# roles as the web chat shows them; the order is the person picker's
ROLES = ("resident", "grid_leader", "building_leader", "compound_leader", "community_leader",
         "property", "owners_committee")
LEVEL_ROLE = {"grid": "grid_leader", "building": "building_leader",
              "compound": "compound_leader", "community": "community_leader"}

B3_GROUP, B5_GROUP, FORUM = -1001000000003, -1001000000005, -1001000000100
SECRETARY, CHIEF, B3_LEADER, B5_LEADER, B3_GRID, B5_GRID, PROPERTY = (
    1004, 1003, 1002, 1012, 1001, 1011, 2001)
ZHANG, QIAN, SUN, LI, LIU, CHEN, YANG, HUANG, WU, ZHOU, XU, MA = range(3001, 3013)


@dataclass
class Person:
    id: int
    name: str
    role: str
    place: str  # the node they belong to or lead, by name
    groups: list[int] = field(default_factory=list)


@dataclass
class Group:
    id: int
    title: str
    forum: bool = False
    members: list[int] = field(default_factory=list)


@dataclass
class World:
    people: list[Person]
    groups: list[Group]
    org: str  # the org file's text
    admins: list[int]

    def to_json(self) -> dict[str, Any]:
        return {"people": [asdict(p) for p in self.people],
                "groups": [asdict(g) for g in self.groups], "org": self.org,
                "admins": self.admins}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> World:
        return cls([Person(**p) for p in data["people"]], [Group(**g) for g in data["groups"]],
                   data["org"], list(data["admins"]))

    def person(self, user_id: int) -> Person | None:
        return next((p for p in self.people if p.id == user_id), None)


_NODES = [("harmony", "和谐社区", "community", None, None),
          ("sunshine", "阳光小区", "compound", "harmony", FORUM),
          ("b3", "3号楼", "building", "sunshine", B3_GROUP),
          ("b3-u1", "3号楼1单元", "grid", "b3", None),
          ("b5", "5号楼", "building", "sunshine", B5_GROUP),
          ("b5-u1", "5号楼1单元", "grid", "b5", None)]
_LEADERS = [("harmony", SECRETARY, "孙书记"), ("sunshine", CHIEF, "赵片长"),
            ("b3", B3_LEADER, "李楼长"), ("b5", B5_LEADER, "周楼长"),
            ("b3-u1", B3_GRID, "王邻长"), ("b5-u1", B5_GRID, "陈邻长")]
_RESIDENTS = [(ZHANG, "张阿姨", "b3-u1", "1-502"), (QIAN, "钱大爷", "b3-u1", "1-301"),
              (SUN, "孙阿姨", "b3-u1", "1-601"), (LI, "李叔", "b3-u1", "1-202"),
              (LIU, "刘奶奶", "b3-u1", "1-101"), (CHEN, "陈先生", "b3-u1", "1-402"),
              (YANG, "杨女士", "b5-u1", "1-201"), (HUANG, "黄大爷", "b5-u1", "1-102"),
              (WU, "吴阿姨", "b5-u1", "1-302"), (ZHOU, "周小妹", "b5-u1", "1-701"),
              (XU, "徐老师", "b5-u1", "1-501"), (MA, "马师傅", "b5-u1", "1-601")]


def demo_world() -> World:
    names = {key: name for key, name, *_ in _NODES}
    lines: list[str] = []
    for key, name, level, parent, chat in _NODES:
        lines += ["[[nodes]]", f'key = "{key}"', f'name = "{name}"', f'level = "{level}"']
        lines += [f'parent = "{parent}"'] if parent else []
        lines += [f"chat_id = {chat}", ""] if chat else [""]
    for node, uid, name in _LEADERS:
        lines += ["[[leaders]]", f'node = "{node}"', f"user_id = {uid}", f'name = "{name}"', ""]
    lines += ["[[partners]]", 'node = "sunshine"', 'kind = "property"', 'name = "阳光物业"',
              f"user_ids = [{PROPERTY}]", 'categories = ["repair"]', ""]
    for uid, _, node, unit in _RESIDENTS:
        lines += ["[[residents]]", f"user_id = {uid}", f'node = "{node}"', f'unit = "{unit}"', ""]
    levels = {key: level for key, _, level, *_ in _NODES}
    people = [Person(uid, name, LEVEL_ROLE[levels[node]], names[node])
              for node, uid, name in _LEADERS]
    people.append(Person(PROPERTY, "物业小刘", "property", "阳光物业"))
    people += [Person(uid, name, "resident", f"{names[node]} {unit}")
               for uid, name, node, unit in _RESIDENTS]
    b3 = [B3_GRID, B3_LEADER, CHIEF, SECRETARY, PROPERTY, ZHANG, QIAN, SUN, LI, LIU, CHEN]
    b5 = [B5_GRID, B5_LEADER, CHIEF, SECRETARY, PROPERTY, YANG, HUANG, WU, ZHOU, XU, MA]
    groups = [Group(B3_GROUP, "3号楼业主群", members=b3),
              Group(B5_GROUP, "5号楼业主群", members=b5),
              Group(FORUM, "阳光小区议事厅", forum=True, members=[p.id for p in people])]
    return _with_groups(World(people, groups, "\n".join(lines), [SECRETARY]))


def org_world(path: Path) -> World:
    """The people and groups of an office's own org file (residents have no names there)."""
    text = path.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    nodes = {n["key"]: n for n in data.get("nodes", [])}
    people: dict[int, Person] = {}
    for leader in data.get("leaders", []):
        node = nodes.get(leader["node"], {})
        role = LEVEL_ROLE.get(node.get("level", ""), "grid_leader")
        people[leader["user_id"]] = Person(leader["user_id"], leader.get("name") or
                                           str(leader["user_id"]), role, node.get("name", ""))
    for partner in data.get("partners", []):
        for uid in partner.get("user_ids", []):
            role = "property" if partner.get("kind") == "property" else "owners_committee"
            people.setdefault(uid, Person(uid, partner.get("name", str(uid)), role,
                                          partner.get("name", "")))
    for resident in data.get("residents", []):
        node = nodes.get(resident["node"], {})
        unit = resident.get("unit") or ""
        people.setdefault(resident["user_id"], Person(
            resident["user_id"], f"居民{resident['user_id']}", "resident",
            f"{node.get('name', '')} {unit}".strip()))
    groups = []
    for node in nodes.values():
        if node.get("chat_id"):
            title = f"{node['name']}群"
            groups.append(Group(node["chat_id"], title, members=list(people)))
    admins = [p.id for p in people.values() if p.role == "community_leader"][:1]
    return _with_groups(World(list(people.values()), groups, text, admins))


def _with_groups(world: World) -> World:
    for person in world.people:
        person.groups = [g.id for g in world.groups if person.id in g.members]
    return world


def populate_telegram(tg: FakeTelegram, world: World) -> None:
    """The people and groups on the emulator's side (before the org is imported)."""
    for person in world.people:
        if person.id not in tg.users:
            tg.add_user(person.id, person.name)
    for group in world.groups:
        if group.id not in tg.chats:
            tg.add_group(group.id, group.title, type="supergroup", is_forum=group.forum,
                         members=group.members, bot_status="administrator")


class Script:
    """People doing things through the emulator, each step waiting for the bot's answer."""

    def __init__(self, tg: FakeTelegram, timeout: float = 15.0) -> None:
        self.tg, self.timeout = tg, timeout

    def _last_id(self, chat_id: int) -> int:
        sent = self.tg.sent(chat_id)
        return sent[-1]["message_id"] if sent else 0

    async def say(self, user_id: int, chat_id: int, text: str, expect: str = "",
                  in_chat: int | None = None) -> dict[str, Any]:
        """`user_id` writes `text`; returns the bot's next message in `in_chat` (default:
        the same chat) that contains `expect`."""
        where = chat_id if in_chat is None else in_chat
        after = self._last_id(where)
        self.tg.user_sends(user_id, chat_id, text)
        return await self.next(where, after, expect)

    async def next(self, chat_id: int, after: int, expect: str = "") -> dict[str, Any]:
        return await self.tg.wait_for(
            lambda m: m["chat"]["id"] == chat_id and m["message_id"] > after
            and expect in (m.get("text") or m.get("caption") or ""), self.timeout)

    async def press(self, user_id: int, chat_id: int, message: dict[str, Any], label: str,
                    expect: str = "", in_chat: int | None = None) -> dict[str, Any] | None:
        current = self.tg.message(chat_id, message["message_id"]) or message
        data = button_data(current, label)
        where = chat_id if in_chat is None else in_chat
        after = self._last_id(where)
        self.tg.press_button(user_id, chat_id, message["message_id"], data)
        if not expect:
            return None
        return await self.next(where, after, expect)

    async def redrawn(self, chat_id: int, message: dict[str, Any], gone: str) -> None:
        """Until the message no longer has the button ``gone`` (a card redrawn after a
        press: its other buttons then carry the report's new version, and pressing one of
        the old ones would only be told the report moved on)."""
        deadline = asyncio.get_running_loop().time() + self.timeout
        while True:
            current = self.tg.message(chat_id, message["message_id"]) or message
            try:
                button_data(current, gone)
            except LookupError:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"message {message['message_id']} kept its {gone} button")
            await asyncio.sleep(0.02)

    async def prompt(self, number: int) -> tuple[int, dict[str, Any]]:
        """The card of report `number` with its buttons, in whoever's private chat it went
        to first (the property company for repairs, else the grid leader)."""
        card = await self.tg.wait_for(
            lambda m: m["chat"]["id"] > 0 and f"诉求 #{number}" in (m.get("text") or "")
            and bool(m.get("reply_markup")), self.timeout)
        return card["chat"]["id"], card


def button_data(message: dict[str, Any], label: str) -> str:
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if button["text"].startswith(label):
                return str(button["callback_data"])
    raise LookupError(f"no button {label!r} on message {message.get('message_id')}")


async def demo_history(tg: FakeTelegram) -> None:
    """Reports in several states, three proposals and an open topic poll, an event."""
    s = Script(tg)
    for person in (SECRETARY, CHIEF, B3_LEADER, B5_LEADER, B3_GRID, B5_GRID, PROPERTY,
                   ZHANG, QIAN, SUN, LI, LIU, CHEN, YANG, HUANG, WU, ZHOU, XU, MA):
        await s.say(person, person, "/start")
    # #1: filed, acknowledged, resolved and rated
    await s.say(QIAN, QIAN, "/report 3号楼1单元三楼楼道灯不亮，晚上上下楼看不见", "#1")
    who, card = await s.prompt(1)
    await s.press(who, who, card, "受理", "受理", in_chat=QIAN)
    await s.redrawn(who, card, "受理")
    await s.press(who, who, card, "办结", "办结说明")
    rate = await s.say(who, who, "已经换了新灯泡", "已经换了新灯泡", in_chat=QIAN)
    await s.press(QIAN, QIAN, rate, "满意")
    # #2: acknowledged, being handled
    await s.say(YANG, YANG, "/report 5号楼门口的垃圾桶满了两天没人清", "#2")
    who, card = await s.prompt(2)
    await s.press(who, who, card, "受理", "受理", in_chat=YANG)
    # #3: waiting for its first answer, filed in the building group
    await s.say(LI, B3_GROUP, "/report 电梯按钮失灵，按了没反应", "#3")
    await s.prompt(3)
    # proposals and the topic poll in the forum
    await s.say(SUN, SUN, "/propose 楼道里的路灯换成声控灯", "#1")
    await s.say(HUANG, HUANG, "/propose 小区里多放几张休息的长椅", "#2")
    await s.say(ZHOU, ZHOU, "/propose 电动车充电桩不够用", "#3")
    after = s._last_id(FORUM)
    tg.user_sends(CHIEF, FORUM, "/topicpoll 1,2,3 3天后")
    await tg.wait_for(lambda m: m["chat"]["id"] == FORUM and m["message_id"] > after
                      and m["method"] == "sendPoll", s.timeout)
    # an event, through the eight steps of /event
    await s.say(CHIEF, CHIEF, "/event", "第 1 步")
    await s.say(CHIEF, CHIEF, "冬至包饺子", "第 2 步")
    await s.say(CHIEF, CHIEF, "一起包饺子，送给独居老人", "第 3 步")
    await s.say(CHIEF, CHIEF, "大后天下午2点", "第 4 步")
    await s.say(CHIEF, CHIEF, "下午4点", "第 5 步")
    scope = await s.say(CHIEF, CHIEF, "社区活动室", "第 6 步")
    await s.press(CHIEF, CHIEF, scope, "阳光小区", "第 7 步")
    repeat = await s.say(CHIEF, CHIEF, "30", "第 8 步")
    confirm = await s.press(CHIEF, CHIEF, repeat, "只办一次", "请确认")
    assert confirm is not None
    await s.press(CHIEF, CHIEF, confirm, "确认发布", "已发到")
