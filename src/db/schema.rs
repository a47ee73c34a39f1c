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

diesel::joinable!(audit_log -> users (actor_id));
diesel::joinable!(merchants -> regions (region_code));
diesel::joinable!(user_regions -> regions (region_code));
diesel::joinable!(user_regions -> users (user_id));
diesel::joinable!(users -> merchants (merchant_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_log,
    calendar_days,
    complaint_deadline_rules,
    merchants,
    regions,
    user_regions,
    users,
);
