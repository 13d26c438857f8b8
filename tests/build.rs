//! Writes two files into `$OUT_DIR`:
//!
//! - `macro_generated.rs`: several hundred `conv!` invocations drawn with a fixed
//!   seed, each next to the same spec built through the API, for
//!   `tests/macro_generated.rs` to compare with the reference executor;
//! - `macro_golden.rs`: one `conv!` per case of `fixtures/golden/manifest.json`
//!   (kernel, op, mode, border, stride, dilation, anchor, dtype), for
//!   `tests/macro_golden.rs` to compare with what numpy and scipy computed.
//!
//! Kernels: integer and float literals from 1x1 to 9x9 (some with a divisor or a
//! factor, some rank 1 so that the planner splits them), and named kernels with
//! and without parameters. Options: strides, dilations, every mode and border,
//! both ops, anchors, both element types, fixed and free input shapes, thread
//! counts, strategies. Images are sized so that every spec has an output, from a
//! single pixel to rows of 300 columns (many vectors per row, plus a remainder).

use std::fmt::Write as _;
use std::path::Path;

/// Invocations written (the test binary's build time grows with this).
const CASES: usize = 320;
const SEED: u64 = 0x00C0_FFEE_2024;

/// SplitMix64, the generator the core tests use.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One generated case: the macro's arguments and the equivalent API spec.
struct Case {
    /// `conv!( ... )` arguments.
    args: Vec<String>,
    /// The kernel expression for `parse_kernel`.
    kernel: String,
    /// Kernel size for `parse_kernel`.
    size: Option<(usize, usize)>,
    /// Builder calls after `ConvSpec::new(kernel)`.
    calls: Vec<String>,
    /// Image height and width.
    h: usize,
    w: usize,
    /// `dtype = f64`.
    f64: bool,
}

/// A float literal with up to three decimals, never written as an integer.
fn float_text(rng: &mut Rng) -> String {
    let v = rng.range(0, 4000) as f64 / 1000.0 - 2.0;
    let s = format!("{v:.3}");
    if s == "-0.000" { "0.0".into() } else { s }
}

fn matrix(rows: &[Vec<String>]) -> String {
    let rows: Vec<String> = rows.iter().map(|r| format!("[{}]", r.join(", "))).collect();
    format!("[{}]", rows.join(", "))
}

/// A kernel: its text, the `parse_kernel` size, and its height and width.
fn kernel(rng: &mut Rng) -> (String, Option<(usize, usize)>, usize, usize) {
    let (kh, kw) = (rng.range(1, 9), rng.range(1, 9));
    match rng.below(10) {
        // Integer literal, zeros and ±1 included, maybe over a divisor.
        0..=2 => {
            let rows: Vec<Vec<String>> = (0..kh)
                .map(|_| {
                    (0..kw)
                        .map(|_| (rng.range(0, 8) as i64 - 4).to_string())
                        .collect()
                })
                .collect();
            let mut text = matrix(&rows);
            if rng.chance(40) {
                write!(text, " / {}", rng.range(2, 300)).unwrap();
            }
            (text, None, kh, kw)
        }
        // Float literal, maybe times a factor.
        3..=4 => {
            let rows: Vec<Vec<String>> = (0..kh)
                .map(|_| (0..kw).map(|_| float_text(rng)).collect())
                .collect();
            let mut text = matrix(&rows);
            if rng.chance(25) {
                write!(text, " * {}", float_text(rng)).unwrap();
            }
            (text, None, kh, kw)
        }
        // Rank 1 (integer or float factors): the planner splits most of these.
        5..=6 => {
            let int = rng.chance(50);
            let col: Vec<f64> = (0..kh)
                .map(|_| {
                    if int {
                        rng.range(1, 6) as f64
                    } else {
                        rng.range(1, 999) as f64 / 256.0
                    }
                })
                .collect();
            let row: Vec<f64> = (0..kw)
                .map(|_| {
                    if int {
                        rng.range(0, 8) as f64 - 4.0
                    } else {
                        (rng.range(0, 999) as f64 - 500.0) / 128.0
                    }
                })
                .collect();
            let rows: Vec<Vec<String>> = col
                .iter()
                .map(|c| row.iter().map(|r| format!("{:?}", c * r)).collect())
                .collect();
            (matrix(&rows), None, kh, kw)
        }
        // A named kernel.
        _ => named(rng),
    }
}

fn named(rng: &mut Rng) -> (String, Option<(usize, usize)>, usize, usize) {
    let odd = |rng: &mut Rng| 2 * rng.range(0, 4) + 1;
    let sigma = |rng: &mut Rng| format!("{}", rng.range(3, 30) as f64 / 10.0);
    match rng.below(12) {
        0 | 1 => {
            let n = *rng.pick(&[3, 5, 7]);
            let name = *rng.pick(&["sobel_x", "sobel_y"]);
            (name.into(), Some((n, n)), n, n)
        }
        2 => {
            let name = *rng.pick(&["scharr_x", "scharr_y", "prewitt_x", "prewitt_y"]);
            (name.into(), Some((3, 3)), 3, 3)
        }
        3 => {
            let name = *rng.pick(&["laplacian", "laplacian8", "sharpen", "emboss"]);
            (name.into(), None, 3, 3)
        }
        4 | 5 => {
            let (h, w) = (odd(rng), odd(rng));
            let text = match rng.below(4) {
                0 => "gaussian".to_string(),
                1 => format!("gaussian(sigma = {})", sigma(rng)),
                2 => format!(
                    "gaussian(sigma_x = {}, sigma_y = {})",
                    sigma(rng),
                    sigma(rng)
                ),
                _ => format!("gaussian(sigma = {},)", sigma(rng)),
            };
            (text, Some((h, w)), h, w)
        }
        6 => {
            let (h, w) = (rng.range(1, 9), rng.range(1, 9));
            ("box".into(), Some((h, w)), h, w)
        }
        7 => {
            let (h, w) = (rng.range(1, 9), rng.range(1, 9));
            ("binomial".into(), Some((h, w)), h, w)
        }
        8 => {
            let n = odd(rng).max(3);
            let text = if rng.chance(50) {
                "log".to_string()
            } else {
                format!("log(sigma = {})", sigma(rng))
            };
            (text, Some((n, n)), n, n)
        }
        9 => {
            let (h, w) = (rng.range(1, 9), rng.range(1, 9));
            ("identity".into(), Some((h, w)), h, w)
        }
        _ => ("sobel_x".into(), None, 3, 3),
    }
}

fn case(rng: &mut Rng, index: usize) -> Case {
    let (kernel, size, kh, kw) = kernel(rng);
    let mut args = vec![kernel.clone()];
    let size_arg = size.map(|(h, w)| {
        if h == w && rng.chance(30) {
            h.to_string()
        } else {
            format!("{h}x{w}")
        }
    });
    // A named kernel's size is optional when it is the default.
    let default_size = matches!(kernel.as_str(), "sobel_x" | "laplacian" | "sharpen")
        && size.is_none_or(|s| s == (3, 3));
    if let Some(s) = &size_arg
        && !(default_size && rng.chance(50))
    {
        args.push(s.clone());
    }
    let mut calls = Vec::new();
    let mut opt = |arg: String, call: String| {
        args.push(arg);
        calls.push(call);
    };
    let (mut dy, mut dx) = (1, 1);
    if rng.chance(30) {
        let (sy, sx) = *rng.pick(&[(2, 2), (3, 3), (2, 1), (1, 3)]);
        let arg = match rng.below(3) {
            0 if sy == sx => format!("stride = {sy}"),
            1 => format!("stride = {sy}x{sx}"),
            _ => format!("stride = ({sy}, {sx})"),
        };
        opt(arg, format!(".stride_yx({sy}, {sx})"));
    }
    if rng.chance(25) {
        (dy, dx) = *rng.pick(&[(2, 2), (3, 3), (1, 2), (2, 1)]);
        let arg = if dy == dx && rng.chance(50) {
            format!("dilation = {dy}")
        } else {
            format!("dilation = ({dy}, {dx})")
        };
        opt(arg, format!(".dilation_yx({dy}, {dx})"));
    }
    let (ey, ex) = ((kh - 1) * dy + 1, (kw - 1) * dx + 1);
    let mut pads = (0, 0);
    let mut valid = false;
    match rng.below(8) {
        0 | 1 => {
            opt("mode = valid".into(), ".mode(Mode::Valid)".into());
            valid = true;
        }
        2 => {
            opt("mode = full".into(), ".mode(Mode::Full)".into());
        }
        3 => {
            let (t, b, l, r) = (
                rng.range(0, 4),
                rng.range(0, 4),
                rng.range(0, 4),
                rng.range(0, 4),
            );
            pads = (t + b, l + r);
            opt(
                format!("mode = pad({t}, {b}, {l}, {r})"),
                format!(".mode(Mode::Explicit {{ top: {t}, bottom: {b}, left: {l}, right: {r} }})"),
            );
            valid = true;
        }
        4 => {
            opt("mode = same".into(), ".mode(Mode::Same)".into());
        }
        _ => {}
    }
    match rng.below(9) {
        0 => opt("border = zero".into(), ".border(Border::Zero)".into()),
        1 => {
            let c = float_text(rng);
            opt(
                format!("border = constant({c})"),
                format!(".border(Border::Constant({c}))"),
            );
        }
        2 => opt(
            format!("border = {}", rng.pick(&["replicate", "nearest"])),
            ".border(Border::Replicate)".into(),
        ),
        3 => opt(
            format!("border = {}", rng.pick(&["reflect", "symmetric"])),
            ".border(Border::Reflect)".into(),
        ),
        4 => opt("border = mirror".into(), ".border(Border::Mirror)".into()),
        5 => opt("border = wrap".into(), ".border(Border::Wrap)".into()),
        _ => {}
    }
    if rng.chance(30) {
        opt("op = convolve".into(), ".op(Op::Convolve)".into());
    } else if rng.chance(5) {
        opt("op = correlate".into(), ".op(Op::Correlate)".into());
    }
    if rng.chance(15) {
        let (ay, ax) = (rng.below(kh), rng.below(kw));
        opt(
            format!("anchor = ({ay}, {ax})"),
            format!(".anchor({ay}, {ax})"),
        );
    }
    let f64 = rng.chance(30);
    if f64 {
        opt("dtype = f64".into(), ".dtype(DType::F64)".into());
    } else if rng.chance(5) {
        opt("dtype = f32".into(), ".dtype(DType::F32)".into());
    }
    if rng.chance(15) {
        let n = rng.range(1, 3);
        opt(format!("threads = {n}"), format!(".threads({n})"));
    }
    if rng.chance(8) {
        // `direct` always works; `separable` only where the kernel is rank 1, which
        // the planner checks (a literal that happens to be rank 1 is fine too).
        opt(
            "strategy = direct".into(),
            ".strategy(Strategy::Direct)".into(),
        );
    }
    // The image: big enough for an output in every mode, from one pixel to rows
    // of 300 columns (many vectors per row, plus a remainder).
    let need = |e: usize, p: usize| if valid { e.saturating_sub(p).max(1) } else { 1 };
    let h = need(ey, pads.0) + rng.below(if index.is_multiple_of(7) { 3 } else { 24 });
    let w = need(ex, pads.1)
        + match index % 5 {
            0 => rng.below(4),
            1 => rng.range(120, 300),
            _ => rng.below(90),
        };
    if rng.chance(20) {
        opt(
            format!("input = {h}x{w}"),
            format!(".input_shape({h}, {w})"),
        );
    }
    Case {
        args,
        kernel,
        size,
        calls,
        h,
        w,
        f64,
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let mut rng = Rng(SEED);
    let mut out = String::from(
        "// Generated by tests/build.rs: conv! invocations and the same specs built\n\
         // through the API. Do not edit.\n\n",
    );
    for i in 0..CASES {
        let c = case(&mut rng, i);
        let size = match c.size {
            Some((sh, sw)) => format!("Some(({sh}, {sw}))"),
            None => "None".into(),
        };
        let elem = if c.f64 { "f64" } else { "f32" };
        writeln!(
            out,
            "#[test]\nfn case_{i:03}() {{\n    \
             let c = conv!({args});\n    \
             let want = ConvSpec::new(parse_kernel({kernel:?}, {size}).unwrap()){calls};\n    \
             check::<{elem}>(&c, &want, {w}, {h}, {seed});\n}}\n",
            args = c.args.join(", "),
            kernel = c.kernel,
            calls = c.calls.join(""),
            w = c.w,
            h = c.h,
            seed = i as u64 * 7919 + 13,
        )
        .unwrap();
    }
    let out_dir = std::env::var("OUT_DIR").unwrap();
    std::fs::write(Path::new(&out_dir).join("macro_generated.rs"), out).unwrap();
    std::fs::write(Path::new(&out_dir).join("macro_golden.rs"), golden()).unwrap();
}

/// One `conv!` test per golden case.
fn golden() -> String {
    const MANIFEST: &str = "fixtures/golden/manifest.json";
    println!("cargo:rerun-if-changed={MANIFEST}");
    let text = std::fs::read_to_string(MANIFEST).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = String::from(
        "// Generated by tests/build.rs from fixtures/golden/manifest.json. Do not edit.\n\n",
    );
    for case in json["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let pair = |key: &str| {
            let v = case[key].as_array().unwrap();
            (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())
        };
        let rows: Vec<Vec<String>> = case["kernel"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| format!("{:?}", v.as_f64().unwrap()))
                    .collect()
            })
            .collect();
        let mut args = vec![matrix(&rows)];
        args.push(format!("op = {}", case["op"].as_str().unwrap()));
        args.push(match case["mode"].as_str().unwrap() {
            "explicit" => {
                let p: Vec<String> = case["pads"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_string())
                    .collect();
                format!("mode = pad({})", p.join(", "))
            }
            m => format!("mode = {m}"),
        });
        args.push(match case["border"].as_str().unwrap() {
            "constant" => format!(
                "border = constant({:?})",
                case["constant"].as_f64().unwrap()
            ),
            b => format!("border = {b}"),
        });
        let (sy, sx) = pair("stride");
        let (dy, dx) = pair("dilation");
        args.push(format!("stride = ({sy}, {sx})"));
        args.push(format!("dilation = ({dy}, {dx})"));
        if !case["anchor"].is_null() {
            let (ay, ax) = pair("anchor");
            args.push(format!("anchor = ({ay}, {ax})"));
        }
        let dtype = case["dtype"].as_str().unwrap();
        args.push(format!("dtype = {dtype}"));
        writeln!(
            out,
            "#[test]\nfn {name}() {{\n    golden::<{dtype}>(&conv!({}), {name:?});\n}}\n",
            args.join(", ")
        )
        .unwrap();
    }
    out
}
