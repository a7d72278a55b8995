"""党建聚邻: reports climbing the leader chain, their notices and cards, the overdue digest.
May use core/, org/, storage/ and config/; never another pillar."""
