-- Complaint deadlines in working days. Versioned by the date they take effect, because the
-- governing rule (市场监督管理投诉举报处理暂行办法) was revised in 2026: a complaint uses the rule
-- in force on the day it was received.
CREATE TABLE complaint_deadline_rules (
    effective_from             DATE PRIMARY KEY,
    accept_working_days        INTEGER NOT NULL CHECK (accept_working_days BETWEEN 1 AND 365),
    conclude_working_days      INTEGER NOT NULL CHECK (conclude_working_days BETWEEN 1 AND 365),
    green_channel_working_days INTEGER NOT NULL CHECK (green_channel_working_days BETWEEN 0 AND 365),
    note                       TEXT NOT NULL DEFAULT '',
    updated_at                 TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO complaint_deadline_rules
    (effective_from, accept_working_days, conclude_working_days, green_channel_working_days, note)
VALUES
    ('2020-01-01', 7, 45, 10,
     '市场监督管理投诉举报处理暂行办法: 7 个工作日内决定是否受理, 受理之日起 45 个工作日内终结调解; 绿色通道商家先行处理 10 个工作日');
