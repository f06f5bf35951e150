-- Satflow merchant schema, version 1 (SQLite). Times are Unix milliseconds (UTC); amounts are integers (msat).
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    is_server_admin INTEGER NOT NULL
);

CREATE TABLE stores (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    default_currency TEXT NOT NULL,
    rate_rules TEXT NOT NULL,
    invoice_expiry_ms INTEGER NOT NULL,
    monitoring_window_ms INTEGER NOT NULL,
    payment_tolerance TEXT NOT NULL,
    required_confirmations INTEGER NOT NULL,
    created_at INTEGER NOT NULL
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
    created_at INTEGER NOT NULL,
    revoked_at INTEGER NULL
);
CREATE INDEX api_keys_user ON api_keys(user_id);

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code INTEGER NULL,
    content_type TEXT NULL,
    body BLOB NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

CREATE TABLE invoices (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES stores(id),
    status TEXT NOT NULL,
    additional_status TEXT NOT NULL,
    order_id TEXT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    monitoring_expires_at INTEGER NOT NULL,
    version INTEGER NOT NULL,
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
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    at INTEGER NOT NULL,
    description TEXT NOT NULL
);

CREATE TABLE postings (
    entry_id TEXT NOT NULL REFERENCES journal_entries(id),
    line INTEGER NOT NULL,
    store_id TEXT NOT NULL,
    account TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('Debit', 'Credit')),
    currency TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    PRIMARY KEY (entry_id, line)
);
CREATE INDEX postings_store ON postings(store_id, account, currency);

-- Postings are immutable.
CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings BEGIN SELECT RAISE(ABORT, 'postings are immutable'); END;
CREATE TRIGGER postings_no_delete BEFORE DELETE ON postings BEGIN SELECT RAISE(ABORT, 'postings are immutable'); END;
CREATE TRIGGER journal_entries_no_update BEFORE UPDATE ON journal_entries BEGIN SELECT RAISE(ABORT, 'journal entries are immutable'); END;
CREATE TRIGGER journal_entries_no_delete BEFORE DELETE ON journal_entries BEGIN SELECT RAISE(ABORT, 'journal entries are immutable'); END;
