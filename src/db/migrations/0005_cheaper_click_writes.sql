-- Cheaper click writes (issue 3: the redirect's cost is mostly writing its click). Measured per
-- click row in PostgreSQL (bench/redirect prints the figure): every index and every per-row lookup
-- in the trigger is paid on each of thousands of clicks a second.

-- Click ids start with their time (src/modules/clicks/capture.ts), and compare as bytes ("C"): new
-- ids land on the right-most page of the primary key instead of a random one (fewer pages touched,
-- fewer full-page images in the WAL after a checkpoint), and comparing them needs no locale rules.
alter table clicks alter column id type text collate "C";

-- A click's query parameters are kept for the app and read back whole, never searched: json keeps
-- the text as written, where jsonb would parse it into its binary form on every insert (~2 µs a click).
alter table clicks alter column query_params drop default;
alter table clicks alter column query_params type json using query_params::json;
alter table clicks alter column query_params set default '{}';

-- Nothing reads clicks by (app, time) alone: attribution reads by id, device id or IP, and a
-- time-zone change re-dates an app's counted clicks through clicks_ip_idx (app_id comes first).
drop index clicks_app_time_idx;

-- Retention deletes by age, and rows arrive in time order: a BRIN index is a few pages, not a
-- b-tree entry per click.
drop index clicks_retention_idx;
create index clicks_retention_idx on clicks using brin (clicked_at) with (autosummarize = on);

-- The insert trigger now aggregates its transition table directly instead of looking every new
-- row up again by seq, so seq (a sequence value and a unique index per click) goes.
drop view analytics_facts;
drop view analytics_click_facts;
alter table clicks drop column seq;

-- One definition of a click fact, used by the view (recounts, time-zone changes) and the trigger.
create view analytics_click_facts as
select c.app_id, c.environment, c.clicked_at as at,
       coalesce(c.network, '') as network, coalesce(c.campaign, '') as campaign,
       coalesce(c.ad_group_id, '') as ad_group_id, coalesce(c.ad_id, '') as ad_id,
       coalesce(c.link_id, '') as link_id, coalesce(c.platform, '') as platform,
       coalesce(c.country, '') as country, ''::text as match_type, ''::text as event_name, ''::text as currency,
       1 as clicks, 0 as installs, 0 as attributed_installs, 0 as events, 0 as trials,
       0 as qualified_trials, 0 as purchases, 0::numeric as revenue
from clicks c
where analytics_click_counts(c.is_bot, c.duplicate_of);

create view analytics_facts as
select app_id, environment, at, network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type,
       event_name, currency, clicks, installs, attributed_installs, events, trials, qualified_trials, purchases, revenue
from analytics_click_facts
union all
select app_id, environment, at, network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type,
       event_name, currency, clicks, installs, attributed_installs, events, trials, qualified_trials, purchases, revenue
from analytics_install_facts
union all
select app_id, environment, at, network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type,
       event_name, currency, clicks, installs, attributed_installs, events, trials, qualified_trials, purchases, revenue
from analytics_event_facts;

-- The same projection as analytics_click_facts, over the statement's new rows (a transition table
-- cannot be read through a view). rollups.test.ts checks rollups against a recount of the view.
create or replace function analytics_on_clicks_insert() returns trigger language plpgsql
  set enable_seqscan = off as $$
begin
  perform analytics_lock_apps(array(select distinct app_id from new_rows), false);
  insert into analytics_pending (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform,
                                 country, match_type, event_name, currency, clicks)
  select c.app_id, c.environment, (c.clicked_at at time zone a.timezone)::date,
         coalesce(c.network, ''), coalesce(c.campaign, ''), coalesce(c.ad_group_id, ''), coalesce(c.ad_id, ''),
         coalesce(c.link_id, ''), coalesce(c.platform, ''), coalesce(c.country, ''), '', '', '', count(*)
  from new_rows c
  join apps a on a.id = c.app_id
  where analytics_click_counts(c.is_bot, c.duplicate_of)
  group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
  return null;
end $$;

-- A third way a click arrives (src/modules/clicks/routes.ts).
comment on column clicks.source is
  'redirect (/api/c), landing (/g page view), capture (/api/c on the API host for a link with no destination)';
