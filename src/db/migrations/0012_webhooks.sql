-- Subscription webhooks (RevenueCat, Superwall) and qualified trials (docs/webhooks.md). Owned by
-- the webhooks module (src/modules/webhooks).

-- One row per app and webhook source, created by the first PATCH.
create table webhook_integrations (
  app_id        text not null references apps(id) on delete cascade,
  source        text not null check (source in ('revenuecat', 'superwall')),
  enabled       boolean not null default false,
  secret_hash   bytea,   -- revenuecat: SHA-256 of the Authorization secret the platform generated
  secret_enc    text,    -- superwall: the pasted whsec_… signing secret, AES-256-GCM (src/lib/crypto.ts)
  secret_last4  text,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now(),
  primary key (app_id, source)
);

-- Every delivery received, once per source event id (RevenueCat `event.id`, Superwall `svix-id`):
-- the dedup record (kept 30 days) and the raw payload. `outcome`:
--   recorded   an event was written for a known (or stub) device
--   unmatched  an event was written without a device; the rematch job attaches it when one of
--              `user_ids`, `idfa` or `gaid` is linked to a device later
--   ignored    a type the platform does not record (stored raw, acknowledged)
--   test       RevenueCat's dashboard test event
create table webhook_events (
  app_id        text not null references apps(id) on delete cascade,
  source        text not null check (source in ('revenuecat', 'superwall')),
  external_id   text not null,
  type          text not null,
  environment   text not null check (environment in ('live', 'sandbox')),
  outcome       text not null check (outcome in ('recorded', 'unmatched', 'ignored', 'test')),
  event_id      text,              -- evt_… written for it (events.id)
  user_ids      text[] not null default '{}',
  idfa          text,
  gaid          text,
  raw           json not null,     -- as received (json: stored as text, never queried inside)
  received_at   timestamptz not null default now(),
  checks        integer not null default 0,   -- unmatched: device lookups tried by the rematch job
  next_check_at timestamptz,                  -- unmatched: when the rematch job looks again
  matched_at    timestamptz,
  primary key (app_id, source, external_id)
);
create index webhook_events_recheck_idx on webhook_events (next_check_at) where outcome = 'unmatched';
create index webhook_events_received_idx on webhook_events using brin (received_at);

-- Trial starts held while qualified trials are on (docs/spec/product.md §10). Kept 30 days.
create table qualified_trials (
  id                  text primary key,                -- qt_…
  seq                 bigserial not null unique,       -- keyset order of the list
  app_id              text not null references apps(id) on delete cascade,
  environment         text not null check (environment in ('live', 'sandbox')),
  source              text not null check (source in ('revenuecat', 'superwall')),
  subscription_key    text not null,                   -- original transaction id: what later events of it carry
  device_pk           bigint references devices(id) on delete set null,
  device_id           text,
  user_id             text,
  product_id          text,
  trial_event_id      text not null,                   -- the start_trial event (events.id)
  status              text not null check (status in ('held', 'qualified', 'disqualified', 'forwarded')),
  started_at          timestamptz not null,
  due_at              timestamptz not null,
  decided_at          timestamptz,
  reason              text,
  qualified_event_id  text,                            -- the system qualified_trial event (events.id)
  created_at          timestamptz not null default now(),
  -- subscription_key first: a cancellation finds the hold whichever source reported it
  unique (app_id, environment, subscription_key, source)
);
create index qualified_trials_due_idx on qualified_trials (due_at) where status = 'held';
create index qualified_trials_list_idx on qualified_trials (app_id, seq desc);
create index qualified_trials_trial_event_idx on qualified_trials (trial_event_id);

-- Fractions of an hour, from 0 to 168 (docs/spec/api.md).
alter table apps alter column qualified_trials_delay_hours type numeric using least(qualified_trials_delay_hours, 168);

-- Revenue: a reversed refund (RevenueCat REFUND_REVERSED) adds its amount back; a client purchase
-- of an app whose revenue comes from webhooks (flag revenue_from_webhooks) is recorded, not counted.
create or replace function analytics_revenue(event_name text, revenue numeric) returns numeric
  language sql immutable parallel safe as $$
  select case when revenue is null then 0
              when event_name in ('purchase', 'subscribe') then revenue
              when event_name = 'refund' then -abs(revenue)
              when event_name = 'refund_reversed' then abs(revenue)
              else 0 end $$;

create or replace view analytics_event_facts as
select e.seq, e.device_pk, e.app_id, e.environment, e.received_at as at,
       coalesce(e.xmin = t.xmin and e.cmin = t.cmin, false) as same_statement,
       coalesce(t.network, '') as network, coalesce(t.campaign, '') as campaign,
       coalesce(t.ad_group_id, '') as ad_group_id, coalesce(t.ad_id, '') as ad_id,
       coalesce(t.link_id, '') as link_id, coalesce(t.platform, '') as platform,
       coalesce(t.country, '') as country, coalesce(t.match_type, '') as match_type,
       e.event_name, coalesce(upper(e.currency), '') as currency,
       0 as clicks, 0 as installs, 0 as attributed_installs, 1 as events,
       (e.event_name = 'start_trial' and not w.superseded)::int as trials,
       analytics_is_qualified_trial(e.event_name, e.source)::int as qualified_trials,
       (analytics_is_purchase(e.event_name, e.revenue) and not w.superseded)::int as purchases,
       case when w.superseded then 0 else analytics_revenue(e.event_name, e.revenue) end as revenue
from events e
left join attributions t on t.device_pk = e.device_pk
cross join lateral (select 'revenue_from_webhooks' = any(e.flags) as superseded) w
where not e.is_control;

-- Takes an event written without a device out of the rollups (before the rematch job deletes it
-- and writes it again on its device, where the insert trigger counts it under the attribution).
create function analytics_retract_deviceless_events(seqs bigint[]) returns void language plpgsql
  set enable_seqscan = off as $$
begin
  perform analytics_lock_apps(array(select distinct app_id from events where seq = any(seqs)), false);
  insert into analytics_pending (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform,
                                 country, match_type, event_name, currency, events, trials, qualified_trials, purchases, revenue)
  select f.app_id, f.environment, (f.at at time zone a.timezone)::date, f.network, f.campaign, f.ad_group_id, f.ad_id,
         f.link_id, f.platform, f.country, f.match_type, f.event_name, f.currency,
         -sum(f.events), -sum(f.trials), -sum(f.qualified_trials), -sum(f.purchases), -sum(f.revenue)
  from analytics_event_facts f
  join apps a on a.id = f.app_id
  where f.seq = any(seqs) and f.device_pk is null
  group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13;
end $$;
