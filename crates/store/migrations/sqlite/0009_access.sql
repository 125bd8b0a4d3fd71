-- Who may sign in, and for how long. The SQLite and PostgreSQL versions say the same.

-- Every failed sign-in (a wrong password, an unknown or stopped login): what throttles the
-- next attempts per login and per address, and what an admin reads after an attack.
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL,
    address TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX login_failures_login ON login_failures(login, at);
CREATE INDEX login_failures_address ON login_failures(address, at);

-- An API token may expire; NULL: until revoked.
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
