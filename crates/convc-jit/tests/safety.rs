//! Generated code never touches memory outside the images: buffers are placed
//! against inaccessible (PROT_NONE) pages, so an over-read or over-write faults
//! the test instead of passing silently. Bad input is a `ConvError`.

mod common;

use common::{Case, check_case, pixels};
use convc_core::{
    Border, ConvError, ConvSpec, DType, Element, Image, ImageView, ImageViewMut, Kernel, Mode,
    Shape, Strategy, named,
};
use convc_jit::{CompiledConv, Jit, JitOptions};

/// `n` elements of `T` with an inaccessible page right before and right after
/// the pages that hold them; the elements touch the guard on one side.
struct Guarded<T> {
    map: *mut u8,
    map_len: usize,
    data: *mut T,
    n: usize,
}

impl<T: Element> Guarded<T> {
    /// `at_end`: the last element ends at the rear guard (else the first starts
    /// at the front guard).
    fn new(n: usize, at_end: bool) -> Guarded<T> {
        let page = 4096usize;
        let bytes = n * size_of::<T>();
        let data_pages = bytes.div_ceil(page).max(1);
        let map_len = (data_pages + 2) * page;
        // SAFETY: an anonymous private mapping; the result is checked below.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(map, libc::MAP_FAILED, "mmap failed");
        let map = map.cast::<u8>();
        // SAFETY: both ranges are whole pages inside the mapping just made.
        unsafe {
            assert_eq!(libc::mprotect(map.cast(), page, libc::PROT_NONE), 0);
            let rear = map.add(page * (data_pages + 1));
            assert_eq!(libc::mprotect(rear.cast(), page, libc::PROT_NONE), 0);
        }
        let offset = if at_end {
            page * (data_pages + 1) - bytes
        } else {
            page
        };
        // SAFETY: `offset..offset + bytes` lies in the accessible pages; T is f32
        // or f64, and the offset is a multiple of its size.
        let data = unsafe { map.add(offset) }.cast::<T>();
        let mut g = Guarded {
            map,
            map_len,
            data,
            n,
        };
        g.slice().fill(T::from_f64(f64::NAN));
        g
    }

    fn slice(&mut self) -> &mut [T] {
        // SAFETY: `data` points to `n` initialized-on-demand (zero pages, then
        // filled) elements of this mapping, borrowed mutably through `self`.
        unsafe { std::slice::from_raw_parts_mut(self.data, self.n) }
    }
}

impl<T> Drop for Guarded<T> {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` made; no slice outlives `self`.
        unsafe { libc::munmap(self.map.cast(), self.map_len) };
    }
}

/// Runs `compiled` on an input and an output that both touch a guard page, and
/// checks the result against the reference.
fn run_guarded<T: Element>(spec: &ConvSpec, compiled: &CompiledConv, shape: Shape, at_end: bool) {
    let (h, w) = (shape.height, shape.width);
    let mut input = Guarded::<T>::new(h * w, at_end);
    input
        .slice()
        .copy_from_slice(&pixels::<T>(h, w, w, (h * 131 + w) as u64));
    let out = spec.output_shape(shape).unwrap();
    let mut output = Guarded::<T>::new(out.pixels(), !at_end);
    {
        let src = ImageView::new(input.slice(), w, h).unwrap();
        let mut dst = ImageViewMut::new(output.slice(), out.width, out.height).unwrap();
        compiled.apply(&src, &mut dst).unwrap();
    }
    let got = output.slice().to_vec();
    let src = input.slice().to_vec();
    let verdict = convc_core::accuracy::check_against_reference(
        spec,
        &ImageView::new(&src, w, h).unwrap(),
        &ImageView::new(&got, out.width, out.height).unwrap(),
    )
    .unwrap();
    if let Err(m) = verdict {
        panic!("{m}\nspec {spec:?}, input {shape}");
    }
}

#[test]
fn guard_pages_around_input_and_output() {
    let jit = Jit::global();
    let dense = Kernel::new(3, 4, (0..12).map(|i| (i as f64 - 5.5) / 7.0).collect()).unwrap();
    let specs = [
        // Direct, unit and scaled terms.
        ConvSpec::new(named::build("sobel_x", &[], None).unwrap()).border(Border::Zero),
        // Separable (horizontal + vertical passes).
        ConvSpec::new(named::build("gaussian", &[], Some((5, 5))).unwrap()),
        // Strides 2 (shuffle path) and 3 (gather path), dilation, asymmetric pads.
        ConvSpec::new(dense.clone())
            .stride_yx(1, 2)
            .mode(Mode::Full),
        ConvSpec::new(dense.clone())
            .stride_yx(2, 3)
            .dilation_yx(2, 1)
            .border(Border::Wrap),
        ConvSpec::new(dense)
            .dilation(2)
            .mode(Mode::Valid)
            .strategy(Strategy::Direct),
        ConvSpec::new(named::build("box", &[], Some((1, 7))).unwrap()).border(Border::Reflect),
        // Two rows per call (30 taps), one row per call (stride past the
        // kernel), a separable window with a stride in y.
        ConvSpec::new(
            Kernel::new(
                6,
                5,
                (0..30).map(|i| ((i * 7 % 13) as f64 - 6.0) / 5.0).collect(),
            )
            .unwrap(),
        )
        .border(Border::Replicate),
        ConvSpec::new(named::build("sobel_y", &[], None).unwrap()).stride_yx(3, 1),
        ConvSpec::new(named::build("gaussian", &[], Some((5, 5))).unwrap())
            .stride_yx(2, 1)
            .border(Border::Zero),
        // Distinct coefficients 9 wide: taps one vector apart share loaded
        // vectors.
        ConvSpec::new(
            Kernel::new(
                2,
                9,
                (0..18).map(|i| ((i + 2) as f64).sqrt() - 2.5).collect(),
            )
            .unwrap(),
        )
        .border(Border::Mirror),
        // Heavy separable, horizontal pass first: image rows read in place up
        // to the guard pages, the edges through scratch rows.
        ConvSpec::new(named::build("gaussian", &[], Some((13, 15))).unwrap())
            .stride_yx(1, 2)
            .border(Border::Replicate),
    ];
    let widths = (1..=10).chain([15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129]);
    for w in widths {
        for h in [1, 2, 6] {
            let shape = Shape::new(h, w);
            for spec in &specs {
                for dtype in [DType::F32, DType::F64] {
                    for fixed in [false, true] {
                        let mut spec = spec.clone().dtype(dtype);
                        if fixed {
                            spec = spec.input_shape(h, w);
                        }
                        if spec.output_shape(shape).is_err() {
                            continue;
                        }
                        let c = jit.compile(&spec).unwrap();
                        for at_end in [true, false] {
                            match dtype {
                                DType::F32 => run_guarded::<f32>(&spec, &c, shape, at_end),
                                DType::F64 => run_guarded::<f64>(&spec, &c, shape, at_end),
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Pixels between rows (pitch > width) are NaN: reading one poisons an output,
/// and writing one is caught by `check_case`.
#[test]
fn pitch_gaps_are_neither_read_nor_written() {
    let jit = Jit::global();
    for w in [3, 4, 5, 33, 40] {
        for name in ["sobel_x", "gaussian", "laplacian"] {
            let spec =
                ConvSpec::new(named::build(name, &[], None).unwrap()).border(Border::Replicate);
            let case = Case {
                spec: spec.clone(),
                shape: Shape::new(9, w),
                pad_in: 5,
                pad_out: 3,
                seed: 1,
            };
            let c = jit.compile(&spec).unwrap();
            check_case::<f32>(&case, |i, o| c.apply(i, o)).unwrap();
        }
    }
}

#[test]
fn wrong_element_type_is_an_error() {
    let spec = ConvSpec::new(named::build("sobel_x", &[], None).unwrap());
    let c = Jit::global().compile(&spec).unwrap();
    let src = Image::<f64>::zeros(8, 8).unwrap();
    let mut dst = Image::<f64>::zeros(8, 8).unwrap();
    assert!(matches!(
        c.apply(&src.view(), &mut dst.view_mut()),
        Err(ConvError::DTypeMismatch {
            expected: DType::F32,
            got: DType::F64
        })
    ));
}

#[test]
fn wrong_shapes_are_errors() {
    let jit = Jit::global();
    let spec = ConvSpec::new(named::build("box", &[], None).unwrap());
    let c = jit.compile(&spec).unwrap();
    let src = Image::<f32>::zeros(10, 6).unwrap();
    let mut small = Image::<f32>::zeros(9, 6).unwrap();
    assert!(matches!(
        c.apply(&src.view(), &mut small.view_mut()),
        Err(ConvError::ShapeMismatch { what: "output", .. })
    ));
    // A fixed input shape accepts nothing else.
    let fixed = jit.compile(&spec.clone().input_shape(6, 10)).unwrap();
    let mut dst = Image::<f32>::zeros(10, 6).unwrap();
    assert!(fixed.apply(&src.view(), &mut dst.view_mut()).is_ok());
    let other = Image::<f32>::zeros(11, 6).unwrap();
    let mut dst11 = Image::<f32>::zeros(11, 6).unwrap();
    assert!(matches!(
        fixed.apply(&other.view(), &mut dst11.view_mut()),
        Err(ConvError::ShapeMismatch { what: "input", .. })
    ));
    // A kernel that does not fit a 'valid' input.
    let valid = jit
        .compile(&ConvSpec::new(named::build("box", &[], Some((9, 9))).unwrap()).mode(Mode::Valid))
        .unwrap();
    let mut any = Image::<f32>::zeros(1, 1).unwrap();
    assert!(matches!(
        valid.apply(&src.view(), &mut any.view_mut()),
        Err(ConvError::KernelLargerThanInput { .. })
    ));
}

#[test]
fn short_buffers_are_errors_before_any_call() {
    let data = vec![0f32; 10 * 6 - 1];
    assert!(matches!(
        ImageView::new(&data, 10, 6),
        Err(ConvError::BufferTooSmall { .. })
    ));
    let mut out = vec![0f32; 17];
    assert!(matches!(
        ImageViewMut::with_pitch(&mut out, 8, 3, 7),
        Err(ConvError::PitchTooSmall { .. })
    ));
}

#[test]
fn invalid_specs_and_options_are_errors() {
    let jit = Jit::global();
    let k = named::build("sobel_x", &[], None).unwrap();
    assert!(matches!(
        jit.compile(&ConvSpec::new(k.clone()).stride(0)),
        Err(ConvError::ZeroSize { .. })
    ));
    assert!(matches!(
        jit.compile(&ConvSpec::new(k.clone()).anchor(3, 0)),
        Err(ConvError::AnchorOutOfRange { .. })
    ));
    assert!(matches!(
        jit.compile(&ConvSpec::new(k.clone()).border(Border::Constant(f64::INFINITY))),
        Err(ConvError::NotFinite { .. })
    ));
    assert!(matches!(
        jit.compile(&ConvSpec::new(k.clone()).mode(Mode::Valid).input_shape(2, 2)),
        Err(ConvError::KernelLargerThanInput { .. })
    ));
    assert!(matches!(
        jit.emit_clif(&ConvSpec::new(k.clone()).dilation(0)),
        Err(ConvError::ZeroSize { .. })
    ));
    let laplacian = named::build("laplacian", &[], None).unwrap();
    assert!(matches!(
        jit.compile(&ConvSpec::new(laplacian).strategy(Strategy::Separable)),
        Err(ConvError::InvalidOption(_))
    ));
    for unroll in [0, 17] {
        assert!(matches!(
            Jit::with_options(JitOptions::default().unroll(unroll)),
            Err(ConvError::InvalidOption(_))
        ));
    }
}

/// Huge dilations and paddings compile (offsets are 64-bit) and give the border
/// value everywhere no tap is interior; a span past `MAX_KERNEL_EXTENT` is refused.
#[test]
fn huge_offsets_compile_and_run() {
    let k = Kernel::new(1, 2, vec![1.0, 1.0]).unwrap();
    let spec = |d: usize| {
        ConvSpec::new(k.clone())
            .dilation_yx(1, d)
            .mode(Mode::Explicit {
                top: 0,
                bottom: 0,
                left: d,
                right: 0,
            })
            .border(Border::Constant(2.0))
    };
    let jit = Jit::global();
    assert!(matches!(
        jit.compile(&spec(1 << 40)),
        Err(ConvError::Unsupported(_))
    ));
    let d = convc_core::MAX_KERNEL_EXTENT - 1;
    for fixed in [false, true] {
        let s = if fixed {
            spec(d).input_shape(2, 5)
        } else {
            spec(d)
        };
        let c = jit.compile(&s).unwrap();
        // A fixed shape has no interior here: nothing is generated.
        let text = jit.emit_clif(&s).unwrap();
        assert_eq!(text.contains("; convc direct pass"), !fixed, "{text}");
        let src = Image::<f32>::from_fn(5, 2, |_, x| x as f32).unwrap();
        let out = c.apply_new(&src.view()).unwrap();
        // x + 0 reads the padding (2.0); x + d - d reads pixel x.
        assert_eq!(
            out.data(),
            &[2.0, 3.0, 4.0, 5.0, 6.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        );
    }
}
