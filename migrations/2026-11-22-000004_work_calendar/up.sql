-- Working-day calendar: official public holidays and make-up working days (调休) by date.
-- A date not listed is a working day Monday to Friday and a rest day on Saturday and Sunday.
CREATE TABLE calendar_days (
    day  DATE PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name TEXT NOT NULL DEFAULT '',
    -- a make-up working day is by definition a weekend day
    CHECK (kind = 'holiday' OR extract(isodow FROM day) IN (6, 7))
);

-- 国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号)
INSERT INTO calendar_days (day, kind, name)
SELECT d::date, 'holiday', h.name
FROM (VALUES
    ('2025-01-01'::date, '2025-01-01'::date, '元旦'),
    ('2025-01-28', '2025-02-04', '春节'),
    ('2025-04-04', '2025-04-06', '清明节'),
    ('2025-05-01', '2025-05-05', '劳动节'),
    ('2025-05-31', '2025-06-02', '端午节'),
    ('2025-10-01', '2025-10-08', '国庆节、中秋节')
) AS h (first_day, last_day, name),
LATERAL generate_series(h.first_day, h.last_day, interval '1 day') AS d;
INSERT INTO calendar_days (day, kind, name) VALUES
    ('2025-01-26', 'workday', '春节调休上班'),
    ('2025-02-08', 'workday', '春节调休上班'),
    ('2025-04-27', 'workday', '劳动节调休上班'),
    ('2025-09-28', 'workday', '国庆节调休上班'),
    ('2025-10-11', 'workday', '国庆节调休上班');

-- 国务院办公厅关于2026年部分节假日安排的通知 (2025年11月4日)
INSERT INTO calendar_days (day, kind, name)
SELECT d::date, 'holiday', h.name
FROM (VALUES
    ('2026-01-01'::date, '2026-01-03'::date, '元旦'),
    ('2026-02-15', '2026-02-23', '春节'),
    ('2026-04-04', '2026-04-06', '清明节'),
    ('2026-05-01', '2026-05-05', '劳动节'),
    ('2026-06-19', '2026-06-21', '端午节'),
    ('2026-09-25', '2026-09-27', '中秋节'),
    ('2026-10-01', '2026-10-07', '国庆节')
) AS h (first_day, last_day, name),
LATERAL generate_series(h.first_day, h.last_day, interval '1 day') AS d;
INSERT INTO calendar_days (day, kind, name) VALUES
    ('2026-01-04', 'workday', '元旦调休上班'),
    ('2026-02-14', 'workday', '春节调休上班'),
    ('2026-02-28', 'workday', '春节调休上班'),
    ('2026-05-09', 'workday', '劳动节调休上班'),
    ('2026-09-20', 'workday', '国庆节调休上班'),
    ('2026-10-10', 'workday', '国庆节调休上班');
