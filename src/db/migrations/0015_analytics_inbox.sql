-- Analytics off the hot path (docs/analytics.md "Write path"). Owned by the analytics module.
--
-- Before: statement triggers on clicks, events and attributions resolved each row's dimensions
-- (its device's attribution) and day while the writer waited, under per-device-bucket advisory
-- locks so that an attribution change could not race an event of its device. Every configure
-- waited for the event batches holding its bucket: 285 configures/s, p99 1.5 s (bench/ingest).
--
-- Now: writers only append the keys of what they wrote to analytics_inbox (one small row per
-- statement, no lock, no lookup). A single folder (analytics_fold, in a repeatable-read
-- transaction: one snapshot) resolves dimensions and days and applies attribution changes, event
-- moves and time-zone changes in order; it is the only writer of the rollups. Readers fold what is
-- in the inbox before they read (src/modules/analytics/rollups.ts), so answers stay exact and
-- immediate.
--
-- What a raw row counts is defined once (the *_facts views below); dimensions are one composite
-- value (analytics_dimensions), stored once per distinct value in analytics_dims and referenced by
-- id from the rollups. Adding a dimension: `alter type analytics_dimensions add attribute …`, the
-- two functions that build it (analytics_attribution_dims, analytics_click_dims), and the query
-- layer (src/modules/analytics/queries.ts).

-- ---------------------------------------------------------------------------------------------
-- 1. Finish the old write path's work: fold what it left pending, then remove it.

select analytics_fold(2147483647);

drop trigger analytics_clicks_insert on clicks;
drop trigger analytics_events_insert on events;
drop trigger analytics_attributions_insert on attributions;
drop trigger analytics_attributions_update on attributions;
drop trigger analytics_app_timezone on apps;
drop function analytics_on_clicks_insert();
drop function analytics_on_events_insert();
drop function analytics_on_attributions_insert();
drop function analytics_on_attributions_update();
drop function analytics_on_app_timezone();
drop function analytics_fold(integer);
drop function analytics_rebuild(text);
drop function analytics_retract_deviceless_events(bigint[]);
drop function analytics_lock_apps(text[], boolean);
drop function analytics_lock_devices(bigint[], bigint[]);
drop function analytics_link_payer_days(bigint[]);
drop view analytics_facts;
drop view analytics_click_facts;
drop view analytics_install_facts;
drop view analytics_event_facts;
drop table analytics_pending;
drop table analytics_payer_counts_pending;

-- ---------------------------------------------------------------------------------------------
-- 2. Dimensions: one composite value, stored once.

-- What installs, events and clicks are credited to. '' rather than null (they form keys).
create type analytics_dimensions as (
  network      text,
  campaign     text,
  ad_group_id  text,
  ad_id        text,
  link_id      text,
  platform     text,
  country      text,
  match_type   text
);

-- An install's (and its device's events') dimensions; a device without attribution (null) has ''.
create function analytics_attribution_dims(t attributions) returns analytics_dimensions
  language sql immutable parallel safe as $$
  select row(coalesce((t).network, ''), coalesce((t).campaign, ''), coalesce((t).ad_group_id, ''), coalesce((t).ad_id, ''),
             coalesce((t).link_id, ''), coalesce((t).platform, ''), coalesce((t).country, ''),
             coalesce((t).match_type, ''))::analytics_dimensions $$;

create function analytics_click_dims(c clicks) returns analytics_dimensions
  language sql immutable parallel safe as $$
  select row(coalesce((c).network, ''), coalesce((c).campaign, ''), coalesce((c).ad_group_id, ''), coalesce((c).ad_id, ''),
             coalesce((c).link_id, ''), coalesce((c).platform, ''), coalesce((c).country, ''), '')::analytics_dimensions $$;

create table analytics_dims (
  id    integer generated always as identity primary key,
  dims  analytics_dimensions not null unique
);

-- The rollups and payer rows reference dimensions by id.
insert into analytics_dims (dims)
select row(network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type)::analytics_dimensions
from analytics_daily
union
select row(network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type)::analytics_dimensions
from analytics_payer_days
union
select row(network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type)::analytics_dimensions
from analytics_payers;

alter table analytics_daily add column dims_id integer;
update analytics_daily r set dims_id = d.id from analytics_dims d
where d.dims = row(r.network, r.campaign, r.ad_group_id, r.ad_id, r.link_id, r.platform, r.country, r.match_type)::analytics_dimensions;
alter table analytics_daily drop constraint analytics_daily_pkey,
  drop column network, drop column campaign, drop column ad_group_id, drop column ad_id, drop column link_id,
  drop column platform, drop column country, drop column match_type,
  alter column dims_id set not null,
  add primary key (app_id, environment, day, dims_id, event_name, currency);

alter table analytics_payers add column dims_id integer;
update analytics_payers r set dims_id = d.id from analytics_dims d
where d.dims = row(r.network, r.campaign, r.ad_group_id, r.ad_id, r.link_id, r.platform, r.country, r.match_type)::analytics_dimensions;
alter table analytics_payers
  drop column network, drop column campaign, drop column ad_group_id, drop column ad_id, drop column link_id,
  drop column platform, drop column country, drop column match_type,
  alter column dims_id set not null;

alter table analytics_payer_days add column dims_id integer;
update analytics_payer_days r set dims_id = d.id from analytics_dims d
where d.dims = row(r.network, r.campaign, r.ad_group_id, r.ad_id, r.link_id, r.platform, r.country, r.match_type)::analytics_dimensions;
drop index analytics_payer_days_period_idx;
alter table analytics_payer_days
  drop column network, drop column campaign, drop column ad_group_id, drop column ad_id, drop column link_id,
  drop column platform, drop column country, drop column match_type,
  alter column dims_id set not null;
create index analytics_payer_days_period_idx on analytics_payer_days (app_id, environment, day) include (prev_day, dims_id);

-- ---------------------------------------------------------------------------------------------
-- 3. Facts: what each raw row counts (the one definition used by the fold, the rebuild, the
-- time-zone re-dating and the recount in the tests). Counts are one composite value too.

create type analytics_counts as (
  clicks               bigint,
  installs             bigint,
  attributed_installs  bigint,
  events               bigint,
  trials               bigint,
  qualified_trials     bigint,
  purchases            bigint,
  revenue              numeric
);

create view analytics_click_facts as
select c.id as click_id, c.app_id, c.environment, c.clicked_at as at, analytics_click_dims(c) as dims,
       ''::text as event_name, ''::text as currency, row(1, 0, 0, 0, 0, 0, 0, 0)::analytics_counts as counts
from clicks c
where analytics_click_counts(c.is_bot, c.duplicate_of);

create function analytics_install_counts(d analytics_dimensions) returns analytics_counts
  language sql immutable parallel safe as $$
  select row(0, 1, analytics_is_attributed((d).network, (d).match_type)::int, 0, 0, 0, 0, 0)::analytics_counts $$;

-- An install is an attribution row (one per device and environment: the first configure).
create view analytics_install_facts as
select t.device_pk, t.app_id, t.environment, t.installed_at as at, analytics_attribution_dims(t) as dims,
       'install'::text as event_name, ''::text as currency, analytics_install_counts(analytics_attribution_dims(t)) as counts
from attributions t;

-- Events, without dimensions: they are credited to their device's attribution when folded.
-- A client purchase/subscribe/start_trial of an app whose revenue comes from webhooks (flag
-- revenue_from_webhooks, migration 0012) is an event but neither a trial, a purchase nor revenue.
create view analytics_event_facts as
select e.seq, e.device_pk, e.app_id, e.environment, e.received_at as at, e.event_name,
       coalesce(upper(e.currency), '') as currency,
       row(0, 0, 0, 1,
           (e.event_name = 'start_trial' and not w.superseded)::int,
           analytics_is_qualified_trial(e.event_name, e.source)::int,
           (analytics_is_purchase(e.event_name, e.revenue) and not w.superseded)::int,
           case when w.superseded then 0 else analytics_revenue(e.event_name, e.revenue) end)::analytics_counts as counts
from events e
cross join lateral (select 'revenue_from_webhooks' = any(e.flags) as superseded) w
where not e.is_control;

-- Every raw row still kept, credited as it is now (current attributions).
create view analytics_facts as
select app_id, environment, at, dims, event_name, currency, counts from analytics_click_facts
union all
select app_id, environment, at, dims, event_name, currency, counts from analytics_install_facts
union all
select f.app_id, f.environment, f.at, analytics_attribution_dims(t), f.event_name, f.currency, f.counts
from analytics_event_facts f left join attributions t on t.device_pk = f.device_pk;

-- ---------------------------------------------------------------------------------------------
-- 4. The inbox: what writers append (keys only), in their transaction.

create table analytics_inbox (
  id           bigint generated always as identity primary key,
  app_id       text not null,
  kind         text not null check (kind in ('clicks', 'events', 'attributions', 'event_devices', 'timezone')),
  click_ids    text[],                  -- clicks: counted clicks written
  seqs         bigint[],                -- events: events written; event_devices: events whose device changed
  device_pks   bigint[],                -- attributions: devices whose attribution was written or changed;
                                        -- event_devices: each event's previous device (null: none)
  previous     analytics_dimensions[],  -- attributions: dimensions before the change (null: new attribution)
  previous_at  timestamptz[]            -- attributions: installed_at before the change
);
create index analytics_inbox_app_idx on analytics_inbox (app_id);

create function analytics_inbox_clicks() returns trigger language plpgsql as $$
begin
  insert into analytics_inbox (app_id, kind, click_ids)
  select app_id, 'clicks', array_agg(id) from new_rows
  where analytics_click_counts(is_bot, duplicate_of) group by app_id;
  return null;
end $$;
create trigger analytics_inbox_clicks after insert on clicks
  referencing new table as new_rows for each statement execute function analytics_inbox_clicks();

create function analytics_inbox_events() returns trigger language plpgsql as $$
begin
  insert into analytics_inbox (app_id, kind, seqs)
  select app_id, 'events', array_agg(seq) from new_rows where not is_control group by app_id;
  return null;
end $$;
create trigger analytics_inbox_events after insert on events
  referencing new table as new_rows for each statement execute function analytics_inbox_events();

-- An event moved to another device (a webhook event matched to its device later).
create function analytics_inbox_event_devices() returns trigger language plpgsql as $$
begin
  insert into analytics_inbox (app_id, kind, seqs, device_pks)
  select n.app_id, 'event_devices', array_agg(n.seq), array_agg(o.device_pk)
  from old_rows o join new_rows n on n.seq = o.seq
  where o.device_pk is distinct from n.device_pk and not n.is_control
  group by n.app_id;
  return null;
end $$;
create trigger analytics_inbox_event_devices after update on events
  referencing old table as old_rows new table as new_rows for each statement execute function analytics_inbox_event_devices();

create function analytics_inbox_new_attributions() returns trigger language plpgsql as $$
begin
  insert into analytics_inbox (app_id, kind, device_pks, previous, previous_at)
  select app_id, 'attributions', array_agg(device_pk), array_agg(null::analytics_dimensions), array_agg(null::timestamptz)
  from new_rows group by app_id;
  return null;
end $$;
create trigger analytics_inbox_new_attributions after insert on attributions
  referencing new table as new_rows for each statement execute function analytics_inbox_new_attributions();

-- A changed attribution (Apple answered, a late click, a re-attribution) moves its install and
-- events: the inbox keeps what it was credited to before.
create function analytics_inbox_changed_attributions() returns trigger language plpgsql as $$
begin
  insert into analytics_inbox (app_id, kind, device_pks, previous, previous_at)
  select n.app_id, 'attributions', array_agg(n.device_pk), array_agg(analytics_attribution_dims(o)), array_agg(o.installed_at)
  from old_rows o join new_rows n on n.id = o.id
  where (analytics_attribution_dims(o), o.installed_at) is distinct from (analytics_attribution_dims(n), n.installed_at)
  group by n.app_id;
  return null;
end $$;
create trigger analytics_inbox_changed_attributions after update on attributions
  referencing old table as old_rows new table as new_rows for each statement execute function analytics_inbox_changed_attributions();

-- A time-zone change: the next fold re-dates the app (its readers fold first, so they see it).
create function analytics_inbox_timezone() returns trigger language plpgsql as $$
begin
  insert into analytics_inbox (app_id, kind) values (new.id, 'timezone');
  return null;
end $$;
create trigger analytics_inbox_timezone after update of timezone on apps
  for each row when (old.timezone is distinct from new.timezone) execute function analytics_inbox_timezone();

-- ---------------------------------------------------------------------------------------------
-- 5. The folder's state and scratch tables (one folder at a time: analytics_fold_state).

create table analytics_fold_state (
  id     boolean primary key default true check (id),
  folds  bigint not null default 0
);
insert into analytics_fold_state default values;

-- The time zone each app's rollups are dated in (a change re-dates them at the next fold).
create table analytics_apps (
  app_id    text primary key,
  timezone  text not null
);
insert into analytics_apps (app_id, timezone) select id, timezone from apps;

create unlogged table analytics_fold_claimed (like analytics_inbox);
create unlogged table analytics_fold_purchases (
  device_pk bigint, day date, app_id text, environment text, event_name text, dims analytics_dimensions);
create unlogged table analytics_fold_deltas (
  app_id        text not null,
  environment   text not null,
  day           date not null,
  dims          analytics_dimensions not null,
  event_name    text not null,
  currency      text not null,
  sign          integer not null,
  counts        analytics_counts,          -- null: a paying-user delta only
  paying_users  integer not null default 0
);

-- Deltas → rollups: summed per key first, then one upsert per rollup table, keys sorted.
create function analytics_apply_deltas() returns void language plpgsql set enable_seqscan = off as $$
begin
  with sums as (
    select app_id, environment, day, dims, event_name, currency,
           coalesce(sum(sign * (counts).clicks), 0) as clicks, coalesce(sum(sign * (counts).installs), 0) as installs,
           coalesce(sum(sign * (counts).attributed_installs), 0) as attributed_installs,
           coalesce(sum(sign * (counts).events), 0) as events, coalesce(sum(sign * (counts).trials), 0) as trials,
           coalesce(sum(sign * (counts).qualified_trials), 0) as qualified_trials,
           coalesce(sum(sign * (counts).purchases), 0) as purchases, coalesce(sum(sign * (counts).revenue), 0) as revenue,
           sum(paying_users) as paying_users
    from analytics_fold_deltas
    group by 1, 2, 3, 4, 5, 6
  ), added as (
    insert into analytics_dims (dims) select distinct dims from sums on conflict do nothing returning id, dims
  ), fine as (
    insert into analytics_daily as r (app_id, environment, day, dims_id, event_name, currency, clicks, installs,
                                      attributed_installs, events, trials, qualified_trials, purchases, revenue, paying_users)
    select s.app_id, s.environment, s.day,
           coalesce((select a.id from added a where a.dims = s.dims), (select d.id from analytics_dims d where d.dims = s.dims)),
           s.event_name, s.currency, s.clicks, s.installs, s.attributed_installs, s.events, s.trials, s.qualified_trials,
           s.purchases, s.revenue, s.paying_users
    from sums s
    order by 1, 2, 3, 4, 5, 6
    on conflict (app_id, environment, day, dims_id, event_name, currency) do update set
      clicks = r.clicks + excluded.clicks, installs = r.installs + excluded.installs,
      attributed_installs = r.attributed_installs + excluded.attributed_installs, events = r.events + excluded.events,
      trials = r.trials + excluded.trials, qualified_trials = r.qualified_trials + excluded.qualified_trials,
      purchases = r.purchases + excluded.purchases, revenue = r.revenue + excluded.revenue,
      paying_users = r.paying_users + excluded.paying_users
  )
  insert into analytics_daily_campaign as r (app_id, environment, day, network, campaign, platform, currency, clicks,
                                             installs, attributed_installs, events, trials, qualified_trials, purchases,
                                             revenue, paying_users)
  select app_id, environment, day, (dims).network, (dims).campaign, (dims).platform, currency, sum(clicks), sum(installs),
         sum(attributed_installs), sum(events), sum(trials), sum(qualified_trials), sum(purchases), sum(revenue),
         sum(paying_users)
  from sums
  group by 1, 2, 3, 4, 5, 6, 7 order by 1, 2, 3, 4, 5, 6, 7
  on conflict (app_id, environment, day, network, campaign, platform, currency) do update set
    clicks = r.clicks + excluded.clicks, installs = r.installs + excluded.installs,
    attributed_installs = r.attributed_installs + excluded.attributed_installs, events = r.events + excluded.events,
    trials = r.trials + excluded.trials, qualified_trials = r.qualified_trials + excluded.qualified_trials,
    purchases = r.purchases + excluded.purchases, revenue = r.revenue + excluded.revenue,
    paying_users = r.paying_users + excluded.paying_users;
  truncate analytics_fold_deltas;  -- (not delete: no dead rows for the next fold to step over)
end $$;

-- Payer-count deltas per (app, environment, day, prev_day) ('-infinity': no previous paying day).
create function analytics_add_payer_counts(app_ids text[], environments text[], days date[], prev_days date[], ns bigint[])
  returns void language sql as $$
  insert into analytics_payer_counts as r (app_id, environment, day, prev_day, payers)
  select app_id, environment, day, coalesce(prev_day, '-infinity'), sum(n)
  from unnest(app_ids, environments, days, prev_days, ns) x(app_id, environment, day, prev_day, n)
  group by 1, 2, 3, 4 having sum(n) <> 0 order by 1, 2, 3, 4
  on conflict (app_id, environment, day, prev_day) do update set payers = r.payers + excluded.payers $$;

-- Recomputes prev_day of these devices' paying days (after days were added or removed).
create function analytics_link_payer_days(devices bigint[]) returns void language plpgsql set enable_seqscan = off as $$
declare v_apps text[]; v_envs text[]; v_days date[]; v_prevs date[]; v_ns bigint[];
begin
  with w as (
    select device_pk, day, prev_day as old_prev, lag(day) over (partition by device_pk order by day) as new_prev
    from analytics_payer_days where device_pk = any(devices)
  ), changed as (
    update analytics_payer_days r set prev_day = w.new_prev
    from w where r.device_pk = w.device_pk and r.day = w.day and r.prev_day is distinct from w.new_prev
    returning r.app_id, r.environment, r.day, w.old_prev, w.new_prev
  ), moves as (
    select app_id, environment, day, old_prev as prev_day, -1 as n from changed
    union all
    select app_id, environment, day, new_prev, 1 from changed
  )
  select array_agg(app_id), array_agg(environment), array_agg(day), array_agg(prev_day), array_agg(n::bigint)
  into v_apps, v_envs, v_days, v_prevs, v_ns from moves;
  if v_apps is not null then perform analytics_add_payer_counts(v_apps, v_envs, v_days, v_prevs, v_ns); end if;
end $$;

-- Paying device-days of the purchases in analytics_fold_purchases (device, local day, name,
-- dimensions): payer rows, the day's paying-user delta when the device-day is new, the links.
create function analytics_add_payer_days() returns void language plpgsql set enable_seqscan = off as $$
declare v_apps text[]; v_envs text[]; v_days date[];
begin
  insert into analytics_dims (dims) select distinct dims from analytics_fold_purchases on conflict do nothing;
  insert into analytics_payers (app_id, environment, day, device_pk, event_name, dims_id)
  select distinct p.app_id, p.environment, p.day, p.device_pk, p.event_name, x.id
  from analytics_fold_purchases p join analytics_dims x on x.dims = p.dims
  on conflict do nothing;
  with fresh as (
    insert into analytics_payer_days (device_pk, day, app_id, environment, dims_id)
    select distinct p.device_pk, p.day, p.app_id, p.environment, x.id
    from analytics_fold_purchases p join analytics_dims x on x.dims = p.dims
    on conflict do nothing
    returning app_id, environment, day, dims_id
  ), counted as (
    insert into analytics_fold_deltas (app_id, environment, day, dims, event_name, currency, sign, paying_users)
    select f.app_id, f.environment, f.day, x.dims, '', '', 1, 1 from fresh f join analytics_dims x on x.id = f.dims_id
    returning app_id, environment, day
  )
  select array_agg(app_id), array_agg(environment), array_agg(day) into v_apps, v_envs, v_days from counted;
  if v_apps is not null then
    perform analytics_add_payer_counts(v_apps, v_envs, v_days, array_fill(null::date, array[cardinality(v_apps)]),
                                       array_fill(1::bigint, array[cardinality(v_apps)]));
  end if;
  perform analytics_link_payer_days(array(select distinct device_pk from analytics_fold_purchases));
  truncate analytics_fold_purchases;
end $$;

-- ---------------------------------------------------------------------------------------------
-- 6. The fold. Runs in a repeatable-read transaction (one snapshot for every step); a fold that
-- committed after this snapshot makes it fail with a serialization error (40001), and the caller
-- runs it again (src/modules/analytics/rollups.ts). Returns the number of inbox rows folded.
--
-- Invariant: the rollups count every raw row whose inbox entry has been folded, credited to what
-- its device's attribution was at that fold and dated in analytics_apps.timezone. An inbox entry
-- commits with its rows, and the fold takes every entry of its snapshot, so the events of a device
-- not claimed now are exactly the folded ones.

create function analytics_fold() returns integer language plpgsql set enable_seqscan = off as $$
declare
  claimed integer;
  z record;
  empty constant analytics_dimensions := analytics_attribution_dims(null);
  -- The keys claimed, as arrays: `= any(array)` keeps every lookup on its index, whatever the
  -- planner would guess about a table of keys.
  new_seqs bigint[];                -- events written
  new_clicks text[];                -- clicks written
  moved_seqs bigint[];              -- events moved to another device (not written in this fold)
  moved_from bigint[];              -- … and the device they were counted under
  changed bigint[];                 -- devices whose attribution was written or changed
  was analytics_dimensions[];       -- … what they were credited to (null: no attribution yet)
  was_at timestamptz[];             -- … and the install time counted
begin
  if current_setting('transaction_isolation') <> 'repeatable read' then
    raise exception 'analytics_fold() must run in a repeatable read transaction';
  end if;
  update analytics_fold_state set folds = folds + 1;

  with c as (delete from analytics_inbox returning *) insert into analytics_fold_claimed select * from c;
  get diagnostics claimed = row_count;
  if claimed = 0 then return 0; end if;
  -- An app seen for the first time is dated in its current zone.
  insert into analytics_apps (app_id, timezone)
  select id, timezone from apps where id in (select app_id from analytics_fold_claimed)
  on conflict do nothing;

  new_seqs := array(select distinct unnest(seqs) from analytics_fold_claimed where kind = 'events');
  new_clicks := array(select distinct unnest(click_ids) from analytics_fold_claimed where kind = 'clicks');
  -- The first entry of a key is what the rollups count it under now (later entries were written
  -- after it: an attribution row is changed under its row lock, so entries come in commit order).
  select coalesce(array_agg(m.seq), '{}'), coalesce(array_agg(m.device), '{}') into moved_seqs, moved_from
  from (select distinct on (c.seqs[i]) c.seqs[i] as seq, c.device_pks[i] as device
        from analytics_fold_claimed c cross join lateral generate_subscripts(c.seqs, 1) i
        where c.kind = 'event_devices' and c.seqs[i] not in (select unnest(new_seqs))
        order by c.seqs[i], c.id) m;
  select coalesce(array_agg(x.device_pk), '{}'), coalesce(array_agg(x.previous), '{}'), coalesce(array_agg(x.previous_at), '{}')
  into changed, was, was_at
  from (select distinct on (c.device_pks[i]) c.device_pks[i] as device_pk, c.previous[i] as previous, c.previous_at[i] as previous_at
        from analytics_fold_claimed c cross join lateral generate_subscripts(c.device_pks, 1) i
        where c.kind = 'attributions'
        order by c.device_pks[i], c.id) x;
  truncate analytics_fold_claimed;

  if changed <> '{}' then
    -- Changed attributions: the install, out of its previous dimensions and day, into the current ones…
    insert into analytics_fold_deltas (app_id, environment, day, dims, event_name, currency, sign, counts)
    select t.app_id, t.environment, (ch.previous_at at time zone s.timezone)::date, ch.previous, 'install', '', -1,
           analytics_install_counts(ch.previous)
    from attributions t
    join (select changed[i] as device_pk, was[i] as previous, was_at[i] as previous_at
          from generate_subscripts(changed, 1) i) ch on ch.device_pk = t.device_pk
    join analytics_apps s on s.app_id = t.app_id
    where t.device_pk = any(changed) and ch.previous is not null
    union all
    select f.app_id, f.environment, (f.at at time zone s.timezone)::date, f.dims, f.event_name, f.currency, 1, f.counts
    from analytics_install_facts f join analytics_apps s on s.app_id = f.app_id
    where f.device_pk = any(changed);
    -- …and the device's events folded before, likewise.
    insert into analytics_fold_deltas (app_id, environment, day, dims, event_name, currency, sign, counts)
    select f.app_id, f.environment, (f.at at time zone s.timezone)::date, m.dims, f.event_name, f.currency, m.sign, f.counts
    from analytics_event_facts f
    join (select changed[i] as device_pk, coalesce(was[i], empty) as previous from generate_subscripts(changed, 1) i) ch
      on ch.device_pk = f.device_pk
    join analytics_apps s on s.app_id = f.app_id
    left join attributions t on t.device_pk = f.device_pk
    cross join lateral (values (-1, ch.previous), (1, analytics_attribution_dims(t))) m(sign, dims)
    where f.device_pk = any(changed)
      -- (not in: a hashed set, so a large fold stays linear)
      and f.seq not in (select unnest(new_seqs)) and f.seq not in (select unnest(moved_seqs))
      and ch.previous is distinct from analytics_attribution_dims(t);

    -- Their paying device-days move with them.
    insert into analytics_dims (dims)
    select distinct analytics_attribution_dims(t) from attributions t where t.device_pk = any(changed)
    on conflict do nothing;
    insert into analytics_fold_deltas (app_id, environment, day, dims, event_name, currency, sign, paying_users)
    select p.app_id, p.environment, p.day, m.dims, '', '', 1, m.n
    from analytics_payer_days p
    join analytics_dims counted on counted.id = p.dims_id
    left join attributions t on t.device_pk = p.device_pk
    cross join lateral (values (-1, counted.dims), (1, analytics_attribution_dims(t))) m(n, dims)
    where p.device_pk = any(changed) and counted.dims is distinct from analytics_attribution_dims(t);
    update analytics_payer_days p set dims_id = x.id
    from attributions t join analytics_dims x on x.dims = analytics_attribution_dims(t)
    where t.device_pk = any(changed) and p.device_pk = t.device_pk and p.dims_id <> x.id;
    update analytics_payers p set dims_id = x.id
    from attributions t join analytics_dims x on x.dims = analytics_attribution_dims(t)
    where t.device_pk = any(changed) and p.device_pk = t.device_pk and p.dims_id <> x.id;
  end if;

  if moved_seqs <> '{}' then
    -- Moved events: out of their previous device's dimensions (as counted), into their device's.
    insert into analytics_fold_deltas (app_id, environment, day, dims, event_name, currency, sign, counts)
    select f.app_id, f.environment, (f.at at time zone s.timezone)::date, m.dims, f.event_name, f.currency, m.sign, f.counts
    from analytics_event_facts f
    join (select moved_seqs[i] as seq, moved_from[i] as device from generate_subscripts(moved_seqs, 1) i) mv on mv.seq = f.seq
    join analytics_apps s on s.app_id = f.app_id
    left join attributions pt on pt.device_pk = mv.device
    left join attributions t on t.device_pk = f.device_pk
    cross join lateral (
      values (-1, case when mv.device = any(changed)
                       then coalesce(was[array_position(changed, mv.device)], empty)
                       else analytics_attribution_dims(pt) end),
             (1, analytics_attribution_dims(t))) m(sign, dims)
    where f.seq = any(moved_seqs);
  end if;

  -- New events, under their device's attribution.
  insert into analytics_fold_deltas (app_id, environment, day, dims, event_name, currency, sign, counts)
  select f.app_id, f.environment, (f.at at time zone s.timezone)::date, analytics_attribution_dims(t), f.event_name,
         f.currency, 1, f.counts
  from analytics_event_facts f
  join analytics_apps s on s.app_id = f.app_id
  left join attributions t on t.device_pk = f.device_pk
  where f.seq = any(new_seqs);
  -- New clicks.
  insert into analytics_fold_deltas (app_id, environment, day, dims, event_name, currency, sign, counts)
  select f.app_id, f.environment, (f.at at time zone s.timezone)::date, f.dims, f.event_name, f.currency, 1, f.counts
  from analytics_click_facts f join analytics_apps s on s.app_id = f.app_id
  where f.click_id = any(new_clicks);

  -- Purchases of new and moved events: their paying device-days.
  insert into analytics_fold_purchases (device_pk, day, app_id, environment, event_name, dims)
  select distinct f.device_pk, (f.at at time zone s.timezone)::date, f.app_id, f.environment, f.event_name,
         analytics_attribution_dims(t)
  from analytics_event_facts f
  join analytics_apps s on s.app_id = f.app_id
  left join attributions t on t.device_pk = f.device_pk
  where (f.seq = any(new_seqs) or f.seq = any(moved_seqs)) and (f.counts).purchases > 0 and f.device_pk is not null;
  perform analytics_add_payer_days();

  -- Time-zone changes: every raw row still kept moves from its day in the zone it was counted in
  -- to its day in the new zone (as deltas: rows that expired keep their counts on their old days).
  for z in
    select s.app_id, s.timezone as old_tz, a.timezone as new_tz
    from analytics_apps s join apps a on a.id = s.app_id
    where s.timezone <> a.timezone
  loop
    perform analytics_redate(z.app_id, z.old_tz, z.new_tz);
  end loop;

  perform analytics_apply_deltas();
  return claimed;
end $$;

-- Re-dates an app's folded history from one zone to another (called by the fold, deltas pending).
create function analytics_redate(p_app text, old_tz text, new_tz text) returns void language plpgsql
  set enable_seqscan = off as $$
declare v_apps text[]; v_envs text[]; v_days date[]; v_prevs date[]; v_ns bigint[];
begin
  insert into analytics_fold_deltas (app_id, environment, day, dims, event_name, currency, sign, counts)
  select f.app_id, f.environment, (f.at at time zone z.tz)::date, f.dims, f.event_name, f.currency, z.sign, f.counts
  from analytics_facts f cross join (values (-1, old_tz), (1, new_tz)) z(sign, tz)
  where f.app_id = p_app;

  -- Paying device-days: out of their old-zone days…
  with old_days as (
    select distinct f.environment, (f.at at time zone old_tz)::date as day, f.device_pk
    from analytics_event_facts f where f.app_id = p_app and (f.counts).purchases > 0 and f.device_pk is not null
  ), gone_rows as (
    delete from analytics_payers r using old_days o
    where r.app_id = p_app and r.environment = o.environment and r.day = o.day and r.device_pk = o.device_pk
  ), gone as (
    delete from analytics_payer_days r using old_days o
    where r.device_pk = o.device_pk and r.day = o.day
    returning r.*
  ), uncounted as (
    insert into analytics_fold_deltas (app_id, environment, day, dims, event_name, currency, sign, paying_users)
    select g.app_id, g.environment, g.day, x.dims, '', '', 1, -1 from gone g join analytics_dims x on x.id = g.dims_id
  )
  select array_agg(app_id), array_agg(environment), array_agg(day), array_agg(prev_day), array_agg(-1::bigint)
  into v_apps, v_envs, v_days, v_prevs, v_ns from gone;
  if v_apps is not null then perform analytics_add_payer_counts(v_apps, v_envs, v_days, v_prevs, v_ns); end if;
  -- …into the new ones.
  insert into analytics_fold_purchases (device_pk, day, app_id, environment, event_name, dims)
  select distinct f.device_pk, (f.at at time zone new_tz)::date, f.app_id, f.environment, f.event_name,
         analytics_attribution_dims(t)
  from analytics_event_facts f left join attributions t on t.device_pk = f.device_pk
  where f.app_id = p_app and (f.counts).purchases > 0 and f.device_pk is not null;
  perform analytics_add_payer_days();
  perform analytics_link_payer_days(array(select distinct device_pk from analytics_payer_days where app_id = p_app));
  update analytics_apps set timezone = new_tz where app_id = p_app;
end $$;

-- Recomputes an app's rollups from its raw rows (bulk loads, repairs); raw rows that have expired
-- are lost from them, so this is not run automatically. Repeatable read, like the fold: what it
-- counts and the inbox entries it removes are one snapshot.
create function analytics_rebuild(p_app text) returns void language plpgsql as $$
begin
  if current_setting('transaction_isolation') <> 'repeatable read' then
    raise exception 'analytics_rebuild() must run in a repeatable read transaction';
  end if;
  update analytics_fold_state set folds = folds + 1;
  if not exists (select 1 from apps where id = p_app) then raise exception 'no app %', p_app; end if;
  delete from analytics_inbox where app_id = p_app;
  delete from analytics_daily where app_id = p_app;
  delete from analytics_daily_campaign where app_id = p_app;
  delete from analytics_payers where app_id = p_app;
  delete from analytics_payer_days where app_id = p_app;
  delete from analytics_payer_counts where app_id = p_app;
  insert into analytics_apps (app_id, timezone) select id, timezone from apps where id = p_app
  on conflict (app_id) do update set timezone = excluded.timezone;

  insert into analytics_fold_deltas (app_id, environment, day, dims, event_name, currency, sign, counts)
  select f.app_id, f.environment, (f.at at time zone s.timezone)::date, f.dims, f.event_name, f.currency, 1, f.counts
  from analytics_facts f join analytics_apps s on s.app_id = f.app_id
  where f.app_id = p_app;
  insert into analytics_fold_purchases (device_pk, day, app_id, environment, event_name, dims)
  select distinct f.device_pk, (f.at at time zone s.timezone)::date, f.app_id, f.environment, f.event_name,
         analytics_attribution_dims(t)
  from analytics_event_facts f join analytics_apps s on s.app_id = f.app_id left join attributions t on t.device_pk = f.device_pk
  where f.app_id = p_app and (f.counts).purchases > 0 and f.device_pk is not null;
  perform analytics_add_payer_days();
  perform analytics_apply_deltas();
end $$;
