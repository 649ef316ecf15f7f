-- Dine-in tables and their QR codes (expand only: the previous release ignores all of it).
--
-- A table's token is what its QR code carries: whoever holds it can order to that table, and
-- nothing else. Retiring a table keeps its row (its orders point at it) and ends its token.
CREATE TABLE dining_table (
    table_id   UUID PRIMARY KEY,
    bran_id    TEXT NOT NULL REFERENCES branch (bran_id),
    label      TEXT NOT NULL CHECK (char_length(label) BETWEEN 1 AND 20),
    -- 128 random bits, base64url without padding.
    token      TEXT NOT NULL UNIQUE CHECK (char_length(token) = 22),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    retired_at TIMESTAMPTZ
);
-- Two tables of a branch in use never share a label ("Table 7" is one table).
CREATE UNIQUE INDEX dining_table_label ON dining_table (bran_id, label) WHERE retired_at IS NULL;

ALTER TABLE orders
    -- PICKUP (at the counter, as before) or DINE_IN (ordered at a table, through its QR code).
    ADD COLUMN service TEXT NOT NULL DEFAULT 'PICKUP' CHECK (service IN ('PICKUP', 'DINE_IN')),
    ADD COLUMN table_id UUID REFERENCES dining_table (table_id),
    -- The table's label when the order was placed: a later rename does not change the order.
    ADD COLUMN table_label TEXT,
    ADD CONSTRAINT orders_dine_in_has_table CHECK ((service = 'DINE_IN') = (table_id IS NOT NULL));
