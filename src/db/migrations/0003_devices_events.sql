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
