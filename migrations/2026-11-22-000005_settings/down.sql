DROP TABLE complaint_deadline_rules;
