-- pizza_back's orders, imported as history by `pizza-order import-legacy`: each keeps its old
-- integer id, which /api/order/myorder/ shows as pizza_back's client knew it. NULL for every
-- order placed on this platform.
ALTER TABLE orders ADD COLUMN legacy_order_id BIGINT UNIQUE;
