//! Reading QR codes back, as a phone would: from the SVG a table's code is served as (its
//! rectangles drawn onto a bitmap) or from the PNG, through the `rqrr` decoder. What the
//! tests follow is what is printed, not what the API says is printed.

/// (A macro: the decoder's image buffer type is not public, so no function can name it.)
macro_rules! decode {
    ($img:expr) => {{
        let mut img = $img;
        let grids = img.detect_grids();
        anyhow::ensure!(grids.len() == 1, "found {} QR codes, not one", grids.len());
        let (_, text) = grids[0].decode().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(text)
    }};
}

/// The text of the QR code drawn by an SVG of `<path d="M{x} {y}h{w}v{h}H{x}V{y}…"/>`
/// rectangles (the `qrcode` crate's SVG renderer), with its `width` and `height`.
pub fn from_svg(svg: &str) -> anyhow::Result<String> {
    let attr = |name: &str| -> anyhow::Result<usize> {
        let at = svg
            .find(&format!(" {name}=\""))
            .ok_or_else(|| anyhow::anyhow!("no {name} in the SVG"))?;
        let rest = &svg[at + name.len() + 3..];
        Ok(rest[..rest.find('"').unwrap_or(0)].parse()?)
    };
    let (w, h) = (attr("width")?, attr("height")?);
    let d_at = svg
        .find(" d=\"")
        .ok_or_else(|| anyhow::anyhow!("no path in the SVG"))?;
    let d = &svg[d_at + 4..];
    let d = &d[..d.find('"').unwrap_or(d.len())];
    let mut dark = vec![false; w * h];
    for rect in d.split('M').filter(|r| !r.is_empty()) {
        // "{x} {y}h{w}v{h}H{x}V{y}"
        let nums: Vec<usize> = rect
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        let [x, y, rw, rh, ..] = nums[..] else {
            anyhow::bail!("a path segment that is no rectangle: {rect}");
        };
        for row in y..(y + rh).min(h) {
            dark[row * w + x..row * w + (x + rw).min(w)].fill(true);
        }
    }
    decode!(rqrr::PreparedImage::prepare_from_bitmap(w, h, |x, y| {
        dark[y * w + x]
    }))
}

/// The text of the QR code in an 8-bit greyscale PNG.
pub fn from_png(png_bytes: &[u8]) -> anyhow::Result<String> {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes)).read_info()?;
    let mut buf = vec![0; reader.output_buffer_size().unwrap_or(0)];
    let info = reader.next_frame(&mut buf)?;
    anyhow::ensure!(
        info.color_type == png::ColorType::Grayscale && info.bit_depth == png::BitDepth::Eight,
        "expected 8-bit greyscale, got {:?} {:?}",
        info.color_type,
        info.bit_depth
    );
    let (w, h) = (info.width as usize, info.height as usize);
    decode!(rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        buf[y * info.line_size + x]
    }))
}
