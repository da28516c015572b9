-- SKAdNetwork / AdAttributionKit: conversion-value schemas (with every version kept) and the
-- postbacks Apple posts. Owned by the skan module (docs/skan.md).

-- Every version of an app's conversion-value schema; the highest revision is the current one.
-- A postback decodes with the revision in force when its install happened.
create table skan_schema_versions (
  app_id      text not null references apps(id) on delete cascade,
  revision    integer not null,                    -- 1, 2, … per app
  schema      jsonb not null,                      -- fine, coarse, lock, campaigns (as validated)
  valid_from  timestamptz not null default now(),
  primary key (app_id, revision)
);

-- Postbacks as received. Not tied to an app row: a postback belongs to the app whose
-- ios_app_store_id equals app_store_id, so one received before its app exists shows up once the
-- app is created (and an unknown app's postbacks are listed nowhere until then).
create table skan_postbacks (
  id                 text primary key,             -- skp_…
  seq                bigserial not null unique,    -- keyset order
  kind               text not null check (kind in ('skadnetwork', 'adattributionkit')),
  dedup_key          text,                         -- transaction-id / postback-identifier
  app_store_id       text,                         -- app-id / advertised-item-identifier, as decimal text
  version            text,                         -- SKAdNetwork version ("4.0"; absent = "1.0")
  verified           boolean not null,
  unverified_reason  text,                         -- null when verified
  key_id             text,                         -- the key that verified it (kid, or p256 / p192)
  sandbox            boolean not null default false, -- test postback: source app id 0 or a development key
  ad_network_id      text,
  source_identifier  text,                         -- 4.0 / AdAttributionKit (2–4 digits)
  campaign_id        integer,                      -- 1.0–3.0
  source_app_id      text,
  source_domain      text,
  redownload         boolean,
  fidelity_type      integer,
  did_win            boolean,
  conversion_type    text,                         -- AdAttributionKit: download, redownload, re-engagement
  window_index       integer,                      -- postback-sequence-index (0 before 4.0)
  fine_value         integer,
  coarse_value       text,
  country_code       text,
  raw                jsonb not null,
  received_at        timestamptz not null default now()
);
create unique index skan_postbacks_dedup_key on skan_postbacks (kind, dedup_key) where dedup_key is not null;
create index skan_postbacks_app_idx on skan_postbacks (app_store_id, seq desc);
create index skan_postbacks_received_idx on skan_postbacks using brin (received_at); -- retention: rows arrive in time order
