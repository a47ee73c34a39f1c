DROP TABLE shop_codes;
