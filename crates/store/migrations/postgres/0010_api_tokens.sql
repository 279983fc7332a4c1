-- Polysync schema v10: API tokens of the HTTP server. Only the SHA-256 of a token is stored
-- (hex); the token itself is shown once, when created. `prefix` (the token's first characters)
-- lets `tokens list` tell tokens apart without revealing them.

CREATE TABLE api_tokens (
    name        TEXT PRIMARY KEY NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at  BIGINT
);
