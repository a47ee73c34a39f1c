DROP TABLE console_form_uses;
