"""强化引领: broadcasts to the bound chats of a leader's scope.
May use core/, org/, storage/ and config/; never another pillar."""
