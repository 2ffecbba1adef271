-- When each connection is next due an import, in a narrow table of its own and indexed, so the
-- scheduler reads the due connections in order through an index instead of looking up every
-- connection's last run (a scan of all connections per tick: 150-300 ms at 100,000). Narrow, so
-- that keeping it writes two small rows a run, not the wide connections row and its indexes.
--
-- last_import_at: when the connection's latest run started (or was queued); next_import_at: that
-- plus the connection's interval ('-infinity' before its first run: due at once). Triggers keep
-- it, whichever statement writes a run or the settings: a new connection gets its row, its latest
-- run queued or started sets last_import_at, a changed interval moves next_import_at.
create table import_schedule (
    connection_id   bigint primary key references connections (id) on delete cascade,
    last_import_at  timestamptz,
    next_import_at  timestamptz not null default '-infinity'
);
create index import_schedule_next on import_schedule (next_import_at, connection_id);

create function hub_import_interval(settings jsonb) returns interval
language sql immutable as $$
    select make_interval(mins => coalesce((settings ->> 'import_interval_minutes')::int, 5))
$$;

create function hub_connection_scheduled() returns trigger
language plpgsql as $$
begin
    insert into import_schedule (connection_id) values (new.id);
    return null;
end
$$;

create trigger connections_scheduled after insert on connections
    for each row execute function hub_connection_scheduled();

create function hub_interval_changed() returns trigger
language plpgsql as $$
begin
    update import_schedule
    set next_import_at = coalesce(last_import_at + hub_import_interval(new.settings), '-infinity')
    where connection_id = new.id;
    return null;
end
$$;

create trigger connections_interval_changed after update of settings on connections
    for each row
    when (old.settings ->> 'import_interval_minutes' is distinct from new.settings ->> 'import_interval_minutes')
    execute function hub_interval_changed();

create function hub_import_run_started() returns trigger
language plpgsql as $$
begin
    update import_schedule s
    set last_import_at = new.started_at,
        next_import_at = new.started_at + hub_import_interval(c.settings)
    from connections c
    where s.connection_id = new.connection_id and c.id = new.connection_id
      and not exists (select 1 from import_runs n where n.connection_id = new.connection_id and n.id > new.id);
    return null;
end
$$;

create trigger import_runs_started after insert or update of started_at on import_runs
    for each row execute function hub_import_run_started();

insert into import_schedule (connection_id, last_import_at, next_import_at)
select c.id, latest.started_at, coalesce(latest.started_at + hub_import_interval(c.settings), '-infinity')
from connections c
left join lateral (
    select started_at from import_runs r where r.connection_id = c.id order by id desc limit 1
) latest on true;
