-- The statements the service issues for one complaint submission (src/routes/complaint_flow.rs,
-- src/db/complaints.rs: four reads; then the insert, and the timeline entry, the audit entry and
-- the phone's count that depend on it; the flag update only for a flagged phone), here all in
-- one transaction, prepared (-M prepared), as the service's are. :mid picks a merchant with a
-- code; :n makes the idempotency key, tracking number and phone unique.
\set mid random(1, :merchants)
\set n random(1, 999999999999)
BEGIN;
SELECT sc.code, sc.merchant_id, sc.issued_at, sc.revoked_at, m.id, m.uscc, m.name, m.region_code, m.category, m.status, m.grade
  FROM shop_codes sc JOIN merchants m ON m.id = sc.merchant_id
  WHERE sc.merchant_id = (:mid::bigint) AND sc.revoked_at IS NULL LIMIT 1;
SELECT id, request_hash FROM complaints WHERE idempotency_key = 'pgb-' || (:n::bigint)::text LIMIT 1;
SELECT effective_from, accept_working_days, conclude_working_days, green_channel_working_days, note
  FROM complaint_deadline_rules WHERE effective_from <= current_date ORDER BY effective_from DESC LIMIT 1;
SELECT day, kind FROM calendar_days WHERE day BETWEEN current_date - 7 AND current_date + 790;
INSERT INTO complaints (tracking_no, merchant_id, shop_code, region_code, consumer_name, consumer_phone,
    category, description, amount_fen, desired_outcome, received_at, received_on, merchant_deadline,
    accept_deadline, idempotency_key, request_hash, client_ip)
  SELECT lpad((:n::bigint)::text, 12, '0'), m.id, sc.code, m.region_code, '压测用户', '139' || lpad(((:n::bigint) % 100000000)::text, 8, '0'),
    'price', '压测投诉：菜单标价与结账金额不一致，要求退还差价。', 1000, '', now(), current_date,
    current_date + 14, current_date + 25, 'pgb-' || (:n::bigint)::text, md5((:n::bigint)::text) || md5((:n::bigint)::text), '127.0.0.1'
  FROM merchants m JOIN shop_codes sc ON sc.merchant_id = m.id AND sc.revoked_at IS NULL WHERE m.id = (:mid::bigint)
  RETURNING *;
INSERT INTO complaint_events (complaint_id, actor_role, actor_label, action, from_status, to_status, note)
  SELECT id, 'consumer', 'consumer', 'submit', NULL, 'submitted', '' FROM complaints WHERE idempotency_key = 'pgb-' || (:n::bigint)::text;
INSERT INTO audit_log (actor_id, actor_label, action, entity, entity_id, before, after, client_ip)
  SELECT NULL, 'consumer', 'complaint.submit', 'complaint', id::text, NULL, to_jsonb(c), '127.0.0.1'
  FROM complaints c WHERE idempotency_key = 'pgb-' || (:n::bigint)::text;
SELECT count(*), count(DISTINCT merchant_id) FROM complaints
  WHERE consumer_phone = '139' || lpad(((:n::bigint) % 100000000)::text, 8, '0') AND received_at >= now() - interval '30 days';
COMMIT;
