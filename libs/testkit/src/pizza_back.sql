-- pizza_back's schema, as its design document (the system this platform replaces) gives it:
-- the source `import-legacy` reads in tests. Django's tables only; nothing of ours.
CREATE TABLE member (
    member_id VARCHAR(100) PRIMARY KEY,
    member_pwd VARCHAR(100) NOT NULL,
    member_nm VARCHAR(100) NOT NULL
);

CREATE TABLE pizza_types (
    pizza_type_id VARCHAR(50) PRIMARY KEY,
    pizza_nm VARCHAR(50) NOT NULL,
    pizza_categ VARCHAR(50) NOT NULL,
    pizza_img_url VARCHAR(100) NOT NULL
);

CREATE TABLE pizza (
    pizza_id VARCHAR(50) PRIMARY KEY,
    pizza_type_id VARCHAR(50) REFERENCES pizza_types(pizza_type_id),
    size VARCHAR(50) NOT NULL,
    price FLOAT NOT NULL
);

CREATE TABLE branch (
    bran_id VARCHAR(100) PRIMARY KEY,
    bran_nm VARCHAR(100) NOT NULL
);

CREATE TABLE orders (
    order_id VARCHAR(50) PRIMARY KEY,
    member_id VARCHAR(50) NOT NULL,
    bran_id VARCHAR(100) REFERENCES branch(bran_id),
    date VARCHAR(50) NOT NULL,
    time VARCHAR(50) NOT NULL
);

CREATE TABLE order_detail (
    order_detail_id INTEGER PRIMARY KEY,
    order_id VARCHAR(50) REFERENCES orders(order_id),
    pizza_id VARCHAR(50) REFERENCES pizza(pizza_id),
    quantity INTEGER NOT NULL
);
