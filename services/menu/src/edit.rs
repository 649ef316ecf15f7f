//! The ADMIN's catalog edits. Each runs in one transaction that bumps the catalog version,
//! makes the change, records it (who, when, old → new) and writes `catalog.updated` to the
//! outbox, so every menu and order replica drops its copy.

use events::{CatalogEvent, catalog::CatalogUpdated};
use httpkit::{Error, Result};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use crate::{
    db::{self, Change},
    pizza::PizzaType,
};

/// Writes `catalog.updated` in the caller's transaction.
async fn announce(conn: &mut PgConnection, version: i64, pizza_ids: &[&str]) -> Result<()> {
    announce_at(conn, version, pizza_ids, None).await
}

async fn announce_at(
    conn: &mut PgConnection,
    version: i64,
    pizza_ids: &[&str],
    bran_id: Option<&str>,
) -> Result<()> {
    let updated = CatalogUpdated {
        catalog_version: version,
        pizza_ids: pizza_ids.iter().map(|s| (*s).to_owned()).collect(),
        bran_id: bran_id.map(str::to_owned),
    };
    outbox::enqueue(conn, CatalogEvent::Updated(updated)).await?;
    Ok(())
}

/// Changes a pizza's price and/or availability; the new catalog version, or `None` when
/// nothing changed.
pub async fn update_pizza(
    db: &PgPool,
    who: &str,
    pizza_id: &str,
    price: Option<i64>,
    available: Option<bool>,
) -> Result<Option<i64>> {
    let mut tx = db.begin().await?;
    let (old_price, old_available) = db::pizza_for_update(&mut tx, pizza_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no pizza '{pizza_id}'")))?;
    let new_price = price.unwrap_or(old_price);
    let new_available = available.unwrap_or(old_available);
    if (new_price, new_available) == (old_price, old_available) {
        return Ok(None);
    }
    let version = db::next_version(&mut tx).await?;
    db::set_pizza(&mut tx, pizza_id, new_price, new_available).await?;
    let change = Change {
        version,
        who,
        kind: "pizza_updated",
        pizza_type_id: None,
        pizza_id: Some(pizza_id),
        old: Some(json!({"price": old_price, "available": old_available})),
        new: json!({"price": new_price, "available": new_available}),
    };
    db::record_change(&mut tx, change).await?;
    announce(&mut tx, version, &[pizza_id]).await?;
    tx.commit().await?;
    Ok(Some(version))
}

/// Changes an option's price delta and/or availability; the new catalog version, or `None`
/// when nothing changed. Orders priced after the commit pay the new delta (`GetPrices` reads
/// the options as committed), and every replica's menu drops its copy on `catalog.updated`.
pub async fn update_option(
    db: &PgPool,
    who: &str,
    option_id: &str,
    price_delta: Option<i64>,
    available: Option<bool>,
) -> Result<Option<i64>> {
    let mut tx = db.begin().await?;
    let (old_delta, old_available) = db::option_for_update(&mut tx, option_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no option '{option_id}'")))?;
    let new_delta = price_delta.unwrap_or(old_delta);
    let new_available = available.unwrap_or(old_available);
    if (new_delta, new_available) == (old_delta, old_available) {
        return Ok(None);
    }
    let version = db::next_version(&mut tx).await?;
    db::set_option(&mut tx, option_id, new_delta, new_available).await?;
    let change = Change {
        version,
        who,
        kind: "option_updated",
        pizza_type_id: None,
        pizza_id: None,
        old: Some(
            json!({"option_id": option_id, "price_delta": old_delta, "available": old_available}),
        ),
        new: json!({"option_id": option_id, "price_delta": new_delta, "available": new_available}),
    };
    db::record_change(&mut tx, change).await?;
    announce(&mut tx, version, &[]).await?;
    tx.commit().await?;
    Ok(Some(version))
}

/// What an item says about itself, as the owner writes it.
pub struct About {
    pub description_ko: Option<String>,
    /// `Some(None)`: no English description any more.
    pub description_en: Option<Option<String>>,
    pub allergens: Option<Vec<String>>,
}

/// Changes an item's descriptions and/or allergens; the new catalog version, or `None` when
/// nothing changed.
pub async fn update_about(
    db: &PgPool,
    who: &str,
    pizza_type_id: &str,
    about: About,
) -> Result<Option<i64>> {
    let mut tx = db.begin().await?;
    let (ko, en, allergens) = db::about_for_update(&mut tx, pizza_type_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no item '{pizza_type_id}'")))?;
    let new_ko = about.description_ko.unwrap_or_else(|| ko.clone());
    let new_en = about.description_en.unwrap_or_else(|| en.clone());
    let new_allergens = about.allergens.unwrap_or_else(|| allergens.clone());
    if (&new_ko, &new_en, &new_allergens) == (&ko, &en, &allergens) {
        return Ok(None);
    }
    let version = db::next_version(&mut tx).await?;
    db::set_about(
        &mut tx,
        pizza_type_id,
        &new_ko,
        new_en.as_deref(),
        &new_allergens,
    )
    .await?;
    let change = Change {
        version,
        who,
        kind: "type_updated",
        pizza_type_id: Some(pizza_type_id),
        pizza_id: None,
        old: Some(json!({"description_ko": ko, "description_en": en, "allergens": allergens})),
        new: json!({"description_ko": new_ko, "description_en": new_en, "allergens": new_allergens}),
    };
    db::record_change(&mut tx, change).await?;
    announce(&mut tx, version, &[]).await?;
    tx.commit().await?;
    Ok(Some(version))
}

/// Marks a pizza sold out at one branch (`available: false`) or back; the new catalog
/// version, or `None` when it was so already. 404 for a pizza that is not there.
pub async fn set_branch_availability(
    db: &PgPool,
    who: &str,
    pizza_id: &str,
    bran_id: &str,
    available: bool,
) -> Result<Option<i64>> {
    let mut tx = db.begin().await?;
    // The pizza's row first: changes to one pizza happen one after the other.
    db::pizza_for_update(&mut tx, pizza_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no pizza '{pizza_id}'")))?;
    let was_available = !db::sold_out_at(&mut tx, bran_id, pizza_id).await?;
    if was_available == available {
        return Ok(None);
    }
    let version = db::next_version(&mut tx).await?;
    db::set_sold_out_at(&mut tx, bran_id, pizza_id, !available, who).await?;
    let change = Change {
        version,
        who,
        kind: "branch_availability",
        pizza_type_id: None,
        pizza_id: Some(pizza_id),
        old: Some(json!({"bran_id": bran_id, "available": was_available})),
        new: json!({"bran_id": bran_id, "available": available}),
    };
    db::record_change(&mut tx, change).await?;
    announce_at(&mut tx, version, &[pizza_id], Some(bran_id)).await?;
    tx.commit().await?;
    Ok(Some(version))
}

/// Adds a size of an existing type (one of its kind's sizes); its id is
/// `{pizza_type_id}_{size}` (lower case, `.` as `_`).
pub async fn add_pizza(
    db: &PgPool,
    who: &str,
    pizza_type_id: &str,
    size: &str,
    price: i64,
    available: bool,
) -> Result<String> {
    let pizza_id = format!("{pizza_type_id}_{}", size.to_lowercase().replace('.', "_"));
    let mut tx = db.begin().await?;
    let Some(kind) = db::type_kind(&mut tx, pizza_type_id).await? else {
        return Err(Error::Unprocessable(format!(
            "no pizza type '{pizza_type_id}'"
        )));
    };
    let sizes = crate::pizza::sizes_of(&kind);
    if !sizes.contains(&size) {
        return Err(Error::Unprocessable(format!(
            "a {kind} comes in {}",
            sizes.join(", ")
        )));
    }
    if !db::insert_pizza(&mut tx, &pizza_id, pizza_type_id, size, price, available).await? {
        return Err(Error::Conflict(format!(
            "'{pizza_type_id}' already has a size {size} ({pizza_id})"
        )));
    }
    let version = db::next_version(&mut tx).await?;
    let change = Change {
        version,
        who,
        kind: "pizza_added",
        pizza_type_id: Some(pizza_type_id),
        pizza_id: Some(&pizza_id),
        old: None,
        new: json!({"size": size, "price": price, "available": available}),
    };
    db::record_change(&mut tx, change).await?;
    announce(&mut tx, version, &[&pizza_id]).await?;
    tx.commit().await?;
    Ok(pizza_id)
}

/// Adds a pizza type (its sizes come with [`add_pizza`]).
pub async fn add_type(db: &PgPool, who: &str, t: &PizzaType) -> Result<()> {
    let mut tx = db.begin().await?;
    if !db::insert_type(&mut tx, t).await? {
        return Err(Error::Conflict(format!(
            "a pizza type with id '{}' or name '{}' exists already",
            t.pizza_type_id, t.pizza_nm
        )));
    }
    let version = db::next_version(&mut tx).await?;
    let change = Change {
        version,
        who,
        kind: "type_added",
        pizza_type_id: Some(&t.pizza_type_id),
        pizza_id: None,
        old: None,
        new: json!({"pizza_nm": t.pizza_nm, "pizza_categ": t.pizza_categ}),
    };
    db::record_change(&mut tx, change).await?;
    announce(&mut tx, version, &[]).await?;
    tx.commit().await?;
    Ok(())
}
