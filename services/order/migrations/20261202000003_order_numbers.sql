-- Order numbers and requests (expand only: the previous release ignores these columns).
--
-- Every order gets a short number, unique per branch and business day, counted 1, 2, 3… from
-- the branch's day start (Asia/Seoul), without gaps: the counter is taken in the order's own
-- transaction, so an order that is not written gives its number back.
ALTER TABLE branch ADD COLUMN day_start TIME NOT NULL DEFAULT '00:00';

CREATE TABLE order_number (
    bran_id      TEXT NOT NULL REFERENCES branch (bran_id),
    business_day DATE NOT NULL,
    last         INTEGER NOT NULL CHECK (last > 0),
    PRIMARY KEY (bran_id, business_day)
);

ALTER TABLE orders
    ADD COLUMN order_number INTEGER,
    ADD COLUMN business_day DATE,
    -- What the customer asked for ("no onions"), at most 200 characters.
    ADD COLUMN special_requests TEXT,
    -- What staff said when accepting it, shown to the customer with the estimated time.
    ADD COLUMN accept_message TEXT;
-- No number twice in a branch's day (NULL: pizza_back's orders, and orders from before).
CREATE UNIQUE INDEX orders_number_per_day ON orders (bran_id, business_day, order_number)
    WHERE order_number IS NOT NULL;
