-- REFUND_FAILED: the provider refused to cancel a card payment (it answered, and will not):
-- staff make the refund at the provider's dashboard, then mark it done. Until then it is on
-- their list, never only in a log.
ALTER TABLE payment DROP CONSTRAINT payment_state_check;
ALTER TABLE payment ADD CONSTRAINT payment_state_check CHECK (state IN
    ('UNPAID', 'CONFIRMING', 'PAID', 'REFUNDING', 'REFUND_DUE', 'REFUND_FAILED', 'REFUNDED', 'VOID'));
DROP INDEX payment_refund_due;
CREATE INDEX payment_refund_due ON payment (bran_id, updated_at)
    WHERE state IN ('REFUND_DUE', 'REFUND_FAILED');
