"""服务暖邻: volunteers, help requests and care visits.
May use core/, org/, storage/ and config/; never another pillar."""
