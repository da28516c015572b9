-- Background work moves onto graphile-worker (schema graphile_worker, installed by src/db/migrate.ts
-- before these files run). See src/jobs.ts for the list of jobs.

-- The workers of each server process, under the key of the advisory lock that process holds while
-- it lives: a worker whose key is not locked belongs to a dead process, and its jobs are freed at
-- once instead of after graphile-worker's four hours (src/queue/reclaim.ts).
create table job_workers (
  worker_id    text primary key,
  process_key  integer not null,
  created_at   timestamptz not null default now()
);

-- Apple Search Ads lookups were polled from this table; each attempt is now a queued job, and the
-- row keeps the lookup's state. next_attempt_at stays as information.
drop index asa_resolutions_due_idx;
alter table asa_resolutions drop column locked_until;
select graphile_worker.add_job('asa_resolve', json_build_object('attributionId', attribution_id),
                               run_at => next_attempt_at, job_key => 'asa:' || attribution_id, max_attempts => 10)
from asa_resolutions where state = 'pending';
