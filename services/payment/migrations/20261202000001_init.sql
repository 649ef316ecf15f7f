-- payment owns what is known of each prepaid order's money, the deposits the bank reported,
-- and its outbox (ARCHITECTURE.md, "Payments"). Runs as payment_svc.

-- One row per prepaid (CARD or TRANSFER) order, made from its order.created and moved by the
-- provider's answers, the deposits and order.status_changed.
CREATE TABLE payment (
    order_id          UUID PRIMARY KEY,
    -- The orderId the provider knows: the order id as text (36 of [A-Za-z0-9-], within the
    -- provider's 6-64 of [A-Za-z0-9_-]).
    provider_order_id TEXT NOT NULL UNIQUE,
    member_id         TEXT NOT NULL,
    bran_id           TEXT NOT NULL,
    method            TEXT NOT NULL CHECK (method IN ('CARD', 'TRANSFER')),
    -- Whole won: the order's total, and nothing else may be charged.
    amount            BIGINT NOT NULL CHECK (amount > 0),
    order_name        TEXT NOT NULL,
    -- TRANSFER: the name the deposit must come from, and its form for matching (no spaces,
    -- lower case).
    payer_name        TEXT,
    payer_key         TEXT,
    -- UNPAID → CONFIRMING (a confirm is at the provider) → PAID → REFUNDING (card: the cancel
    -- is queued) or REFUND_DUE (transfer: staff send it back) → REFUNDED; VOID: the order was
    -- closed before anything was paid.
    state             TEXT NOT NULL DEFAULT 'UNPAID' CHECK (state IN
                        ('UNPAID', 'CONFIRMING', 'PAID', 'REFUNDING', 'REFUND_DUE', 'REFUNDED', 'VOID')),
    -- The order was rejected or cancelled: whatever is paid goes back.
    order_closed      BOOLEAN NOT NULL DEFAULT false,
    -- CARD: the provider's paymentKey of the attempt being confirmed or paid.
    payment_key       TEXT,
    -- TRANSFER: the deposit that paid it.
    deposit_tx_id     TEXT,
    -- The provider's Payment object as last read.
    provider_payment  JSONB,
    failure_code      TEXT,
    failure_message   TEXT,
    refund_reason     TEXT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    confirm_started_at TIMESTAMPTZ,
    paid_at           TIMESTAMPTZ,
    refunded_at       TIMESTAMPTZ
);
-- A deposit looks for the unpaid transfer orders of its payer and amount, oldest first.
CREATE INDEX payment_transfer_unpaid ON payment (payer_key, amount, created_at)
    WHERE method = 'TRANSFER' AND state = 'UNPAID';
-- The reconciler looks for confirms whose answer never came.
CREATE INDEX payment_confirming ON payment (confirm_started_at) WHERE state = 'CONFIRMING';
-- Staff see the transfer refunds to make.
CREATE INDEX payment_refund_due ON payment (bran_id, updated_at) WHERE state = 'REFUND_DUE';

-- Every deposit the bank's notification service reported, once per tx_id, and what it paid.
-- An unmatched or ambiguous one is kept until staff settle it.
CREATE TABLE deposit (
    tx_id        TEXT PRIMARY KEY,
    payer_name   TEXT NOT NULL,
    payer_key    TEXT NOT NULL,
    amount       BIGINT NOT NULL,
    deposited_at TIMESTAMPTZ NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- MATCHED (it paid order_id), UNMATCHED (no unpaid order of that payer and amount),
    -- AMBIGUOUS (several; staff choose).
    outcome      TEXT NOT NULL CHECK (outcome IN ('MATCHED', 'UNMATCHED', 'AMBIGUOUS')),
    order_id     UUID,
    -- Who settled an unmatched or ambiguous deposit, and when.
    settled_by   TEXT,
    settled_at   TIMESTAMPTZ
);
CREATE INDEX deposit_open ON deposit (received_at) WHERE outcome <> 'MATCHED' AND settled_at IS NULL;

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
