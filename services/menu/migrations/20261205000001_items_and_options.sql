-- Items beyond pizzas, what they are, and options priced by the server (expand only: the
-- previous release reads pizza_types and pizza as before and ignores the rest).
--
-- An item is a row of pizza_types whatever it is (the table keeps its name: pizza_back's
-- API and the gRPC contract say "pizza"); `kind` says pizza, side or drink, each with its
-- own categories and sizes. Option groups are the shop's (crust, toppings, a wing sauce)
-- and attached to the items they apply to; an order line's options are checked against
-- them and priced by `GetPrices`, never by the client.

ALTER TABLE pizza_types
    ADD COLUMN kind TEXT NOT NULL DEFAULT 'pizza' CHECK (kind IN ('pizza', 'side', 'drink')),
    ADD COLUMN description_ko TEXT NOT NULL DEFAULT '' CHECK (char_length(description_ko) <= 500),
    ADD COLUMN description_en TEXT CHECK (char_length(description_en) <= 500),
    -- Korean labelling's allergens (식품 등의 표시기준), as codes: wheat, milk, egg, …
    ADD COLUMN allergens TEXT[] NOT NULL DEFAULT '{}';

ALTER TABLE pizza_types DROP CONSTRAINT pizza_types_pizza_categ_check;
ALTER TABLE pizza_types ADD CONSTRAINT pizza_types_pizza_categ_check
    CHECK (pizza_categ IN ('Classic', 'Chicken', 'Supreme', 'Veggie', 'Side', 'Drink'));
ALTER TABLE pizza DROP CONSTRAINT pizza_size_check;
ALTER TABLE pizza ADD CONSTRAINT pizza_size_check
    CHECK (size IN ('S', 'M', 'L', 'XL', 'XXL', 'REG', '500ml', '1.25L'));

CREATE TABLE option_group (
    group_id    TEXT PRIMARY KEY CHECK (group_id ~ '^[a-z0-9_]{2,40}$'),
    name_ko     TEXT NOT NULL CHECK (char_length(name_ko) BETWEEN 1 AND 60),
    name_en     TEXT CHECK (char_length(name_en) BETWEEN 1 AND 60),
    -- Required when min_choices > 0; one of (1, 1), up to three of (0, 3).
    min_choices INT NOT NULL CHECK (min_choices BETWEEN 0 AND 20),
    max_choices INT NOT NULL CHECK (max_choices BETWEEN 1 AND 20 AND max_choices >= min_choices)
);

CREATE TABLE item_option (
    option_id   TEXT PRIMARY KEY CHECK (option_id ~ '^[a-z0-9_]{2,40}$'),
    group_id    TEXT NOT NULL REFERENCES option_group (group_id),
    name_ko     TEXT NOT NULL CHECK (char_length(name_ko) BETWEEN 1 AND 60),
    name_en     TEXT CHECK (char_length(name_en) BETWEEN 1 AND 60),
    -- Added to the item's price, whole won.
    price_delta BIGINT NOT NULL CHECK (price_delta BETWEEN 0 AND 100000),
    available   BOOLEAN NOT NULL DEFAULT true,
    -- What a line that names no options gets in a required group (pizza_back's clients and
    -- older ones order so): at most one per group.
    is_default  BOOLEAN NOT NULL DEFAULT false,
    position    INT NOT NULL DEFAULT 0,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX item_option_by_group ON item_option (group_id, position);
CREATE UNIQUE INDEX item_option_default ON item_option (group_id) WHERE is_default;

-- Which groups an item offers, in the order the item sheet shows them.
CREATE TABLE item_option_group (
    pizza_type_id TEXT NOT NULL REFERENCES pizza_types (pizza_type_id),
    group_id      TEXT NOT NULL REFERENCES option_group (group_id),
    position      INT NOT NULL DEFAULT 0,
    PRIMARY KEY (pizza_type_id, group_id)
);
CREATE INDEX item_option_group_group ON item_option_group (group_id);

ALTER TABLE catalog_change ADD COLUMN option_id TEXT;
ALTER TABLE catalog_change DROP CONSTRAINT catalog_change_kind_check;
ALTER TABLE catalog_change ADD CONSTRAINT catalog_change_kind_check
    CHECK (kind IN ('pizza_updated', 'pizza_added', 'type_added', 'branch_availability',
                    'option_updated'));

-- The seed: sides and drinks next to the pizzas, each with its sizes and prices.
INSERT INTO pizza_types (pizza_type_id, pizza_nm, pizza_categ, pizza_img_url, kind,
                         description_ko, description_en, allergens) VALUES
    ('garlic_bread', 'Garlic Bread', 'Side', '/menu/images/garlic_bread.svg', 'side',
     '버터와 마늘, 파슬리를 발라 구운 바게트 여섯 조각.', 'Six slices of baguette baked with garlic butter and parsley.',
     ARRAY['wheat', 'milk']),
    ('chicken_wings', 'Chicken Wings', 'Side', '/menu/images/chicken_wings.svg', 'side',
     '오븐에 구운 닭 날개 여덟 조각, 소스를 골라 주세요.', 'Eight oven-baked chicken wings with the sauce of your choice.',
     ARRAY['wheat', 'soy', 'chicken']),
    ('potato_wedges', 'Potato Wedges', 'Side', '/menu/images/potato_wedges.svg', 'side',
     '껍질째 구운 웨지 감자와 사워크림 소스.', 'Skin-on potato wedges with a sour cream dip.',
     ARRAY['milk']),
    ('caesar_salad', 'Caesar Salad', 'Side', '/menu/images/caesar_salad.svg', 'side',
     '로메인, 크루통, 파르메산 치즈에 시저 드레싱.', 'Romaine, croutons and parmesan with Caesar dressing.',
     ARRAY['wheat', 'milk', 'egg', 'fish']),
    ('cola', 'Coca-Cola', 'Drink', '/menu/images/cola.svg', 'drink',
     '코카콜라.', 'Coca-Cola.', ARRAY[]::text[]),
    ('cola_zero', 'Coca-Cola Zero', 'Drink', '/menu/images/cola_zero.svg', 'drink',
     '코카콜라 제로.', 'Coca-Cola Zero Sugar.', ARRAY[]::text[]),
    ('sprite', 'Sprite', 'Drink', '/menu/images/sprite.svg', 'drink',
     '스프라이트.', 'Sprite.', ARRAY[]::text[]),
    ('sparkling_water', 'Sparkling Water', 'Drink', '/menu/images/sparkling_water.svg', 'drink',
     '탄산수.', 'Sparkling mineral water.', ARRAY[]::text[]);

INSERT INTO pizza (pizza_id, pizza_type_id, size, price) VALUES
    ('garlic_bread_reg', 'garlic_bread', 'REG', 4900),
    ('chicken_wings_reg', 'chicken_wings', 'REG', 8900),
    ('potato_wedges_reg', 'potato_wedges', 'REG', 4500),
    ('caesar_salad_reg', 'caesar_salad', 'REG', 6900),
    ('cola_500ml', 'cola', '500ml', 2000),
    ('cola_1_25l', 'cola', '1.25L', 3200),
    ('cola_zero_500ml', 'cola_zero', '500ml', 2000),
    ('cola_zero_1_25l', 'cola_zero', '1.25L', 3200),
    ('sprite_500ml', 'sprite', '500ml', 2000),
    ('sprite_1_25l', 'sprite', '1.25L', 3200),
    ('sparkling_water_500ml', 'sparkling_water', '500ml', 1500);

INSERT INTO option_group (group_id, name_ko, name_en, min_choices, max_choices) VALUES
    ('crust', '도우 선택', 'Crust', 1, 1),
    ('toppings', '토핑 추가', 'Extra toppings', 0, 3),
    ('wing_sauce', '소스 선택', 'Sauce', 1, 1);

INSERT INTO item_option (option_id, group_id, name_ko, name_en, price_delta, position, is_default) VALUES
    ('crust_original', 'crust', '오리지널', 'Original', 0, 1, true),
    ('sauce_buffalo', 'wing_sauce', '버팔로', 'Buffalo', 0, 1, true);
INSERT INTO item_option (option_id, group_id, name_ko, name_en, price_delta, position) VALUES
    ('crust_thin', 'crust', '씬', 'Thin', 0, 2),
    ('crust_cheese_edge', 'crust', '치즈 크러스트', 'Cheese edge', 3000, 3),
    ('topping_cheese', 'toppings', '치즈 추가', 'Extra cheese', 1500, 1),
    ('topping_pepperoni', 'toppings', '페퍼로니 추가', 'Pepperoni', 1500, 2),
    ('topping_mushroom', 'toppings', '양송이 추가', 'Mushrooms', 1500, 3),
    ('topping_olive', 'toppings', '블랙 올리브 추가', 'Black olives', 1500, 4),
    ('topping_jalapeno', 'toppings', '할라피뇨 추가', 'Jalapeños', 1500, 5),
    ('sauce_bbq', 'wing_sauce', '바비큐', 'Barbecue', 0, 2),
    ('sauce_soy_garlic', 'wing_sauce', '간장 마늘', 'Soy garlic', 500, 3);

-- Every pizza offers a crust and extra toppings; the wings a sauce.
INSERT INTO item_option_group (pizza_type_id, group_id, position)
SELECT pizza_type_id, g.group_id, g.position
  FROM pizza_types, (VALUES ('crust', 1), ('toppings', 2)) AS g (group_id, position)
 WHERE kind = 'pizza';
INSERT INTO item_option_group (pizza_type_id, group_id, position) VALUES ('chicken_wings', 'wing_sauce', 1);

-- What the 32 seed pizzas are made of (Korean, English), and their allergens.
UPDATE pizza_types SET description_ko = '바비큐 치킨, 홍피망과 청피망, 토마토, 적양파에 바비큐 소스.', description_en = 'Barbecued chicken, red and green peppers, tomatoes, red onions and barbecue sauce.', allergens = ARRAY['wheat', 'milk', 'chicken', 'tomato']::text[] WHERE pizza_type_id = 'bbq_ckn';
UPDATE pizza_types SET description_ko = '베이컨, 페퍼로니, 이탈리안 소시지, 초리조 소시지.', description_en = 'Bacon, pepperoni, Italian sausage and chorizo sausage.', allergens = ARRAY['wheat', 'milk', 'pork', 'tomato']::text[] WHERE pizza_type_id = 'big_meat';
UPDATE pizza_types SET description_ko = '브리 치즈, 프로슈토, 캐러멜라이즈드 양파, 배, 타임, 마늘.', description_en = 'Brie Carre cheese, prosciutto, caramelized onions, pears, thyme and garlic.', allergens = ARRAY['wheat', 'milk', 'pork']::text[] WHERE pizza_type_id = 'brie_carre';
UPDATE pizza_types SET description_ko = '은두야 살라미, 판체타, 토마토, 적양파, 프리지텔로 고추, 마늘.', description_en = '''Nduja salami, pancetta, tomatoes, red onions, friggitello peppers and garlic.', allergens = ARRAY['wheat', 'milk', 'pork', 'tomato']::text[] WHERE pizza_type_id = 'calabrese';
UPDATE pizza_types SET description_ko = '치킨, 아티초크, 시금치, 마늘, 할라피뇨, 폰티나 치즈, 고다 치즈.', description_en = 'Chicken, artichoke, spinach, garlic, jalapeño peppers, fontina cheese and Gouda cheese.', allergens = ARRAY['wheat', 'milk', 'chicken']::text[] WHERE pizza_type_id = 'cali_ckn';
UPDATE pizza_types SET description_ko = '치킨, 적양파, 홍피망, 버섯, 아시아고 치즈에 알프레도 소스.', description_en = 'Chicken, red onions, red peppers, mushrooms, Asiago cheese and Alfredo sauce.', allergens = ARRAY['wheat', 'milk', 'chicken']::text[] WHERE pizza_type_id = 'ckn_alfredo';
UPDATE pizza_types SET description_ko = '치킨, 토마토, 홍피망, 시금치, 마늘에 페스토 소스.', description_en = 'Chicken, tomatoes, red peppers, spinach, garlic and pesto sauce.', allergens = ARRAY['wheat', 'milk', 'chicken', 'tomato', 'pine_nut']::text[] WHERE pizza_type_id = 'ckn_pesto';
UPDATE pizza_types SET description_ko = '페퍼로니, 버섯, 적양파, 홍피망, 베이컨.', description_en = 'Pepperoni, mushrooms, red onions, red peppers and bacon.', allergens = ARRAY['wheat', 'milk', 'pork', 'tomato']::text[] WHERE pizza_type_id = 'classic_dlx';
UPDATE pizza_types SET description_ko = '모짜렐라, 프로볼로네, 훈제 고다, 로마노, 블루 치즈에 마늘.', description_en = 'Mozzarella, provolone, smoked Gouda, Romano and blue cheese with garlic.', allergens = ARRAY['wheat', 'milk']::text[] WHERE pizza_type_id = 'five_cheese';
UPDATE pizza_types SET description_ko = '리코타, 고르곤졸라 피칸테, 모짜렐라, 파르미지아노 레지아노 치즈에 마늘.', description_en = 'Ricotta, Gorgonzola piccante, mozzarella and Parmigiano Reggiano cheese with garlic.', allergens = ARRAY['wheat', 'milk']::text[] WHERE pizza_type_id = 'four_cheese';
UPDATE pizza_types SET description_ko = '시금치, 버섯, 토마토, 그린 올리브, 페타 치즈.', description_en = 'Spinach, mushrooms, tomatoes, green olives and feta cheese.', allergens = ARRAY['wheat', 'milk', 'tomato']::text[] WHERE pizza_type_id = 'green_garden';
UPDATE pizza_types SET description_ko = '슬라이스 햄, 파인애플, 모짜렐라 치즈.', description_en = 'Sliced ham, pineapple and mozzarella cheese.', allergens = ARRAY['wheat', 'milk', 'pork', 'tomato']::text[] WHERE pizza_type_id = 'hawaiian';
UPDATE pizza_types SET description_ko = '카포콜로, 홍피망, 토마토, 염소 치즈, 마늘, 오레가노.', description_en = 'Capocollo, red peppers, tomatoes, goat cheese, garlic and oregano.', allergens = ARRAY['wheat', 'milk', 'pork', 'tomato']::text[] WHERE pizza_type_id = 'ital_cpcllo';
UPDATE pizza_types SET description_ko = '칼라브레제 살라미, 카포콜로, 토마토, 적양파, 그린 올리브, 마늘.', description_en = 'Calabrese salami, capocollo, tomatoes, red onions, green olives and garlic.', allergens = ARRAY['wheat', 'milk', 'pork', 'tomato']::text[] WHERE pizza_type_id = 'ital_supr';
UPDATE pizza_types SET description_ko = '가지, 아티초크, 토마토, 주키니, 홍피망, 마늘에 페스토 소스.', description_en = 'Eggplant, artichokes, tomatoes, zucchini, red peppers, garlic and pesto sauce.', allergens = ARRAY['wheat', 'milk', 'tomato', 'pine_nut']::text[] WHERE pizza_type_id = 'ital_veggie';
UPDATE pizza_types SET description_ko = '시금치, 아티초크, 칼라마타 올리브, 선드라이드 토마토, 페타 치즈, 플럼 토마토, 적양파.', description_en = 'Spinach, artichokes, Kalamata olives, sun-dried tomatoes, feta cheese, plum tomatoes and red onions.', allergens = ARRAY['wheat', 'milk', 'tomato', 'sulfites']::text[] WHERE pizza_type_id = 'mediterraneo';
UPDATE pizza_types SET description_ko = '토마토, 홍피망, 할라피뇨, 적양파, 고수, 옥수수, 치폴레 소스, 마늘.', description_en = 'Tomatoes, red peppers, jalapeño peppers, red onions, cilantro, corn, chipotle sauce and garlic.', allergens = ARRAY['wheat', 'milk', 'tomato']::text[] WHERE pizza_type_id = 'mexicana';
UPDATE pizza_types SET description_ko = '토마토, 안초비, 그린 올리브, 적양파, 마늘.', description_en = 'Tomatoes, anchovies, green olives, red onions and garlic.', allergens = ARRAY['wheat', 'milk', 'tomato', 'fish']::text[] WHERE pizza_type_id = 'napolitana';
UPDATE pizza_types SET description_ko = '페퍼로니, 버섯, 청피망.', description_en = 'Pepperoni, mushrooms and green peppers.', allergens = ARRAY['wheat', 'milk', 'pork', 'tomato']::text[] WHERE pizza_type_id = 'pep_msh_pep';
UPDATE pizza_types SET description_ko = '모짜렐라 치즈와 페퍼로니.', description_en = 'Mozzarella cheese and pepperoni.', allergens = ARRAY['wheat', 'milk', 'pork', 'tomato']::text[] WHERE pizza_type_id = 'pepperoni';
UPDATE pizza_types SET description_ko = '제노아 살라미, 카포콜로, 페퍼로니, 토마토, 아시아고 치즈, 마늘.', description_en = 'Genoa salami, capocollo, pepperoni, tomatoes, Asiago cheese and garlic.', allergens = ARRAY['wheat', 'milk', 'pork', 'tomato']::text[] WHERE pizza_type_id = 'peppr_salami';
UPDATE pizza_types SET description_ko = '프로슈토 디 산 다니엘레, 아루굴라, 모짜렐라 치즈.', description_en = 'Prosciutto di San Daniele, arugula and mozzarella cheese.', allergens = ARRAY['wheat', 'milk', 'pork']::text[] WHERE pizza_type_id = 'prsc_argla';
UPDATE pizza_types SET description_ko = '굵게 간 시칠리안 살라미, 토마토, 그린 올리브, 루가네가 소시지, 양파, 마늘.', description_en = 'Coarse Sicilian salami, tomatoes, green olives, Luganega sausage, onions and garlic.', allergens = ARRAY['wheat', 'milk', 'pork', 'tomato']::text[] WHERE pizza_type_id = 'sicilian';
UPDATE pizza_types SET description_ko = '소프레사타 살라미, 폰티나 치즈, 모짜렐라 치즈, 버섯, 마늘.', description_en = 'Soppressata salami, fontina cheese, mozzarella cheese, mushrooms and garlic.', allergens = ARRAY['wheat', 'milk', 'pork']::text[] WHERE pizza_type_id = 'soppressata';
UPDATE pizza_types SET description_ko = '치킨, 토마토, 홍피망, 적양파, 할라피뇨, 옥수수, 고수에 치폴레 소스.', description_en = 'Chicken, tomatoes, red peppers, red onions, jalapeño peppers, corn, cilantro and chipotle sauce.', allergens = ARRAY['wheat', 'milk', 'chicken', 'tomato']::text[] WHERE pizza_type_id = 'southw_ckn';
UPDATE pizza_types SET description_ko = '카포콜로, 토마토, 염소 치즈, 아티초크, 페페론치니 베르디, 마늘.', description_en = 'Capocollo, tomatoes, goat cheese, artichokes, peperoncini verdi and garlic.', allergens = ARRAY['wheat', 'milk', 'pork', 'tomato']::text[] WHERE pizza_type_id = 'spicy_ital';
UPDATE pizza_types SET description_ko = '시금치, 아티초크, 토마토, 선드라이드 토마토, 마늘에 페스토 소스.', description_en = 'Spinach, artichokes, tomatoes, sun-dried tomatoes, garlic and pesto sauce.', allergens = ARRAY['wheat', 'milk', 'tomato', 'sulfites', 'pine_nut']::text[] WHERE pizza_type_id = 'spin_pesto';
UPDATE pizza_types SET description_ko = '시금치, 버섯, 적양파, 페타 치즈, 마늘.', description_en = 'Spinach, mushrooms, red onions, feta cheese and garlic.', allergens = ARRAY['wheat', 'milk']::text[] WHERE pizza_type_id = 'spinach_fet';
UPDATE pizza_types SET description_ko = '시금치, 적양파, 페퍼로니, 토마토, 아티초크, 칼라마타 올리브, 마늘, 아시아고 치즈.', description_en = 'Spinach, red onions, pepperoni, tomatoes, artichokes, Kalamata olives, garlic and Asiago cheese.', allergens = ARRAY['wheat', 'milk', 'pork', 'tomato']::text[] WHERE pizza_type_id = 'spinach_supr';
UPDATE pizza_types SET description_ko = '치킨, 파인애플, 토마토, 홍피망에 타이 스위트 칠리 소스.', description_en = 'Chicken, pineapple, tomatoes, red peppers and Thai sweet chilli sauce.', allergens = ARRAY['wheat', 'milk', 'chicken', 'tomato']::text[] WHERE pizza_type_id = 'thai_ckn';
UPDATE pizza_types SET description_ko = '칼라마타 올리브, 페타 치즈, 토마토, 마늘, 소고기 척 로스트, 적양파.', description_en = 'Kalamata olives, feta cheese, tomatoes, garlic, beef chuck roast and red onions.', allergens = ARRAY['wheat', 'milk', 'beef', 'tomato']::text[] WHERE pizza_type_id = 'the_greek';
UPDATE pizza_types SET description_ko = '버섯, 토마토, 홍피망, 청피망, 적양파, 주키니, 시금치, 마늘.', description_en = 'Mushrooms, tomatoes, red peppers, green peppers, red onions, zucchini, spinach and garlic.', allergens = ARRAY['wheat', 'milk', 'tomato']::text[] WHERE pizza_type_id = 'veggie_veg';

-- The one catalog change this is: readers see a new version.
UPDATE catalog_version SET version = version + 1;
