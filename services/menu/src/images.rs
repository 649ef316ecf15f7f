//! `GET /menu/images/{pizza_type_id}.svg`: a picture per pizza type, drawn here (the service
//! ships its images; there is no network to fetch them from). Each is a pizza seen from
//! above: crust, sauce and cheese in the colours of its category, toppings placed by the
//! type's id, so every type looks different and always the same.

const SAUCE: [(&str, &str); 4] = [
    ("Classic", "#c0392b"),
    ("Chicken", "#8e4a1c"),
    ("Supreme", "#a93226"),
    ("Veggie", "#6b8e23"),
];
const TOPPINGS: [(&str, [&str; 3]); 4] = [
    ("Classic", ["#922b21", "#f5cba7", "#1e8449"]),
    ("Chicken", ["#f0d9b5", "#d35400", "#7d6608"]),
    ("Supreme", ["#641e16", "#212f3d", "#f4d03f"]),
    ("Veggie", ["#27ae60", "#8e44ad", "#f39c12"]),
];

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The SVG of a pizza type.
pub fn svg(pizza_type_id: &str, pizza_nm: &str, category: &str) -> String {
    let sauce = SAUCE
        .iter()
        .find(|(c, _)| *c == category)
        .map_or("#c0392b", |(_, s)| s);
    let colors = TOPPINGS
        .iter()
        .find(|(c, _)| *c == category)
        .map_or(["#922b21", "#f5cba7", "#1e8449"], |(_, t)| *t);
    let mut seed = fnv1a(pizza_type_id) | 1;
    let mut next = move || {
        // xorshift64: deterministic per type.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut toppings = String::new();
    let count = 9 + (next() % 8) as usize;
    for i in 0..count {
        let angle = (next() % 3600) as f64 / 3600.0 * std::f64::consts::TAU;
        let radius = 12.0 + (next() % 50) as f64;
        let (x, y) = (100.0 + radius * angle.cos(), 100.0 + radius * angle.sin());
        let r = 4 + (next() % 5);
        let color = colors[i % 3];
        toppings.push_str(&format!(
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="{r}" fill="{color}"/>"#
        ));
    }
    let title = escape(pizza_nm);
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200" width="200" height="200" role="img" aria-label="{title}"><title>{title}</title><circle cx="100" cy="100" r="92" fill="#e0a84f"/><circle cx="100" cy="100" r="80" fill="{sauce}"/><circle cx="100" cy="100" r="72" fill="#f7dc6f" opacity="0.85"/>{toppings}</svg>"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_gets_its_own_picture_and_always_the_same_one() {
        let a = svg("bbq_ckn", "The Barbecue Chicken Pizza", "Chicken");
        assert_eq!(a, svg("bbq_ckn", "The Barbecue Chicken Pizza", "Chicken"));
        assert_ne!(
            a,
            svg("cali_ckn", "The California Chicken Pizza", "Chicken")
        );
        assert!(a.starts_with("<svg") && a.ends_with("</svg>"));
        assert!(svg("x1", "A <b> & \"c\"", "Veggie").contains("A &lt;b&gt; &amp; &quot;c&quot;"));
    }
}
