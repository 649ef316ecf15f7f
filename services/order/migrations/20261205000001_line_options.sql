-- A line's options as the menu priced them when the order was placed (expand only: the
-- previous release neither writes nor reads it; its lines get none). Adding a column with a
-- constant default rewrites nothing, whatever the table's size.
ALTER TABLE order_detail ADD COLUMN options JSONB NOT NULL DEFAULT '[]';
