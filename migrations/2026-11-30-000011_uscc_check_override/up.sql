-- A USCC whose check character is wrong is refused unless a regulator records why it is kept
-- (a pilot-era code printed on a licence before GB 32100-2015 checking was enforced).
ALTER TABLE merchants ADD COLUMN uscc_check_override_reason TEXT;
