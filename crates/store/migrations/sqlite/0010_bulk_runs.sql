-- 一括処理: payment operations run on many orders at once. The SQLite and PostgreSQL versions
-- say the same.
--
-- A run is stored with its items before anything is sent, so it outlives the request that
-- started it and the process that works it. Each item runs the single-order operation under
-- its own idempotency key (`bulk-{run}-{item}`), so an item taken twice (a process killed
-- mid-item, two processes on one run) reaches the gateway once.
CREATE TABLE bulk_runs (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    -- capture, cancel, refresh, paidy_close, refund
    action TEXT NOT NULL,
    -- running → done; stopping → stopped (the operator stopped it: items not begun are skipped)
    state TEXT NOT NULL CHECK (state IN ('running', 'stopping', 'stopped', 'done')),
    -- The caller's key: the same start sent twice (a double click, a repeated API call) is one run.
    request_key TEXT NOT NULL,
    request TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    total INTEGER NOT NULL,
    UNIQUE (shop_id, request_key)
);
CREATE INDEX bulk_runs_shop ON bulk_runs(shop_id, id);
CREATE INDEX bulk_runs_open ON bulk_runs(state, id);

-- One order of a run. `claimed_until`: a worker holds the item until then; an item whose
-- worker vanished is taken again after it (its operation's key makes that safe).
CREATE TABLE bulk_items (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES bulk_runs(id),
    order_id INTEGER NOT NULL REFERENCES orders(id),
    order_number INTEGER NOT NULL,
    -- '' for an order without a payment
    gateway TEXT NOT NULL,
    amount INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed', 'skipped')),
    claimed_until TEXT,
    -- The process that took it last (host:pid), for the operator and for tests.
    claimed_by TEXT NOT NULL DEFAULT '',
    result_code TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    operation_id INTEGER REFERENCES payment_operations(id),
    finished_at TEXT,
    UNIQUE (run_id, order_id)
);
CREATE INDEX bulk_items_run ON bulk_items(run_id, state, id);

-- 決済ログ: every payment operation of a shop, newest first.
CREATE INDEX payment_operations_shop ON payment_operations(shop_id, id);
