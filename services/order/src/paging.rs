//! Keyset paging, the same for every list (my orders, the staff queue): `?limit=` (1–100,
//! default 20) and an opaque `?cursor=` taken from the previous page's
//! `Link: <…>; rel="next"` header.

use axum::http::{HeaderValue, header};
use axum::response::Response;
use base64::Engine;
use chrono::{DateTime, Utc};
use httpkit::{Error, Result};
use uuid::Uuid;

/// A page request, checked.
pub struct Page {
    pub limit: i64,
    /// Where the previous page ended.
    pub after: Option<Cursor>,
}

impl Page {
    pub fn parse(limit: Option<i64>, cursor: Option<&str>) -> Result<Page> {
        let limit = limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(Error::Validation("limit must be 1 to 100".into()));
        }
        let after = match cursor {
            None | Some("") => None,
            Some(c) => Some(
                Cursor::decode(c).ok_or_else(|| Error::Validation("cursor is not valid".into()))?,
            ),
        };
        Ok(Page { limit, after })
    }

    /// Rows to ask for: one more than the page, to know whether another page follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// Cuts `rows` (fetched with [`Page::fetch`]) to the page; the cursor of its last row
    /// (`at` tells it) when more follow.
    pub fn cut<T>(&self, rows: &mut Vec<T>, at: impl Fn(&T) -> Cursor) -> Option<Cursor> {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        more.then(|| rows.last().map(at)).flatten()
    }
}

/// A position in a list ordered by (`created_at`, `order_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub order_id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
            "{}.{}",
            self.created_at.timestamp_micros(),
            self.order_id
        ))
    }

    pub fn decode(c: &str) -> Option<Cursor> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c)
            .ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (micros, id) = raw.split_once('.')?;
        Some(Cursor {
            created_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            order_id: id.parse().ok()?,
        })
    }
}

/// Sets `Link: <path?limit=…&cursor=…&query…>; rel="next"` on `res` when a next page exists.
/// `query` are the list's other parameters, already URL-safe.
pub fn link_next(
    res: &mut Response,
    path: &str,
    page: &Page,
    next: Option<Cursor>,
    query: &[(&str, &str)],
) {
    let Some(next) = next else { return };
    let mut link = format!("<{path}?limit={}&cursor={}", page.limit, next.encode());
    for (k, v) in query {
        link.push_str(&format!("&{k}={v}"));
    }
    link.push_str(">; rel=\"next\"");
    if let Ok(v) = HeaderValue::from_str(&link) {
        res.headers_mut().insert(header::LINK, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_garbage_is_refused() {
        let c = Cursor {
            created_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            order_id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        for bad in ["", "!!", "bm90LWEtY3Vyc29y", "MTIz"] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
        assert!(Page::parse(Some(0), None).is_err());
        assert!(Page::parse(Some(101), None).is_err());
        assert!(Page::parse(None, Some("!!")).is_err());
        assert_eq!(Page::parse(None, Some("")).unwrap().limit, 20);
    }
}
