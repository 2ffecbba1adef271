-- Hub API v2: shop events per connection, parcels the shop accepted and settles later.

-- Where a shop posts a connection's events: /events/<event_token>. Random, unguessable, per
-- connection; the signature the connector checks is the real protection.
alter table connections
    add column event_token text not null default replace(gen_random_uuid()::text, '-', '')
                                               || replace(gen_random_uuid()::text, '-', '');
create unique index connections_event_token on connections (event_token);

-- A parcel in push_state 'accepted': the shop took it (shop_reference, such as a process status
-- id) and settles it later; core asks the connector again from check_after on, `checks` times so far.
alter table parcels
    add column shop_reference text,
    add column accepted_at timestamptz,
    add column checks integer not null default 0,
    add column check_after timestamptz;
create index parcels_accepted on parcels (check_after) where push_state = 'accepted';

-- Shop events seen, by the shop's own id: a second delivery of one is ignored. Kept a week.
create table shop_events (
    connection_id  bigint not null references connections (id) on delete cascade,
    event_id       text not null,
    received_at    timestamptz not null default now(),
    primary key (connection_id, event_id)
);
create index shop_events_received on shop_events (received_at);
create index shop_events_recent on shop_events (connection_id, received_at);
