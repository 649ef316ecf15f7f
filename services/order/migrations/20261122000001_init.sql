-- order owns branches, orders, their lines (with the unit price paid), the status history,
-- idempotency keys and its outbox (DESIGN §2, §6). Runs as order_svc.

CREATE TABLE branch (
    bran_id TEXT PRIMARY KEY,
    bran_nm TEXT NOT NULL
);

CREATE TABLE orders (
    -- UUIDv7: unique without coordination, and ordered by creation.
    order_id    UUID PRIMARY KEY,
    member_id   TEXT NOT NULL,
    bran_id     TEXT NOT NULL REFERENCES branch (bran_id),
    status      TEXT NOT NULL DEFAULT 'PENDING'
                CHECK (status IN ('PENDING', 'ACCEPTED', 'READY', 'COMPLETED', 'REJECTED', 'CANCELLED')),
    -- Whole won, the sum of the lines' totals.
    total_price BIGINT NOT NULL CHECK (total_price > 0),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Bumped by every status change (optimistic concurrency, event ordering).
    version     INTEGER NOT NULL DEFAULT 1
);
-- "My orders", newest first, by keyset.
CREATE INDEX orders_member_recent ON orders (member_id, created_at DESC, order_id DESC);
CREATE INDEX orders_branch_status ON orders (bran_id, status, created_at);

-- A line of an order: the pizza as it was sold, with the price paid. The pizza id is a
-- string (no foreign key across schemas) and the price never changes afterwards.
CREATE TABLE order_detail (
    order_id   UUID NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    line_no    SMALLINT NOT NULL,
    pizza_id   TEXT NOT NULL,
    pizza_nm   TEXT NOT NULL,
    size       TEXT NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 100),
    unit_price BIGINT NOT NULL CHECK (unit_price > 0),
    line_total BIGINT NOT NULL CHECK (line_total = unit_price * quantity),
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE order_status_history (
    order_id   UUID NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    status     TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    reason     TEXT,
    PRIMARY KEY (order_id, version)
);

-- Idempotency-Key (IETF draft), scoped to the member, kept 24 h.
CREATE TABLE idempotency_key (
    member_id       TEXT NOT NULL,
    idem_key        TEXT NOT NULL,
    -- SHA-256 of the request as understood (branch and lines), to refuse reuse with
    -- another body.
    request_hash    BYTEA NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('IN_FLIGHT', 'DONE')),
    response_status INTEGER,
    response_body   JSONB,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (member_id, idem_key)
);
CREATE INDEX idempotency_key_created ON idempotency_key (created_at);

CREATE TABLE outbox (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           UUID NOT NULL UNIQUE,
    subject      TEXT NOT NULL,
    payload      JSONB NOT NULL,
    traceparent  TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
