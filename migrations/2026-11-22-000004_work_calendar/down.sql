DROP TABLE calendar_days;
