//! The payment provider's checkout as a browser goes through it: the sandbox's page
//! (`tools/toss-sandbox`), its approve link, and the redirect back to the shop.

use std::collections::HashMap;

use serde_json::{Value, json};

/// What the browser brings back from an approved checkout.
#[derive(Debug, Clone)]
pub struct Approved {
    pub payment_key: String,
    pub order_id: String,
    pub amount: i64,
    /// Where the provider sent the browser (the checkout's `success_url` with the above).
    pub redirect: reqwest::Url,
}

impl Approved {
    /// The body of `POST /payment/confirm/`.
    pub fn body(&self) -> Value {
        json!({"paymentKey": self.payment_key, "orderId": self.order_id, "amount": self.amount})
    }
}

/// Opens `checkout_url`, follows its approve link and reads the redirect: the payment
/// authenticated at the provider. `http` must not follow redirects ([`crate::http`]).
pub async fn approve(http: &reqwest::Client, checkout_url: &str) -> anyhow::Result<Approved> {
    let page = http.get(checkout_url).send().await?.text().await?;
    let href = page
        .split("id=\"approve\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or_else(|| anyhow::anyhow!("no approve link on the checkout page"))?
        .replace("&amp;", "&");
    let back = http
        .get(reqwest::Url::parse(checkout_url)?.join(&href)?)
        .send()
        .await?;
    anyhow::ensure!(back.status() == 303, "approve answered {}", back.status());
    let redirect = reqwest::Url::parse(
        back.headers()
            .get("location")
            .ok_or_else(|| anyhow::anyhow!("no redirect"))?
            .to_str()?,
    )?;
    let q: HashMap<String, String> = redirect.query_pairs().into_owned().collect();
    let get = |k: &str| {
        q.get(k)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("{k} missing in {redirect}"))
    };
    Ok(Approved {
        payment_key: get("paymentKey")?,
        order_id: get("orderId")?,
        amount: get("amount")?.parse()?,
        redirect: redirect.clone(),
    })
}
