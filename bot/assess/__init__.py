"""考核评价: the assessment figures (/stats) and the monthly report.
May use core/, org/, storage/ and config/; never another pillar."""
