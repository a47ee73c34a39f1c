DROP TABLE note_templates;
DROP TABLE console_uploads;
DROP TABLE console_sessions;
