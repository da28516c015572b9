-- Team management (docs/dashboard.md "Team"): invitations to join an organization.
--
-- An invitation is a one-time link `<PUBLIC_URL>/invite#<id>.<secret>`: the secret is shown once to
-- whoever invited, only its sha256 is kept here, and it is compared in constant time by id. The
-- link works until `expires_at` (7 days) and is deleted when used, revoked or replaced by a new
-- invitation of the same email.
create table invitations (
  id           text primary key,                 -- inv_…
  seq          bigserial not null unique,        -- keyset pagination order
  org_id       text not null references organizations(id) on delete cascade,
  email        text not null,
  role         text not null check (role in ('owner', 'admin', 'member', 'viewer')),
  secret_hash  bytea not null,                   -- sha256 of the secret; the secret itself is never stored
  invited_by   text references users(id) on delete set null,
  created_at   timestamptz not null default now(),
  expires_at   timestamptz not null
);
-- One open invitation per email and organization: a new one replaces it.
create unique index invitations_org_email_key on invitations (org_id, lower(email));
create index invitations_expires_idx on invitations (expires_at);

-- "Sign out my other sessions" after a password change, and removing a member, look sessions up by user.
create index sessions_user_idx on sessions (user_id);
