-- API tokens of accounts, stored as SHA-256 digests: a database dump reveals no usable token.

create table api_tokens (
    id           bigserial primary key,
    account_id   bigint not null references accounts (id) on delete cascade,
    name         text not null,
    digest       text not null unique,
    created_at   timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
create index api_tokens_account on api_tokens (account_id);
