//! Whole numbers as the contract writes them: an integer literal (`2`, `-3`). JSON can spell
//! the same value `2.0` or `2e0`, and a float that rounds (`100.00000000000001`) would
//! silently become another quantity or price, so any number with a fraction or an exponent
//! is refused (400), whatever its value. `#[serde(deserialize_with = "httpkit::whole::number")]`
//! (or `whole::option` for an `Option<i64>`) names the rule where a field takes it.

use serde::{Deserialize, Deserializer, de::Error};

#[derive(Deserialize)]
#[serde(untagged)]
enum Num {
    Int(i64),
    /// A float, a string, anything else.
    Other(serde::de::IgnoredAny),
}

fn whole<E: Error>(n: Num) -> Result<i64, E> {
    match n {
        Num::Int(i) => Ok(i),
        Num::Other(_) => Err(E::custom(
            "expected an integer, written without a fraction or an exponent",
        )),
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
    fn only_integer_literals_are_integers() {
        let t: T = serde_json::from_str(r#"{"n": 1719, "o": 3}"#).unwrap();
        assert_eq!((t.n, t.o), (1719, Some(3)));
        let t: T = serde_json::from_str(r#"{"n": -2}"#).unwrap();
        assert_eq!((t.n, t.o), (-2, None));
        assert!(serde_json::from_str::<T>(r#"{"n": 1, "o": null}"#).is_err());
        for n in [
            "1.0",
            "1e2",
            "1E0",
            "100.00000000000001",
            "1.5",
            "1e300",
            "\"1\"",
            "-0.0",
        ] {
            let body = format!(r#"{{"n": {n}}}"#);
            assert!(serde_json::from_str::<T>(&body).is_err(), "{n} was taken");
            let body = format!(r#"{{"n": 1, "o": {n}}}"#);
            assert!(
                serde_json::from_str::<T>(&body).is_err(),
                "optional {n} was taken"
            );
        }
        assert_eq!(serde_json::from_str::<T>(r#"{"n": 1}"#).unwrap().o, None);
    }
}
