-- An SDK event batch in one statement (src/modules/tracking/event-writer.ts): dedup, insert, the
-- conversion outbox and the duplicate counts, atomically, in one round trip. Before, a batch was a
-- transaction of four statements (BEGIN, insert, outbox, COMMIT), each a write and a wait; on the
-- 2-core benchmark machine the socket writes alone took a fifth of the server's time.
--
-- Dedup: `event_id` through the unique index on events; otherwise a fingerprint row that only a
-- repeat older than `dedup_seconds` may refresh (docs/sdk-ingestion.md "Dedup"). Returns the ids
-- of the events written; the others were duplicates.
create function ingest_events(
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
    insert into event_fingerprints as f (app_id, environment, fingerprint, seen_at)
    select app_id, environment, decode(fp, 'hex'), at from input where fp is not null
    on conflict (app_id, environment, fingerprint) do update set seen_at = excluded.seen_at
      where f.seen_at < excluded.seen_at - dedup_seconds * interval '1 second'
    returning app_id, environment, encode(fingerprint, 'hex') as fp
  ), inserted as (
    insert into events (id, app_id, environment, device_pk, device_id, user_id, event_name, source, revenue, currency,
                        revenue_raw, currency_raw, properties, event_id, is_control, flags, occurred_at, received_at)
    select i.id, i.app_id, i.environment, i.device_pk, i.device_id,
           (select dv.customer_user_id from devices dv where dv.id = i.device_pk), i.event_name, i.source, i.revenue,
           i.currency, i.revenue_raw, i.currency_raw, i.properties::jsonb, i.event_id, left(i.event_name, 1) = '_',
           case when i.flags = '' then '{}'::text[] else string_to_array(i.flags, ',') end, i.at, i.at
    from input i
    where i.fp is null
       or exists (select 1 from fresh f where f.app_id = i.app_id and f.environment = i.environment and f.fp = i.fp)
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
