-- Payments (expand only: the previous release keeps working against it; it writes neither
-- the new status nor the new columns, and their defaults describe its orders exactly).
--
-- A card or transfer order waits in AWAITING_PAYMENT, unseen by the kitchen, until the
-- payment service announces it paid (payment.completed); then it is PENDING as any other.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN
    ('AWAITING_PAYMENT', 'PENDING', 'ACCEPTED', 'READY', 'COMPLETED', 'REJECTED', 'CANCELLED'));

-- Constant defaults: PostgreSQL adds these columns without rewriting the table.
ALTER TABLE orders
    ADD COLUMN payment_method TEXT NOT NULL DEFAULT 'AT_PICKUP'
        CHECK (payment_method IN ('AT_PICKUP', 'CARD', 'TRANSFER')),
    ADD COLUMN payment_status TEXT NOT NULL DEFAULT 'AT_PICKUP'
        CHECK (payment_status IN ('AT_PICKUP', 'UNPAID', 'PAID', 'REFUNDED')),
    -- The name a bank transfer must come from (TRANSFER only).
    ADD COLUMN payer_name TEXT;

-- The sweep cancels unpaid orders by age.
CREATE INDEX orders_awaiting_payment_age ON orders (created_at) WHERE status = 'AWAITING_PAYMENT';
