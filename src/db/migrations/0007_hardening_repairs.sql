-- Repairs of data written before the hardening fixes (issue 10, defects 3 and 8). Depends only on
-- 0001–0005; changes no schema. Safe on an empty database and when nothing needs repair.

-- ---------------------------------------------------------------------------------------------
-- 1. Revenue beyond the per-event bound (|amount| > 1e9 major units, docs/analytics.md).
-- Such an amount (e.g. 1e307) made every report of its app and the portfolio fail, and −1e300 was
-- counted silently. The event stays; its amount leaves revenue exactly as new events are stored
-- now: revenue null, the value kept in revenue_raw, flagged revenue_out_of_range. Its
-- contribution is taken out of the rollups as deltas (not by analytics_rebuild, which would lose
-- expired raw clicks), and its device's paying days are recomputed.

-- One pass over events finds them (there is no index on revenue; this runs once).
create temporary table poisoned_events on commit drop as
select seq from events where abs(revenue) > 1e9;

-- Their contribution, dated and credited exactly as the events trigger counted it (looked up by seq).
create temporary table poisoned_facts on commit drop as
select f.device_pk, f.app_id, f.environment, (f.at at time zone a.timezone)::date as day, f.network, f.campaign,
       f.ad_group_id, f.ad_id, f.link_id, f.platform, f.country, f.match_type, f.event_name, f.currency,
       f.purchases, f.revenue
from analytics_event_facts f
join apps a on a.id = f.app_id
where f.seq = any(array(select seq from poisoned_events));

insert into analytics_pending (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform,
                               country, match_type, event_name, currency, purchases, revenue)
select app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type,
       event_name, currency, -sum(purchases), -sum(revenue)
from poisoned_facts
group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
having sum(purchases) <> 0 or sum(revenue) <> 0;

update events
set revenue_raw = coalesce(revenue_raw, revenue::text),
    revenue = null,
    flags = case when 'revenue_out_of_range' = any(flags) then flags else flags || '{revenue_out_of_range}'::text[] end
where seq = any(array(select seq from poisoned_events));

-- Paying device-days that only those purchases made: gone, with their count deltas.
create temporary table poisoned_payer_days on commit drop as
select distinct device_pk, app_id, environment, day from poisoned_facts where purchases > 0 and device_pk is not null;

delete from analytics_payers p
using poisoned_payer_days d
where p.app_id = d.app_id and p.environment = d.environment and p.day = d.day and p.device_pk = d.device_pk
  and not exists (
    select 1 from analytics_event_facts f join apps a on a.id = f.app_id
    where f.device_pk = p.device_pk and f.event_name = p.event_name and f.purchases > 0
      and (f.at at time zone a.timezone)::date = p.day);

with gone as (
  delete from analytics_payer_days p
  using poisoned_payer_days d
  where p.device_pk = d.device_pk and p.day = d.day
    and not exists (
      select 1 from analytics_event_facts f join apps a on a.id = f.app_id
      where f.device_pk = p.device_pk and f.purchases > 0 and (f.at at time zone a.timezone)::date = p.day)
  returning p.*
), uncounted as (
  insert into analytics_payer_counts_pending (app_id, environment, day, prev_day, payers)
  select app_id, environment, day, coalesce(prev_day, '-infinity'), -count(*) from gone group by 1, 2, 3, 4
)
insert into analytics_pending (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform,
                               country, match_type, event_name, currency, paying_users)
select app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform, country, match_type, '', '', -count(*)
from gone
group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11;

-- The previous-paying-day links of those devices (and their count deltas).
select analytics_link_payer_days(array(select distinct device_pk from poisoned_payer_days));

-- ---------------------------------------------------------------------------------------------
-- 2. Stored URLs with non-ASCII characters (defect 8): a Location header cannot carry them. New
-- URLs are stored as `new URL(u).href`; here the non-ASCII characters of stored ones are
-- percent-encoded as UTF-8, which is what href does to them. URLs whose host is not ASCII (an
-- international domain needs punycode, which SQL cannot compute) are left as they are: the redirect
-- normalises every URL again when it builds the Location (src/modules/clicks/destination.ts).

create or replace function pg_temp.percent_encode_non_ascii(u text) returns text language sql immutable as $$
  select string_agg(case when octet_length(ch) = 1 then ch
                         else regexp_replace(upper(encode(convert_to(ch, 'UTF8'), 'hex')), '(..)', '%\1', 'g') end,
                    '' order by n)
  from regexp_split_to_table(u, '') with ordinality as t(ch, n)
$$;

-- Null when nothing is to be done: ASCII already, or a non-ASCII host.
create or replace function pg_temp.normalised_url(u text) returns text language sql immutable as $$
  select case when u is null or octet_length(u) = char_length(u) then null
              when octet_length(coalesce(substring(u from '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)'), ''))
                   <> char_length(coalesce(substring(u from '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)'), '')) then null
              else pg_temp.percent_encode_non_ascii(u) end
$$;

update apps
set ios_store_url = coalesce(pg_temp.normalised_url(ios_store_url), ios_store_url),
    android_store_url = coalesce(pg_temp.normalised_url(android_store_url), android_store_url),
    web_url = coalesce(pg_temp.normalised_url(web_url), web_url)
where octet_length(ios_store_url) <> char_length(ios_store_url)
   or octet_length(android_store_url) <> char_length(android_store_url)
   or octet_length(web_url) <> char_length(web_url);

update links
set destination_ios = coalesce(pg_temp.normalised_url(destination_ios), destination_ios),
    destination_android = coalesce(pg_temp.normalised_url(destination_android), destination_android),
    destination_web = coalesce(pg_temp.normalised_url(destination_web), destination_web)
where octet_length(destination_ios) <> char_length(destination_ios)
   or octet_length(destination_android) <> char_length(destination_android)
   or octet_length(destination_web) <> char_length(destination_web);
