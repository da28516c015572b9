-- A smaller dedup key (issue 15, docs/sdk-ingestion.md "Dedup"). A fingerprint row was keyed by
-- (app id, environment, 32-byte SHA-256): about 100 bytes per index entry, at a random place. At
-- 10 000 events/s the table holds four minutes of events (the prune job keeps twice the window),
-- 2.4 million rows, and its primary key outgrows memory: 238 MB. Now the app and the environment
-- are hashed with the event (src/modules/tracking/sdk-body.ts) and the key is the first 128 bits, a
-- uuid: 93 MB for the same rows. Measured on 2.4 million rows (the fingerprint insert alone, 22 new
-- fingerprints per statement, right after a checkpoint): 31.8 → 23.2 µs of backend CPU and
-- 4.5 → 3.0 KB of WAL per event. The whole event batch statement on that table
-- (`bench/ingest/statement.ts FINGERPRINTS=2400000 SORTED=1`, three pairs): 5.4 → 3.8 KB of WAL
-- per event; its CPU moved within the noise (67–79 against 63–76 µs).
--
-- The rows of the last minutes are dropped with the old table: an SDK retry without an event_id
-- that straddles the upgrade is stored twice. The old hash left out the app, so its rows cannot be
-- carried over.
drop table event_fingerprints;
create table event_fingerprints (
  fingerprint  uuid primary key,  -- sha256(app, environment, device_id, event_name, canonical properties, revenue, currency), 128 bits
  seen_at      timestamptz not null
);
create index event_fingerprints_seen_idx on event_fingerprints (seen_at);

create or replace function ingest_events(
  ids text[], app_ids text[], environments text[], device_pks bigint[], device_ids text[], event_names text[],
  sources text[], revenues numeric[], currencies text[], revenue_raws text[], currency_raws text[],
  properties text[], event_ids text[], flags text[], ats timestamptz[], fingerprints text[],
  dedup_seconds integer,
  -- duplicates found inside the batch before it was sent, per (app, environment)
  batch_duplicate_apps text[], batch_duplicate_environments text[], batch_duplicates bigint[],
  default_mapping jsonb
) returns setof text language plpgsql set enable_seqscan = off as $$
declare written text[];
begin
  with input as (
    select * from unnest(ids, app_ids, environments, device_pks, device_ids, event_names, sources, revenues,
                         currencies, revenue_raws, currency_raws, properties, event_ids, flags, ats, fingerprints)
      with ordinality as t(id, app_id, environment, device_pk, device_id, event_name, source, revenue, currency,
                           revenue_raw, currency_raw, properties, event_id, flags, at, fp, ord)
  ), fresh as (
    insert into event_fingerprints as f (fingerprint, seen_at)
    select fp::uuid, at from input where fp is not null
    on conflict (fingerprint) do update set seen_at = excluded.seen_at
      where f.seen_at < excluded.seen_at - dedup_seconds * interval '1 second'
    returning fingerprint
  ), inserted as (
    insert into events (id, app_id, environment, device_pk, device_id, user_id, event_name, source, revenue, currency,
                        revenue_raw, currency_raw, properties, event_id, is_control, flags, occurred_at, received_at)
    select i.id, i.app_id, i.environment, i.device_pk, i.device_id,
           (select dv.customer_user_id from devices dv where dv.id = i.device_pk), i.event_name, i.source, i.revenue,
           i.currency, i.revenue_raw, i.currency_raw, i.properties::jsonb, i.event_id, left(i.event_name, 1) = '_',
           case when i.flags = '' then '{}'::text[] else string_to_array(i.flags, ',') end, i.at, i.at
    from input i
    where i.fp is null
       or exists (select 1 from fresh f where f.fingerprint = i.fp::uuid)
    order by i.ord
    on conflict (app_id, environment, event_id) where event_id is not null do nothing
    returning id
  )
  select coalesce(array_agg(id), '{}') into written from inserted;

  perform record_deliveries(written, array(select distinct unnest(app_ids)), default_mapping);

  insert into event_dedup_counts as c (app_id, environment, suppressed)
  select app_id, environment, sum(n) from (
    select x.app_id, x.environment, 1::bigint as n
    from unnest(ids, app_ids, environments) x(id, app_id, environment)
    where x.id not in (select unnest(written))
    union all
    select * from unnest(batch_duplicate_apps, batch_duplicate_environments, batch_duplicates)
  ) d
  group by 1, 2 order by 1, 2
  on conflict (app_id, environment) do update set suppressed = c.suppressed + excluded.suppressed, updated_at = now();

  return query select unnest(written);
end $$;
