//! Item photos as they are to be served: an upload (PNG, JPEG or WebP, at most 5 MB) is
//! decoded — which is the check that it is an image at all, whatever its name or type says —
//! within limits on its size in pixels and in memory, and re-encoded as WebP at a few widths
//! (never wider than it came). Only pixels survive: EXIF (a phone's GPS position, say),
//! comments and embedded profiles are not carried over.
//!
//! This is the processing alone, run on the blocking pool by its caller; storing the
//! renditions (`object_store`) and the upload route come with it in the owner's console.

use std::io::Cursor;

use image::{
    DynamicImage, ExtendedColorType, ImageError, ImageFormat, ImageReader, Limits,
    codecs::webp::WebPEncoder, error::LimitErrorKind, imageops::FilterType,
};
use sha2::{Digest, Sha256};

/// The largest upload, in bytes.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// The widths served (a phone's list, a sheet, a wide screen), each only if the upload is at
/// least that wide.
pub const WIDTHS: [u32; 3] = [320, 640, 1280];
/// The longest side decoded: beyond it an upload is refused before its pixels are allocated.
pub const MAX_SIDE: u32 = 8000;
/// What decoding may allocate (an 8000 × 8000 RGBA image is 256 MB).
const MAX_ALLOC: u64 = 300 * 1024 * 1024;

/// An upload, ready to be stored: its content hash (names the renditions, so a new photo is
/// a new URL and an old one may be cached for ever) and each width's WebP bytes, narrowest
/// first.
#[derive(Debug)]
pub struct Processed {
    pub hash: String,
    pub renditions: Vec<Rendition>,
}

#[derive(Debug)]
pub struct Rendition {
    pub width: u32,
    pub height: u32,
    pub webp: Vec<u8>,
}

/// Why an upload is refused, in words for the owner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the photo is larger than 5 MB")]
    TooLarge,
    #[error("the file is not a PNG, JPEG or WebP image")]
    NotAnImage,
    #[error("the image cannot be read ({0})")]
    Broken(String),
    #[error("the image is larger than {MAX_SIDE} × {MAX_SIDE} pixels")]
    TooManyPixels,
}

/// Decodes `bytes` (PNG, JPEG or WebP, told by their content), and encodes them as WebP at
/// every width of [`WIDTHS`] up to the image's own (just its own, if narrower than all).
pub fn process(bytes: &[u8]) -> Result<Processed, Refused> {
    if bytes.len() > MAX_BYTES {
        return Err(Refused::TooLarge);
    }
    let format = image::guess_format(bytes).map_err(|_| Refused::NotAnImage)?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP
    ) {
        return Err(Refused::NotAnImage);
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| match e {
        ImageError::Limits(l) if matches!(l.kind(), LimitErrorKind::DimensionError) => {
            Refused::TooManyPixels
        }
        ImageError::Limits(_) => Refused::TooManyPixels,
        e => Refused::Broken(e.to_string()),
    })?;
    let alpha = image.color().has_alpha();
    let image = if alpha {
        DynamicImage::ImageRgba8(image.to_rgba8())
    } else {
        DynamicImage::ImageRgb8(image.to_rgb8())
    };
    let (width, height) = (image.width(), image.height());
    let mut widths: Vec<u32> = WIDTHS.iter().copied().filter(|w| *w <= width).collect();
    if widths.is_empty() {
        widths.push(width);
    }
    let mut renditions = Vec::with_capacity(widths.len());
    for w in widths {
        let h = ((u64::from(height) * u64::from(w) + u64::from(width) / 2) / u64::from(width))
            .max(1) as u32;
        let sized = if w == width {
            image.clone()
        } else {
            image.resize_exact(w, h, FilterType::Lanczos3)
        };
        let mut webp = Vec::new();
        let color = if alpha {
            ExtendedColorType::Rgba8
        } else {
            ExtendedColorType::Rgb8
        };
        WebPEncoder::new_lossless(&mut webp)
            .encode(sized.as_bytes(), sized.width(), sized.height(), color)
            .map_err(|e| Refused::Broken(e.to_string()))?;
        renditions.push(Rendition {
            width: sized.width(),
            height: sized.height(),
            webp,
        });
    }
    Ok(Processed {
        hash: hex::encode(&Sha256::digest(bytes)[..8]),
        renditions,
    })
}

#[cfg(test)]
mod tests {
    use image::{ImageEncoder, RgbImage, codecs::png::PngEncoder};

    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
        });
        let mut out = Vec::new();
        PngEncoder::new(&mut out)
            .write_image(img.as_raw(), width, height, ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    /// A JPEG with an EXIF segment (APP1) carrying a made-up GPS tag's bytes.
    fn jpeg_with_exif(width: u32, height: u32) -> Vec<u8> {
        let img = RgbImage::from_pixel(width, height, image::Rgb([200, 80, 30]));
        let mut plain = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 90)
            .write_image(img.as_raw(), width, height, ExtendedColorType::Rgb8)
            .unwrap();
        let payload = b"Exif\0\0GPS 37.4979 N 127.0276 E";
        let mut segment = vec![0xFF, 0xE1];
        segment.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        segment.extend_from_slice(payload);
        let mut out = plain[..2].to_vec(); // SOI
        out.extend(segment);
        out.extend_from_slice(&plain[2..]);
        out
    }

    fn decoded(webp: &[u8]) -> DynamicImage {
        assert_eq!(image::guess_format(webp).unwrap(), ImageFormat::WebP);
        image::load_from_memory_with_format(webp, ImageFormat::WebP).unwrap()
    }

    #[test]
    fn an_upload_becomes_webp_at_each_width_up_to_its_own() {
        let p = process(&png(1000, 500)).unwrap();
        let sizes: Vec<(u32, u32)> = p.renditions.iter().map(|r| (r.width, r.height)).collect();
        assert_eq!(sizes, [(320, 160), (640, 320)], "never wider than it came");
        for r in &p.renditions {
            let img = decoded(&r.webp);
            assert_eq!((img.width(), img.height()), (r.width, r.height));
        }
        assert_eq!(p.hash.len(), 16);
        assert_eq!(
            p.hash,
            process(&png(1000, 500)).unwrap().hash,
            "named by content"
        );

        let small = process(&png(200, 100)).unwrap();
        assert_eq!(small.renditions.len(), 1);
        assert_eq!(small.renditions[0].width, 200);
    }

    #[test]
    fn only_the_pixels_survive() {
        let upload = jpeg_with_exif(400, 300);
        assert!(upload.windows(4).any(|w| w == b"Exif"));
        let p = process(&upload).unwrap();
        for r in &p.renditions {
            assert!(!r.webp.windows(4).any(|w| w == b"Exif"), "no EXIF");
            assert!(!r.webp.windows(3).any(|w| w == b"GPS"), "no GPS");
        }
        let img = decoded(&p.renditions[0].webp).to_rgb8();
        let px = img.get_pixel(10, 10);
        assert!(px[0] > 150 && px[1] < 130, "the picture itself: {px:?}");
    }

    #[test]
    fn what_is_not_a_whole_image_is_refused() {
        let whole = png(640, 480);
        assert!(matches!(
            process(&whole[..whole.len() / 2]),
            Err(Refused::Broken(_))
        ));
        // An executable renamed photo.png: its bytes say what it is.
        let elf = [b"\x7fELF\x02\x01\x01\0".as_slice(), &[0u8; 4096]].concat();
        assert_eq!(process(&elf).unwrap_err(), Refused::NotAnImage);
        assert_eq!(process(b"").unwrap_err(), Refused::NotAnImage);
        // A GIF is an image, but not one of ours.
        assert_eq!(
            process(b"GIF89a\x01\0\x01\0\0\0\0;").unwrap_err(),
            Refused::NotAnImage
        );
        assert_eq!(
            process(&vec![0u8; MAX_BYTES + 1]).unwrap_err(),
            Refused::TooLarge
        );
    }

    #[test]
    fn a_huge_canvas_is_refused_before_its_pixels_are_allocated() {
        // A valid PNG header claiming 20000 × 20000 pixels, and nothing else.
        let mut header = png(1, 1);
        header[16..20].copy_from_slice(&20000u32.to_be_bytes());
        header[20..24].copy_from_slice(&20000u32.to_be_bytes());
        // IHDR's CRC covers its type and data (bytes 12..29).
        let mut crc = flate2::Crc::new();
        crc.update(&header[12..29]);
        header[29..33].copy_from_slice(&crc.sum().to_be_bytes());
        assert_eq!(process(&header).unwrap_err(), Refused::TooManyPixels);
    }
}
