-- The Shipments work list: filters, search and keyset pages that stay fast with 100,000 orders.

-- The account beside each order (a connection never changes account), so that one index serves
-- an account's list in its order without a join; the shop's deadline to sort by (ship-by, else
-- deliver-by; 'infinity' when the shop gives neither, so it sorts last and compares in a row);
-- where the order stands for the merchant; keyed hashes of the recipient's words for search
-- (core.storage.orders.recipient_tokens: HMAC-SHA256 under a key derived from the vault, so the
-- database holds no readable name or city and a dump cannot be searched without the key).
alter table orders
    add column account_id bigint,
    add column due_at timestamptz not null default 'infinity',
    add column work_state text not null default 'to_ship'
        check (work_state in ('to_ship', 'attention', 'shipped', 'cancelled')),
    add column recipient_tokens text[];

update orders o set account_id = c.account_id from connections c where c.id = o.connection_id;
alter table orders alter column account_id set not null;

update orders set due_at = coalesce(
    (details -> 'ship_by' ->> 'latest')::timestamptz, (details -> 'deliver_by' ->> 'latest')::timestamptz, 'infinity'
);

-- Where an order stands for the merchant, from the shop's status and the hub's parcels:
--   cancelled, shipped: as the shop says;
--   shipped too: once every item is in parcels the shop confirmed (so the list need not wait for
--     the next import), counted as core.storage.labels.LabelTarget.remaining counts what is left;
--   attention: a parcel the shop refused, or one not sent (the tracking setting was off);
--   to_ship: the rest.
create function order_work_state(bigint) returns text
language sql stable as $$
    select case
        when o.status = 'cancelled' then 'cancelled'
        when o.status = 'shipped' then 'shipped'
        when exists (select 1 from parcels p where p.order_id = o.id and p.push_state = 'confirmed')
             and not exists (
                 select 1
                 from order_items i
                 cross join lateral (
                     select coalesce(sum((pi ->> 'quantity')::int), 0) as confirmed,
                            coalesce(sum((pi ->> 'quantity')::int)
                                     filter (where p.reference <> all(o.shop_references)), 0) as not_at_shop
                     from parcels p, jsonb_array_elements(p.items) as pi
                     where p.order_id = o.id and p.push_state = 'confirmed' and pi ->> 'item_external_id' = i.external_id
                 ) as c
                 where i.order_id = o.id
                   and least(i.quantity_ordered - c.confirmed, i.quantity_unshipped - c.not_at_shop) > 0
             ) then 'shipped'
        when exists (select 1 from parcels p where p.order_id = o.id and p.push_state in ('failed', 'skipped'))
            then 'attention'
        else 'to_ship'
    end
    from orders o where o.id = $1
$$;

-- Every path that records a parcel or its push state (a label, a push, a check, a retry) moves the
-- order with it, in the same transaction: a confirmation shows the order shipped at once.
-- Imports recompute the orders they change (core.storage.orders.save_page).
create function parcels_work_state() returns trigger
language plpgsql as $$
begin
    update orders o set work_state = s.state
    from (select order_work_state(new.order_id) as state) as s
    where o.id = new.order_id and o.work_state is distinct from s.state;
    return null;
end
$$;

create trigger parcels_work_state after insert or update of push_state on parcels
    for each row execute function parcels_work_state();

update orders set work_state = order_work_state(id);

-- One index per list order: to ship and needs attention by deadline, shipped by deadline from the
-- newest (scanned backwards), all orders by deadline; search by order number (the shop's id or
-- the merchant's reference, by prefix) and by recipient token.
create index orders_work_list on orders (account_id, work_state, due_at, id);
create index orders_all_list on orders (account_id, due_at, id);
create index orders_external_search on orders (account_id, lower(external_id) text_pattern_ops);
create index orders_reference_search on orders (account_id, lower(reference) text_pattern_ops)
    where reference is not null;
create index orders_recipient_search on orders using gin (recipient_tokens) where recipient_tokens is not null;
