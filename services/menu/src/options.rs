//! Options: the shop's option groups (a crust to choose, up to three extra toppings, a wing
//! sauce), attached to the items that offer them, and the check of an order line's choice
//! against them. The order service never prices an option itself: `GetPrices` answers each
//! line's options as [`resolve`] finds them, with their prices, or the group the choice
//! breaks.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One option of a group, as the item sheet shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct ItemOption {
    #[schema(example = "crust_cheese_edge")]
    pub option_id: String,
    #[serde(skip_serializing)]
    pub group_id: String,
    #[schema(example = "치즈 크러스트")]
    pub name_ko: String,
    #[schema(example = "Cheese edge")]
    pub name_en: Option<String>,
    /// Added to the item's price, whole won.
    #[schema(example = 3000)]
    pub price_delta: i64,
    /// `false`: not to be had right now.
    pub available: bool,
    /// What a line that names no options gets (pizza_back's clients order so).
    pub is_default: bool,
    #[serde(skip_serializing)]
    pub position: i32,
}

/// An option group of one item: choose from `min_choices` to `max_choices` of its options.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OptionGroup {
    #[schema(example = "crust")]
    pub group_id: String,
    #[schema(example = "도우 선택")]
    pub name_ko: String,
    #[schema(example = "Crust")]
    pub name_en: Option<String>,
    pub min_choices: i32,
    pub max_choices: i32,
    /// `min_choices` > 0.
    pub required: bool,
    pub options: Vec<ItemOption>,
}

/// A group as the database gives it, before its options join it.
#[derive(Debug, Clone, Deserialize, sqlx::FromRow)]
pub struct GroupRow {
    /// The item (pizza type) offering it, or, in a price quote, the pizza (one size).
    pub owner: String,
    pub group_id: String,
    pub name_ko: String,
    #[serde(default)]
    pub name_en: Option<String>,
    pub min_choices: i32,
    pub max_choices: i32,
}

/// The groups each owner offers, in its order, each with its options in theirs.
pub fn groups_by_owner(
    groups: Vec<GroupRow>,
    options: &[ItemOption],
) -> HashMap<String, Vec<OptionGroup>> {
    let mut by_group: HashMap<&str, Vec<ItemOption>> = HashMap::new();
    for o in options {
        by_group.entry(&o.group_id).or_default().push(o.clone());
    }
    for list in by_group.values_mut() {
        list.sort_by(|a, b| (a.position, &a.option_id).cmp(&(b.position, &b.option_id)));
    }
    let mut out: HashMap<String, Vec<OptionGroup>> = HashMap::new();
    for g in groups {
        let options = by_group
            .get(g.group_id.as_str())
            .cloned()
            .unwrap_or_default();
        out.entry(g.owner).or_default().push(OptionGroup {
            required: g.min_choices > 0,
            group_id: g.group_id,
            name_ko: g.name_ko,
            name_en: g.name_en,
            min_choices: g.min_choices,
            max_choices: g.max_choices,
            options,
        });
    }
    out
}

/// Why a line's choice is refused: the group it breaks (if it names one) and what is wrong,
/// in words for the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub group_id: String,
    pub problem: String,
}

fn refuse(group: &OptionGroup, problem: String) -> Refused {
    Refused {
        group_id: group.group_id.clone(),
        problem: format!("{}: {problem}", group.name_ko),
    }
}

/// The options a line gets, in the item's group order: what `asked` names, checked against
/// the groups the item `offered` (every id known, offered with this item, available, chosen
/// once, and each group's count within its bounds); or, when the line names none at all
/// (`asked` is `None`), each required group's default. `known` holds every option `asked`
/// names (and the defaults), wherever they belong.
pub fn resolve(
    item_nm: &str,
    offered: &[OptionGroup],
    asked: Option<&[String]>,
    known: &HashMap<String, ItemOption>,
) -> Result<Vec<ItemOption>, Refused> {
    let Some(asked) = asked else {
        let mut chosen = vec![];
        for g in offered.iter().filter(|g| g.required) {
            match g.options.iter().find(|o| o.is_default && o.available) {
                Some(o) => chosen.push(o.clone()),
                None => {
                    return Err(refuse(
                        g,
                        format!("choose {} (it has no default)", g.min_choices),
                    ));
                }
            }
        }
        return Ok(chosen);
    };
    let mut seen = HashSet::new();
    let mut per_group: HashMap<&str, Vec<&ItemOption>> = HashMap::new();
    for id in asked {
        let Some(o) = known.get(id) else {
            return Err(Refused {
                group_id: String::new(),
                problem: format!("there is no option '{id}'"),
            });
        };
        let Some(g) = offered.iter().find(|g| g.group_id == o.group_id) else {
            return Err(Refused {
                group_id: o.group_id.clone(),
                problem: format!("'{}' is not an option of {item_nm}", o.name_ko),
            });
        };
        if !seen.insert(id.as_str()) {
            return Err(refuse(g, format!("'{}' is chosen twice", o.name_ko)));
        }
        if !o.available {
            return Err(refuse(g, format!("'{}' is sold out", o.name_ko)));
        }
        per_group.entry(&g.group_id).or_default().push(o);
    }
    let mut chosen = vec![];
    for g in offered {
        let mine = per_group.remove(g.group_id.as_str()).unwrap_or_default();
        let n = mine.len() as i32;
        if n < g.min_choices || n > g.max_choices {
            let what = if g.min_choices == g.max_choices {
                format!("choose {}", g.min_choices)
            } else if n < g.min_choices {
                format!("choose at least {}", g.min_choices)
            } else {
                format!("choose at most {}", g.max_choices)
            };
            return Err(refuse(g, what));
        }
        let mut mine: Vec<ItemOption> = mine.into_iter().cloned().collect();
        mine.sort_by(|a, b| (a.position, &a.option_id).cmp(&(b.position, &b.option_id)));
        chosen.extend(mine);
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(id: &str, group: &str, delta: i64, default: bool) -> ItemOption {
        ItemOption {
            option_id: id.into(),
            group_id: group.into(),
            name_ko: id.into(),
            name_en: None,
            price_delta: delta,
            available: true,
            is_default: default,
            position: 0,
        }
    }

    fn shop() -> (Vec<OptionGroup>, HashMap<String, ItemOption>) {
        let options = vec![
            opt("original", "crust", 0, true),
            opt("edge", "crust", 3000, false),
            opt("cheese", "toppings", 1500, false),
            opt("olive", "toppings", 1500, false),
            opt("ham", "toppings", 1500, false),
            opt("corn", "toppings", 1500, false),
            opt("buffalo", "sauce", 0, true),
        ];
        let groups = vec![
            GroupRow {
                owner: "p".into(),
                group_id: "crust".into(),
                name_ko: "도우".into(),
                name_en: None,
                min_choices: 1,
                max_choices: 1,
            },
            GroupRow {
                owner: "p".into(),
                group_id: "toppings".into(),
                name_ko: "토핑".into(),
                name_en: None,
                min_choices: 0,
                max_choices: 3,
            },
        ];
        let offered = groups_by_owner(groups, &options).remove("p").unwrap();
        let known = options
            .into_iter()
            .map(|o| (o.option_id.clone(), o))
            .collect();
        (offered, known)
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_line_naming_nothing_gets_the_defaults_and_a_choice_is_checked_group_by_group() {
        let (offered, known) = shop();
        let got = resolve("p", &offered, None, &known).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].option_id, "original");

        let asked = ids(&["olive", "edge", "cheese"]);
        let got = resolve("p", &offered, Some(&asked), &known).unwrap();
        let got: Vec<_> = got.iter().map(|o| o.option_id.as_str()).collect();
        assert_eq!(
            got,
            ["edge", "cheese", "olive"],
            "group order, then option order"
        );

        let refused =
            |asked: &[&str]| resolve("p", &offered, Some(&ids(asked)), &known).unwrap_err();
        assert_eq!(
            refused(&[]).group_id,
            "crust",
            "a required group, named: no default"
        );
        assert_eq!(refused(&["original", "edge"]).problem, "도우: choose 1");
        let too_many = refused(&["edge", "cheese", "olive", "ham", "corn"]);
        assert_eq!(
            (too_many.group_id.as_str(), too_many.problem.as_str()),
            ("toppings", "토핑: choose at most 3")
        );
        assert_eq!(
            refused(&["edge", "buffalo"]).group_id,
            "sauce",
            "another item's"
        );
        assert_eq!(refused(&["edge", "edge"]).group_id, "crust");
        assert_eq!(refused(&["edge", "nope"]).group_id, "", "unknown");
    }
}
