"""恳谈睦邻: topic proposals, topic polls, consultation meetings and their follow-ups.
May use core/, org/, storage/ and config/; never another pillar."""
