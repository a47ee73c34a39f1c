-- Administrative divisions (GB/T 2260). Rows are data: another prefecture is loaded the same way
-- (`yidianyima regions load FILE.csv`), never by changing code.
CREATE TABLE regions (
    code        TEXT PRIMARY KEY CHECK (code ~ '^[1-9][0-9]{5}$'),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    parent_code TEXT REFERENCES regions (code),
    CHECK (parent_code IS NULL OR parent_code <> code)
);
CREATE INDEX regions_parent_code_idx ON regions (parent_code);

INSERT INTO regions (code, name, parent_code) VALUES
    ('513200', '阿坝藏族羌族自治州', NULL);
INSERT INTO regions (code, name, parent_code) VALUES
    ('513201', '马尔康市', '513200'),
    ('513221', '汶川县', '513200'),
    ('513222', '理县', '513200'),
    ('513223', '茂县', '513200'),
    ('513224', '松潘县', '513200'),
    ('513225', '九寨沟县', '513200'),
    ('513226', '金川县', '513200'),
    ('513227', '小金县', '513200'),
    ('513228', '黑水县', '513200'),
    ('513230', '壤塘县', '513200'),
    ('513231', '阿坝县', '513200'),
    ('513232', '若尔盖县', '513200'),
    ('513233', '红原县', '513200');
