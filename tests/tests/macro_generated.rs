//! Several hundred `conv!` invocations, written by `tests/build.rs` with a fixed
//! seed, each checked against the reference executor (within DESIGN.md's bound) on
//! every instruction-set variant this CPU runs, after checking that the macro built
//! the same spec as the API.

use convc::accuracy::check_against_reference;
use convc::{
    Border, ConvSpec, Convolution, DType, Element, Image, Mode, Op, Plan, Strategy, conv,
    parse::parse_kernel,
};

/// A `w` x `h` image of values in [-10, 10) from SplitMix64.
fn image<T: Element>(seed: u64, w: usize, h: usize) -> Image<T> {
    let mut s = seed;
    Image::from_fn(w, h, |_, _| {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        T::from_f64(((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64 * 20.0 - 10.0)
    })
    .unwrap()
}

/// Not generic over the convolution type, so that its body is compiled once per
/// element type rather than once per invocation (build time).
fn check<T: Element>(
    c: &dyn Convolution<Elem = T>,
    want: &ConvSpec,
    w: usize,
    h: usize,
    seed: u64,
) {
    assert_eq!(c.spec(), want, "conv! built another spec than the API");
    let src = image::<T>(seed, w, h);
    let out = want.output_shape(src.shape()).unwrap();
    assert_eq!(c.output_shape(src.shape()).unwrap(), out);
    let detected = c.apply_new(&src.view()).unwrap();
    for isa in c.isas() {
        let mut dst = Image::<T>::zeros(out.width, out.height).unwrap();
        c.apply_with_isa(isa, &src.view(), &mut dst.view_mut())
            .unwrap();
        if let Err(m) = check_against_reference(want, &src.view(), &dst.view()).unwrap() {
            panic!(
                "the {isa} variant disagrees with the reference on a {w}x{h} image: {m}\n{}",
                Plan::new(want).unwrap()
            );
        }
        if isa == c.isa() {
            assert_eq!(dst, detected, "apply() runs the detected variant");
        }
    }
}

include!(concat!(env!("OUT_DIR"), "/macro_generated.rs"));
