-- The command menu published for each leader's private chat (BotCommandScopeChat): what
-- it holds (language and command names), so a start or a change publishes only what
-- changed, and the menu of someone who is no longer a leader is taken away.
CREATE TABLE leader_menus (
    user_id     INTEGER PRIMARY KEY,
    signature   TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
