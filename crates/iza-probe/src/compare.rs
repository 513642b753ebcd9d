//! How a replica is compared with its original, once both pages were rendered: the share of
//! differing pixels of their screenshots (and the diff image), the similarity of their visible
//! texts, and the links of the original that the replica lacks. Pure functions over what the
//! browser returned; loading the pages is `kinds/browser.rs`.
//!
//! The rules, also in `docs/checks.md`:
//! - two pixels differ when one of their red, green or blue values differs by more than
//!   [`PIXEL_TOLERANCE`] (of 255): anti-aliasing and colour rounding are not differences;
//!   where the images differ in size, every pixel outside their overlap differs;
//! - the texts are compared as multisets of words (lower-cased, punctuation dropped):
//!   similarity = 2 × common words / (words of both), the Sørensen–Dice coefficient;
//! - a link is its target URL; a link to the page's own origin is compared by path, query and
//!   fragment, so that a replica on another host still has the original's internal links.

use std::collections::{BTreeSet, HashMap};
use std::io::Cursor;

/// How much a colour channel may differ (of 255) before two pixels count as different.
pub const PIXEL_TOLERANCE: u8 = 24;

/// An image decoded to 8-bit RGBA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 4` bytes, row by row.
    pub pixels: Vec<u8>,
}

impl Rgba {
    /// Decodes a PNG image (any colour type and depth) to 8-bit RGBA.
    pub fn decode_png(png: &[u8]) -> Result<Rgba, String> {
        let mut decoder = png::Decoder::new(Cursor::new(png));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder
            .read_info()
            .map_err(|e| format!("not a PNG image: {e}"))?;
        let size = reader
            .output_buffer_size()
            .ok_or("the PNG image is too large")?;
        let mut buffer = vec![0; size];
        let info = reader
            .next_frame(&mut buffer)
            .map_err(|e| format!("cannot decode the PNG image: {e}"))?;
        let (width, height) = (info.width, info.height);
        let count = width as usize * height as usize;
        let mut pixels = Vec::with_capacity(count * 4);
        for row in buffer.chunks(info.line_size).take(height as usize) {
            let row = &row[..(width as usize * info.color_type.samples()).min(row.len())];
            match info.color_type {
                png::ColorType::Rgba => pixels.extend_from_slice(row),
                png::ColorType::Rgb => {
                    for p in row.chunks_exact(3) {
                        pixels.extend_from_slice(&[p[0], p[1], p[2], 255]);
                    }
                }
                png::ColorType::GrayscaleAlpha => {
                    for p in row.chunks_exact(2) {
                        pixels.extend_from_slice(&[p[0], p[0], p[0], p[1]]);
                    }
                }
                png::ColorType::Grayscale => {
                    for &g in row {
                        pixels.extend_from_slice(&[g, g, g, 255]);
                    }
                }
                png::ColorType::Indexed => {
                    return Err("the PNG image kept its palette".to_owned());
                }
            }
        }
        if pixels.len() != count * 4 {
            return Err("the PNG image is shorter than its header says".to_owned());
        }
        Ok(Rgba {
            width,
            height,
            pixels,
        })
    }

    /// Encodes the image as PNG.
    pub fn encode_png(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width, self.height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(&self.pixels)
            .map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
        Ok(out)
    }

    fn pixel(&self, x: u32, y: u32) -> Option<[u8; 4]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let at = (y as usize * self.width as usize + x as usize) * 4;
        let p = &self.pixels[at..at + 4];
        Some([p[0], p[1], p[2], p[3]])
    }
}

/// The pixel comparison of two screenshots.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelDiff {
    /// The percentage of pixels that differ (0–100), over the larger width and height.
    pub percent: f64,
    /// The diff image: the original faded to grey, differing pixels in red.
    pub image: Rgba,
}

/// Compares two images pixel by pixel (see the module's rules).
pub fn pixel_diff(original: &Rgba, replica: &Rgba) -> PixelDiff {
    let width = original.width.max(replica.width);
    let height = original.height.max(replica.height);
    let mut pixels = Vec::with_capacity(width as usize * height as usize * 4);
    let mut differing: u64 = 0;
    for y in 0..height {
        for x in 0..width {
            let (a, b) = (original.pixel(x, y), replica.pixel(x, y));
            let same = match (a, b) {
                (Some(a), Some(b)) => (0..3).all(|i| a[i].abs_diff(b[i]) <= PIXEL_TOLERANCE),
                _ => false,
            };
            if same {
                let [r, g, bl, _] = a.unwrap_or([255; 4]);
                // Luma, faded towards white so that the red stands out.
                let luma = (u32::from(r) * 299 + u32::from(g) * 587 + u32::from(bl) * 114) / 1000;
                let faded = (255 - (255 - luma) / 4) as u8;
                pixels.extend_from_slice(&[faded, faded, faded, 255]);
            } else {
                differing += 1;
                pixels.extend_from_slice(&[255, 0, 0, 255]);
            }
        }
    }
    let total = u64::from(width) * u64::from(height);
    let percent = if total == 0 {
        0.0
    } else {
        differing as f64 * 100.0 / total as f64
    };
    PixelDiff {
        percent,
        image: Rgba {
            width,
            height,
            pixels,
        },
    }
}

/// How similar two texts are, in percent (100 when they have the same words).
pub fn text_similarity(original: &str, replica: &str) -> f64 {
    let count = |text: &str| {
        let mut words: HashMap<String, u32> = HashMap::new();
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            *words.entry(word.to_lowercase()).or_default() += 1;
        }
        words
    };
    let (a, b) = (count(original), count(replica));
    let total: u32 = a.values().sum::<u32>() + b.values().sum::<u32>();
    if total == 0 {
        return 100.0;
    }
    let common: u32 = a
        .iter()
        .map(|(word, n)| (*n).min(b.get(word).copied().unwrap_or(0)))
        .sum();
    f64::from(2 * common) * 100.0 / f64::from(total)
}

/// The links of the original (absolute URLs as the page resolved them) that the replica does
/// not have, each once, in order; links to a page's own origin are compared by path.
pub fn missing_links(
    original_page: &str,
    original_links: &[String],
    replica_page: &str,
    replica_links: &[String],
) -> Vec<String> {
    let key = |page: &str, link: &str| -> String {
        let (Ok(page), Ok(link)) = (url::Url::parse(page), url::Url::parse(link)) else {
            return link.to_owned();
        };
        if page.origin() == link.origin() {
            let mut key = link.path().to_owned();
            if let Some(q) = link.query() {
                key.push('?');
                key.push_str(q);
            }
            if let Some(f) = link.fragment() {
                key.push('#');
                key.push_str(f);
            }
            key
        } else {
            link.to_string()
        }
    };
    let present: BTreeSet<String> = replica_links.iter().map(|l| key(replica_page, l)).collect();
    let mut seen = BTreeSet::new();
    original_links
        .iter()
        .map(|l| key(original_page, l))
        .filter(|k| !present.contains(k) && seen.insert(k.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: u32, height: u32, colour: [u8; 4]) -> Rgba {
        Rgba {
            width,
            height,
            pixels: colour.repeat(width as usize * height as usize),
        }
    }

    #[test]
    fn pixels_within_the_tolerance_are_the_same_and_others_are_counted() {
        let a = image(10, 10, [200, 200, 200, 255]);
        let near = image(10, 10, [200 + PIXEL_TOLERANCE, 190, 200, 255]);
        assert_eq!(pixel_diff(&a, &near).percent, 0.0);
        let mut b = a.clone();
        for x in 0..5 {
            let at = x * 4;
            b.pixels[at..at + 4].copy_from_slice(&[0, 0, 0, 255]);
        }
        let diff = pixel_diff(&a, &b);
        assert!((diff.percent - 5.0).abs() < 1e-9, "{}", diff.percent);
        assert_eq!(diff.image.pixel(0, 0), Some([255, 0, 0, 255]));
        assert_ne!(diff.image.pixel(9, 9), Some([255, 0, 0, 255]));
    }

    #[test]
    fn a_size_difference_counts_the_pixels_outside_the_overlap() {
        let a = image(10, 10, [255; 4]);
        let b = image(10, 5, [255; 4]);
        let diff = pixel_diff(&a, &b);
        assert!((diff.percent - 50.0).abs() < 1e-9);
        assert_eq!((diff.image.width, diff.image.height), (10, 10));
    }

    #[test]
    fn png_round_trip_keeps_every_pixel() {
        let mut a = image(3, 2, [10, 20, 30, 255]);
        a.pixels[4..8].copy_from_slice(&[1, 2, 3, 4]);
        let decoded = Rgba::decode_png(&a.encode_png().unwrap()).unwrap();
        assert_eq!(decoded, a);
        assert!(Rgba::decode_png(b"not a png").is_err());
    }

    #[test]
    fn text_similarity_counts_common_words() {
        assert_eq!(text_similarity("Hello, world!", "hello world"), 100.0);
        assert_eq!(text_similarity("", ""), 100.0);
        assert_eq!(text_similarity("a b", "c d"), 0.0);
        // One word of four changed on each side: 2 × 3 / 8.
        let s = text_similarity("Welcome to our shop", "Welcome to their shop");
        assert!((s - 75.0).abs() < 1e-9, "{s}");
    }

    #[test]
    fn links_of_the_own_origin_compare_by_path() {
        let original = [
            "http://a:1/about",
            "http://a:1/contact#x",
            "https://example.org/",
        ]
        .map(str::to_owned);
        let replica = ["http://b:2/about", "https://example.org/"].map(str::to_owned);
        assert_eq!(
            missing_links("http://a:1/", &original, "http://b:2/", &replica),
            vec!["/contact#x".to_owned()]
        );
        assert!(missing_links("http://a:1/", &original, "http://a:1/", &original).is_empty());
    }
}
