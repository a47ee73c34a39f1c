DROP TABLE review_deadlines;
DROP TABLE credit_repairs;
DROP TABLE credit_repair_rules;
