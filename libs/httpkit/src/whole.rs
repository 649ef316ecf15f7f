//! Whole numbers as JSON Schema counts them: `1719` and `1719.0` are the same integer there, so
//! a client generated from our documents may send either. `#[serde(deserialize_with =
//! "httpkit::whole::number")]` (or `whole::option` for an `Option<i64>`) takes both and refuses
//! fractions and anything out of `i64`'s range.

use serde::{Deserialize, Deserializer, de::Error};

#[derive(Deserialize)]
#[serde(untagged)]
enum Num {
    Int(i64),
    Float(f64),
}

fn whole<E: Error>(n: Num) -> Result<i64, E> {
    match n {
        Num::Int(i) => Ok(i),
        // Beyond 2^53 a float is not an exact integer any more; refuse rather than round.
        Num::Float(f) if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 => Ok(f as i64),
        Num::Float(f) => Err(E::custom(format!("expected a whole number, got {f}"))),
    }
}

pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    whole(Num::deserialize(d)?)
}

/// For an optional field (with `#[serde(default)]`): absent is `None`; `null` is refused,
/// as the documents say (the field is optional, not nullable).
pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    whole(Num::deserialize(d)?).map(Some)
}

/// Any optional field that may be left out but not sent as `null` (with `#[serde(default)]`).
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct T {
        #[serde(deserialize_with = "super::number")]
        n: i64,
        #[serde(default, deserialize_with = "super::option")]
        o: Option<i64>,
    }

    #[test]
    fn integral_floats_are_integers_and_fractions_are_refused() {
        let t: T = serde_json::from_str(r#"{"n": 1719.0, "o": 3}"#).unwrap();
        assert_eq!((t.n, t.o), (1719, Some(3)));
        let t: T = serde_json::from_str(r#"{"n": -2}"#).unwrap();
        assert_eq!((t.n, t.o), (-2, None));
        assert!(serde_json::from_str::<T>(r#"{"n": 1, "o": null}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"n": 1.5}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"n": 1e300}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"n": "1"}"#).is_err());
        assert_eq!(serde_json::from_str::<T>(r#"{"n": 1}"#).unwrap().o, None);
    }
}
