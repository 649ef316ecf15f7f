-- Member ids are one account whatever their case: `Kim` and `kim` cannot both exist, and a
-- login finds the account however the id is typed. The stored id keeps the case it was
-- registered with (tokens carry it).
--
-- A database that already holds ids differing only by case is refused, naming them: which
-- account to keep is an operator's call, not a migration's.
DO $$
DECLARE
    clashes TEXT;
BEGIN
    SELECT string_agg(ids, '; ') INTO clashes FROM (
        SELECT string_agg(member_id, ', ' ORDER BY member_id COLLATE "C") AS ids
        FROM member GROUP BY lower(member_id) HAVING count(*) > 1
    ) c;
    IF clashes IS NOT NULL THEN
        RAISE EXCEPTION 'member ids that differ only by case: %', clashes
            USING HINT = 'keep one account of each group: delete the others with '
                         '`pizza-login member delete <exact id>`, then run migrate again';
    END IF;
END $$;

CREATE UNIQUE INDEX member_id_lower ON member (lower(member_id));
