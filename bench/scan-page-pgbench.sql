-- The statements the service issues for one uncached scan page (GET /s/{code} with the page
-- cache missing or off), as the PostgreSQL log shows them (log_statement=all, one request):
-- the pool's check of the connection it hands out (`SELECT $1` with 1), the code with its merchant
-- (src/db/shop_codes.rs find_with_merchant), then the nine reads of src/db/merchants.rs
-- scan_page_facts, which the service sends pipelined in one round trip — here too
-- (\startpipeline). Run with -M prepared (the service's statements are prepared).
-- :r picks a code by the same Zipf law as the load generator (bench_codes holds the codes file,
-- rank = line number); the merchant's id, region and category come from the first statement
-- (\gset), as they do in the service. :ncodes is passed with -D.
\set r random_zipfian(1, :ncodes, 1.1)
\set one 1
SELECT :one;
SELECT "shop_codes"."code", "shop_codes"."merchant_id", "shop_codes"."issued_at", "shop_codes"."issued_by",
  "shop_codes"."revoked_at", "shop_codes"."revoked_by", "shop_codes"."revoke_reason", "merchants"."id",
  "merchants"."uscc", "merchants"."name", "merchants"."legal_representative", "merchants"."category",
  "merchants"."region_code", "merchants"."address", "merchants"."phone", "merchants"."business_scope",
  "merchants"."registered_on", "merchants"."status", "merchants"."opening_hours", "merchants"."opening_months",
  "merchants"."description", "merchants"."pledges", "merchants"."region_override_reason", "merchants"."uscc_warning",
  "merchants"."uscc_check_override_reason", "merchants"."grade", "merchants"."version", "merchants"."created_at",
  "merchants"."updated_at"
  FROM ("shop_codes" INNER JOIN "merchants" ON ("shop_codes"."merchant_id" = "merchants"."id"))
  WHERE ("shop_codes"."code" = (SELECT code FROM bench_codes WHERE rank = :r)) LIMIT 1 \gset m_
\startpipeline
SELECT "credit_records"."id", "credit_records"."merchant_id", "credit_records"."kind", "credit_records"."department",
  "credit_records"."decision_no", "credit_records"."decided_on", "credit_records"."summary",
  "credit_records"."publicity_until", "credit_records"."created_at"
  FROM "credit_records"
  WHERE ((("credit_records"."merchant_id" = :m_id) AND ("credit_records"."withdrawn_at" IS NULL))
    AND (("credit_records"."publicity_until" IS NULL) OR ("credit_records"."publicity_until" >= current_date)))
  ORDER BY "credit_records"."decided_on" DESC, "credit_records"."id" DESC;
SELECT "inspections"."id", "inspections"."merchant_id", "inspections"."kind", "inspections"."inspected_on",
  "inspections"."department", "inspections"."result", "inspections"."summary", "inspections"."created_at"
  FROM "inspections"
  WHERE (("inspections"."merchant_id" = :m_id) AND ("inspections"."withdrawn_at" IS NULL))
  ORDER BY "inspections"."inspected_on" DESC, "inspections"."id" DESC LIMIT 50;
SELECT "licences"."id", "licences"."merchant_id", "licences"."kind", "licences"."number", "licences"."issuer",
  "licences"."valid_from", "licences"."valid_until", "licences"."created_at"
  FROM "licences" WHERE ("licences"."merchant_id" = :m_id)
  ORDER BY "licences"."valid_from" DESC, "licences"."id" DESC LIMIT 100;
SELECT "photos"."id", "photos"."public_id", "photos"."merchant_id", "photos"."kind", "photos"."width",
  "photos"."height", "photos"."thumb_width", "photos"."thumb_height", "photos"."created_at"
  FROM "photos" WHERE (("photos"."merchant_id" = :m_id) AND ("photos"."kind" = 'storefront'))
  ORDER BY "photos"."id" DESC LIMIT 1;
SELECT count("complaints"."id") FILTER ( WHERE ((("complaints"."status" = 'submitted') AND ("complaints"."accept_deadline" < current_date))
    OR (("complaints"."status" = 'accepted') AND ("complaints"."conclude_deadline" < current_date)))),
  min("complaints"."accept_deadline") FILTER ( WHERE (("complaints"."status" = 'submitted') AND ("complaints"."accept_deadline" >= current_date))),
  min("complaints"."conclude_deadline") FILTER ( WHERE (("complaints"."status" = 'accepted') AND ("complaints"."conclude_deadline" >= current_date)))
  FROM "complaints"
  WHERE (("complaints"."merchant_id" = :m_id) AND (("complaints"."status" = 'submitted') OR ("complaints"."status" = 'accepted')));
SELECT COUNT(*), count("complaints"."id") FILTER ( WHERE ("complaints"."status" = 'resolved')), min("complaints"."received_on")
  FROM "complaints"
  WHERE (("complaints"."merchant_id" = :m_id) AND ("complaints"."received_on" >= current_date - interval '12 months'));
SELECT "warnings"."id", "warnings"."region_code", "warnings"."category", "warnings"."title", "warnings"."body",
  "warnings"."valid_until", "warnings"."created_by", "warnings"."created_at"
  FROM "warnings"
  WHERE ((("warnings"."valid_until" >= current_date) AND (("warnings"."region_code" IS NULL)
      OR ("warnings"."region_code" = ANY(ARRAY[:m_region_code, left(:m_region_code, 4) || '00', left(:m_region_code, 2) || '0000']))))
    AND (("warnings"."category" IS NULL) OR ("warnings"."category" = :m_category)))
  ORDER BY "warnings"."created_at" DESC, "warnings"."id" DESC LIMIT 50;
SELECT "record_replies"."id", "record_replies"."merchant_id", "record_replies"."record_kind", "record_replies"."record_id",
  "record_replies"."body", "record_replies"."created_at", "record_replies"."updated_at", "record_replies"."seen_at",
  "record_replies"."seen_by", "record_replies"."hidden_at", "record_replies"."hidden_by", "record_replies"."hidden_reason",
  "complaints"."category", "complaints"."closed_at"
  FROM ("record_replies" LEFT OUTER JOIN "complaints"
    ON (("complaints"."id" = "record_replies"."record_id") AND ("record_replies"."record_kind" = 'complaint')))
  WHERE (("record_replies"."merchant_id" = :m_id) AND ("record_replies"."hidden_at" IS NULL))
  ORDER BY "record_replies"."id" ASC LIMIT 1000;
SELECT "objections"."record_kind", "objections"."record_id" FROM "objections"
  WHERE (("objections"."merchant_id" = :m_id) AND ("objections"."status" = 'open'));
\endpipeline
