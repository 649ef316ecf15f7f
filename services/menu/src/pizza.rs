//! What the menu sells, as the catalog and its API name it: sizes, categories, pizzas and
//! pizza types (docs/contract.md §2), and the sides and drinks sold next to them. Every item
//! is a "pizza type" with "pizzas" (one per size) to the API, as it was before there were
//! others: old clients keep working, and `kind` tells them apart.

use serde::Serialize;
use utoipa::ToSchema;

/// The sizes of a pizza (docs/contract.md §2), smallest first.
pub const SIZES: [&str; 5] = ["S", "M", "L", "XL", "XXL"];
/// Every size the catalog knows, in the order the menu lists them: a pizza's, then a side's
/// one regular portion, then a drink's bottles.
pub const ALL_SIZES: [&str; 8] = ["S", "M", "L", "XL", "XXL", "REG", "500ml", "1.25L"];
/// The categories of the catalog: the pizzas', then the sides' and the drinks'.
pub const CATEGORIES: [&str; 6] = ["Classic", "Chicken", "Supreme", "Veggie", "Side", "Drink"];

/// The canonical spelling of a size, if it is one.
pub fn parse_size(s: &str) -> Option<&'static str> {
    SIZES
        .iter()
        .copied()
        .find(|x| x.eq_ignore_ascii_case(s.trim()))
}

/// The sizes an item of `kind` comes in.
pub fn sizes_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "side" => &ALL_SIZES[5..6],
        "drink" => &ALL_SIZES[6..8],
        _ => &SIZES,
    }
}

/// The canonical spelling of any size of the catalog, if it is one.
pub fn parse_any_size(s: &str) -> Option<&'static str> {
    ALL_SIZES
        .iter()
        .copied()
        .find(|x| x.eq_ignore_ascii_case(s.trim()))
}

/// The canonical spelling of a category, if it is one.
pub fn parse_category(s: &str) -> Option<&'static str> {
    CATEGORIES
        .iter()
        .copied()
        .find(|x| x.eq_ignore_ascii_case(s.trim()))
}

/// The allergen codes an item may list: Korean labelling's (식품 등의 표시기준) and fish.
pub const ALLERGENS: [&str; 20] = [
    "wheat",
    "milk",
    "egg",
    "soy",
    "pork",
    "beef",
    "chicken",
    "shrimp",
    "crab",
    "mackerel",
    "buckwheat",
    "peanut",
    "walnut",
    "pine_nut",
    "peach",
    "tomato",
    "sulfites",
    "squid",
    "shellfish",
    "fish",
];

/// The longest description, in characters.
pub const MAX_DESCRIPTION: usize = 500;

/// What an item of `category` is.
pub fn kind_of(category: &str) -> &'static str {
    match category {
        "Side" => "side",
        "Drink" => "drink",
        _ => "pizza",
    }
}

/// One item in one size (a pizza, a side or a drink) as the menu shows it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct MenuItem {
    #[schema(example = "bbq_ckn_s")]
    pub pizza_id: String,
    #[schema(example = "bbq_ckn")]
    pub pizza_type_id: String,
    #[schema(example = "The Barbecue Chicken Pizza")]
    pub pizza_nm: String,
    #[schema(example = "Chicken")]
    pub pizza_categ: String,
    #[schema(example = "/menu/images/bbq_ckn.svg")]
    pub pizza_img_url: String,
    /// S, M, L, XL or XXL for a pizza; REG for a side; 500ml or 1.25L for a drink.
    pub size: String,
    /// Whole won.
    #[schema(example = 17800)]
    pub price: i64,
    /// `false` when sold out.
    pub available: bool,
    /// `pizza`, `side` or `drink`.
    #[schema(example = "pizza")]
    pub kind: String,
    #[schema(example = "바비큐 치킨, 홍피망과 청피망, 토마토, 적양파에 바비큐 소스.")]
    pub description_ko: String,
    #[schema(
        example = "Barbecued chicken, red and green peppers, tomatoes, red onions and barbecue sauce."
    )]
    pub description_en: Option<String>,
    /// Korean labelling's allergens it contains, as codes (`wheat`, `milk`, `egg`, `soy`,
    /// `pork`, `beef`, `chicken`, `shrimp`, `tomato`, …).
    #[schema(example = json!(["wheat", "milk", "chicken", "tomato"]))]
    pub allergens: Vec<String>,
    /// Whether it has options to choose (`GET /menu/items/{pizza_type_id}/` lists them).
    pub has_options: bool,
}

/// One pizza type (or side, or drink).
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct PizzaType {
    pub pizza_type_id: String,
    pub pizza_nm: String,
    pub pizza_categ: String,
    pub pizza_img_url: String,
    /// `pizza`, `side` or `drink`.
    pub kind: String,
    pub description_ko: String,
    pub description_en: Option<String>,
    pub allergens: Vec<String>,
}

impl PizzaType {
    /// A new type under the catalog's rules (id 2–40 of `a-z 0-9 _`, name 1–100 characters, a
    /// known category), with this platform's picture; the rule it breaks otherwise.
    pub fn checked(id: &str, name: &str, categ: &str) -> Result<Self, String> {
        let id = id.trim();
        if !(2..=40).contains(&id.len())
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err("pizza_type_id must be 2 to 40 characters of a-z, 0-9, '_'".into());
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err("pizza_nm must be 1 to 100 characters".into());
        }
        let categ = parse_category(categ)
            .ok_or_else(|| format!("pizza_categ must be one of {}", CATEGORIES.join(", ")))?;
        Ok(Self {
            pizza_type_id: id.to_owned(),
            pizza_nm: name.to_owned(),
            pizza_categ: categ.to_owned(),
            pizza_img_url: format!("/menu/images/{id}.svg"),
            kind: kind_of(categ).to_owned(),
            description_ko: String::new(),
            description_en: None,
            allergens: vec![],
        })
    }
}

/// One size of an item, as its sheet lists them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemSize {
    #[schema(example = "bbq_ckn_l")]
    pub pizza_id: String,
    #[schema(example = "L")]
    pub size: String,
    /// Whole won, before options.
    #[schema(example = 29000)]
    pub price: i64,
    pub available: bool,
}

/// `GET /menu/items/{pizza_type_id}/`: one item with its sizes and its option groups.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemDetail {
    #[schema(example = "bbq_ckn")]
    pub pizza_type_id: String,
    #[schema(example = "The Barbecue Chicken Pizza")]
    pub pizza_nm: String,
    #[schema(example = "Chicken")]
    pub pizza_categ: String,
    /// `pizza`, `side` or `drink`.
    pub kind: String,
    pub pizza_img_url: String,
    pub description_ko: String,
    pub description_en: Option<String>,
    pub allergens: Vec<String>,
    /// Smallest first.
    pub sizes: Vec<ItemSize>,
    /// In the order the sheet shows them; each option's `price_delta` is added to the size's
    /// price.
    pub option_groups: Vec<crate::options::OptionGroup>,
}
