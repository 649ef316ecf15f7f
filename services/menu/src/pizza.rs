//! What the menu sells, as the catalog and its API name it: sizes, categories, pizzas and
//! pizza types (docs/contract.md §2).

use serde::Serialize;
use utoipa::ToSchema;

/// The sizes of docs/contract.md §2, smallest first.
pub const SIZES: [&str; 5] = ["S", "M", "L", "XL", "XXL"];
/// The categories of the catalog.
pub const CATEGORIES: [&str; 4] = ["Classic", "Chicken", "Supreme", "Veggie"];

/// The canonical spelling of a size, if it is one.
pub fn parse_size(s: &str) -> Option<&'static str> {
    SIZES
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

/// One pizza as the menu shows it.
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
    /// S, M, L, XL or XXL.
    pub size: String,
    /// Whole won.
    #[schema(example = 17800)]
    pub price: i64,
    /// `false` when sold out.
    pub available: bool,
}

/// One pizza type.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct PizzaType {
    pub pizza_type_id: String,
    pub pizza_nm: String,
    pub pizza_categ: String,
    pub pizza_img_url: String,
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
        })
    }
}
