-- An install waiting for Apple's answer (attributions.status = 'pending', network and match_type
-- 'pending') is an install, not an attributed one (issue 10, defect 10): it used to count as
-- attributed, so a click-to-install rate of 150 % could be reported. Depends on 0004 only.

-- The one definition, redefined: a paid source is neither organic nor still undetermined. The
-- views, the triggers and analytics_rebuild call it by name, so they all follow (incremental = rebuild).
create or replace function analytics_is_attributed(network text, match_type text) returns boolean
  language sql immutable parallel safe as
  $$ select coalesce(network, 'organic') <> 'organic'
            and coalesce(match_type, 'organic') not in ('organic', 'pending') $$;

-- Installs pending now were counted as attributed when they were written: take that out, as
-- deltas dated and credited exactly as the attributions trigger counted them. When they resolve,
-- the update trigger moves them (it subtracts 0 attributed for the old row, with the new definition).
select analytics_lock_apps(array(select distinct app_id from attributions where match_type = 'pending'), true);
insert into analytics_pending (app_id, environment, day, network, campaign, ad_group_id, ad_id, link_id, platform,
                               country, match_type, event_name, currency, attributed_installs)
select f.app_id, f.environment, (f.at at time zone a.timezone)::date, f.network, f.campaign, f.ad_group_id, f.ad_id,
       f.link_id, f.platform, f.country, f.match_type, f.event_name, f.currency, -count(*)
from analytics_install_facts f
join apps a on a.id = f.app_id
where f.match_type = 'pending' and f.network <> 'organic'
group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13;
