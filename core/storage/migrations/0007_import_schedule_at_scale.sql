-- The import schedule at 100,000 connections and more: the open (queued or running) runs are
-- found through a small partial index, both for "is one open already" per connection and for
-- how many are queued in all (the scheduler fills the queue up to a limit, most overdue first).
create index import_runs_open on import_runs (connection_id) where state in ('queued', 'running');

-- Retention thins the run history (core.storage.schedule.prune_runs): scheduled runs that stored
-- nothing after an hour, through an index of those alone (at 100,000 connections they are nearly
-- every run), and any run after 30 days, by age.
create index import_runs_quiet on import_runs (finished_at)
    where trigger = 'schedule' and state = 'succeeded' and new = 0 and updated = 0;
create index import_runs_finished on import_runs (finished_at) where finished_at is not null;
