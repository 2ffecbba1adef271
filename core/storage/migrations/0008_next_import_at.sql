-- When each connection is next due an import, kept on the connection and indexed, so the
-- scheduler reads the due connections in order through an index instead of looking up every
-- connection's last run (a scan of all connections per tick: 150-300 ms at 100,000).
--
-- last_import_at: when the connection's latest run started (or was queued); next_import_at: that
-- plus the connection's interval ('-infinity' for a connection never imported: due at once).
-- Triggers keep both: a run inserted or started sets last_import_at; a change of the settings or
-- of last_import_at computes next_import_at.
alter table connections
    add column last_import_at timestamptz,
    add column next_import_at timestamptz not null default '-infinity';

create function hub_next_import() returns trigger
language plpgsql as $$
begin
    new.next_import_at := coalesce(
        new.last_import_at + make_interval(mins => coalesce((new.settings ->> 'import_interval_minutes')::int, 5)),
        '-infinity'
    );
    return new;
end
$$;

create trigger connections_next_import before insert or update of settings, last_import_at on connections
    for each row execute function hub_next_import();

create function hub_import_run_started() returns trigger
language plpgsql as $$
begin
    update connections set last_import_at = new.started_at where id = new.connection_id;
    return null;
end
$$;

create trigger import_runs_started after insert or update of started_at on import_runs
    for each row execute function hub_import_run_started();

update connections c set last_import_at = latest.started_at
from (
    select distinct on (connection_id) connection_id, started_at from import_runs order by connection_id, id desc
) latest
where latest.connection_id = c.id;

create index connections_next_import on connections (next_import_at, id) where state in ('connected', 'error');
