-- Polysync schema v4 (postgres), identical in both backends. A parameter keeps the
-- values Databricks fixes for it (a dropdown widget's literal choices), as a
-- JSON array of strings; NULL means any value of its data type. Overrides
-- outside the choices are refused before anything is sent.
-- (Numbered 0004: 0003 is reserved for another change in flight.)

ALTER TABLE parameters ADD COLUMN choices TEXT;
