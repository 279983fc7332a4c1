-- Polysync schema v8: which dispatcher tracks which workspace. Batched
-- status tracking follows every active run of a platform with a few
-- listings per round; with several dispatchers exactly one holds a
-- platform's lease (renewed each round, taken over once expired), so a
-- workspace is listed once per round, not once per dispatcher.

CREATE TABLE tracking_leases (
    platform    TEXT PRIMARY KEY NOT NULL,
    owner       TEXT NOT NULL,
    lease_until BIGINT NOT NULL
);
