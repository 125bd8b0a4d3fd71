-- juchu foundation schema (SQLite). Keep in step with ../postgres/0001_foundation.sql:
-- the same tables, columns and meanings; only the dialect differs.
-- Instants are TEXT in fixed-width UTC (2024-08-19T05:10:00.000000Z), dates TEXT YYYY-MM-DD,
-- flags INTEGER 0/1, money INTEGER yen.

CREATE TABLE shops (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    next_order_number INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    login TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator')),
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    family_name TEXT NOT NULL,
    given_name TEXT NOT NULL,
    family_kana TEXT NOT NULL,
    given_kana TEXT NOT NULL,
    name_key TEXT NOT NULL,
    kana_key TEXT NOT NULL,
    company TEXT NOT NULL,
    email TEXT NOT NULL,
    tel TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    prefecture TEXT NOT NULL,
    address1 TEXT NOT NULL,
    address2 TEXT NOT NULL,
    birth_date TEXT,
    sex TEXT,
    points INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (shop_id, email)
);

CREATE TABLE point_ledger (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    delta INTEGER NOT NULL,
    balance_after INTEGER NOT NULL,
    reason TEXT NOT NULL,
    order_id INTEGER,
    actor TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX point_ledger_customer ON point_ledger(customer_id, id);

CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE product_variants (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    product_id INTEGER NOT NULL REFERENCES products(id),
    code TEXT NOT NULL,
    class1 TEXT NOT NULL,
    class2 TEXT NOT NULL,
    price INTEGER NOT NULL CHECK (price >= 0),
    tax_rate INTEGER NOT NULL CHECK (tax_rate IN (8, 10)),
    -- NULL: unlimited stock (在庫無制限)
    stock INTEGER CHECK (stock >= 0),
    UNIQUE (shop_id, code)
);
CREATE INDEX product_variants_product ON product_variants(product_id);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    number INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL,
    list TEXT NOT NULL CHECK (list IN ('open', 'completed', 'cancelled')),
    deleted_at TEXT,
    ordered_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers(id),
    family_name TEXT NOT NULL,
    given_name TEXT NOT NULL,
    family_kana TEXT NOT NULL,
    given_kana TEXT NOT NULL,
    name_key TEXT NOT NULL,
    kana_key TEXT NOT NULL,
    company TEXT NOT NULL,
    email TEXT NOT NULL,
    tel TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    prefecture TEXT NOT NULL,
    address1 TEXT NOT NULL,
    address2 TEXT NOT NULL,
    birth_date TEXT,
    sex TEXT,
    delivery_family_name TEXT NOT NULL,
    delivery_given_name TEXT NOT NULL,
    delivery_family_kana TEXT NOT NULL,
    delivery_given_kana TEXT NOT NULL,
    delivery_company TEXT NOT NULL,
    delivery_postal_code TEXT NOT NULL,
    delivery_prefecture TEXT NOT NULL,
    delivery_address1 TEXT NOT NULL,
    delivery_address2 TEXT NOT NULL,
    delivery_tel TEXT NOT NULL,
    delivery_date TEXT,
    delivery_time TEXT NOT NULL,
    subtotal INTEGER NOT NULL,
    discount INTEGER NOT NULL,
    shipping_fee INTEGER NOT NULL,
    fee INTEGER NOT NULL,
    total INTEGER NOT NULL,
    points_used INTEGER NOT NULL,
    payment_total INTEGER NOT NULL,
    points_earned INTEGER NOT NULL,
    points_granted INTEGER NOT NULL DEFAULT 0,
    tax10_amount INTEGER NOT NULL,
    tax10 INTEGER NOT NULL,
    tax8_amount INTEGER NOT NULL,
    tax8 INTEGER NOT NULL,
    payment_method TEXT NOT NULL,
    payment_checked INTEGER NOT NULL DEFAULT 0,
    remarks TEXT NOT NULL,
    memo TEXT NOT NULL,
    shipped_on TEXT,
    tracking_number TEXT NOT NULL,
    gateway_ref TEXT NOT NULL,
    device TEXT NOT NULL,
    ip TEXT NOT NULL,
    UNIQUE (shop_id, number),
    CHECK (total = subtotal - discount + shipping_fee + fee),
    CHECK (payment_total = total - points_used),
    CHECK (payment_total >= 0)
);
CREATE INDEX orders_list_updated ON orders(shop_id, list, updated_at);
CREATE INDEX orders_ordered ON orders(shop_id, ordered_at);
CREATE INDEX orders_gateway_ref ON orders(shop_id, gateway_ref);
CREATE INDEX orders_customer ON orders(customer_id);

CREATE TABLE order_items (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders(id),
    position INTEGER NOT NULL,
    product_code TEXT NOT NULL,
    product_name TEXT NOT NULL,
    class1 TEXT NOT NULL,
    class2 TEXT NOT NULL,
    unit_price INTEGER NOT NULL CHECK (unit_price >= 0),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    tax_rate INTEGER NOT NULL CHECK (tax_rate IN (8, 10)),
    UNIQUE (order_id, position)
);

CREATE TABLE order_history (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    order_id INTEGER NOT NULL REFERENCES orders(id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'error'))
);
CREATE INDEX order_history_order ON order_history(order_id, id);

-- キャンセル受注在庫管理: stock of cancelled orders, waiting for the operator to return it.
CREATE TABLE cancelled_stock (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    order_id INTEGER NOT NULL REFERENCES orders(id),
    product_code TEXT NOT NULL,
    product_name TEXT NOT NULL,
    class1 TEXT NOT NULL,
    class2 TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    created_at TEXT NOT NULL,
    returned_at TEXT,
    returned_by TEXT
);
CREATE INDEX cancelled_stock_open ON cancelled_stock(shop_id, returned_at);
