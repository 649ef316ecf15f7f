-- Exactly the writes of one POST /order/ (two lines) at one of the five branches, as the
-- benchmark's orders are spread: order, lines, first status, idempotency record, the branch's
-- order number (its counter stays locked to the commit), outbox event — one transaction. The
-- ceiling for order creation.
\set qty random(1, 3)
\set b random(1, 5)
BEGIN;
SELECT gen_random_uuid() AS oid,
       (ARRAY['gangnam', 'hongdae', 'jamsil', 'pangyo', 'haeundae'])[:b] AS bran \gset
INSERT INTO orders (order_id, member_id, bran_id, total_price, created_at, updated_at)
  VALUES (':oid'::uuid, 'pgbench', ':bran', 76600, now(), now());
INSERT INTO order_detail (order_id, line_no, pizza_id, pizza_nm, size, quantity, unit_price, line_total)
  SELECT ':oid'::uuid, * FROM UNNEST('{1,2}'::int2[], '{bbq_ckn_l,hawaiian_m}'::text[],
    '{The Barbecue Chicken Pizza,The Hawaiian Pizza}'::text[], '{L,M}'::text[],
    ARRAY[:qty, 1]::int4[], '{29000,18600}'::int8[], ARRAY[29000 * :qty, 18600]::int8[]);
INSERT INTO order_status_history (order_id, version, status, changed_by, changed_at)
  VALUES (':oid'::uuid, 1, 'PENDING', 'pgbench', now());
INSERT INTO idempotency_key (member_id, idem_key, request_hash, state, response_status, response_body)
  VALUES ('pgbench', ':oid'::uuid, '\x00', 'DONE', 201, '{}');
INSERT INTO order_number (bran_id, business_day, last)
  VALUES (':bran', (now() AT TIME ZONE 'Asia/Seoul')::date, 1)
  ON CONFLICT (bran_id, business_day) DO UPDATE SET last = order_number.last + 1;
UPDATE orders SET business_day = (now() AT TIME ZONE 'Asia/Seoul')::date,
       order_number = (SELECT last FROM order_number
                       WHERE bran_id = ':bran' AND business_day = (now() AT TIME ZONE 'Asia/Seoul')::date)
  WHERE order_id = ':oid'::uuid;
INSERT INTO outbox (id, subject, payload) VALUES (gen_random_uuid(), 'order.bench',
  json_build_object('id', gen_random_uuid(), 'type', 'order.bench', 'occurred_at', now(), 'data', '{}'::json));
SELECT pg_notify('outbox_' || current_schema(), '');
COMMIT;
