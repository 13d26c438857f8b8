//! `convc apply` on PNG/JPEG images: each channel filtered as f32 with values 0..255,
//! written back rounded and saturated to 8 bits.

mod common;

use std::path::Path;

use common::*;
use convc::parse::parse_kernel;
use convc::{Border, ConvSpec, Image, Op};
use image::{ColorType, DynamicImage, ExtendedColorType};

/// Rounded half away from zero, saturated: what the CLI promises.
fn to_u8(v: f64) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// Random 8-bit samples, `channels` interleaved.
fn samples_u8(h: usize, w: usize, channels: usize, seed: u64) -> Vec<u8> {
    values(h * w * channels, seed, 0.0, 256.0)
        .iter()
        .map(|&v| v as u8)
        .collect()
}

/// Channel `ch` of interleaved samples as an f32 plane, each sample times `scale`.
fn plane<T: Copy + Into<f64>>(
    s: &[T],
    h: usize,
    w: usize,
    c: usize,
    ch: usize,
    scale: f64,
) -> Image<f32> {
    let data = s
        .iter()
        .skip(ch)
        .step_by(c)
        .map(|&v| (v.into() * scale) as f32)
        .collect();
    Image::from_vec(data, w, h).unwrap()
}

/// Checks every channel of the 8-bit image at `out` against the rounded, saturated
/// reference of `spec` on the input planes. A value within the bound of a rounding
/// tie may land on either side.
fn check_image(out: &Path, spec: &ConvSpec, planes: &[Image<f32>], color: ColorType) {
    let img = image::open(out).unwrap();
    assert_eq!(img.color(), color, "{}", out.display());
    let got = img.as_bytes();
    let c = planes.len();
    for (ch, p) in planes.iter().enumerate() {
        let (shape, want, bound) = oracle(spec, p);
        assert_eq!(
            (img.height() as usize, img.width() as usize),
            (shape.height, shape.width)
        );
        for (i, &w) in want.iter().enumerate() {
            let g = got[i * c + ch];
            let (lo, hi) = (to_u8(w - bound), to_u8(w + bound));
            assert!(
                (lo..=hi).contains(&g),
                "{}: channel {ch} pixel {i} is {g}, want {} (reference {w})",
                out.display(),
                to_u8(w)
            );
        }
    }
}

fn apply(args: &[&str], input: &Path, output: &Path) {
    let mut a: Vec<String> = vec!["apply".into()];
    a.extend(args.iter().map(|s| s.to_string()));
    a.push(input.display().to_string());
    a.push(output.display().to_string());
    let o = convc(&a);
    assert_ok(&o, &format!("{a:?}"));
}

#[test]
fn gray_png_is_rounded_and_saturated() {
    let dir = tempfile::tempdir().unwrap();
    let (h, w) = (19, 23);
    let s = samples_u8(h, w, 1, 3);
    let inp = dir.path().join("gray.png");
    image::save_buffer(&inp, &s, w as u32, h as u32, ExtendedColorType::L8).unwrap();
    // Sharpen overshoots below 0 and above 255 on noise: saturation is exercised.
    let out = dir.path().join("sharp.png");
    apply(&["--kernel", "sharpen"], &inp, &out);
    let spec = ConvSpec::new(parse_kernel("sharpen", None).unwrap());
    check_image(&out, &spec, &[plane(&s, h, w, 1, 0, 1.0)], ColorType::L8);
    // A non-integer kernel: rounding is exercised.
    let out = dir.path().join("blur.png");
    apply(
        &[
            "--kernel",
            "gaussian(sigma=1.2)",
            "--size",
            "5",
            "--border",
            "zero",
        ],
        &inp,
        &out,
    );
    let spec = ConvSpec::new(parse_kernel("gaussian(sigma=1.2)", Some((5, 5))).unwrap())
        .border(Border::Zero);
    check_image(&out, &spec, &[plane(&s, h, w, 1, 0, 1.0)], ColorType::L8);
}

#[test]
fn rgb_png_filters_each_channel() {
    let dir = tempfile::tempdir().unwrap();
    let (h, w) = (17, 21);
    let s = samples_u8(h, w, 3, 4);
    let inp = dir.path().join("rgb.png");
    image::save_buffer(&inp, &s, w as u32, h as u32, ExtendedColorType::Rgb8).unwrap();
    let out = dir.path().join("out.png");
    apply(
        &[
            "--kernel",
            "gaussian(sigma=1)",
            "--size",
            "5x3",
            "--border",
            "reflect",
            "--stride",
            "2",
        ],
        &inp,
        &out,
    );
    let spec = ConvSpec::new(parse_kernel("gaussian(sigma=1)", Some((5, 3))).unwrap())
        .border(Border::Reflect)
        .stride(2);
    let planes: Vec<_> = (0..3).map(|c| plane(&s, h, w, 3, c, 1.0)).collect();
    check_image(&out, &spec, &planes, ColorType::Rgb8);
}

#[test]
fn alpha_layouts_keep_their_channels() {
    let dir = tempfile::tempdir().unwrap();
    let (h, w) = (11, 13);
    for (color, ext, c) in [
        (ExtendedColorType::La8, ColorType::La8, 2),
        (ExtendedColorType::Rgba8, ColorType::Rgba8, 4),
    ] {
        let s = samples_u8(h, w, c, 5 + c as u64);
        let inp = dir.path().join(format!("in{c}.png"));
        image::save_buffer(&inp, &s, w as u32, h as u32, color).unwrap();
        let out = dir.path().join(format!("out{c}.png"));
        apply(&["--kernel", "emboss", "--op", "convolve"], &inp, &out);
        let spec = ConvSpec::new(parse_kernel("emboss", None).unwrap()).op(Op::Convolve);
        let planes: Vec<_> = (0..c).map(|ch| plane(&s, h, w, c, ch, 1.0)).collect();
        check_image(&out, &spec, &planes, ext);
    }
}

#[test]
fn sixteen_bit_input_is_scaled_to_0_255() {
    let dir = tempfile::tempdir().unwrap();
    let (h, w) = (9, 14);
    let s: Vec<u16> = values(h * w, 6, 0.0, 65536.0)
        .iter()
        .map(|&v| v as u16)
        .collect();
    let inp = dir.path().join("in16.png");
    let buf =
        image::ImageBuffer::<image::Luma<u16>, _>::from_raw(w as u32, h as u32, s.clone()).unwrap();
    DynamicImage::ImageLuma16(buf).save(&inp).unwrap();
    let out = dir.path().join("out.png");
    apply(&["--kernel", "box", "--border", "replicate"], &inp, &out);
    let spec = ConvSpec::new(parse_kernel("box", None).unwrap()).border(Border::Replicate);
    check_image(
        &out,
        &spec,
        &[plane(&s, h, w, 1, 0, 255.0 / 65535.0)],
        ColorType::L8,
    );
}

#[test]
fn jpeg_output_is_close_and_shaped_right() {
    let dir = tempfile::tempdir().unwrap();
    let (h, w) = (32, 40);
    // A smooth input, so the lossy JPEG stays close.
    let s: Vec<u8> = (0..h * w * 3)
        .map(|i| {
            let (p, c) = (i / 3, i % 3);
            ((p % w) * 5 + (p / w) * 2 + c * 20) as u8
        })
        .collect();
    let inp = dir.path().join("in.png");
    image::save_buffer(&inp, &s, w as u32, h as u32, ExtendedColorType::Rgb8).unwrap();
    let out = dir.path().join("out.jpg");
    apply(&["--kernel", "binomial", "--size", "5"], &inp, &out);
    let img = image::open(&out).unwrap();
    assert_eq!(img.color(), ColorType::Rgb8);
    assert_eq!((img.width(), img.height()), (w as u32, h as u32));
    let spec = ConvSpec::new(parse_kernel("binomial", Some((5, 5))).unwrap());
    let got = img.as_bytes();
    let mut total = 0.0;
    for ch in 0..3 {
        let (_, want, _) = oracle(&spec, &plane(&s, h, w, 3, ch, 1.0));
        for (i, &v) in want.iter().enumerate() {
            total += (got[i * 3 + ch] as f64 - to_u8(v) as f64).abs();
        }
    }
    let mean = total / (h * w * 3) as f64;
    assert!(
        mean < 3.0,
        "mean |error| {mean} is too large for quality 95"
    );
}

#[test]
fn npy_to_png_and_gray_png_to_npy() {
    let dir = tempfile::tempdir().unwrap();
    let (h, w) = (6, 7);
    let v = values(h * w, 8, -60.0, 320.0);
    let inp = dir.path().join("in.npy");
    write_npy(&inp, &[h as u64, w as u64], &v);
    let out = dir.path().join("out.png");
    apply(&["--kernel", "identity"], &inp, &out);
    let img = image::open(&out).unwrap();
    assert_eq!(img.color(), ColorType::L8);
    let want: Vec<u8> = v.iter().map(|&x| to_u8(x)).collect();
    assert_eq!(img.as_bytes(), &want[..]);
    assert!(
        want.contains(&0) && want.contains(&255),
        "saturation is exercised"
    );

    let s = samples_u8(h, w, 1, 9);
    let gray = dir.path().join("gray.png");
    image::save_buffer(&gray, &s, w as u32, h as u32, ExtendedColorType::L8).unwrap();
    let npy = dir.path().join("out.npy");
    apply(&["--kernel", "[1,2,1]/4"], &gray, &npy);
    let (descr, shape, got) = read_npy::<f32>(&npy);
    assert_eq!(descr, "<f4");
    assert_eq!(shape, vec![h as u64, w as u64]);
    let spec = ConvSpec::new(parse_kernel("[1,2,1]/4", None).unwrap());
    let (_, want, bound) = oracle(&spec, &plane(&s, h, w, 1, 0, 1.0));
    let got: Vec<f64> = got.iter().map(|&x| x as f64).collect();
    assert_close(&got, &want, bound, "gray png to npy");
    assert!(
        got.iter().any(|x| x.fract() != 0.0),
        "npy output is not rounded"
    );
}
