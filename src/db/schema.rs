// Diesel table definitions, kept in step with migrations/ (checked by the migration test).

diesel::table! {
    audit_log (id) {
        id -> Int8,
        actor_id -> Nullable<Int8>,
        actor_label -> Text,
        action -> Text,
        entity -> Text,
        entity_id -> Text,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
        at -> Timestamptz,
        client_ip -> Nullable<Text>,
    }
}

diesel::table! {
    calendar_days (day) {
        day -> Date,
        kind -> Text,
        name -> Text,
    }
}

diesel::table! {
    complaints (id) {
        id -> Int8,
        tracking_no -> Text,
        merchant_id -> Int8,
        shop_code -> Text,
        region_code -> Text,
        consumer_name -> Text,
        consumer_phone -> Text,
        category -> Text,
        description -> Text,
        amount_fen -> Nullable<Int8>,
        desired_outcome -> Text,
        status -> Text,
        received_at -> Timestamptz,
        received_on -> Date,
        merchant_deadline -> Nullable<Date>,
        accept_deadline -> Date,
        accepted_on -> Nullable<Date>,
        conclude_deadline -> Nullable<Date>,
        closed_at -> Nullable<Timestamptz>,
        late -> Bool,
        proposal -> Nullable<Text>,
        proposal_amount_fen -> Nullable<Int8>,
        amount_recovered_fen -> Int8,
        rating -> Nullable<Text>,
        rating_comment -> Nullable<Text>,
        rated_at -> Nullable<Timestamptz>,
        flagged -> Bool,
        idempotency_key -> Nullable<Text>,
        request_hash -> Text,
        client_ip -> Nullable<Text>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    complaint_events (id) {
        id -> Int8,
        complaint_id -> Int8,
        at -> Timestamptz,
        actor_role -> Text,
        actor_label -> Text,
        action -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        note -> Text,
    }
}

diesel::table! {
    complaint_deadline_rules (effective_from) {
        effective_from -> Date,
        accept_working_days -> Int4,
        conclude_working_days -> Int4,
        green_channel_working_days -> Int4,
        note -> Text,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    merchants (id) {
        id -> Int8,
        uscc -> Text,
        name -> Text,
        region_code -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        legal_representative -> Nullable<Text>,
        category -> Text,
        address -> Nullable<Text>,
        phone -> Nullable<Text>,
        business_scope -> Nullable<Text>,
        registered_on -> Nullable<Date>,
        status -> Text,
        opening_hours -> Nullable<Text>,
        opening_months -> Array<Int2>,
        description -> Nullable<Text>,
        pledges -> Array<Text>,
        region_override_reason -> Nullable<Text>,
        uscc_warning -> Bool,
        grade -> Text,
        grade_recheck_on -> Nullable<Date>,
        version -> Int4,
        uscc_check_override_reason -> Nullable<Text>,
    }
}

diesel::table! {
    licences (id) {
        id -> Int8,
        merchant_id -> Int8,
        kind -> Text,
        number -> Text,
        issuer -> Text,
        valid_from -> Date,
        valid_until -> Nullable<Date>,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    inspections (id) {
        id -> Int8,
        merchant_id -> Int8,
        kind -> Text,
        inspected_on -> Date,
        department -> Text,
        result -> Text,
        summary -> Text,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        withdrawn_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    credit_records (id) {
        id -> Int8,
        merchant_id -> Int8,
        kind -> Text,
        department -> Text,
        decision_no -> Text,
        decided_on -> Date,
        summary -> Text,
        publicity_until -> Nullable<Date>,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        withdrawn_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    scan_counts (code, day) {
        code -> Text,
        day -> Date,
        count -> Int8,
    }
}

diesel::table! {
    shop_codes (code) {
        code -> Text,
        merchant_id -> Int8,
        issued_at -> Timestamptz,
        issued_by -> Nullable<Int8>,
        revoked_at -> Nullable<Timestamptz>,
        revoked_by -> Nullable<Int8>,
        revoke_reason -> Nullable<Text>,
    }
}

diesel::table! {
    photos (id) {
        id -> Int8,
        merchant_id -> Int8,
        kind -> Text,
        width -> Int4,
        height -> Int4,
        display -> Bytea,
        thumb_width -> Int4,
        thumb_height -> Int4,
        thumb -> Bytea,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        public_id -> Text,
    }
}

diesel::table! {
    regions (code) {
        code -> Text,
        name -> Text,
        parent_code -> Nullable<Text>,
    }
}

diesel::table! {
    warnings (id) {
        id -> Int8,
        region_code -> Nullable<Text>,
        category -> Nullable<Text>,
        title -> Text,
        body -> Text,
        valid_until -> Date,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    user_regions (user_id, region_code) {
        user_id -> Int8,
        region_code -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        merchant_id -> Nullable<Int8>,
        disabled -> Bool,
        password_changed_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    console_sessions (id_hash) {
        id_hash -> Bytea,
        user_id -> Int8,
        role -> Text,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        expires_at -> Timestamptz,
        idle_secs -> Int4,
        remember -> Bool,
        client_ip -> Text,
        user_agent -> Text,
    }
}

diesel::table! {
    console_uploads (id) {
        id -> Text,
        session_hash -> Bytea,
        file_name -> Text,
        body -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    note_templates (id) {
        id -> Int8,
        region_code -> Text,
        title -> Text,
        body -> Text,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    evidence_files (id) {
        id -> Int8,
        merchant_id -> Int8,
        objection_id -> Nullable<Int8>,
        repair_id -> Nullable<Int8>,
        file_name -> Text,
        content_type -> Text,
        size_bytes -> Int4,
        body -> Bytea,
        uploaded_by -> Nullable<Int8>,
        uploaded_at -> Timestamptz,
    }
}

diesel::table! {
    record_replies (id) {
        id -> Int8,
        merchant_id -> Int8,
        record_kind -> Text,
        record_id -> Int8,
        body -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        seen_at -> Nullable<Timestamptz>,
        seen_by -> Nullable<Int8>,
        hidden_at -> Nullable<Timestamptz>,
        hidden_by -> Nullable<Int8>,
        hidden_reason -> Nullable<Text>,
    }
}

diesel::table! {
    objections (id) {
        id -> Int8,
        merchant_id -> Int8,
        record_kind -> Text,
        record_id -> Int8,
        reason -> Text,
        status -> Text,
        filed_by -> Nullable<Int8>,
        filed_at -> Timestamptz,
        deadline -> Date,
        decided_by -> Nullable<Int8>,
        decided_at -> Nullable<Timestamptz>,
        decision_note -> Nullable<Text>,
    }
}

diesel::table! {
    credit_repair_rules (kind) {
        kind -> Text,
        min_days_in_publicity -> Int4,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    credit_repairs (id) {
        id -> Int8,
        merchant_id -> Int8,
        record_id -> Int8,
        statement -> Text,
        status -> Text,
        filed_by -> Nullable<Int8>,
        filed_at -> Timestamptz,
        deadline -> Date,
        decided_by -> Nullable<Int8>,
        decided_at -> Nullable<Timestamptz>,
        decision_note -> Nullable<Text>,
    }
}

diesel::table! {
    console_form_uses (session_hash, form_id) {
        session_hash -> Bytea,
        form_id -> Text,
        used_at -> Timestamptz,
    }
}

diesel::table! {
    review_deadlines (kind) {
        kind -> Text,
        working_days -> Int4,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(audit_log -> users (actor_id));
diesel::joinable!(console_sessions -> users (user_id));
diesel::joinable!(console_uploads -> console_sessions (session_hash));
diesel::joinable!(merchants -> regions (region_code));
diesel::joinable!(licences -> merchants (merchant_id));
diesel::joinable!(inspections -> merchants (merchant_id));
diesel::joinable!(credit_records -> merchants (merchant_id));
diesel::joinable!(photos -> merchants (merchant_id));
diesel::joinable!(credit_repairs -> merchants (merchant_id));
diesel::joinable!(objections -> merchants (merchant_id));
diesel::joinable!(evidence_files -> merchants (merchant_id));
diesel::joinable!(record_replies -> merchants (merchant_id));
diesel::joinable!(shop_codes -> merchants (merchant_id));
diesel::joinable!(scan_counts -> shop_codes (code));
diesel::joinable!(user_regions -> regions (region_code));
diesel::joinable!(user_regions -> users (user_id));
diesel::joinable!(users -> merchants (merchant_id));
diesel::joinable!(complaints -> merchants (merchant_id));
diesel::joinable!(complaint_events -> complaints (complaint_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_log,
    calendar_days,
    complaint_deadline_rules,
    complaint_events,
    complaints,
    console_form_uses,
    console_sessions,
    console_uploads,
    credit_records,
    credit_repair_rules,
    credit_repairs,
    evidence_files,
    inspections,
    licences,
    merchants,
    note_templates,
    objections,
    photos,
    record_replies,
    scan_counts,
    shop_codes,
    regions,
    review_deadlines,
    user_regions,
    users,
    warnings,
);
