-- A label's push is leased (an owner and a time it holds until) instead of locked by a session
-- advisory lock: the push then holds no database connection while the shop answers, so one
-- process can push many labels at once with a small pool. A lease that outlives a crash expires.

alter table labels
    add column push_owner uuid,
    add column push_until timestamptz;
