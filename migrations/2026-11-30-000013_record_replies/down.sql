DROP TABLE record_replies;
