-- Security hardening (docs/security.md).

-- Sessions end after SESSION_IDLE_HOURS without use; the session_cleanup job deletes ended rows.
alter table sessions add column last_seen_at timestamptz not null default now();
create index sessions_last_seen_idx on sessions (last_seen_at);

-- A legacy app id (SDK 0.1.0 alias) is unique within its organization only: no organization can
-- claim, or learn about, another organization's alias. An alias claimed in several organizations
-- matches no app at all (tracking/app-cache.ts), so a squatter can never receive another
-- tenant's traffic.
alter table apps drop constraint apps_legacy_app_id_key;
create unique index apps_org_legacy_app_id_key on apps (org_id, legacy_app_id);
create index apps_legacy_app_id_idx on apps (legacy_app_id) where legacy_app_id is not null;
