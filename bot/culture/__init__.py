"""文化近邻: events with RSVP, 最美家庭, holiday drafts and .ics calendar files.
May use core/, org/, storage/ and config/; never another pillar."""
