//! `GET /menu/images/{pizza_type_id}.svg`: a picture per item, drawn here (the service
//! ships its images; there is no network to fetch them from). A pizza is seen from above:
//! crust, sauce and cheese in the colours of its category, toppings placed by the type's id,
//! so every type looks different and always the same. A side is a plate with pieces on it;
//! a drink a glass of its colour with bubbles — until the owner uploads a photo.

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

/// The SVG of an item: a pizza, a side on a plate or a drink in a glass (by `category`).
pub fn svg(pizza_type_id: &str, pizza_nm: &str, category: &str) -> String {
    match category {
        "Side" => return side(pizza_type_id, pizza_nm),
        "Drink" => return drink(pizza_type_id, pizza_nm),
        _ => {}
    }
    let sauce = SAUCE
        .iter()
        .find(|(c, _)| *c == category)
        .map_or("#c0392b", |(_, s)| s);
    let colors = TOPPINGS
        .iter()
        .find(|(c, _)| *c == category)
        .map_or(["#922b21", "#f5cba7", "#1e8449"], |(_, t)| *t);
    let mut next = numbers(pizza_type_id);
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

/// Deterministic numbers from an id (xorshift64 seeded by FNV-1a).
fn numbers(id: &str) -> impl FnMut() -> u64 {
    let mut seed = fnv1a(id) | 1;
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

fn side(id: &str, name: &str) -> String {
    let mut next = numbers(id);
    let colors = ["#d68910", "#b9770e", "#f4d03f", "#7d6608", "#e59866"];
    let mut pieces = String::new();
    for _ in 0..(5 + next() % 4) {
        let (x, y) = (60 + next() % 80, 70 + next() % 60);
        let (w, h) = (22 + next() % 18, 12 + next() % 10);
        let color = colors[(next() % colors.len() as u64) as usize];
        let turn = next() % 180;
        pieces.push_str(&format!(
            r#"<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="{color}" transform="rotate({turn} {x} {y})"/>"#
        ));
    }
    let title = escape(name);
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200" width="200" height="200" role="img" aria-label="{title}"><title>{title}</title><ellipse cx="100" cy="110" rx="92" ry="70" fill="#ecf0f1"/><ellipse cx="100" cy="110" rx="74" ry="54" fill="#fdfefe"/>{pieces}</svg>"##
    )
}

fn drink(id: &str, name: &str) -> String {
    let mut next = numbers(id);
    let shades = ["#3b1f0e", "#5d2e0f", "#d4e6a5", "#cfe8f7", "#f5b041"];
    let liquid = shades[(fnv1a(id) % shades.len() as u64) as usize];
    let mut bubbles = String::new();
    for _ in 0..(6 + next() % 6) {
        let (x, y, r) = (76 + next() % 48, 70 + next() % 100, 2 + next() % 4);
        bubbles.push_str(&format!(
            r##"<circle cx="{x}" cy="{y}" r="{r}" fill="#ffffff" opacity="0.6"/>"##
        ));
    }
    let title = escape(name);
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200" width="200" height="200" role="img" aria-label="{title}"><title>{title}</title><path d="M60 30 L140 30 L128 185 L72 185 Z" fill="#e8f6f3" stroke="#aab7b8" stroke-width="3"/><path d="M65 60 L135 60 L126 180 L74 180 Z" fill="{liquid}"/>{bubbles}<rect x="112" y="8" width="8" height="70" rx="3" fill="#e74c3c" transform="rotate(12 116 43)"/></svg>"##
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

    #[test]
    fn a_side_is_on_a_plate_and_a_drink_in_a_glass() {
        let pizza = svg("cola", "Coca-Cola", "Classic");
        let drink = svg("cola", "Coca-Cola", "Drink");
        let side = svg("garlic_bread", "Garlic Bread", "Side");
        assert!(
            drink.contains("<path") && !pizza.contains("<path"),
            "a glass, not a pizza"
        );
        assert!(
            side.contains("<ellipse") && side.contains("<rect"),
            "a plate with pieces"
        );
        assert_eq!(drink, svg("cola", "Coca-Cola", "Drink"), "always the same");
        assert_ne!(drink, svg("sprite", "Sprite", "Drink"));
        assert!(side.ends_with("</svg>") && drink.contains("aria-label=\"Coca-Cola\""));
    }
}
