-- Opening hours and pausing (expand only: the previous release ignores them and keeps
-- taking orders, as it did).
--
-- One opening per branch and weekday (ISO: Monday 1), Asia/Seoul; `closes` at or before
-- `opens` runs past midnight, equal times are the whole day. A branch without rows here is
-- open around the clock; with rows, a weekday without one is closed.
CREATE TABLE branch_hours (
    bran_id TEXT NOT NULL REFERENCES branch (bran_id),
    day     SMALLINT NOT NULL CHECK (day BETWEEN 1 AND 7),
    opens   TIME NOT NULL,
    closes  TIME NOT NULL,
    PRIMARY KEY (bran_id, day)
);

-- Staff's "pause new orders": until `paused_until`, or until resumed when it is NULL.
ALTER TABLE branch
    ADD COLUMN paused BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN paused_until TIMESTAMPTZ;
