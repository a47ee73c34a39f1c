-- Scans of each code per day (China date). Counted in memory and added here in batches, so a
-- scan never costs a database write.
CREATE TABLE scan_counts (
    code  TEXT NOT NULL REFERENCES shop_codes (code) ON DELETE CASCADE,
    day   DATE NOT NULL,
    count BIGINT NOT NULL CHECK (count >= 0),
    PRIMARY KEY (code, day)
);
CREATE INDEX scan_counts_day_idx ON scan_counts (day);
