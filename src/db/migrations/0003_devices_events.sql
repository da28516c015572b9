-- Devices, install attributions and events. Owned by the tracking and attribution modules.

create table devices (
  id                 bigserial primary key,
  app_id             text not null references apps(id) on delete cascade,
  environment        text not null check (environment in ('live', 'sandbox')),
  device_id          text not null,                  -- verbatim, case-sensitive
  platform           text not null default 'unknown',
  installed_at       timestamptz,                    -- first configure; null for a stub created by an event
  first_seen_at      timestamptz not null default now(),
  last_seen_at       timestamptz not null default now(),
  attribution_id     text,                           -- the install's attribution (att_…)
  idfa               text,
  gaid               text,
  customer_user_id   text,                           -- current user id (history in device_users)
  app_version        text,
  os_version         text,
  model              text,
  locale             text,
  timezone           text,
  country            text,
  sdk_version        text,
  device_info        jsonb not null default '{}',
  advanced_matching  jsonb not null default '{}',    -- em, ph, fn, ln, db: SHA-256 hex only
  unique (app_id, environment, device_id)
);
create index devices_idfa_idx on devices (app_id, environment, idfa) where idfa is not null;
create index devices_gaid_idx on devices (app_id, environment, gaid) where gaid is not null;

-- Device ↔ user links with history; the latest linked_at is current.
create table device_users (
  device_pk        bigint not null references devices(id) on delete cascade,
  user_id          text not null,
  app_id           text not null,
  environment      text not null,
  first_linked_at  timestamptz not null default now(),
  linked_at        timestamptz not null default now(),
  primary key (device_pk, user_id)
);
create index device_users_user_idx on device_users (app_id, environment, user_id);

create table attributions (
  id              text primary key,                  -- att_…, stable across configure repeats
  seq             bigserial not null unique,
  app_id          text not null,
  environment     text not null check (environment in ('live', 'sandbox')),
  device_pk       bigint not null unique references devices(id) on delete cascade,
  device_id       text not null,
  platform        text not null,
  status          text not null default 'resolved' check (status in ('resolved', 'pending')), -- pending: Apple not answered yet
  network         text not null,                     -- meta, google, tiktok, apple_search_ads, organic, other link networks
  match_type      text not null,                     -- click_id, referrer, adservices, device_id, probabilistic, organic
  campaign        text,
  campaign_id     text,
  campaign_name   text,
  ad_group_id     text,
  ad_group_name   text,
  ad_id           text,
  keyword         text,
  link_id         text,
  click_id        text,
  fbclid          text,
  gclid           text,
  ttclid          text,
  query_params    jsonb not null default '{}',
  custom_data     jsonb not null default '{}',
  clicked_at      timestamptz,
  installed_at    timestamptz not null,
  country         text,
  reinstall       boolean not null default false,
  explanation     jsonb not null default '{}',        -- rule, candidates considered, window
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);
create index attributions_list_idx on attributions (app_id, environment, installed_at desc, id desc);

create table events (
  seq           bigserial primary key,               -- insertion order, for incremental rollups
  id            text not null unique,                -- evt_…
  app_id        text not null,
  environment   text not null check (environment in ('live', 'sandbox')),
  device_pk     bigint references devices(id) on delete set null,
  device_id     text,
  user_id       text,
  event_name    text not null,
  source        text not null check (source in ('sdk', 's2s', 'revenuecat', 'superwall', 'system')),
  revenue       numeric,                             -- major units; negative for refunds
  currency      char(3),                             -- ISO-4217, upper case
  revenue_raw   text,
  currency_raw  text,
  properties    jsonb not null default '{}',
  event_id      text,                                -- caller's idempotency key
  is_control    boolean not null default false,      -- _advanced_matching, _set_user_id, other _names: never counted
  flags         text[] not null default '{}',        -- e.g. revenue_implausible, after_kill_switch
  occurred_at   timestamptz not null,
  received_at   timestamptz not null default now()
);
create unique index events_event_id_key on events (app_id, environment, event_id) where event_id is not null;
create index events_log_idx on events (app_id, environment, received_at desc, seq desc);
create index events_device_idx on events (device_pk);

-- ---------------------------------------------------------------------------------------------
-- Additions of the tracking / attribution modules (the columns above are a shared contract).

-- Signals derived at configure time, used for probabilistic matching and the debugger.
alter table devices
  add column language            text,                          -- ISO 639 primary subtag from locale (iw→he, in→id)
  add column region              text,                          -- region subtag from locale
  add column utc_offset_minutes  integer,                       -- from timezone when unambiguous
  add column bundle_mismatch     boolean not null default false, -- device_info.bundle_id differs from the app's
  add column user_agent          text;

-- Dedup of events without event_id: one row per fingerprint, refreshed when older than the window.
create table event_fingerprints (
  app_id       text not null,
  environment  text not null,
  fingerprint  bytea not null,                 -- sha256(device_id, event_name, canonical properties, revenue, currency)
  seen_at      timestamptz not null,
  primary key (app_id, environment, fingerprint)
);
create index event_fingerprints_seen_idx on event_fingerprints (seen_at);

-- Suppressed duplicates per app and environment (shown in the debugger).
create table event_dedup_counts (
  app_id       text not null,
  environment  text not null,
  suppressed   bigint not null default 0,
  updated_at   timestamptz not null default now(),
  primary key (app_id, environment)
);

-- Later touches on an installed device: a reinstall carrying a new click (kept, not re-attributed
-- unless the app's re-attribution window has passed).
create table attribution_touches (
  id              bigserial primary key,
  app_id          text not null,
  environment     text not null,
  device_pk       bigint not null references devices(id) on delete cascade,
  attribution_id  text not null,
  kind            text not null check (kind in ('reinstall')),
  click_id        text,
  network         text,
  reattributed    boolean not null default false,
  touched_at      timestamptz not null default now()
);
create index attribution_touches_device_idx on attribution_touches (device_pk, touched_at desc);
-- A click is one touch per device, however often the configure carrying it repeats.
create unique index attribution_touches_click_key on attribution_touches (device_pk, click_id);

-- Apple AdServices lookups that did not finish inside the configure request.
-- A durable retry queue: every server process polls it (for update skip locked).
create table asa_resolutions (
  attribution_id   text primary key references attributions(id) on delete cascade,
  app_id           text not null,
  environment      text not null,
  device_pk        bigint not null references devices(id) on delete cascade,
  token            text not null,                -- sent to Apple byte for byte; erased when done
  signals          jsonb not null default '{}',   -- what the rest of the waterfall needs (ip erased when done)
  received_at      timestamptz not null,          -- the token is useless 24 h after this
  attempts         integer not null default 0,
  not_found_count  integer not null default 0,
  next_attempt_at  timestamptz not null,
  locked_until     timestamptz,
  state            text not null default 'pending'
                   check (state in ('pending', 'attributed', 'not_attributed', 'invalid_token', 'expired')),
  last_error       text,
  finished_at      timestamptz
);
create index asa_resolutions_due_idx on asa_resolutions (next_attempt_at) where state = 'pending';

-- Clicks already credited with an install (probabilistic and device-id matches use a click once).
create index attributions_click_idx on attributions (click_id) where click_id is not null;
