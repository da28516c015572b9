-- Analytics rollups. Owned by the analytics module (src/modules/analytics); design in docs/analytics.md.
--
-- Writers never touch a shared counter row: statement-level triggers on clicks, events and
-- attributions append their aggregated deltas to analytics_pending (insert only, no contention);
-- analytics_fold() moves pending deltas into the daily rollups in one transaction, so a reader
-- that sums "rollup ∪ pending" in one statement always sees every committed write exactly once.
-- Days are calendar days in the app's time zone, computed at write time; a time-zone change
-- re-dates the app's history in the same transaction (trigger on apps).
-- Rollups persist after raw rows expire (clicks 30 days): there are no delete triggers.
-- Dimension values are '' rather than null inside rollups, so that they can form primary keys.

-- ---------------------------------------------------------------------------------------------
-- Definitions, written once (mirrored in src/modules/analytics/definitions.ts for the API docs).

-- A click counts when it is not a bot/preview and not a rapid repeat of an earlier click.
create function analytics_click_counts(is_bot boolean, duplicate_of text) returns boolean
  language sql immutable parallel safe as $$ select not is_bot and duplicate_of is null $$;

-- An install is attributed when it has a paid source (any network and match type but organic).
create function analytics_is_attributed(network text, match_type text) returns boolean
  language sql immutable parallel safe as
  $$ select coalesce(network, 'organic') <> 'organic' and coalesce(match_type, 'organic') <> 'organic' $$;

-- Revenue: purchase/subscribe amounts as signed (a negative one is a reversal), refunds always subtract.
create function analytics_revenue(event_name text, revenue numeric) returns numeric
  language sql immutable parallel safe as $$
  select case when revenue is null then 0
              when event_name in ('purchase', 'subscribe') then revenue
              when event_name = 'refund' then -abs(revenue)
              else 0 end $$;

-- A purchase: purchase/subscribe with a positive amount.
create function analytics_is_purchase(event_name text, revenue numeric) returns boolean
  language sql immutable parallel safe as
  $$ select event_name in ('purchase', 'subscribe') and coalesce(revenue, 0) > 0 $$;

-- A qualified trial comes from the platform itself; a client-sent "qualified_trial" is a custom event.
create function analytics_is_qualified_trial(event_name text, source text) returns boolean
  language sql immutable parallel safe as $$ select event_name = 'qualified_trial' and source = 'system' $$;

-- ---------------------------------------------------------------------------------------------
-- Facts: one row per countable raw row, in the shape of a rollup row (day still an instant, `at`).

create view analytics_click_facts as
select c.seq, c.app_id, c.environment, c.clicked_at as at,
       coalesce(c.network, '') as network, coalesce(c.campaign, '') as campaign,
       coalesce(c.ad_group_id, '') as ad_group_id, coalesce(c.ad_id, '') as ad_id,
       coalesce(c.link_id, '') as link_id, coalesce(c.platform, '') as platform,
       coalesce(c.country, '') as country, ''::text as match_type, ''::text as event_name, ''::text as currency,
       1 as clicks, 0 as installs, 0 as attributed_installs, 0 as events, 0 as trials,
       0 as qualified_trials, 0 as purchases, 0::numeric as revenue
from clicks c
where analytics_click_counts(c.is_bot, c.duplicate_of);

-- An install is an attribution row (one per device and environment: the first configure).
create view analytics_install_facts as
select t.device_pk, t.app_id, t.environment, t.installed_at as at,
       coalesce(t.network, '') as network, coalesce(t.campaign, '') as campaign,
       coalesce(t.ad_group_id, '') as ad_group_id, coalesce(t.ad_id, '') as ad_id,
       coalesce(t.link_id, '') as link_id, coalesce(t.platform, '') as platform,
       coalesce(t.country, '') as country, coalesce(t.match_type, '') as match_type,
       'install'::text as event_name, ''::text as currency,
       0 as clicks, 1 as installs, analytics_is_attributed(t.network, t.match_type)::int as attributed_installs,
       0 as events, 0 as trials, 0 as qualified_trials, 0 as purchases, 0::numeric as revenue
from attributions t;

-- Events are credited to their device's install attribution (dimensions '' when it has none yet).
-- same_statement: the event and its device's attribution were written by the same statement (the
-- tracking module writes device, attribution and install event in one): the events trigger then
-- already counts the event under that attribution, so attribution triggers must not move it.
create view analytics_event_facts as
select e.seq, e.device_pk, e.app_id, e.environment, e.received_at as at,
       coalesce(e.xmin = t.xmin and e.cmin = t.cmin, false) as same_statement,
       coalesce(t.network, '') as network, coalesce(t.campaign, '') as campaign,
       coalesce(t.ad_group_id, '') as ad_group_id, coalesce(t.ad_id, '') as ad_id,
       coalesce(t.link_id, '') as link_id, coalesce(t.platform, '') as platform,
       coalesce(t.country, '') as country, coalesce(t.match_type, '') as match_type,
       e.event_name, coalesce(upper(e.currency), '') as currency,
       0 as clicks, 0 as installs, 0 as attributed_installs, 1 as events,
       (e.event_name = 'start_trial')::int as trials,
       analytics_is_qualified_trial(e.event_name, e.source)::int as qualified_trials,
       analytics_is_purchase(e.event_name, e.revenue)::int as purchases,
       analytics_revenue(e.event_name, e.revenue) as revenue
from events e
left join attributions t on t.device_pk = e.device_pk
where not e.is_control;

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

-- ---------------------------------------------------------------------------------------------
-- Rollups.

-- Every dimension: serves any filter or grouping.
create table analytics_daily (
  app_id               text not null,
  environment          text not null,
  day                  date not null,            -- calendar day in the app's time zone
  network              text not null,
  campaign             text not null,
  ad_group_id          text not null,
  ad_id                text not null,
  link_id              text not null,
  platform             text not null,
  country              text not null,
  match_type           text not null,
  event_name           text not null,            -- '' for clicks, 'install' for installs
  currency             text not null,            -- '' when no revenue currency
  clicks               bigint not null default 0,
  installs             bigint not null default 0,
  attributed_installs  bigint not null default 0,
  events               bigint not null default 0,
  trials               bigint not null default 0,
  qualified_trials     bigint not null default 0,
  purchases            bigint not null default 0,
  revenue              numeric not null default 0,
  paying_users         bigint not null default 0,  -- device-days with a purchase, on the event_name '' row
  primary key (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country,
               match_type, event_name, currency)
);

-- Coarse: serves the common reads (overview, portfolio, stats by date/network/campaign/platform)
-- with a few rows per app and day instead of one per ad × country × event name.
create table analytics_daily_campaign (
  app_id               text not null,
  environment          text not null,
  day                  date not null,
  network              text not null,
  campaign             text not null,
  platform             text not null,
  currency             text not null,
  clicks               bigint not null default 0,
  installs             bigint not null default 0,
  attributed_installs  bigint not null default 0,
  events               bigint not null default 0,
  trials               bigint not null default 0,
  qualified_trials     bigint not null default 0,
  purchases            bigint not null default 0,
  revenue              numeric not null default 0,
  paying_users         bigint not null default 0,
  primary key (app_id, environment, day, network, campaign, platform, currency)
);

-- Deltas not yet folded (append only). Readers add them to the rollups.
create table analytics_pending (
  id                   bigserial primary key,
  app_id               text not null,
  environment          text not null,
  day                  date not null,
  network              text not null,
  campaign             text not null,
  ad_group_id          text not null,
  ad_id                text not null,
  link_id              text not null,
  platform             text not null,
  country              text not null,
  match_type           text not null,
  event_name           text not null,
  currency             text not null,
  clicks               bigint not null default 0,
  installs             bigint not null default 0,
  attributed_installs  bigint not null default 0,
  events               bigint not null default 0,
  trials               bigint not null default 0,
  qualified_trials     bigint not null default 0,
  purchases            bigint not null default 0,
  revenue              numeric not null default 0,
  paying_users         bigint not null default 0
);
create index analytics_pending_app_idx on analytics_pending (app_id, environment, day);

-- Paying users are a distinct count. One row per device, day and purchase event name: serves the
-- distinct counts by event name (a device may pay under several names). Within one day a device is
-- in one group, so the rollups also carry an additive daily count (paying_users: device-days).
create table analytics_payers (
  app_id       text not null,
  environment  text not null,
  day          date not null,
  device_pk    bigint not null,
  event_name   text not null,
  network      text not null,
  campaign     text not null,
  ad_group_id  text not null,
  ad_id        text not null,
  link_id      text not null,
  platform     text not null,
  country      text not null,
  match_type   text not null,
  primary key (app_id, environment, day, device_pk, event_name)
);
create index analytics_payers_device_idx on analytics_payers (device_pk);

-- Paying device-days with the device's previous paying day: the distinct paying devices of
-- [from, to] are its device-days with prev_day < from (or none): each device's first one in the
-- period. A count, not a distinct, served from one index; dimensions as in analytics_payers.
create table analytics_payer_days (
  device_pk    bigint not null,
  day          date not null,
  prev_day     date,
  app_id       text not null,
  environment  text not null,
  network      text not null,
  campaign     text not null,
  ad_group_id  text not null,
  ad_id        text not null,
  link_id      text not null,
  platform     text not null,
  country      text not null,
  match_type   text not null,
  primary key (device_pk, day)
);
create index analytics_payer_days_period_idx on analytics_payer_days (app_id, environment, day)
  include (prev_day, network, campaign, platform);

-- The same as counts per (day, prev_day) without dimensions: a few thousand rows per app answer
-- the unfiltered questions (overview, portfolio). prev_day '-infinity': no previous paying day.
-- Maintained as deltas like the rollups (no hot counter row for concurrent purchases).
create table analytics_payer_counts (
  app_id       text not null,
  environment  text not null,
  day          date not null,
  prev_day     date not null,
  payers       bigint not null,
  primary key (app_id, environment, day, prev_day)
);
create table analytics_payer_counts_pending (
  id           bigserial primary key,
  app_id       text not null,
  environment  text not null,
  day          date not null,
  prev_day     date not null,
  payers       bigint not null
);
create index analytics_payer_counts_pending_app_idx on analytics_payer_counts_pending (app_id, environment, day);

-- Recomputes prev_day of these devices' paying days (after days were added or removed), with the
-- matching count deltas.
create function analytics_link_payer_days(devices bigint[]) returns void language sql
  set enable_seqscan = off as $$
  with w as (
    select device_pk, day, prev_day as old_prev, lag(day) over (partition by device_pk order by day) as new_prev
    from analytics_payer_days where device_pk = any(devices)
  ), changed as (
    update analytics_payer_days p set prev_day = w.new_prev
    from w where p.device_pk = w.device_pk and p.day = w.day and p.prev_day is distinct from w.new_prev
    returning p.app_id, p.environment, p.day, w.old_prev, w.new_prev
  )
  insert into analytics_payer_counts_pending (app_id, environment, day, prev_day, payers)
  select app_id, environment, day, prev_day, sum(n) from (
    select app_id, environment, day, coalesce(old_prev, '-infinity') as prev_day, -1 as n from changed
    union all
    select app_id, environment, day, coalesce(new_prev, '-infinity'), 1 from changed
  ) d group by 1, 2, 3, 4 having sum(n) <> 0
$$;

-- Raw-row reads: the event log filtered by event name.
create index events_log_name_idx on events (app_id, environment, event_name, received_at desc, seq desc);

-- ---------------------------------------------------------------------------------------------
-- Locks. Writers take shared locks, rewriters exclusive ones, always in ascending key order.
-- App lock: a time-zone change waits for in-flight writes of the app (they read the old zone).
-- Device lock (1024 buckets): an attribution change waits for in-flight events of the device
-- (they read the old attribution), and later events wait for it and read the new one.

create function analytics_lock_apps(app_ids text[], exclusive boolean) returns void language plpgsql as $$
declare k int;
begin
  for k in select distinct hashtext(x) from unnest(app_ids) x order by 1 loop
    if exclusive then perform pg_advisory_xact_lock(727004, k); else perform pg_advisory_xact_lock_shared(727004, k); end if;
  end loop;
end $$;

-- One sorted pass: a bucket wanted both ways is taken exclusively (never upgraded later).
create function analytics_lock_devices(shared_pks bigint[], exclusive_pks bigint[]) returns void language plpgsql as $$
declare k int; x boolean;
begin
  for k, x in
    select b, bool_or(ex) from (
      select (d % 1024)::int as b, false as ex from unnest(shared_pks) d where d is not null
      union all
      select (d % 1024)::int, true from unnest(exclusive_pks) d where d is not null
    ) s group by b order by b
  loop
    if x then perform pg_advisory_xact_lock(727005, k); else perform pg_advisory_xact_lock_shared(727005, k); end if;
  end loop;
end $$;

-- ---------------------------------------------------------------------------------------------
-- Triggers (statement level, with transition tables: one aggregated insert per statement).
-- They look rows up by key only; plans cached while a table was small (or never analyzed) must
-- not become sequential scans of a large table, hence enable_seqscan = off inside them.

create function analytics_on_clicks_insert() returns trigger language plpgsql
  set enable_seqscan = off as $$
begin
  perform analytics_lock_apps(array(select distinct app_id from new_rows), false);
  insert into analytics_pending (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform,
                                 country, match_type, event_name, currency, clicks)
  select f.app_id, f.environment, (f.at at time zone a.timezone)::date, f.network, f.campaign, f.ad_group_id, f.ad_id,
         f.link_id, f.platform, f.country, f.match_type, f.event_name, f.currency, count(*)
  from analytics_click_facts f
  join apps a on a.id = f.app_id
  where f.seq = any(array(select seq from new_rows))  -- an array: always the index, whatever the estimate
  group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13;
  return null;
end $$;

create trigger analytics_clicks_insert after insert on clicks
  referencing new table as new_rows for each statement execute function analytics_on_clicks_insert();

create function analytics_on_events_insert() returns trigger language plpgsql
  set enable_seqscan = off as $$
declare
  -- A device with a purchase is locked exclusively: "is this device-day new?" must not race.
  paying bigint[] := array(select distinct device_pk from new_rows
                           where not is_control and analytics_is_purchase(event_name, revenue));
begin
  perform analytics_lock_apps(array(select distinct app_id from new_rows), false);
  perform analytics_lock_devices(array(select distinct device_pk from new_rows), paying);
  insert into analytics_pending (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform,
                                 country, match_type, event_name, currency, events, trials, qualified_trials, purchases, revenue)
  select f.app_id, f.environment, (f.at at time zone a.timezone)::date, f.network, f.campaign, f.ad_group_id, f.ad_id,
         f.link_id, f.platform, f.country, f.match_type, f.event_name, f.currency,
         sum(f.events), sum(f.trials), sum(f.qualified_trials), sum(f.purchases), sum(f.revenue)
  from analytics_event_facts f
  join apps a on a.id = f.app_id
  where f.seq = any(array(select seq from new_rows))
  group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13;

  if paying = '{}' then return null; end if;
  -- New paying device-days count once in the daily rollup.
  with fresh as (
    insert into analytics_payer_days (device_pk, day, app_id, environment, network, campaign, ad_group_id, ad_id, link_id,
                                      platform, country, match_type)
    select distinct f.device_pk, (f.at at time zone a.timezone)::date, f.app_id, f.environment, f.network, f.campaign,
           f.ad_group_id, f.ad_id, f.link_id, f.platform, f.country, f.match_type
    from analytics_event_facts f
    join apps a on a.id = f.app_id
    where f.seq = any(array(select seq from new_rows)) and f.purchases > 0 and f.device_pk is not null
    on conflict do nothing
    returning *
  ), counted as (
    insert into analytics_payer_counts_pending (app_id, environment, day, prev_day, payers)
    select app_id, environment, day, '-infinity', count(*) from fresh group by 1, 2, 3
  )
  insert into analytics_pending (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform,
                                 country, match_type, event_name, currency, paying_users)
  select app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type, '', '', count(*)
  from fresh
  group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11;
  perform analytics_link_payer_days(paying);

  insert into analytics_payers (app_id, environment, day, device_pk, event_name, network, campaign, ad_group_id, ad_id,
                                link_id, platform, country, match_type)
  select distinct f.app_id, f.environment, (f.at at time zone a.timezone)::date, f.device_pk, f.event_name, f.network,
         f.campaign, f.ad_group_id, f.ad_id, f.link_id, f.platform, f.country, f.match_type
  from analytics_event_facts f
  join apps a on a.id = f.app_id
  where f.seq = any(array(select seq from new_rows)) and f.purchases > 0 and f.device_pk is not null
  on conflict do nothing;
  return null;
end $$;

create trigger analytics_events_insert after insert on events
  referencing new table as new_rows for each statement execute function analytics_on_events_insert();

-- A new attribution: count the install, and move the device's earlier events (a stub device's,
-- counted without attribution) to it.
create function analytics_on_attributions_insert() returns trigger language plpgsql
  set enable_seqscan = off as $$
declare added bigint[] := array(select device_pk from new_rows);
begin
  perform analytics_lock_apps(array(select distinct app_id from new_rows), false);
  perform analytics_lock_devices('{}', added);
  insert into analytics_pending (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform,
                                 country, match_type, event_name, currency, installs, attributed_installs,
                                 events, trials, qualified_trials, purchases, revenue)
  select app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type,
         event_name, currency, sum(installs), sum(attributed_installs), sum(events), sum(trials), sum(qualified_trials),
         sum(purchases), sum(revenue)
  from (
    select f.app_id, f.environment, (f.at at time zone a.timezone)::date as day, f.network, f.campaign, f.ad_group_id,
           f.ad_id, f.link_id, f.platform, f.country, f.match_type, f.event_name, f.currency, f.installs,
           f.attributed_installs, f.events, f.trials, f.qualified_trials, f.purchases, f.revenue
    from analytics_install_facts f join apps a on a.id = f.app_id where f.device_pk = any(added)
    union all
    select f.app_id, f.environment, (f.at at time zone a.timezone)::date, '', '', '', '', '', '', '', '',
           f.event_name, f.currency, 0, 0, -f.events, -f.trials, -f.qualified_trials, -f.purchases, -f.revenue
    from analytics_event_facts f join apps a on a.id = f.app_id where f.device_pk = any(added) and not f.same_statement
    union all
    select f.app_id, f.environment, (f.at at time zone a.timezone)::date, f.network, f.campaign, f.ad_group_id,
           f.ad_id, f.link_id, f.platform, f.country, f.match_type, f.event_name, f.currency, 0, 0,
           f.events, f.trials, f.qualified_trials, f.purchases, f.revenue
    from analytics_event_facts f join apps a on a.id = f.app_id where f.device_pk = any(added) and not f.same_statement
  ) d
  group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13;

  -- paying device-days move with the device (their rows still carry the old dimensions here)
  insert into analytics_pending (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform,
                                 country, match_type, event_name, currency, paying_users)
  select app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type, '', '', sum(n)
  from (
    select p.app_id, p.environment, p.day, p.network, p.campaign, p.ad_group_id, p.ad_id, p.link_id,
           p.platform, p.country, p.match_type, -1 as n
    from analytics_payer_days p where p.device_pk = any(added)
    union all
    select p.app_id, p.environment, p.day, coalesce(t.network, ''), coalesce(t.campaign, ''),
           coalesce(t.ad_group_id, ''), coalesce(t.ad_id, ''), coalesce(t.link_id, ''), coalesce(t.platform, ''),
           coalesce(t.country, ''), coalesce(t.match_type, ''), 1
    from analytics_payer_days p join attributions t on t.device_pk = p.device_pk where p.device_pk = any(added)
  ) d
  group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
  having sum(n) <> 0;

  update analytics_payers p
  set network = coalesce(n.network, ''), campaign = coalesce(n.campaign, ''), ad_group_id = coalesce(n.ad_group_id, ''),
      ad_id = coalesce(n.ad_id, ''), link_id = coalesce(n.link_id, ''), platform = coalesce(n.platform, ''),
      country = coalesce(n.country, ''), match_type = coalesce(n.match_type, '')
  from new_rows n where p.device_pk = n.device_pk and p.device_pk = any(added);
  update analytics_payer_days p
  set network = coalesce(n.network, ''), campaign = coalesce(n.campaign, ''), ad_group_id = coalesce(n.ad_group_id, ''),
      ad_id = coalesce(n.ad_id, ''), link_id = coalesce(n.link_id, ''), platform = coalesce(n.platform, ''),
      country = coalesce(n.country, ''), match_type = coalesce(n.match_type, '')
  from new_rows n where p.device_pk = n.device_pk and p.device_pk = any(added);
  return null;
end $$;

create trigger analytics_attributions_insert after insert on attributions
  referencing new table as new_rows for each statement execute function analytics_on_attributions_insert();

-- A changed attribution (e.g. Apple Search Ads resolved later): move the install and every event
-- of the device from the old dimensions to the new ones.
create function analytics_on_attributions_update() returns trigger language plpgsql
  set enable_seqscan = off as $$
declare moved bigint[];
begin
  select array_agg(n.device_pk order by n.device_pk) into moved
  from old_rows o join new_rows n on n.id = o.id
  where (o.network, o.campaign, o.ad_group_id, o.ad_id, o.link_id, o.platform, o.country, o.match_type,
         o.installed_at, o.environment, o.device_pk)
        is distinct from
        (n.network, n.campaign, n.ad_group_id, n.ad_id, n.link_id, n.platform, n.country, n.match_type,
         n.installed_at, n.environment, n.device_pk);
  if moved is null then return null; end if;
  perform analytics_lock_apps(array(select distinct app_id from new_rows where device_pk = any(moved)), false);
  perform analytics_lock_devices('{}', moved || array(select device_pk from old_rows));

  insert into analytics_pending (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform,
                                 country, match_type, event_name, currency, installs, attributed_installs,
                                 events, trials, qualified_trials, purchases, revenue)
  select app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type,
         event_name, currency, sum(installs), sum(attributed_installs), sum(events), sum(trials), sum(qualified_trials),
         sum(purchases), sum(revenue)
  from (
    -- the install, out of the old dimensions and day
    select o.app_id, o.environment, (o.installed_at at time zone a.timezone)::date as day, coalesce(o.network, '') as network,
           coalesce(o.campaign, '') as campaign, coalesce(o.ad_group_id, '') as ad_group_id, coalesce(o.ad_id, '') as ad_id,
           coalesce(o.link_id, '') as link_id, coalesce(o.platform, '') as platform, coalesce(o.country, '') as country,
           coalesce(o.match_type, '') as match_type, 'install' as event_name, '' as currency,
           -1 as installs, -analytics_is_attributed(o.network, o.match_type)::int as attributed_installs,
           0 as events, 0 as trials, 0 as qualified_trials, 0 as purchases, 0::numeric as revenue
    from old_rows o join apps a on a.id = o.app_id where o.device_pk = any(moved)
    union all
    -- the install, into the new ones
    select f.app_id, f.environment, (f.at at time zone a.timezone)::date, f.network, f.campaign, f.ad_group_id,
           f.ad_id, f.link_id, f.platform, f.country, f.match_type, f.event_name, f.currency, f.installs,
           f.attributed_installs, 0, 0, 0, 0, 0
    from analytics_install_facts f join apps a on a.id = f.app_id where f.device_pk = any(moved)
    union all
    -- the device's events, out of the old dimensions
    select f.app_id, f.environment, (f.at at time zone a.timezone)::date, coalesce(o.network, ''), coalesce(o.campaign, ''),
           coalesce(o.ad_group_id, ''), coalesce(o.ad_id, ''), coalesce(o.link_id, ''), coalesce(o.platform, ''),
           coalesce(o.country, ''), coalesce(o.match_type, ''), f.event_name, f.currency, 0, 0,
           -f.events, -f.trials, -f.qualified_trials, -f.purchases, -f.revenue
    from analytics_event_facts f join old_rows o on o.device_pk = f.device_pk join apps a on a.id = f.app_id
    where f.device_pk = any(moved) and not f.same_statement
    union all
    -- and into the new ones
    select f.app_id, f.environment, (f.at at time zone a.timezone)::date, f.network, f.campaign, f.ad_group_id,
           f.ad_id, f.link_id, f.platform, f.country, f.match_type, f.event_name, f.currency, 0, 0,
           f.events, f.trials, f.qualified_trials, f.purchases, f.revenue
    from analytics_event_facts f join apps a on a.id = f.app_id where f.device_pk = any(moved) and not f.same_statement
  ) d
  group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13;

  -- paying device-days move with the device (their rows still carry the old dimensions here)
  insert into analytics_pending (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform,
                                 country, match_type, event_name, currency, paying_users)
  select app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type, '', '', sum(n)
  from (
    select p.app_id, p.environment, p.day, p.network, p.campaign, p.ad_group_id, p.ad_id, p.link_id,
           p.platform, p.country, p.match_type, -1 as n
    from analytics_payer_days p where p.device_pk = any(moved)
    union all
    select p.app_id, p.environment, p.day, coalesce(t.network, ''), coalesce(t.campaign, ''),
           coalesce(t.ad_group_id, ''), coalesce(t.ad_id, ''), coalesce(t.link_id, ''), coalesce(t.platform, ''),
           coalesce(t.country, ''), coalesce(t.match_type, ''), 1
    from analytics_payer_days p join attributions t on t.device_pk = p.device_pk where p.device_pk = any(moved)
  ) d
  group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
  having sum(n) <> 0;

  update analytics_payers p
  set network = coalesce(n.network, ''), campaign = coalesce(n.campaign, ''), ad_group_id = coalesce(n.ad_group_id, ''),
      ad_id = coalesce(n.ad_id, ''), link_id = coalesce(n.link_id, ''), platform = coalesce(n.platform, ''),
      country = coalesce(n.country, ''), match_type = coalesce(n.match_type, '')
  from new_rows n where p.device_pk = n.device_pk and p.device_pk = any(moved);
  update analytics_payer_days p
  set network = coalesce(n.network, ''), campaign = coalesce(n.campaign, ''), ad_group_id = coalesce(n.ad_group_id, ''),
      ad_id = coalesce(n.ad_id, ''), link_id = coalesce(n.link_id, ''), platform = coalesce(n.platform, ''),
      country = coalesce(n.country, ''), match_type = coalesce(n.match_type, '')
  from new_rows n where p.device_pk = n.device_pk and p.device_pk = any(moved);
  return null;
end $$;

create trigger analytics_attributions_update after update on attributions
  referencing old table as old_rows new table as new_rows for each statement execute function analytics_on_attributions_update();

-- ---------------------------------------------------------------------------------------------
-- Fold: pending deltas → rollups, oldest first, in one transaction; one folder at a time.

create function analytics_fold(max_rows integer) returns integer language plpgsql as $$
declare n integer;
begin
  if not pg_try_advisory_xact_lock(727006) then return 0; end if;
  with moved as (
    delete from analytics_pending
    where id in (select id from analytics_pending order by id limit max_rows)
    returning *
  ), fine as (
    insert into analytics_daily as r (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform,
                                      country, match_type, event_name, currency, clicks, installs, attributed_installs,
                                      events, trials, qualified_trials, purchases, revenue, paying_users)
    select app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type,
           event_name, currency, sum(clicks), sum(installs), sum(attributed_installs), sum(events), sum(trials),
           sum(qualified_trials), sum(purchases), sum(revenue), sum(paying_users)
    from moved
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
    order by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
    on conflict (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country,
                 match_type, event_name, currency) do update set
      clicks = r.clicks + excluded.clicks, installs = r.installs + excluded.installs,
      attributed_installs = r.attributed_installs + excluded.attributed_installs, events = r.events + excluded.events,
      trials = r.trials + excluded.trials, qualified_trials = r.qualified_trials + excluded.qualified_trials,
      purchases = r.purchases + excluded.purchases, revenue = r.revenue + excluded.revenue,
      paying_users = r.paying_users + excluded.paying_users
  ), coarse as (
    insert into analytics_daily_campaign as r (app_id, environment, day, network, campaign, platform, currency, clicks,
                                               installs, attributed_installs, events, trials, qualified_trials, purchases, revenue,
                                               paying_users)
    select app_id, environment, day, network, campaign, platform, currency, sum(clicks), sum(installs),
           sum(attributed_installs), sum(events), sum(trials), sum(qualified_trials), sum(purchases), sum(revenue),
           sum(paying_users)
    from moved
    group by 1, 2, 3, 4, 5, 6, 7
    order by 1, 2, 3, 4, 5, 6, 7
    on conflict (app_id, environment, day, network, campaign, platform, currency) do update set
      clicks = r.clicks + excluded.clicks, installs = r.installs + excluded.installs,
      attributed_installs = r.attributed_installs + excluded.attributed_installs, events = r.events + excluded.events,
      trials = r.trials + excluded.trials, qualified_trials = r.qualified_trials + excluded.qualified_trials,
      purchases = r.purchases + excluded.purchases, revenue = r.revenue + excluded.revenue,
      paying_users = r.paying_users + excluded.paying_users
  )
  select count(*) into n from moved;
  with moved as (
    delete from analytics_payer_counts_pending
    where id in (select id from analytics_payer_counts_pending order by id limit max_rows)
    returning *
  )
  insert into analytics_payer_counts as r (app_id, environment, day, prev_day, payers)
  select app_id, environment, day, prev_day, sum(payers) from moved
  group by 1, 2, 3, 4 order by 1, 2, 3, 4
  on conflict (app_id, environment, day, prev_day) do update set payers = r.payers + excluded.payers;
  return n;
end $$;

-- ---------------------------------------------------------------------------------------------
-- Rebuilds.

-- Recompute an app's rollups from its raw rows (bulk loads, repairs). Raw rows that have expired
-- are lost from the rollups, so this is not run automatically.
create function analytics_rebuild(p_app text) returns void language plpgsql as $$
declare tz text;
begin
  perform analytics_lock_apps(array[p_app], true);
  select timezone into tz from apps where id = p_app;
  if tz is null then raise exception 'no app %', p_app; end if;
  delete from analytics_pending where app_id = p_app;
  delete from analytics_daily where app_id = p_app;
  delete from analytics_daily_campaign where app_id = p_app;
  delete from analytics_payers where app_id = p_app;
  delete from analytics_payer_days where app_id = p_app;
  delete from analytics_payer_counts where app_id = p_app;
  delete from analytics_payer_counts_pending where app_id = p_app;
  insert into analytics_daily (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country,
                               match_type, event_name, currency, clicks, installs, attributed_installs, events, trials,
                               qualified_trials, purchases, revenue)
  select app_id, environment, (at at time zone tz)::date, network, campaign, ad_group_id, ad_id, link_id, platform, country,
         match_type, event_name, currency, sum(clicks), sum(installs), sum(attributed_installs), sum(events), sum(trials),
         sum(qualified_trials), sum(purchases), sum(revenue)
  from analytics_facts where app_id = p_app
  group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13;
  insert into analytics_payers (app_id, environment, day, device_pk, event_name, network, campaign, ad_group_id, ad_id,
                                link_id, platform, country, match_type)
  select distinct app_id, environment, (at at time zone tz)::date, device_pk, event_name, network, campaign, ad_group_id,
         ad_id, link_id, platform, country, match_type
  from analytics_event_facts where app_id = p_app and purchases > 0 and device_pk is not null;
  insert into analytics_payer_days (device_pk, day, prev_day, app_id, environment, network, campaign, ad_group_id, ad_id,
                                    link_id, platform, country, match_type)
  select device_pk, day, lag(day) over (partition by device_pk order by day), app_id, environment, network, campaign,
         ad_group_id, ad_id, link_id, platform, country, match_type
  from (select distinct device_pk, day, app_id, environment, network, campaign, ad_group_id, ad_id, link_id, platform, country,
               match_type from analytics_payers where app_id = p_app) d;
  insert into analytics_daily as r (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country,
                                    match_type, event_name, currency, paying_users)
  select app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type, '', '',
         count(*)
  from analytics_payer_days where app_id = p_app
  group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
  on conflict (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type,
               event_name, currency) do update set paying_users = excluded.paying_users;
  insert into analytics_payer_counts (app_id, environment, day, prev_day, payers)
  select app_id, environment, day, coalesce(prev_day, '-infinity'), count(*)
  from analytics_payer_days where app_id = p_app group by 1, 2, 3, 4;
  insert into analytics_daily_campaign (app_id, environment, day, network, campaign, platform, currency, clicks, installs,
                                        attributed_installs, events, trials, qualified_trials, purchases, revenue, paying_users)
  select app_id, environment, day, network, campaign, platform, currency, sum(clicks), sum(installs),
         sum(attributed_installs), sum(events), sum(trials), sum(qualified_trials), sum(purchases), sum(revenue),
         sum(paying_users)
  from analytics_daily where app_id = p_app
  group by 1, 2, 3, 4, 5, 6, 7;
end $$;

-- A time-zone change re-dates the app's history: every raw row still kept moves from its day in
-- the old zone to its day in the new one (as deltas, so totals stay exact). Days whose raw rows
-- have expired (clicks after 30 days) keep their old-zone dates: they cannot be split again.
create function analytics_on_app_timezone() returns trigger language plpgsql as $$
begin
  perform analytics_lock_apps(array[new.id], true);
  insert into analytics_pending (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform,
                                 country, match_type, event_name, currency, clicks, installs, attributed_installs,
                                 events, trials, qualified_trials, purchases, revenue)
  select app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type,
         event_name, currency, sum(clicks), sum(installs), sum(attributed_installs), sum(events), sum(trials),
         sum(qualified_trials), sum(purchases), sum(revenue)
  from (
    select app_id, environment, (at at time zone old.timezone)::date as day, network, campaign, ad_group_id, ad_id,
           link_id, platform, country, match_type, event_name, currency, -clicks as clicks, -installs as installs,
           -attributed_installs as attributed_installs, -events as events, -trials as trials,
           -qualified_trials as qualified_trials, -purchases as purchases, -revenue as revenue
    from analytics_facts where app_id = new.id
    union all
    select app_id, environment, (at at time zone new.timezone)::date, network, campaign, ad_group_id, ad_id,
           link_id, platform, country, match_type, event_name, currency, clicks, installs, attributed_installs,
           events, trials, qualified_trials, purchases, revenue
    from analytics_facts where app_id = new.id
  ) d
  group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
  having (sum(clicks), sum(installs), sum(attributed_installs), sum(events), sum(trials), sum(qualified_trials),
          sum(purchases), sum(revenue)) <> (0, 0, 0, 0, 0, 0, 0, 0);

  -- Payer rows and paying device-days: out of their old-zone days…
  with old_days as (
    select distinct f.environment, (f.at at time zone old.timezone)::date as day, f.device_pk
    from analytics_event_facts f where f.app_id = new.id and f.purchases > 0 and f.device_pk is not null
  ), gone_rows as (
    delete from analytics_payers p using old_days o
    where p.app_id = new.id and p.environment = o.environment and p.day = o.day and p.device_pk = o.device_pk
  ), gone as (
    delete from analytics_payer_days p using old_days o
    where p.device_pk = o.device_pk and p.day = o.day
    returning p.*
  ), uncounted as (
    insert into analytics_payer_counts_pending (app_id, environment, day, prev_day, payers)
    select app_id, environment, day, coalesce(prev_day, '-infinity'), -count(*) from gone group by 1, 2, 3, 4
  )
  insert into analytics_pending (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform,
                                 country, match_type, event_name, currency, paying_users)
  select app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type, '', '', -count(*)
  from gone group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11;
  -- …into the new ones.
  insert into analytics_payers (app_id, environment, day, device_pk, event_name, network, campaign, ad_group_id, ad_id,
                                link_id, platform, country, match_type)
  select distinct app_id, environment, (at at time zone new.timezone)::date, device_pk, event_name, network, campaign,
         ad_group_id, ad_id, link_id, platform, country, match_type
  from analytics_event_facts where app_id = new.id and purchases > 0 and device_pk is not null
  on conflict do nothing;
  with fresh as (
    insert into analytics_payer_days (device_pk, day, app_id, environment, network, campaign, ad_group_id, ad_id, link_id,
                                      platform, country, match_type)
    select distinct device_pk, (at at time zone new.timezone)::date, app_id, environment, network, campaign, ad_group_id,
           ad_id, link_id, platform, country, match_type
    from analytics_event_facts where app_id = new.id and purchases > 0 and device_pk is not null
    on conflict do nothing
    returning *
  ), counted as (
    insert into analytics_payer_counts_pending (app_id, environment, day, prev_day, payers)
    select app_id, environment, day, '-infinity', count(*) from fresh group by 1, 2, 3
  )
  insert into analytics_pending (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform,
                                 country, match_type, event_name, currency, paying_users)
  select app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type, '', '', count(*)
  from fresh group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11;
  perform analytics_link_payer_days(array(select distinct device_pk from analytics_payer_days where app_id = new.id));
  return null;
end $$;

create trigger analytics_app_timezone after update of timezone on apps
  for each row when (old.timezone is distinct from new.timezone) execute function analytics_on_app_timezone();
