-- The seed branches (copied from the project's seed data).
INSERT INTO branch (bran_id, bran_nm) VALUES
    ('gangnam', '강남점'),
    ('hongdae', '홍대점'),
    ('jamsil', '잠실점'),
    ('pangyo', '판교점'),
    ('haeundae', '해운대점');
