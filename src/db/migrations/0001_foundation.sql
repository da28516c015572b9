-- Organizations, users, sessions, API keys and apps.

create table organizations (
  id          text primary key,               -- 20 alphanumeric characters, as the reference product
  name        text not null,
  created_at  timestamptz not null default now()
);

create table users (
  id             text primary key,            -- usr_…
  email          text not null,
  password_hash  text not null,                -- scrypt$N$r$p$salt$hash
  created_at     timestamptz not null default now()
);
create unique index users_email_key on users (lower(email));

create table memberships (
  org_id      text not null references organizations(id) on delete cascade,
  user_id     text not null references users(id) on delete cascade,
  role        text not null check (role in ('owner', 'admin', 'member', 'viewer')),
  created_at  timestamptz not null default now(),
  primary key (org_id, user_id)
);

create table sessions (
  id               text primary key,          -- ses_…
  token_hash       bytea not null unique,     -- sha256 of the cookie value; the value itself is never stored
  csrf_hash        bytea not null,            -- sha256 of the CSRF token
  user_id          text not null references users(id) on delete cascade,
  org_id           text not null references organizations(id) on delete cascade,
  created_at       timestamptz not null default now(),
  expires_at       timestamptz not null
);
create index sessions_expires_idx on sessions (expires_at);

create table api_keys (
  id            text primary key,             -- key_…
  seq           bigserial not null unique,    -- keyset pagination order
  org_id        text not null references organizations(id) on delete cascade,
  name          text not null,
  permission    text not null check (permission in ('full', 'read_only', 'analytics')),
  app_ids       text[],                       -- null: every app of the organization
  key_hash      bytea not null unique,        -- sha256 of the full key
  key_last4     text not null,
  created_by    text references users(id) on delete set null,
  created_at    timestamptz not null default now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);
create index api_keys_org_idx on api_keys (org_id, seq desc);

create table apps (
  id                          text primary key,     -- app_ + 11 hex
  seq                         bigserial not null unique,  -- keyset pagination order
  org_id                      text not null references organizations(id) on delete cascade,
  name                        text not null,
  ios_bundle_id               text,
  ios_app_store_id            text,
  ios_store_url               text,
  android_package_name        text,
  android_store_url           text,
  web_url                     text,
  timezone                    text not null default 'UTC',
  currency                    char(3) not null default 'USD',
  sdk_enabled                 boolean not null default true,
  sdk_key_live                text not null unique,
  sdk_key_test                text not null unique,
  legacy_app_id               text unique,          -- optional alias accepted in X-App-Id (SDK 0.1.0)
  click_window_hours          integer not null default 168,
  probabilistic_enabled       boolean not null default true,
  probabilistic_window_hours  integer not null default 24,
  reattribution_window_days   integer not null default 90,
  qualified_trials_enabled    boolean not null default false,
  qualified_trials_delay_hours integer not null default 2,
  archived_at                 timestamptz,
  created_at                  timestamptz not null default now(),
  updated_at                  timestamptz not null default now()
);
create index apps_org_seq_idx on apps (org_id, seq desc);

-- Every SDK key ever issued, so that none is reused even if an app's keys are rotated later.
create table issued_sdk_keys (
  key         text primary key,
  app_id      text not null,
  created_at  timestamptz not null default now()
);
