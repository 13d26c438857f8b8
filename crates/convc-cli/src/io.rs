//! Files in and out: 2D `.npy` arrays and `.png`/`.jpg` images.
//!
//! - `.npy`: 2D float32 or float64 in C order (1D too for kernel files). Integer,
//!   Fortran-order, 3D and non-finite data are errors. An output `.npy` has the
//!   input's element type.
//! - Images: grayscale, gray+alpha, RGB or RGBA, 8- or 16-bit. Each channel becomes
//!   one `f32` plane with values 0..255 (16-bit samples scaled by 255/65535), and is
//!   written back as 8-bit: rounded half away from zero, saturated to 0..255, same
//!   channel layout. JPEG cannot hold alpha, so an alpha image cannot go to `.jpg`.
//! - Crossing over: a `.npy` array written to an image is one grayscale plane
//!   (rounded and saturated the same way); a grayscale image written to `.npy` is a
//!   float32 array of its 0..255 values (unrounded). A colour image cannot go to
//!   `.npy` (one 2D array per file).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use convc::{DType, Element, Image, Kernel};
use image::{DynamicImage, ExtendedColorType, ImageFormat};
use npyz::WriterBuilder;

use crate::error::{Context, Result, bail};

/// What kind of file a path names, from its extension (case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `.npy`
    Npy,
    /// `.png`
    Png,
    /// `.jpg` / `.jpeg`
    Jpeg,
}

impl FileKind {
    /// The kind of `path`; `role` (`INPUT`, `OUTPUT`) names it in the error.
    pub fn of(path: &Path, role: &str) -> Result<FileKind> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        Ok(match ext.as_deref() {
            Some("npy") => FileKind::Npy,
            Some("png") => FileKind::Png,
            Some("jpg" | "jpeg") => FileKind::Jpeg,
            other => bail!(
                "{role} `{}`: {}; use .npy, .png, .jpg or .jpeg (the format follows the extension)",
                path.display(),
                match other {
                    Some(e) => format!("unsupported file type `.{e}`"),
                    None => "no file extension".to_string(),
                }
            ),
        })
    }

    /// True for image formats.
    pub fn is_image(self) -> bool {
        matches!(self, FileKind::Png | FileKind::Jpeg)
    }
}

/// Channel layout of an image file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One gray channel.
    Gray,
    /// Gray and alpha.
    GrayAlpha,
    /// Red, green, blue.
    Rgb,
    /// Red, green, blue, alpha.
    Rgba,
}

impl Layout {
    /// Number of channels.
    pub fn channels(self) -> usize {
        match self {
            Layout::Gray => 1,
            Layout::GrayAlpha => 2,
            Layout::Rgb => 3,
            Layout::Rgba => 4,
        }
    }

    /// The layout's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Gray => "grayscale",
            Layout::GrayAlpha => "gray+alpha",
            Layout::Rgb => "RGB",
            Layout::Rgba => "RGBA",
        }
    }

    fn has_alpha(self) -> bool {
        matches!(self, Layout::GrayAlpha | Layout::Rgba)
    }

    fn color_type(self) -> ExtendedColorType {
        match self {
            Layout::Gray => ExtendedColorType::L8,
            Layout::GrayAlpha => ExtendedColorType::La8,
            Layout::Rgb => ExtendedColorType::Rgb8,
            Layout::Rgba => ExtendedColorType::Rgba8,
        }
    }
}

/// Pixel data as planes, one per channel, in the element type they are filtered in.
#[derive(Debug, Clone)]
pub enum Planes {
    /// `f32` planes (images, float32 arrays).
    F32(Vec<Image<f32>>),
    /// `f64` planes (float64 arrays).
    F64(Vec<Image<f64>>),
}

impl Planes {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Planes::F32(_) => DType::F32,
            Planes::F64(_) => DType::F64,
        }
    }

    /// (height, width) of the planes.
    pub fn shape(&self) -> convc::Shape {
        match self {
            Planes::F32(p) => p[0].shape(),
            Planes::F64(p) => p[0].shape(),
        }
    }
}

/// What an input file held.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The data.
    pub planes: Planes,
    /// The channel layout for images; `None` for `.npy` arrays.
    pub layout: Option<Layout>,
}

impl Loaded {
    /// How the data looks, for `-v`: `512x512 RGB` or `64x80 f64 array`.
    pub fn describe(&self) -> String {
        match self.layout {
            Some(l) => format!("{} {}", self.planes.shape(), l.name()),
            None => format!("{} {} array", self.planes.shape(), self.planes.dtype()),
        }
    }
}

/// Reads an input file of kind `kind`.
pub fn read_input(path: &Path, kind: FileKind) -> Result<Loaded> {
    if kind.is_image() {
        return read_image(path);
    }
    let arr = read_npy(path, "INPUT")?;
    let what = || format!("INPUT `{}`", path.display());
    let [h, w] = match arr.shape[..] {
        [h, w] => [h, w],
        _ => bail!(
            "{}: expected a 2D array (height, width), got shape {:?}",
            what(),
            arr.shape
        ),
    };
    fn plane<T: Element>(v: Vec<T>, h: usize, w: usize, what: &str) -> Result<Image<T>> {
        if let Some(i) = v.iter().position(|x| !x.to_f64().is_finite()) {
            bail!(
                "{what}: the value at row {}, column {} is {}; inputs must be finite",
                i / w,
                i % w,
                v[i]
            );
        }
        Image::from_vec(v, w, h).context(|| what.to_string())
    }
    let planes = match arr.data {
        NpyData::F32(v) => Planes::F32(vec![plane(v, h, w, &what())?]),
        NpyData::F64(v) => Planes::F64(vec![plane(v, h, w, &what())?]),
    };
    Ok(Loaded {
        planes,
        layout: None,
    })
}

/// Checks, before any filtering, that data of this shape can be written as `kind`.
pub fn check_writable(loaded: &Loaded, path: &Path, kind: FileKind) -> Result<()> {
    let out = || format!("OUTPUT `{}`", path.display());
    match (kind, loaded.layout) {
        (FileKind::Npy, Some(l)) if l != Layout::Gray => bail!(
            "{}: a .npy output holds one 2D array but the input image is {} ({} channels); \
             write an image, or convert the input to grayscale",
            out(),
            l.name(),
            l.channels()
        ),
        (FileKind::Jpeg, Some(l)) if l.has_alpha() => bail!(
            "{}: JPEG cannot store the alpha channel of this {} input; write a .png",
            out(),
            l.name()
        ),
        _ => Ok(()),
    }
}

/// Writes filtered planes to `path`. `layout` is the input's (None for `.npy`).
pub fn write_output(
    path: &Path,
    kind: FileKind,
    planes: &Planes,
    layout: Option<Layout>,
) -> Result<()> {
    match kind {
        FileKind::Npy => match planes {
            Planes::F32(p) => write_npy(path, &p[0]),
            Planes::F64(p) => write_npy(path, &p[0]),
        },
        FileKind::Png | FileKind::Jpeg => {
            let layout = layout.unwrap_or(Layout::Gray);
            let bytes = match planes {
                Planes::F32(p) => interleave_u8(p),
                Planes::F64(p) => interleave_u8(p),
            };
            let shape = planes.shape();
            write_image(path, kind, shape.width, shape.height, layout, &bytes)
        }
    }
}

/// One sample as 8-bit: rounded half away from zero, saturated to 0..255.
pub fn to_u8(v: f64) -> u8 {
    // `as` saturates; NaN never reaches here (outputs are checked finite first).
    v.round().clamp(0.0, 255.0) as u8
}

fn interleave_u8<T: Element>(planes: &[Image<T>]) -> Vec<u8> {
    let c = planes.len();
    let n = planes[0].data().len();
    let mut out = vec![0u8; n * c];
    for (ch, p) in planes.iter().enumerate() {
        for (i, v) in p.data().iter().enumerate() {
            out[i * c + ch] = to_u8(v.to_f64());
        }
    }
    out
}

/// Writes 8-bit samples (interleaved as `layout` says) as PNG or JPEG (quality 95).
pub fn write_image(
    path: &Path,
    kind: FileKind,
    width: usize,
    height: usize,
    layout: Layout,
    bytes: &[u8],
) -> Result<()> {
    let what = || format!("writing `{}`", path.display());
    let (w, h) = match (u32::try_from(width), u32::try_from(height)) {
        (Ok(w), Ok(h)) => (w, h),
        _ => bail!(
            "{}: {height}x{width} is too large for an image file",
            what()
        ),
    };
    debug_assert_eq!(bytes.len(), width * height * layout.channels());
    match kind {
        FileKind::Png => {
            image::save_buffer_with_format(path, bytes, w, h, layout.color_type(), ImageFormat::Png)
                .context(what)
        }
        FileKind::Jpeg => {
            if layout.has_alpha() {
                bail!("{}: JPEG cannot store an alpha channel", what());
            }
            let file = File::create(path).context(what)?;
            let mut writer = BufWriter::new(file);
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut writer, 95)
                .encode(bytes, w, h, layout.color_type())
                .context(what)?;
            writer.flush().context(what)
        }
        FileKind::Npy => bail!("{}: not an image file", what()),
    }
}

fn read_image(path: &Path) -> Result<Loaded> {
    let what = || format!("INPUT `{}`", path.display());
    let img = image::ImageReader::open(path)
        .context(what)?
        .decode()
        .context(what)?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    const S16: f32 = 255.0 / 65535.0;
    let (layout, samples): (Layout, Vec<f32>) = match &img {
        DynamicImage::ImageLuma8(b) => (Layout::Gray, b.iter().map(|&v| v as f32).collect()),
        DynamicImage::ImageLumaA8(b) => (Layout::GrayAlpha, b.iter().map(|&v| v as f32).collect()),
        DynamicImage::ImageRgb8(b) => (Layout::Rgb, b.iter().map(|&v| v as f32).collect()),
        DynamicImage::ImageRgba8(b) => (Layout::Rgba, b.iter().map(|&v| v as f32).collect()),
        DynamicImage::ImageLuma16(b) => (Layout::Gray, b.iter().map(|&v| v as f32 * S16).collect()),
        DynamicImage::ImageLumaA16(b) => (
            Layout::GrayAlpha,
            b.iter().map(|&v| v as f32 * S16).collect(),
        ),
        DynamicImage::ImageRgb16(b) => (Layout::Rgb, b.iter().map(|&v| v as f32 * S16).collect()),
        DynamicImage::ImageRgba16(b) => (Layout::Rgba, b.iter().map(|&v| v as f32 * S16).collect()),
        other => bail!(
            "{}: unsupported pixel format {:?}; convc reads 8- or 16-bit gray, gray+alpha, RGB \
             and RGBA",
            what(),
            other.color()
        ),
    };
    let c = layout.channels();
    let planes = (0..c)
        .map(|ch| {
            let data: Vec<f32> = samples.iter().skip(ch).step_by(c).copied().collect();
            Image::from_vec(data, w, h).context(what)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Loaded {
        planes: Planes::F32(planes),
        layout: Some(layout),
    })
}

/// Values of a float `.npy` file.
#[derive(Debug, Clone)]
enum NpyData {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// A float `.npy` array in C order.
#[derive(Debug, Clone)]
struct NpyArray {
    shape: Vec<usize>,
    data: NpyData,
}

/// Reads a float32/float64 C-order `.npy` file of any rank; `role` (`INPUT`,
/// `--kernel-file`) names the file in errors.
fn read_npy(path: &Path, role: &str) -> Result<NpyArray> {
    let what = || format!("{role} `{}`", path.display());
    let bytes = std::fs::read(path).context(what)?;
    let npy =
        npyz::NpyFile::new(&bytes[..]).context(|| format!("{}: not a valid .npy file", what()))?;
    let float_size = match npy.dtype() {
        npyz::DType::Plain(ts) if ts.type_char() == npyz::TypeChar::Float => {
            match ts.size_field() {
                4 | 8 => ts.size_field(),
                _ => bail!(
                    "{}: element type `{ts}` is not supported; convc reads float32 and float64",
                    what()
                ),
            }
        }
        npyz::DType::Plain(ts) => bail!(
            "{}: element type `{ts}` is not supported ({}); convert it to float32 or float64 \
             (numpy: a.astype(np.float32))",
            what(),
            match ts.type_char() {
                npyz::TypeChar::Int | npyz::TypeChar::Uint => "integer data",
                npyz::TypeChar::Bool => "boolean data",
                npyz::TypeChar::Complex => "complex data",
                _ => "not a float",
            }
        ),
        other => bail!(
            "{}: element type `{}` is not supported; convc reads plain float32 and float64 arrays",
            what(),
            other.descr()
        ),
    };
    if npy.order() == npyz::Order::Fortran {
        bail!(
            "{}: the array is in Fortran order; save it in C order (numpy: np.ascontiguousarray(a))",
            what()
        );
    }
    let shape = npy
        .shape()
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<std::result::Result<Vec<usize>, _>>()
        .context(|| format!("{}: shape too large", what()))?;
    // A file shorter than its header's shape says reads as an I/O error;
    // say what is missing instead.
    let truncated = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            format!(
                "the file ends before the last of its {shape:?} float{} values (truncated?)",
                float_size * 8
            )
        } else {
            e.to_string()
        }
    };
    let data = if float_size == 4 {
        NpyData::F32(npy.into_vec::<f32>().map_err(truncated).context(what)?)
    } else {
        NpyData::F64(npy.into_vec::<f64>().map_err(truncated).context(what)?)
    };
    Ok(NpyArray { shape, data })
}

/// Reads a kernel from a 1D (one row) or 2D float32/float64 `.npy` file, named after
/// the file.
pub fn read_kernel(path: &Path) -> Result<Kernel> {
    let what = || format!("--kernel-file `{}`", path.display());
    let arr = read_npy(path, "--kernel-file")?;
    let (h, w) = match arr.shape[..] {
        [w] => (1, w),
        [h, w] => (h, w),
        _ => bail!(
            "{}: a kernel file holds a 1D or 2D array, got shape {:?}",
            what(),
            arr.shape
        ),
    };
    let coeffs: Vec<f64> = match arr.data {
        NpyData::F32(v) => v.into_iter().map(f64::from).collect(),
        NpyData::F64(v) => v,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "kernel file".into());
    Ok(Kernel::new(h, w, coeffs).context(what)?.named(name))
}

/// Element types `.npy` files can hold here.
trait NpyElement: Element + npyz::AutoSerialize {}
impl NpyElement for f32 {}
impl NpyElement for f64 {}

fn write_npy<T: NpyElement>(path: &Path, img: &Image<T>) -> Result<()> {
    let what = || format!("writing `{}`", path.display());
    let file = File::create(path).context(what)?;
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&[img.height() as u64, img.width() as u64])
        .writer(BufWriter::new(file))
        .begin_nd()
        .context(what)?;
    writer.extend(img.data().iter().copied()).context(what)?;
    writer.finish().context(what)
}

/// Writes a grayscale 8-bit PNG (the demo's images).
pub fn write_gray_png(path: &Path, width: usize, height: usize, bytes: &[u8]) -> Result<()> {
    write_image(path, FileKind::Png, width, height, Layout::Gray, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_and_saturation() {
        assert_eq!(to_u8(-3.0), 0);
        assert_eq!(to_u8(0.49), 0);
        assert_eq!(to_u8(0.5), 1);
        assert_eq!(to_u8(254.5), 255);
        assert_eq!(to_u8(1e9), 255);
        assert_eq!(to_u8(f64::NEG_INFINITY), 0);
    }

    #[test]
    fn kinds_follow_the_extension() {
        assert_eq!(
            FileKind::of(Path::new("a.NPY"), "INPUT").unwrap(),
            FileKind::Npy
        );
        assert_eq!(
            FileKind::of(Path::new("a.jpeg"), "INPUT").unwrap(),
            FileKind::Jpeg
        );
        let e = FileKind::of(Path::new("a.bmp"), "OUTPUT")
            .unwrap_err()
            .to_string();
        assert!(e.contains("OUTPUT") && e.contains(".bmp"), "{e}");
        assert!(FileKind::of(Path::new("noext"), "INPUT").is_err());
    }

    #[test]
    fn interleaving_keeps_channel_order() {
        let r = Image::from_vec(vec![1.0f32, 2.0], 2, 1).unwrap();
        let g = Image::from_vec(vec![3.0f32, 300.0], 2, 1).unwrap();
        let b = Image::from_vec(vec![-5.0f32, 6.4], 2, 1).unwrap();
        assert_eq!(interleave_u8(&[r, g, b]), vec![1, 3, 0, 2, 255, 6]);
    }
}
