-- Tracking links and the clicks they record. Owned by the links module (src/modules/links).

create table links (
  id                   text primary key,            -- public slug in /api/c/{id}, unique in the instance
  seq                  bigserial not null unique,   -- keyset pagination order
  app_id               text not null references apps(id) on delete cascade,
  name                 text not null,
  network              text not null default 'other',   -- default network: meta, google, tiktok, apple_search_ads, other
  campaign_name        text,                        -- reporting label configured on the link
  destination_ios      text,                        -- overrides the app's store URLs
  destination_android  text,
  destination_web      text,
  custom_data          jsonb not null default '{}', -- string → string, handed back on first launch
  archived_at          timestamptz,
  deleted_at           timestamptz,                 -- DELETE keeps the row (history, slug stays taken)
  created_at           timestamptz not null default now(),
  updated_at           timestamptz not null default now()
);
create index links_app_idx on links (app_id, seq desc) where deleted_at is null;

create table clicks (
  id              text primary key,                 -- the ar_click_id: URL-safe, unguessable
  seq             bigserial not null unique,        -- insertion order, for incremental rollups
  app_id          text not null,
  link_id         text not null,
  environment     text not null default 'live' check (environment in ('live', 'sandbox')),
  clicked_at      timestamptz not null,
  network         text not null,
  campaign        text,                             -- reporting label: link campaign, else utm_campaign, else campaign_name
  campaign_id     text,
  campaign_name   text,
  ad_group_id     text,
  ad_group_name   text,
  ad_id           text,
  ad_name         text,
  keyword         text,
  fbclid          text,
  gclid           text,
  gbraid          text,
  wbraid          text,
  ttclid          text,
  utm_source      text,
  utm_medium      text,
  utm_campaign    text,
  utm_term        text,
  utm_content     text,
  idfa            text,
  gaid            text,
  query_params    jsonb not null default '{}',      -- every query parameter, string → string, first value wins
  ip              inet,                             -- raw IP lives only as long as the click (30 days)
  user_agent      text,
  platform        text,                             -- ios, android, web (desktop/other)
  os_version      text,
  device_model    text,
  language        text,
  country         text,
  referer         text,
  source          text not null default 'redirect', -- redirect (/api/c) or landing (/g page view)
  is_bot          boolean not null default false,   -- bots and previews are stored, never attributed
  bot_reason      text,
  duplicate_of    text                              -- a rapid repeat (same link, IP and UA) of this click id
);
create index clicks_app_time_idx on clicks (app_id, environment, clicked_at desc);
create index clicks_ip_idx on clicks (app_id, environment, ip, clicked_at desc) where not is_bot;
create index clicks_idfa_idx on clicks (app_id, environment, idfa) where idfa is not null;
create index clicks_gaid_idx on clicks (app_id, environment, gaid) where gaid is not null;
create index clicks_retention_idx on clicks (clicked_at);
