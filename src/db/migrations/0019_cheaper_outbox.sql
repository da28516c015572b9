-- The conversion outbox writes less per event (issues 11 and 15, docs/sdk-ingestion.md "Ids in
-- time order"). Measured with `bench/ingest/statement.ts FORWARD=1` (every event of a device
-- attributed to Meta records a delivery) on 2 million stored events.
--
-- Deliveries keep their app's id without a foreign key. The check locked the app's row
-- `for key share` once per delivery: a tuple-header write, and a MultiXact whenever two event
-- batches of the same app commit at the same time, which on a busy app is always. Nothing deletes
-- apps (they are archived), as for events (0018).
alter table deliveries drop constraint deliveries_app_id_fkey;

-- Delivery ids start with the time (hex milliseconds, then 12 random hex digits): new rows land on
-- the right-most page of the primary key. Event ids are time-ordered too (src/lib/crypto.ts), so the
-- forward ids derived from them follow. The skip reason was computed three times per delivery
-- (the planner inlined the subquery into status, error and next_attempt_at).
create or replace function record_deliveries(event_ids text[], app_ids text[], default_mapping jsonb) returns void
  language plpgsql set enable_seqscan = off as $$
begin
  if not exists (select 1 from integrations where app_id = any(app_ids)) then return; end if;
  with e as materialized (
    select id, app_id, environment, device_pk, event_name, source from events
    where id = any(event_ids) and not is_control)
  insert into deliveries (id, app_id, network, event_id, event_name, network_event_name, forward_id,
                          click_kind, click_id, clicked_at, status, error, next_attempt_at, created_at, updated_at)
  select 'dlv_' || lpad(to_hex((extract(epoch from now()) * 1000)::bigint), 11, '0')
                || left(replace(gen_random_uuid()::text, '-', ''), 12),
         x.app_id, x.network, x.event_id, x.event_name, x.mapped, 'fwd_' || x.network || '_' || substr(x.event_id, 5),
         x.click_kind, x.click_id, x.clicked_at,
         case when x.reason is null then 'pending' else 'skipped' end, x.reason,
         case when x.reason is null then now() end, now(), now()
  from (
    select e.app_id, i.network, e.id as event_id, e.event_name, m.mapped, k.click_kind, k.click_id, a.clicked_at,
           case
             when e.environment = 'sandbox' then 'sandbox event (never forwarded)'
             when not i.enabled then 'integration disabled'
             when not i.configured then 'integration not configured'
             when k.click_id is null then 'no click id for this network'
             when m.mapped is null then 'event not mapped'
             when i.network = 'google' and e.event_name = 'install' and k.click_kind <> 'gclid'
               then 'install is sent to Google only with a gclid'
             when i.network = 'google' and not (i.settings -> 'conversionActions') ? m.mapped
               then 'no conversion action for this event'
             when e.source in ('revenuecat', 'superwall') and e.event_name not in ('purchase', 'start_trial')
               then 'subscription lifecycle events are not forwarded'
             when e.event_name in ('purchase', 'start_trial') and e.source in ('sdk', 's2s')
                  and not coalesce(i.forward_client_purchases,
                                   not exists (select 1 from webhook_integrations w where w.app_id = e.app_id and w.enabled))
               then 'client purchases are not forwarded (forwardClientPurchases; webhooks are the revenue source)'
             when e.event_name = 'start_trial' and ap.qualified_trials_enabled
               then 'trial start held for qualification (qualified trials on)'
           end as reason
    from e
    join attributions a on a.device_pk = e.device_pk
    join integrations i on i.app_id = e.app_id
    join apps ap on ap.id = e.app_id
    left join clicks c on c.id = a.click_id
    left join lateral (
      select kind as click_kind, v as click_id from (values
        ('fbclid', 'meta', coalesce(a.fbclid, c.fbclid), 1),
        ('gclid', 'google', coalesce(a.gclid, c.gclid), 1),
        ('gbraid', 'google', coalesce(c.gbraid, a.query_params ->> 'gbraid'), 2),
        ('wbraid', 'google', coalesce(c.wbraid, a.query_params ->> 'wbraid'), 3),
        ('ttclid', 'tiktok', coalesce(a.ttclid, c.ttclid), 1)
      ) as ids(kind, net, v, pref)
      where net = i.network and v is not null and v <> ''
      order by pref limit 1
    ) k on true
    cross join lateral (
      select case
        when i.event_mapping ? e.event_name then i.event_mapping ->> e.event_name
        else coalesce(default_mapping -> i.network ->> e.event_name, e.event_name)
      end as mapped
    ) m
    where a.network = i.network or k.click_id is not null
    offset 0 -- kept as a subquery: `reason` is read three times below and computed once
  ) x
  on conflict (forward_id) do nothing;
end $$;
