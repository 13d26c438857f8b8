//! `conv!` against numpy and scipy: one invocation per golden case (written by
//! `tests/build.rs` from `fixtures/golden/manifest.json`), run on the case's input
//! with every instruction-set variant this CPU has, compared with the output
//! numpy/scipy computed, within DESIGN.md's bound (exactly where DESIGN.md promises
//! exact results: integer kernel, pixels and border constant).

use std::sync::OnceLock;

use convc::accuracy::{error_bound, max_abs_input};
use convc::{Convolution, Element, Image, conv};
use convc_tests::check::compare;
use convc_tests::golden::{Manifest, load_manifest};
use convc_tests::npy;

fn manifest() -> &'static Manifest {
    static MANIFEST: OnceLock<Manifest> = OnceLock::new();
    MANIFEST.get_or_init(|| load_manifest().expect("the golden manifest loads"))
}

/// Not generic over the convolution type, so that its body is compiled once per
/// element type rather than once per invocation (build time).
fn golden<T: Element>(c: &dyn Convolution<Elem = T>, name: &str) {
    let case = manifest()
        .cases
        .iter()
        .find(|k| k.name == name)
        .expect("build.rs wrote this case from the manifest");
    let spec = case.spec().unwrap();
    assert_eq!(c.spec(), &spec, "{name}: conv! built another spec");
    let input = npy::read(&case.input).unwrap().image::<T>().unwrap();
    let want = npy::read(&case.expected).unwrap().to_f64();
    let out = c.output_shape(input.shape()).unwrap();
    assert_eq!((out.height, out.width), case.expected_shape, "{name}");
    let exact = spec.kernel.is_integral()
        && spec.border.constant().fract() == 0.0
        && input.data().iter().all(|v| v.to_f64().fract() == 0.0);
    let bound = if exact {
        0.0
    } else {
        error_bound(&spec, max_abs_input(&spec, &input.view()))
    };
    for isa in c.isas() {
        let mut dst = Image::<T>::zeros(out.width, out.height).unwrap();
        c.apply_with_isa(isa, &input.view(), &mut dst.view_mut())
            .unwrap();
        let got: Vec<f64> = dst.data().iter().map(|v| v.to_f64()).collect();
        if let Err(m) = compare(&got, &want, out, bound) {
            panic!("{name} ({}), {isa} variant: {m}", case.call);
        }
    }
}

include!(concat!(env!("OUT_DIR"), "/macro_golden.rs"));
