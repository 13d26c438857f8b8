//! Helpers shared by the CLI tests: running the binary, .npy files, the oracle.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

use convc::accuracy::{error_bound, max_abs_input};
use convc::exec::reference_f64;
use convc::{ConvSpec, Element, Image, Shape};
use npyz::WriterBuilder;

/// Runs `convc` with `args`.
pub fn convc<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_convc"))
        .args(args)
        .output()
        .expect("the convc binary runs")
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts success, printing stderr otherwise.
pub fn assert_ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: exit {:?}\nstderr: {}",
        o.status.code(),
        stderr(o)
    );
}

/// Writes a .npy array of any shape.
pub fn write_npy<T: npyz::AutoSerialize + Copy>(path: &Path, shape: &[u64], data: &[T]) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(std::io::BufWriter::new(file))
        .begin_nd()
        .unwrap();
    w.extend(data.iter().copied()).unwrap();
    w.finish().unwrap();
}

/// Reads a .npy array: (type descriptor such as `<f4`, shape, values).
pub fn read_npy<T: npyz::Deserialize>(path: &Path) -> (String, Vec<u64>, Vec<T>) {
    let bytes = std::fs::read(path).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let descr = npy.dtype().descr().trim_matches('\'').to_string();
    let shape = npy.shape().to_vec();
    (descr, shape, npy.into_vec::<T>().unwrap())
}

/// Deterministic pseudo-random values in [lo, hi).
pub fn values(n: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

/// The reference output of `spec` on `input`, its shape, and the per-element bound.
pub fn oracle<T: Element>(spec: &ConvSpec, input: &Image<T>) -> (Shape, Vec<f64>, f64) {
    let view = input.view();
    let want = reference_f64(spec, &view).expect("the reference runs");
    let bound = error_bound(spec, max_abs_input(spec, &view));
    (spec.output_shape(input.shape()).unwrap(), want, bound)
}

/// Asserts `got` is within `bound` of `want`, element by element.
pub fn assert_close(got: &[f64], want: &[f64], bound: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= bound,
            "{what}: element {i} is {g} but the reference is {w} (bound {bound:e})"
        );
    }
}
