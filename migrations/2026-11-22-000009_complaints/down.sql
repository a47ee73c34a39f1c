DROP TABLE warnings;
DROP TABLE complaint_events;
DROP TABLE complaints;
