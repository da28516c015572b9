-- The analytics rollup triggers run on every insert into clicks, events and attributions. Every
-- lookup they make must use an index, whatever the planner's statistics say: a plan cached while
-- a table was small (a fresh install, a test, the first minutes after a bulk load) otherwise keeps
-- scanning `events` and `attributions` sequentially as they grow, and ingestion slows with the
-- table size (measured: 1 900 events/s with the cached plans against 9 000 with index lookups).
alter function analytics_on_clicks_insert() set enable_seqscan = off;
alter function analytics_on_events_insert() set enable_seqscan = off;
alter function analytics_on_attributions_insert() set enable_seqscan = off;
alter function analytics_on_attributions_update() set enable_seqscan = off;
