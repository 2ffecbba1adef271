-- The hub's first schema: accounts, connections, OAuth states, orders, labels, imports, cursors.
-- Personal data (recipient) and credentials are stored encrypted (bytea, Fernet).

create table accounts (
    id          bigserial primary key,
    name        text not null unique check (length(name) between 1 and 200),
    created_at  timestamptz not null default now()
);

create table connections (
    id                   bigserial primary key,
    account_id           bigint not null references accounts (id) on delete cascade,
    connector            text not null,
    state                text not null,
    reason               text,
    external_account_id  text,
    display_name         text,
    settings             jsonb not null default '{}'::jsonb,
    credentials          bytea,
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now()
);
-- One live connection per shop account and carrier account.
create unique index connections_external_live
    on connections (account_id, connector, external_account_id)
    where external_account_id is not null and state <> 'disconnected';
create index connections_account on connections (account_id);

create table connection_events (
    id             bigserial primary key,
    connection_id  bigint not null references connections (id) on delete cascade,
    from_state     text,
    to_state       text not null,
    reason         text,
    at             timestamptz not null default now()
);
create index connection_events_connection on connection_events (connection_id, id);

create table oauth_states (
    nonce          text primary key,
    account_id     bigint not null references accounts (id) on delete cascade,
    connection_id  bigint not null references connections (id) on delete cascade,
    expires_at     timestamptz not null,
    used_at        timestamptz
);

create table orders (
    id                  bigserial primary key,
    connection_id       bigint not null references connections (id) on delete cascade,
    external_id         text not null,
    reference           text,
    status              text not null,
    marketplace         text,
    shop_created_at     timestamptz not null,
    shop_updated_at     timestamptz not null,
    recipient           bytea,
    details             jsonb not null,
    fingerprint         text not null,
    imported_at         timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    closed_at           timestamptz,
    unique (connection_id, external_id)
);
create index orders_connection_status on orders (connection_id, status);

create table order_items (
    id                  bigserial primary key,
    order_id            bigint not null references orders (id) on delete cascade,
    external_id         text not null,
    sku                 text,
    product_id          text,
    title               text,
    quantity_ordered    integer not null,
    quantity_unshipped  integer not null,
    unit_price          numeric,
    currency            text,
    unique (order_id, external_id)
);

create table skipped_orders (
    connection_id  bigint not null references connections (id) on delete cascade,
    external_id    text not null,
    reason         text not null,
    seen_at        timestamptz not null default now(),
    primary key (connection_id, external_id)
);

create table labels (
    id               bigserial primary key,
    order_id         bigint not null references orders (id) on delete cascade,
    external_id      text not null,
    carrier          text not null,
    shipping_method  text,
    ship_date        timestamptz not null,
    created_at       timestamptz not null default now(),
    unique (order_id, external_id)
);

create table parcels (
    id               bigserial primary key,
    label_id         bigint not null references labels (id) on delete cascade,
    order_id         bigint not null references orders (id) on delete cascade,
    reference        text not null,
    tracking_number  text not null,
    items            jsonb not null,
    push_state       text not null default 'pending',
    push_message     text,
    push_attempts    integer not null default 0,
    pushed_at        timestamptz,
    unique (order_id, reference)
);
create index parcels_pending on parcels (push_state) where push_state = 'pending';

create table import_runs (
    id             bigserial primary key,
    connection_id  bigint not null references connections (id) on delete cascade,
    trigger        text not null default 'manual',
    state          text not null default 'running',
    pages          integer not null default 0,
    new            integer not null default 0,
    updated        integer not null default 0,
    unchanged      integer not null default 0,
    skipped        jsonb not null default '{}'::jsonb,
    error          text,
    started_at     timestamptz not null default now(),
    finished_at    timestamptz
);
create index import_runs_connection on import_runs (connection_id, id desc);

create table cursors (
    connection_id  bigint primary key references connections (id) on delete cascade,
    since          timestamptz,
    page_token     text,
    updated_at     timestamptz not null default now()
);
