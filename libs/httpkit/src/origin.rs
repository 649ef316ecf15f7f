//! Which browser origins may act on a service outside CORS's reach — a WebSocket upgrade is
//! not a CORS request, so the browser sends it from any page. The rule is CORS's: the page's
//! own origin (the host it asked for, as the ingress forwards it) and `CORS_ALLOWED_ORIGINS`.

use axum::http::{HeaderMap, header};

/// `true` when the request carries no `Origin` (not a browser: nothing ambient to abuse), or
/// when the origin is the host the request was sent to, or one of `allowed` (as CORS
/// compares them: scheme, host and port, exactly, case-insensitive).
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    if allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    // Same origin: the origin's authority is the host the browser connected to. Behind the
    // ingress that is `X-Forwarded-Host` (with its port); directly, `Host`.
    let Some((_, authority)) = origin.split_once("://") else {
        return false; // `null` and the like
    };
    ["x-forwarded-host", "host"].iter().any(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .is_some_and(|host| host.trim().eq_ignore_ascii_case(authority))
    })
}

/// The address the caller reached us at, `http(s)://host[:port]/`: behind the ingress its
/// `X-Forwarded-Host` and `X-Forwarded-Proto`, directly the `Host`. `None` without a host, or
/// with one that is not a host name.
pub fn reached_at(headers: &HeaderMap) -> Option<String> {
    let host = ["x-forwarded-host", "host"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .and_then(|h| h.split(',').next())
        .map(str::trim)
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })?;
    let proto = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    Some(format!("{proto}://{host}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_pages_own_origin_and_the_listed_ones_pass_and_others_do_not() {
        let listed = vec!["https://shop.example".to_owned()];
        let own = headers(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert!(origin_allowed(&own, &listed));
        let proxied = headers(&[
            ("origin", "https://pizza.example"),
            ("host", "order"),
            ("x-forwarded-host", "pizza.example"),
        ]);
        assert!(origin_allowed(&proxied, &listed));
        let shop = headers(&[("origin", "https://SHOP.example/"), ("host", "order:8000")]);
        assert!(origin_allowed(&shop, &listed));
        assert!(origin_allowed(&headers(&[("host", "order")]), &listed));

        for bad in [
            "https://evil.example",
            "null",
            "http://127.0.0.1:8081",
            "https://shop.example.evil",
        ] {
            let h = headers(&[("origin", bad), ("host", "127.0.0.1:8080")]);
            assert!(!origin_allowed(&h, &listed), "{bad} passed");
        }
        // Another port of the same host is another origin.
        let other_port = headers(&[
            ("origin", "http://127.0.0.1:9999"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert!(!origin_allowed(&other_port, &[]));
    }
}
