-- menu owns the catalog: pizza types, pizzas (one per size) with exact prices, the history
-- of every change, the catalog version, and its outbox (DESIGN §2). Runs as menu_svc.

CREATE TABLE pizza_types (
    pizza_type_id TEXT PRIMARY KEY CHECK (pizza_type_id ~ '^[a-z0-9_]{2,40}$'),
    pizza_nm      TEXT NOT NULL CHECK (char_length(pizza_nm) BETWEEN 1 AND 100),
    pizza_categ   TEXT NOT NULL CHECK (pizza_categ IN ('Classic', 'Chicken', 'Supreme', 'Veggie')),
    pizza_img_url TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- get_pizza_id looks a pizza up by name: names are unique, ignoring case.
CREATE UNIQUE INDEX pizza_types_name ON pizza_types (lower(pizza_nm));

CREATE TABLE pizza (
    pizza_id      TEXT PRIMARY KEY,
    pizza_type_id TEXT NOT NULL REFERENCES pizza_types (pizza_type_id),
    size          TEXT NOT NULL CHECK (size IN ('S', 'M', 'L', 'XL', 'XXL')),
    -- Whole won; KRW has no minor unit. Never floating point.
    price         BIGINT NOT NULL CHECK (price BETWEEN 1 AND 1000000),
    available     BOOLEAN NOT NULL DEFAULT true,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (pizza_type_id, size)
);

-- Bumped in the transaction of every change; readers see which catalog a price came from.
CREATE TABLE catalog_version (
    singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    version   BIGINT NOT NULL
);
INSERT INTO catalog_version (version) VALUES (1);

-- Who changed what, when, from what to what.
CREATE TABLE catalog_change (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    catalog_version BIGINT NOT NULL,
    changed_by      TEXT NOT NULL,
    changed_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    kind            TEXT NOT NULL CHECK (kind IN ('pizza_updated', 'pizza_added', 'type_added')),
    pizza_type_id   TEXT,
    pizza_id        TEXT,
    old_value       JSONB,
    new_value       JSONB NOT NULL
);
CREATE INDEX catalog_change_pizza ON catalog_change (pizza_id, changed_at);

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
