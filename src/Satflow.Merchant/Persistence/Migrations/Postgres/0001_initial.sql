-- Satflow merchant schema, version 1 (PostgreSQL). Times are Unix milliseconds (UTC); amounts are integers (msat).
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    is_server_admin INTEGER NOT NULL
);

CREATE TABLE stores (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    default_currency TEXT NOT NULL,
    rate_rules TEXT NOT NULL,
    invoice_expiry_ms BIGINT NOT NULL,
    monitoring_window_ms BIGINT NOT NULL,
    payment_tolerance TEXT NOT NULL,
    required_confirmations INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE store_members (
    store_id TEXT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    PRIMARY KEY (store_id, user_id)
);
CREATE INDEX store_members_user ON store_members(user_id);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    store_id TEXT NULL REFERENCES stores(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT NULL
);
CREATE INDEX api_keys_user ON api_keys(user_id);

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code INTEGER NULL,
    content_type TEXT NULL,
    body BYTEA NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

CREATE TABLE invoices (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES stores(id),
    status TEXT NOT NULL,
    additional_status TEXT NOT NULL,
    order_id TEXT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    monitoring_expires_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX invoices_store_created ON invoices(store_id, created_at);
CREATE INDEX invoices_status ON invoices(status, monitoring_expires_at);
CREATE INDEX invoices_order ON invoices(store_id, order_id);

CREATE TABLE invoice_lookups (
    method TEXT NOT NULL,
    lookup_key TEXT NOT NULL,
    invoice_id TEXT NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
    PRIMARY KEY (method, lookup_key)
);

CREATE TABLE journal_entries (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    at BIGINT NOT NULL,
    description TEXT NOT NULL
);

CREATE TABLE postings (
    entry_id TEXT NOT NULL REFERENCES journal_entries(id),
    line INTEGER NOT NULL,
    store_id TEXT NOT NULL,
    account TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('Debit', 'Credit')),
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    PRIMARY KEY (entry_id, line)
);
CREATE INDEX postings_store ON postings(store_id, account, currency);

-- Postings are immutable.
CREATE FUNCTION satflow_ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are immutable';
END;
$$;
CREATE TRIGGER postings_immutable BEFORE UPDATE OR DELETE ON postings FOR EACH ROW EXECUTE FUNCTION satflow_ledger_immutable();
CREATE TRIGGER journal_entries_immutable BEFORE UPDATE OR DELETE ON journal_entries FOR EACH ROW EXECUTE FUNCTION satflow_ledger_immutable();
