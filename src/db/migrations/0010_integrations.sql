-- Conversion forwarding (docs/forwarding.md): ad-network integrations per app and the deliveries
-- outbox. Owned by the integrations module.

-- One row per app and network, created by the first PATCH. Secrets are AES-256-GCM ciphertexts
-- (src/lib/crypto.ts) with their last four characters, never plaintext.
create table integrations (
  app_id                    text not null references apps(id) on delete cascade,
  network                   text not null check (network in ('meta', 'google', 'tiktok')),
  enabled                   boolean not null default false,
  configured                boolean not null default false,   -- every required setting present
  settings                  jsonb not null default '{}',      -- non-secret settings, docs/spec/api.md names
  secrets                   jsonb not null default '{}',      -- name → {"enc": "v1.…", "last4": "9f2c"}
  event_mapping             jsonb not null default '{}',      -- overrides of docs/spec/product.md §8.4: name → network name | null
  forward_client_purchases  boolean,                          -- null: automatic (on while no webhook integration exists)
  status                    text not null default 'ok' check (status in ('ok', 'failing', 'unauthorized')),
  last_delivery_at          timestamptz,
  last_error                text,
  created_at                timestamptz not null default now(),
  updated_at                timestamptz not null default now(),
  primary key (app_id, network)
);

-- The outbox: one row per event and network, written in the event's transaction, sent by the
-- `forward_deliveries` job. Also the audit log (kept 365 days).
create table deliveries (
  seq                 bigserial not null,                  -- keyset order of the audit log
  id                  text primary key,                    -- dlv_…
  app_id              text not null references apps(id) on delete cascade,
  network             text not null,
  event_id            text not null,                       -- evt_… (events.id)
  event_name          text not null,
  network_event_name  text,
  forward_id          text not null unique,                -- deterministic: the id the network dedups on
  click_kind          text,                                -- fbclid, gclid, gbraid, wbraid, ttclid
  click_id            text,                                -- the network's click id, as captured
  clicked_at          timestamptz,
  status              text not null check (status in ('pending', 'retrying', 'delivered', 'failed', 'skipped')),
  attempts            integer not null default 0,
  http_status         integer,
  error               text,
  next_attempt_at     timestamptz,
  request             jsonb,                               -- the body sent for this delivery, secrets removed
  response            jsonb,
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now(),
  delivered_at        timestamptz
);
create index deliveries_due_idx on deliveries (network, app_id, next_attempt_at)
  where status in ('pending', 'retrying');
create index deliveries_log_idx on deliveries (app_id, seq desc);
-- Retention deletes by age; rows arrive in time order, so a BRIN index is enough and costs the
-- event path almost nothing. An event's deliveries are found by their forward ids (unique index).
create index deliveries_created_idx on deliveries using brin (created_at);
