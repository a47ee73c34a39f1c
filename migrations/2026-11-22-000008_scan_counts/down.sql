DROP TABLE scan_counts;
