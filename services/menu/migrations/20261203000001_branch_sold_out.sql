-- Sold out at one branch (expand only: the previous release ignores it).
--
-- Staff of a branch mark a pizza sold out there; the pizza's own `available` is every
-- branch at once (ADMIN). A row here means "not at this branch", until staff take it back.
CREATE TABLE branch_sold_out (
    bran_id    TEXT NOT NULL CHECK (bran_id ~ '^[a-z0-9_]{1,40}$'),
    pizza_id   TEXT NOT NULL REFERENCES pizza (pizza_id),
    changed_by TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (bran_id, pizza_id)
);

-- The change history records these too, with their branch.
ALTER TABLE catalog_change ADD COLUMN bran_id TEXT;
ALTER TABLE catalog_change DROP CONSTRAINT catalog_change_kind_check;
ALTER TABLE catalog_change ADD CONSTRAINT catalog_change_kind_check
    CHECK (kind IN ('pizza_updated', 'pizza_added', 'type_added', 'branch_availability'));
