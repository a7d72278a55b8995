// The sandbox's web chat: a small Telegram-like client over the emulator. No build step.
"use strict";

const T = {
  zh: {
    brand: "邻里 · 体验沙盒", clock: "机器人时间", jump_hour: "+1小时", jump_day: "+1天",
    jump_next: "到下一个截止时间", tour: "导览", i_am: "我是", menu: "菜单", send: "发送",
    type_message: "输入消息…", photo: "图片", voice_file: "语音文件", file: "文件",
    location: "位置", send_location: "发送位置", latitude: "纬度", longitude: "经度",
    cancel: "取消", tour_title: "导览", edited: "已编辑", vote: "投票", retract: "撤回投票",
    votes: "票", closed_poll: "投票已结束", anonymous: "匿名投票", public_poll: "公开投票",
    multiple: "可多选", download: "下载", next_deadline: "下一个截止 ", no_deadline: "暂无截止时间",
    fired: (n) => n ? `时间到了：${n} 件事触发了` : "这段时间里没有到期的事",
    recording: "录音中…再点一次发送", no_mic: "这个浏览器不能录音，请选择语音文件上传",
    tour_hint: "跟着下面的步骤走一遍；可以开几个浏览器标签，每个标签当一个人。",
    go: "去看看", private_chat: "私聊", group: "群聊", forum: "论坛群", topic: "话题",
    general: "综合", topic_created: "话题已创建", joined: "加入了群聊", no_messages: "还没有消息",
    not_here: "沙盒里打不开这个按钮", pick_chat: "选一个聊天", bot: "机器人",
    role: {resident: "居民", grid_leader: "邻长", building_leader: "楼栋长",
           compound_leader: "片长", community_leader: "社区书记", property: "物业",
           owners_committee: "业委会"},
    steps: [
      [3001, 3001, "张阿姨在私聊里报修：发送「/report 厨房水管漏水，楼下天花板在滴水」。"],
      [2001, 2001, "物业小刘收到诉求卡片：点「受理」。张阿姨那边马上收到通知。"],
      [2001, 2001, "物业小刘修好后点「办结」，再写一句办结说明，比如「已更换水管接头」。"],
      [3001, 3001, "张阿姨收到办结通知：点「满意」评价。"],
      [3002, 3002, "钱大爷发送「/report 楼下晚上总有人大声喧哗」，这次没有人回应。"],
      [1001, 1001, "王邻长收到了却没有处理。点上方的「到下一个截止时间」（可能要点几次），诉求超时升级。"],
      [1002, 1002, "李楼长收到升级来的诉求，写明了为什么升级。"],
      [3001, -1001000000100, "张阿姨打开「阳光小区议事厅」，在议题投票里选出最关心的事。"],
      [3001, -1001000000003, "张阿姨在「3号楼业主群」的活动通知上点「参加」，点「📅 加到日历」下载 .ics。"],
    ],
  },
  en: {
    brand: "Linli · sandbox", clock: "Bot time", jump_hour: "+1 hour", jump_day: "+1 day",
    jump_next: "To the next deadline", tour: "Tour", i_am: "I am", menu: "Menu", send: "Send",
    type_message: "Message…", photo: "Photo", voice_file: "Voice file", file: "File",
    location: "Location", send_location: "Send a location", latitude: "Latitude",
    longitude: "Longitude", cancel: "Cancel", tour_title: "Guided tour", edited: "edited",
    vote: "Vote", retract: "Retract vote", votes: "votes", closed_poll: "Final results",
    anonymous: "Anonymous poll", public_poll: "Public poll", multiple: "multiple answers",
    download: "Download", next_deadline: "next deadline: ", no_deadline: "no deadline armed",
    fired: (n) => n ? `Time is up: ${n} thing(s) fired` : "Nothing fell due meanwhile",
    recording: "Recording… tap again to send", no_mic: "This browser cannot record; upload a voice file",
    tour_hint: "Follow the steps; open several browser tabs, one person each.",
    go: "Go", private_chat: "private", group: "group", forum: "forum", topic: "topic",
    general: "General", topic_created: "topic created", joined: "joined the group",
    no_messages: "No messages yet", not_here: "The sandbox cannot open this button",
    pick_chat: "Pick a chat", bot: "bot",
    role: {resident: "resident", grid_leader: "neighbour leader", building_leader: "building leader",
           compound_leader: "area chief", community_leader: "community secretary",
           property: "property company", owners_committee: "owners' committee"},
    steps: [
      [3001, 3001, "Zhang reports a leak in private: send “/report 厨房水管漏水，楼下天花板在滴水”."],
      [2001, 2001, "The property company gets the card: press 受理 (acknowledge)."],
      [2001, 2001, "Once fixed, press 办结 (resolve) and write what was done, e.g. 已更换水管接头."],
      [3001, 3001, "Zhang is told it is resolved: press 满意 (satisfied)."],
      [3002, 3002, "Qian sends “/report 楼下晚上总有人大声喧哗”; this time nobody answers."],
      [1001, 1001, "Wang (neighbour leader) does nothing. Press “To the next deadline” above (maybe a few times): the report climbs."],
      [1002, 1002, "Li (building leader) now has the report, with the reason it climbed."],
      [3001, -1001000000100, "Zhang opens 阳光小区议事厅 and votes in the topic poll."],
      [3001, -1001000000003, "In 3号楼业主群 Zhang presses 参加 on the event and 📅 for the .ics file."],
    ],
  },
};

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = {
  lang: localStorage.getItem("linli-sandbox-lang") || "zh",
  user: Number(params.get("user")) || 0,
  chat: params.get("chat") ? Number(params.get("chat")) : null,
  thread: params.get("thread") ? Number(params.get("thread")) : null,
  people: [], bot: null, chats: [], lastShown: "", recorder: null, refreshing: false, again: false,
};
const t = (key) => T[state.lang][key] ?? T.zh[key] ?? key;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  return response.json();
}
const post = (path, body) => api(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                         body: JSON.stringify(body)});

// ----- language -----

function applyLanguage() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.title = t("brand");
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  for (const node of document.querySelectorAll("[data-tp]")) node.placeholder = t(node.dataset.tp);
  $("lang-toggle").textContent = state.lang === "zh" ? "EN" : "中文";
  renderPeople();
  renderTour();
  if (state.timezone) showClock();
}

// ----- people and chats -----

function renderPeople() {
  const select = $("person");
  select.replaceChildren(...state.people.map((p) => el("option", {value: p.id,
    selected: p.id === state.user}, `${p.name} · ${t("role")[p.role] || p.role} · ${p.place}`)));
}

function navigate(user, chat = null, thread = null) {
  state.user = user; state.chat = chat; state.thread = thread; state.lastShown = "";
  const query = new URLSearchParams({user});
  if (chat !== null) query.set("chat", chat);
  if (thread !== null) query.set("thread", thread);
  history.replaceState(null, "", `?${query}`);
  document.body.classList.toggle("show-list", chat === null);
  renderPeople();
  refresh();
}

function chatKey(c) { return `${c.chat}:${c.thread ?? ""}`; }

function renderChats() {
  const list = $("chats");
  list.replaceChildren(...state.chats.map((c) => {
    const title = c.kind === "topic" ? c.topic : c.title;
    const kind = c.kind === "private" ? t("bot") : t(c.kind);
    const current = c.chat === state.chat && (c.thread ?? null) === state.thread;
    return el("li", {class: `chat ${c.kind}${current ? " current" : ""}`,
                     "data-chat": c.chat, "data-thread": c.thread ?? "",
                     onclick: () => navigate(state.user, c.chat, c.thread ?? null)},
      el("div", {class: "avatar"}, c.kind === "topic" ? "#" : (title || "?").slice(0, 1)),
      el("div", {class: "summary"},
        el("div", {class: "title"}, c.kind === "topic" ? `${c.title} › ${title}` : title,
           el("span", {class: "kind"}, kind)),
        el("div", {class: "last"}, c.last_from ? `${c.last_from}: ` : "", c.last)),
      el("time", {}, c.last_date ? clockText(c.last_date) : ""));
  }));
}

function clockText(seconds) {
  const d = new Date(seconds * 1000);
  return d.toLocaleTimeString(state.lang === "zh" ? "zh-CN" : "en-GB",
                              {hour: "2-digit", minute: "2-digit", timeZone: state.timezone});
}

// ----- messages -----

function entityNode(kind, entity, children) {
  switch (kind) {
    case "bold": return el("b", {}, children);
    case "italic": return el("i", {}, children);
    case "underline": return el("u", {}, children);
    case "strikethrough": return el("s", {}, children);
    case "code": return el("code", {}, children);
    case "pre": return el("pre", {}, children);
    case "spoiler": return el("span", {class: "spoiler", onclick: (e) => e.currentTarget.classList.add("open")}, children);
    case "blockquote": case "expandable_blockquote": return el("blockquote", {}, children);
    case "text_link": {
      const safe = /^(https?:|tg:)/.test(entity.url || "") ? entity.url : "#";
      return el("a", {href: safe, target: "_blank", rel: "noopener"}, children);
    }
    case "url": return el("a", {href: /^https?:/.test(children.textContent) ? children.textContent : `http://${children.textContent}`, target: "_blank", rel: "noopener"}, children);
    default: return el("span", {class: kind}, children);
  }
}

// text with Telegram entities (UTF-16 offsets, as JavaScript strings count)
function richText(text, entities = []) {
  const cuts = new Set([0, text.length]);
  for (const e of entities) { cuts.add(e.offset); cuts.add(e.offset + e.length); }
  const points = [...cuts].sort((a, b) => a - b);
  const root = el("span", {class: "text"});
  for (let i = 0; i < points.length - 1; i++) {
    const [from, to] = [points[i], points[i + 1]];
    let node = document.createTextNode(text.slice(from, to));
    const active = entities.filter((e) => e.offset <= from && e.offset + e.length >= to)
      .sort((a, b) => b.length - a.length);
    for (const e of active.reverse()) {
      const wrapper = el("span", {}, node);
      node = entityNode(e.type, e, wrapper);
    }
    root.append(node);
  }
  return root;
}

function fileUrl(fileId) { return `/file/${encodeURIComponent(fileId)}`; }

function pollNode(m) {
  const poll = m.poll;
  const chosen = new Set(poll.chosen || []);
  const showResults = poll.is_closed || chosen.size > 0;
  const total = poll.total_voter_count || 0;
  const box = el("div", {class: "poll", "data-poll": poll.id},
    el("div", {class: "question"}, poll.question),
    el("div", {class: "poll-kind"}, poll.is_closed ? t("closed_poll")
      : `${poll.is_anonymous ? t("anonymous") : t("public_poll")}${poll.allows_multiple_answers ? " · " + t("multiple") : ""}`));
  const picked = new Set();
  poll.options.forEach((option, index) => {
    const share = total ? Math.round(100 * option.voter_count / total) : 0;
    const row = el("button", {type: "button", class: `option${chosen.has(index) ? " chosen" : ""}`,
                              disabled: poll.is_closed || showResults, "data-option": index},
      showResults ? el("span", {class: "share"}, `${share}%`) : el("span", {class: "dot"}),
      el("span", {class: "label"}, option.text, showResults ? el("span", {class: "bar"}) : null));
    if (showResults) row.querySelector(".bar").style.width = `${share}%`;
    row.addEventListener("click", () => {
      if (!poll.allows_multiple_answers) return vote(poll.id, [index]);
      if (picked.has(index)) picked.delete(index); else picked.add(index);
      row.classList.toggle("picked");
      submit.disabled = picked.size === 0;
    });
    box.append(row);
  });
  const submit = el("button", {type: "button", class: "vote", disabled: true,
                               onclick: () => vote(poll.id, [...picked])}, t("vote"));
  if (!showResults && poll.allows_multiple_answers) box.append(submit);
  box.append(el("div", {class: "poll-foot"}, `${total} ${t("votes")}`,
    chosen.size && !poll.is_closed ? el("button", {type: "button", class: "retract",
      onclick: () => vote(poll.id, [])}, t("retract")) : null));
  return box;
}

function inlineKeyboard(m) {
  const rows = (m.reply_markup || {}).inline_keyboard;
  if (!rows) return null;
  return el("div", {class: "inline-keyboard"}, rows.map((row) => el("div", {class: "row"},
    row.map((button) => el("button", {type: "button", class: "inline-button",
      onclick: () => pressInline(m, button)}, button.text, button.url ? " ↗" : "")))));
}

function messageNode(m, isGroup) {
  if (m.forum_topic_created) return el("div", {class: "service"}, `# ${m.forum_topic_created.name} · ${t("topic_created")}`);
  if (m.new_chat_members) return el("div", {class: "service"},
    `${m.new_chat_members.map((u) => u.first_name).join("、")} ${t("joined")}`);
  const body = el("div", {class: "bubble"});
  if (isGroup && !m.mine) body.append(el("div", {class: "sender"}, m.from.first_name));
  if (m.reply_to_message && !m.reply_to_message.forum_topic_created) {
    const r = m.reply_to_message;
    body.append(el("div", {class: "reply-to"}, el("b", {}, r.from.first_name), " ",
                   (r.text || r.caption || "").slice(0, 60)));
  }
  if (m.photo) {
    const biggest = m.photo[m.photo.length - 1];
    body.append(el("a", {href: fileUrl(biggest.file_id), target: "_blank"},
                   el("img", {class: "photo", src: fileUrl(biggest.file_id), alt: "photo"})));
  }
  if (m.document) {
    body.append(el("a", {class: "document", href: fileUrl(m.document.file_id),
                         download: m.document.file_name || "file"},
      el("span", {class: "doc-icon"}, (m.document.file_name || "").split(".").pop().slice(0, 4).toUpperCase() || "📎"),
      el("span", {}, el("div", {class: "doc-name"}, m.document.file_name || "file"),
         el("div", {class: "doc-size"}, `${Math.max(1, Math.round((m.document.file_size || 0) / 1024))} KB · ${t("download")}`))));
  }
  if (m.voice) body.append(el("audio", {controls: true, src: fileUrl(m.voice.file_id), class: "voice"}));
  if (m.location) body.append(el("div", {class: "location"}, "📍 ",
    `${m.location.latitude.toFixed(5)}, ${m.location.longitude.toFixed(5)}`));
  if (m.poll) body.append(pollNode(m));
  if (m.text) body.append(richText(m.text, m.entities));
  if (m.caption) body.append(richText(m.caption, m.caption_entities));
  body.append(el("span", {class: "meta"}, m.edit_date ? `${t("edited")} ` : "", clockText(m.date)));
  return el("div", {class: `message ${m.mine ? "mine" : "theirs"}`, "data-id": m.message_id},
            body, inlineKeyboard(m));
}

function renderConversation(data) {
  const entry = state.chats.find((c) => c.chat === state.chat && (c.thread ?? null) === state.thread);
  $("chat-title").textContent = entry ? (entry.kind === "topic" ? `${entry.title} › ${entry.topic}` : entry.title) : "";
  $("chat-sub").textContent = entry ? (entry.kind === "private" ? t("bot") : t(entry.kind)) : "";
  $("chat-avatar").textContent = entry ? (entry.kind === "topic" ? "#" : (entry.title || "?").slice(0, 1)) : "";
  const box = $("messages");
  const shown = JSON.stringify(data.messages);
  if (shown !== state.lastShown) {
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80 || !state.lastShown;
    const isGroup = state.chat !== state.user;
    box.replaceChildren(...(data.messages.length ? data.messages.map((m) => messageNode(m, isGroup))
                                                  : [el("div", {class: "empty"}, t("no_messages"))]));
    if (atBottom) box.scrollTop = box.scrollHeight;
    state.lastShown = shown;
  }
  const keyboard = $("reply-keyboard");
  keyboard.replaceChildren(...(data.keyboard || []).map((row) => el("div", {class: "row"},
    row.map((b) => el("button", {type: "button", class: "reply-button",
      onclick: () => sendText(typeof b === "string" ? b : b.text)}, typeof b === "string" ? b : b.text)))));
  const commands = $("commands");
  commands.replaceChildren(...data.commands.map((c) => el("button", {type: "button", class: "command",
    onclick: () => { commands.hidden = true; sendText(`/${c.command}`); }},
    el("b", {}, `/${c.command}`), " ", c.description)));
  $("menu-button").hidden = data.commands.length === 0;
}

async function refresh() {
  if (!state.user) return;
  if (state.refreshing) { state.again = true; return; }
  state.refreshing = true;
  try {
    const {chats} = await api(`/api/chats?user=${state.user}`);
    state.chats = chats;
    renderChats();
    if (state.chat !== null) {
      const query = new URLSearchParams({user: state.user, chat: state.chat});
      if (state.thread !== null) query.set("thread", state.thread);
      renderConversation(await api(`/api/messages?${query}`));
    }
  } catch (error) {
    console.error(error);
  } finally {
    state.refreshing = false;
    if (state.again) { state.again = false; refresh(); }
  }
}

// ----- acting -----

function toast(text, alert = false) {
  if (alert) { $("alert-text").textContent = text; $("alert-dialog").hidden = false; return; }
  const node = el("div", {class: "toast"}, text);
  $("toasts").append(node);
  setTimeout(() => node.remove(), 3500);
}

async function sendForm(fields) {
  const form = new FormData();
  form.set("user", state.user); form.set("chat", state.chat);
  if (state.thread !== null) form.set("thread", state.thread);
  for (const [key, value] of Object.entries(fields)) {
    if (Array.isArray(value)) form.set(key, value[0], value[1]); else form.set(key, value);
  }
  try { await api("/api/send", {method: "POST", body: form}); } catch (error) { toast(String(error.message)); }
  refresh();
}

function sendText(text) { if (text.trim()) sendForm({kind: "text", text}); }

async function pressInline(m, button) {
  if (button.url) { window.open(button.url, "_blank", "noopener"); return; }
  if (button.callback_data === undefined) { toast(t("not_here")); return; }
  try {
    await post("/api/press", {user: state.user, chat: state.chat, message_id: m.message_id,
                              data: button.callback_data});
  } catch (error) { toast(String(error.message)); }
}

async function vote(poll, options) {
  try { await post("/api/vote", {user: state.user, poll, options}); } catch (error) { toast(String(error.message)); }
  refresh();
}

async function toggleRecording() {
  if (state.recorder) { state.recorder.stop(); return; }
  if (!navigator.mediaDevices || !window.MediaRecorder) { toast(t("no_mic")); $("voice-input").click(); return; }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({audio: true});
    const recorder = new MediaRecorder(stream);
    const parts = [];
    recorder.ondataavailable = (e) => parts.push(e.data);
    recorder.onstop = () => {
      stream.getTracks().forEach((track) => track.stop());
      state.recorder = null;
      $("voice-button").classList.remove("recording");
      const blob = new Blob(parts, {type: recorder.mimeType || "audio/webm"});
      sendForm({kind: "voice", file: [blob, "voice.webm"]});
    };
    recorder.start();
    state.recorder = recorder;
    $("voice-button").classList.add("recording");
    toast(t("recording"));
  } catch (error) { toast(t("no_mic")); $("voice-input").click(); }
}

// ----- clock and tour -----

async function showClock(data) {
  const clock = data || await api("/api/clock");
  const format = (iso, long) => new Date(iso).toLocaleString(state.lang === "zh" ? "zh-CN" : "en-GB", {
    timeZone: state.timezone, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    ...(long ? {year: "numeric", weekday: "short"} : {})});
  $("clock-now").textContent = format(clock.now, true);
  $("clock-next").textContent = clock.next ? `${t("next_deadline")}${format(clock.next, false)}` : t("no_deadline");
}

async function jump(step) {
  for (const id of ["jump-hour", "jump-day", "jump-next"]) $(id).disabled = true;
  try {
    const result = await post("/api/clock", {step});
    showClock(result);
    toast(t("fired")(result.fired));
  } catch (error) { toast(String(error.message)); }
  finally { for (const id of ["jump-hour", "jump-day", "jump-next"]) $(id).disabled = false; }
  refresh();
}

function renderTour() {
  const list = $("tour-steps");
  list.replaceChildren(...t("steps").map(([user, chat, text], index) => {
    const person = state.people.find((p) => p.id === user);
    return el("li", {"data-step": index + 1},
      el("div", {class: "who"}, person ? `${person.name} · ${t("role")[person.role]}` : ""),
      el("div", {}, text),
      person ? el("button", {type: "button", class: "go", onclick: () => {
        navigate(user, chat, null);
        if (window.matchMedia("(max-width: 720px)").matches) $("tour").hidden = true;
      }}, t("go")) : null);
  }));
}

// ----- live -----

function connect() {
  const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/ws`);
  socket.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (data.type === "toast" && data.user === state.user) toast(data.text, data.alert);
    else if (data.type === "clock") showClock();
    else if (data.type === "changed") refresh();
  };
  socket.onopen = () => document.body.classList.add("live");
  socket.onclose = () => { document.body.classList.remove("live"); setTimeout(connect, 1000); };
}

async function start() {
  const world = await api("/api/world");
  state.people = world.people; state.bot = world.bot; state.timezone = world.timezone;
  if (!state.people.some((p) => p.id === state.user)) state.user = state.people[0]?.id || 0;
  $("person").addEventListener("change", (e) => navigate(Number(e.target.value)));
  $("back").addEventListener("click", () => navigate(state.user));
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("text");
    sendText(input.value); input.value = "";
  });
  $("menu-button").addEventListener("click", () => { $("commands").hidden = !$("commands").hidden; });
  $("attach-button").addEventListener("click", () => { $("attach-menu").hidden = !$("attach-menu").hidden; });
  const pick = (input, kind) => $(input).addEventListener("change", (e) => {
    const file = e.target.files[0];
    if (file) sendForm({kind, file: [file, file.name]});
    e.target.value = "";
  });
  pick("photo-input", "photo"); pick("voice-input", "voice"); pick("file-input", "document");
  for (const [button, input] of [["attach-photo", "photo-input"], ["attach-voice", "voice-input"], ["attach-file", "file-input"]]) {
    $(button).addEventListener("click", () => { $("attach-menu").hidden = true; $(input).click(); });
  }
  $("attach-location").addEventListener("click", () => { $("attach-menu").hidden = true; $("location-dialog").hidden = false; });
  $("location-cancel").addEventListener("click", () => { $("location-dialog").hidden = true; });
  $("location-form").addEventListener("submit", (e) => {
    e.preventDefault();
    $("location-dialog").hidden = true;
    sendForm({kind: "location", latitude: $("latitude").value, longitude: $("longitude").value});
  });
  $("voice-button").addEventListener("click", toggleRecording);
  $("alert-ok").addEventListener("click", () => { $("alert-dialog").hidden = true; });
  $("jump-hour").addEventListener("click", () => jump("hour"));
  $("jump-day").addEventListener("click", () => jump("day"));
  $("jump-next").addEventListener("click", () => jump("next"));
  $("tour-toggle").addEventListener("click", () => { $("tour").hidden = !$("tour").hidden; });
  $("lang-toggle").addEventListener("click", async () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem("linli-sandbox-lang", state.lang);
    applyLanguage();
    await post("/api/language", {language: state.lang});
    state.lastShown = ""; refresh();
  });
  applyLanguage();
  if (state.lang === "en") await post("/api/language", {language: "en"});
  navigate(state.user, state.chat, state.thread);
  showClock();
  connect();
}

start();
