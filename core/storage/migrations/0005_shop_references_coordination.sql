-- Parcel references the shop already holds for an order, as its last import saw them (packages
-- made in the shop or by another tool, and the hub's own once the shop shows them); null when the
-- connector does not say. Core never gives a new parcel one of these, and counts a hub parcel whose
-- reference is among them as part of the shop's own shipped quantities.
alter table orders add column shop_references text[];

-- Coordination between the processes on this database, for connectors (core.coordination).
-- Unlogged: nothing here outlives its minutes, and a crash that empties them costs one refill of
-- each bucket and one token refresh, not a write-ahead-log flush per call.

-- A token bucket per key (a shop's rate limit for one account and operation): `tokens` as of
-- `updated_at` (PostgreSQL's clock), refilled at `rate` a second up to `burst`; below zero, callers
-- have reserved tokens still to come. `taken` says whether the last call took one.
create unlogged table shared_buckets (
    key         text primary key,
    tokens      float8 not null,
    rate        float8 not null,
    burst       float8 not null,
    updated_at  timestamptz not null,
    taken       boolean not null default true
);

-- Short-lived secrets (access tokens) shared by every process: encrypted with the hub's keys,
-- valid until `expires_at`; `digest` (SHA-256 of the value) lets a caller drop exactly the one it
-- found stale.
create unlogged table shared_secrets (
    key         text primary key,
    value       bytea not null,
    digest      text not null,
    expires_at  timestamptz not null
);
