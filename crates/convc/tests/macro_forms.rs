//! Every form of `conv!` from the issue, checked against the reference executor
//! on every instruction-set variant this CPU runs.

use convc::accuracy::check_against_reference;
use convc::{
    Border, ConvSpec, Convolution, DType, Element, Image, ImageView, ImageViewMut, Isa, Mode, Op,
    Shape, conv, parse::parse_kernel,
};
use proptest::prelude::*;

/// SplitMix64: fixed-seed images.
fn image<T: convc::Element>(seed: u64, w: usize, h: usize) -> Image<T> {
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

/// `c` agrees with the reference for `want` (which must be `c.spec()`) on an image
/// of `w` x `h`, with every supported instruction set.
fn check<C: Convolution>(c: &C, want: &ConvSpec, w: usize, h: usize) {
    assert_eq!(c.spec(), want);
    let src = image::<C::Elem>(w as u64 * 31 + h as u64, w, h);
    let out = c.output_shape(src.shape()).unwrap();
    for isa in c.isas() {
        let mut dst = Image::<C::Elem>::zeros(out.width, out.height).unwrap();
        c.apply_with_isa(isa, &src.view(), &mut dst.view_mut())
            .unwrap();
        if let Err(m) = check_against_reference(want, &src.view(), &dst.view()).unwrap() {
            panic!("{isa}: {m}\n{want:?}");
        }
    }
}

fn named(text: &str, size: Option<(usize, usize)>) -> ConvSpec {
    ConvSpec::new(parse_kernel(text, size).unwrap())
}

#[test]
fn the_issue_syntax() {
    let sobel = conv!(sobel_x, 3x3);
    check(&sobel, &named("sobel_x", Some((3, 3))), 300, 20);
    let blur = conv!(gaussian(sigma = 1.5), 7x7, border = reflect);
    check(
        &blur,
        &named("gaussian(sigma=1.5)", Some((7, 7))).border(Border::Reflect),
        301,
        17,
    );
    let k = conv!([[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16);
    check(
        &k,
        &named("[[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16", None),
        140,
        9,
    );
    let s2 = conv!(
        sobel_x,
        3x3,
        stride = 2,
        dilation = 2,
        mode = valid,
        op = convolve
    );
    check(
        &s2,
        &named("sobel_x", None)
            .stride(2)
            .dilation(2)
            .mode(Mode::Valid)
            .op(Op::Convolve),
        290,
        21,
    );
    let fixed = conv!(box, 5x5, input = 48x300);
    check(
        &fixed,
        &named("box", Some((5, 5))).input_shape(48, 300),
        300,
        48,
    );
    assert!(fixed.output_shape(Shape::new(48, 301)).is_err());
}

conv!(
    /// Sobel x, as a function.
    pub fn sobel3 = sobel_x, 3x3
);

conv!(fn blur64 = binomial, 5x5, border = replicate, dtype = f64);

#[test]
fn the_item_form_defines_functions() {
    let src = image::<f32>(5, 200, 10);
    let mut got = Image::<f32>::zeros(200, 10).unwrap();
    sobel3(&src.view(), &mut got.view_mut()).unwrap();
    let mut want = Image::<f32>::zeros(200, 10).unwrap();
    conv!(sobel_x, 3x3)
        .apply(&src.view(), &mut want.view_mut())
        .unwrap();
    assert_eq!(got, want);

    let src = image::<f64>(6, 150, 12);
    let mut out = Image::<f64>::zeros(150, 12).unwrap();
    blur64(&src.view(), &mut out.view_mut()).unwrap();
    let spec = named("binomial", Some((5, 5)))
        .border(Border::Replicate)
        .dtype(DType::F64);
    assert!(
        check_against_reference(&spec, &src.view(), &out.view())
            .unwrap()
            .is_ok()
    );
    // A wrong output shape is an error, not a panic.
    let mut small = Image::<f64>::zeros(149, 12).unwrap();
    assert!(blur64(&src.view(), &mut small.view_mut()).is_err());
}

#[test]
fn apply_new_and_pitched_views() {
    let c = conv!([[1, -2, 1]], border = wrap, mode = full);
    let src = image::<f32>(9, 40, 3);
    let out = c.apply_new(&src.view()).unwrap();
    assert_eq!(out.shape(), Shape::new(3, 42));
    // Views with a row pitch: same pixels, same result.
    let pitch = 45;
    let mut padded = vec![0f32; 3 * pitch];
    for y in 0..3 {
        padded[y * pitch..y * pitch + 40].copy_from_slice(&src.data()[y * 40..(y + 1) * 40]);
    }
    let view = ImageView::with_pitch(&padded, 40, 3, pitch).unwrap();
    let mut buf = vec![0f32; 3 * 50];
    let mut dst = ImageViewMut::with_pitch(&mut buf, 42, 3, 50).unwrap();
    c.apply(&view, &mut dst).unwrap();
    for y in 0..3 {
        assert_eq!(&buf[y * 50..y * 50 + 42], &out.data()[y * 42..(y + 1) * 42]);
    }
}

#[test]
fn wrong_element_type_and_shapes_are_errors() {
    let c = conv!(box, 3x3, input = 10x10);
    let src = image::<f32>(1, 11, 10);
    let mut dst = Image::<f32>::zeros(11, 10).unwrap();
    assert!(c.apply(&src.view(), &mut dst.view_mut()).is_err());
    let src = image::<f32>(1, 10, 10);
    let mut dst = Image::<f32>::zeros(9, 10).unwrap();
    assert!(c.apply(&src.view(), &mut dst.view_mut()).is_err());
}

#[test]
fn thread_counts_give_identical_bits() {
    let one = conv!(
        [[1.5, -0.25, 2], [0.5, 3, -1], [0.125, 1, 0.75]],
        threads = 1
    );
    let four = conv!(
        [[1.5, -0.25, 2], [0.5, 3, -1], [0.125, 1, 0.75]],
        threads = 4
    );
    let src = image::<f32>(3, 333, 700);
    let a = one.apply_new(&src.view()).unwrap();
    let b = four.apply_new(&src.view()).unwrap();
    assert_eq!(a, b);
}

/// `c` over `src` on the code for `isa` (the spec's thread count) or, without
/// one, on `threads`.
fn filtered<C: Convolution<Elem = f32>>(
    c: &C,
    isa: Option<Isa>,
    threads: Option<usize>,
    src: &Image<f32>,
) -> Image<f32> {
    let mut dst = Image::<f32>::zeros(src.width(), src.height()).unwrap();
    match isa {
        Some(isa) => c.apply_with_isa(isa, &src.view(), &mut dst.view_mut()),
        None => c.apply_with_threads(&src.view(), &mut dst.view_mut(), threads),
    }
    .unwrap();
    dst
}

/// The first pixel (row, column) whose bits differ.
fn first_difference(a: &Image<f32>, b: &Image<f32>) -> Option<(usize, usize)> {
    let w = a.width();
    a.data()
        .iter()
        .zip(b.data())
        .position(|(x, y)| x.to_bits() != y.to_bits())
        .map(|i| (i / w, i % w))
}

/// Separable plans: a band's first call runs the passes apart over whole
/// rows, later calls of light plans sweep both passes over the interior and
/// run the vertical pass over each edge's few columns on its own. Both ways
/// must give the same bits, or a row's edge columns depend on where a band
/// starts, that is on the thread count.
#[test]
fn separable_thread_counts_give_identical_bits() {
    /// `one` and `three`: the same plan on one and on three threads.
    fn check<A, B>(one: &A, three: &B)
    where
        A: Convolution<Elem = f32>,
        B: Convolution<Elem = f32>,
    {
        for (w, h) in [(1000, 333), (4099, 130), (300, 200), (77, 500)] {
            let src = image::<f32>(7, w, h);
            let mut pairs: Vec<(String, Image<f32>, Image<f32>)> = one
                .isas()
                .into_iter()
                .map(|isa| {
                    let a = filtered(one, Some(isa), None, &src);
                    let b = filtered(three, Some(isa), None, &src);
                    (format!("{isa}, 3 threads"), a, b)
                })
                .collect();
            let a = filtered(one, None, Some(1), &src);
            pairs.push(("2 threads".into(), a, filtered(one, None, Some(2), &src)));
            for (what, a, b) in pairs {
                if let Some(p) = first_difference(&a, &b) {
                    panic!("{w}x{h}, {what}: pixel {p:?} differs from one thread's");
                }
            }
        }
    }
    check(
        &conv!(gaussian(sigma = 1), 5x5, border = zero, threads = 1),
        &conv!(gaussian(sigma = 1), 5x5, border = zero, threads = 3),
    );
    check(
        &conv!(binomial, 5x5, border = reflect, threads = 1),
        &conv!(binomial, 5x5, border = reflect, threads = 3),
    );
    check(
        &conv!(gaussian(sigma = 3), 15x15, border = replicate, threads = 1),
        &conv!(gaussian(sigma = 3), 15x15, border = replicate, threads = 3),
    );
}

/// `c` on one thread and on `threads`.
fn one_and_more_threads<C: Convolution<Elem = f32>>(
    c: &C,
    threads: usize,
    src: &Image<f32>,
) -> (Image<f32>, Image<f32>) {
    (
        filtered(c, None, Some(1), src),
        filtered(c, None, Some(threads), src),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// The same over random widths and thread counts, on images tall enough
    /// for at least two bands of the driver's 65536 pixels; light direct
    /// plans too.
    #[test]
    fn bits_never_depend_on_the_thread_count(
        w in 64usize..1300,
        extra in 0usize..200,
        threads in 2usize..=5,
        seed in any::<u64>(),
        which in 0usize..5,
    ) {
        let h = (2usize << 16).div_ceil(w) + extra;
        let src = image::<f32>(seed, w, h);
        let (a, b) = match which {
            0 => one_and_more_threads(&conv!(gaussian(sigma = 1), 5x5, border = zero), threads, &src),
            1 => one_and_more_threads(&conv!(binomial, 5x5, border = reflect), threads, &src),
            2 => one_and_more_threads(&conv!(gaussian(sigma = 3), 15x15, border = replicate), threads, &src),
            // Direct plans, whose calls' rows may stream together or one by one.
            3 => one_and_more_threads(&conv!(sobel_x, 3x3, border = zero), threads, &src),
            _ => one_and_more_threads(&conv!(laplacian, 3x3, dilation = 2, border = reflect), threads, &src),
        };
        let differ = first_difference(&a, &b);
        prop_assert!(
            differ.is_none(),
            "kernel {which}, {w}x{h}, {threads} threads: pixel {:?} differs",
            differ
        );
    }
}

#[test]
fn a_column_gets_the_same_bits_from_a_block_or_a_single_vector() {
    // A heavy pass runs blocks of several vectors, then single vectors: column
    // 130 falls in a block at width 200 and in the last single vector at 150.
    let dense = conv!(
        [
            [0.5, -1.25, 2, 0.75, 1, -0.5, 0.25],
            [1.5, 0.125, -2, 1, 0.5, 3, -1],
            [0.25, 1, 0.75, -1.5, 2, 0.5, 1.25],
            [-0.75, 2.5, 1, 0.5, -1, 0.25, 1],
            [1, 0.5, -0.25, 2, 1.5, -1, 0.5],
            [0.125, -1, 1.5, 0.25, 0.5, 2, -0.5],
            [2, 0.75, 0.5, -1, 0.25, 1, 1.5]
        ],
        mode = valid
    );
    same_bits_in_wide_and_narrow_images(&dense);
}

#[test]
fn heavy_separable_columns_get_the_same_bits_from_shifted_or_loaded_vectors() {
    // The horizontal pass of a heavy plan makes part of its shifted vectors in
    // registers up to the row's last two vectors, which load all of them:
    // column 130 is computed the first way at width 200, the second at 150.
    same_bits_in_wide_and_narrow_images(&conv!(gaussian(sigma = 3), 15x15, mode = valid));
    same_bits_in_wide_and_narrow_images(&conv!(
        gaussian(sigma = 2),
        13x13,
        mode = valid,
        dtype = f64
    ));
    // Taps past a vector's width, and a dilation (every offset even).
    same_bits_in_wide_and_narrow_images(&conv!(box, 5x21, mode = valid));
    same_bits_in_wide_and_narrow_images(&conv!(
        gaussian(sigma_x = 2, sigma_y = 3),
        13x15,
        mode = valid,
        dilation = 2
    ));
}

#[test]
fn heavy_separable_rows_at_every_alignment_get_the_same_bits() {
    // AVX2's horizontal pass joins the vectors that straddle cache lines from
    // the first column whose input starts a line, reached with single vectors:
    // inputs whose rows start at every element of a line, in rows long enough
    // for the joined steps (203) and barely so (40), give the bits of a packed
    // image and the reference's values; for f32 (lines of 16) and f64 (8).
    let g15 = conv!(gaussian(sigma = 3), 15x15, border = reflect);
    rows_at_every_alignment_get_the_same_bits(&g15, &[203, 40]);
    let g13 = conv!(gaussian(sigma = 2), 13x13, border = reflect, dtype = f64);
    rows_at_every_alignment_get_the_same_bits(&g13, &[203, 24]);
}

/// Runs `c` with every instruction set on images of width `widths` whose rows
/// start at every element of a cache line (a pitch that is not a whole number
/// of lines): each gives the bits of the packed image, which agree with the
/// reference.
fn rows_at_every_alignment_get_the_same_bits<C: Convolution>(c: &C, widths: &[usize]) {
    let line = 64 / std::mem::size_of::<C::Elem>();
    for &w in widths {
        let h = 20;
        let src = image::<C::Elem>(7, w, h);
        for isa in c.isas() {
            let want = {
                let mut dst = Image::<C::Elem>::zeros(w, h).unwrap();
                c.apply_with_isa(isa, &src.view(), &mut dst.view_mut())
                    .unwrap();
                if let Err(m) = check_against_reference(c.spec(), &src.view(), &dst.view()).unwrap()
                {
                    panic!("{isa}: {m}");
                }
                dst
            };
            for offset in 0..line {
                let pitch = w + 5;
                let mut buf = vec![C::Elem::from_f64(f64::NAN); offset + pitch * h];
                for y in 0..h {
                    let row = offset + y * pitch;
                    buf[row..row + w].copy_from_slice(&src.data()[y * w..(y + 1) * w]);
                }
                let view = ImageView::with_pitch(&buf[offset..], w, h, pitch).unwrap();
                let mut dst = Image::<C::Elem>::zeros(w, h).unwrap();
                c.apply_with_isa(isa, &view, &mut dst.view_mut()).unwrap();
                assert!(
                    dst.data()
                        .iter()
                        .zip(want.data())
                        .all(|(a, b)| a.to_f64().to_bits() == b.to_f64().to_bits()),
                    "{isa}, width {w}, first element at {offset}"
                );
            }
        }
    }
}

/// Runs `c` (valid mode) with every instruction set on a 200-column image and
/// on its first 150 columns: every output column of the narrow image has the
/// bits it has in the wide one, and both agree with the reference.
fn same_bits_in_wide_and_narrow_images<C: Convolution>(c: &C) {
    assert_eq!(c.spec().mode, Mode::Valid);
    let wide = image::<C::Elem>(5, 200, 40);
    let narrow = Image::from_fn(150, 40, |y, x| wide.data()[y * 200 + x]).unwrap();
    for isa in c.isas() {
        let run = |src: &Image<C::Elem>| {
            let out = c.output_shape(src.shape()).unwrap();
            let mut dst = Image::<C::Elem>::zeros(out.width, out.height).unwrap();
            c.apply_with_isa(isa, &src.view(), &mut dst.view_mut())
                .unwrap();
            if let Err(m) = check_against_reference(c.spec(), &src.view(), &dst.view()).unwrap() {
                panic!("{isa}: {m}");
            }
            dst
        };
        let (a, b) = (run(&wide), run(&narrow));
        for y in 0..b.height() {
            let (ra, rb) = (&a.data()[y * a.width()..], &b.data()[y * b.width()..]);
            for x in 0..b.width() {
                // Widening is exact, so equal bits in f64 are equal bits.
                let bits = |v: C::Elem| v.to_f64().to_bits();
                assert_eq!(bits(ra[x]), bits(rb[x]), "{isa}: row {y}, column {x}");
            }
        }
    }
}

/// Runs `c` with every instruction set on an image whose output is large enough
/// for streaming stores, into a plain image (checked against the reference) and
/// into a view with an odd row pitch, so that rows start at every alignment.
fn check_streaming<C: Convolution>(c: &C) {
    // Rows of 2051 columns: every row of a call has its own alignment.
    check_streaming_layouts(c, 2051, &[(2051 + 7, 0)]);
}

/// `c` on an input `w` wide and tall enough for streaming stores, into an
/// image of its own and into buffers with each (pitch, offset of the first
/// element): the same values everywhere, and the reference's.
fn check_streaming_layouts<C: Convolution>(c: &C, w: usize, layouts: &[(usize, usize)]) {
    // Every variant streams (and sweeps) here, AVX2's 8 lanes included, on
    // every CPU (it only changes speed for the other tests of this binary).
    convc::__private::NARROW_VECTORS_AS_WIDE.store(true, std::sync::atomic::Ordering::Relaxed);
    let h = convc::__private::STREAM_MIN_BYTES / (w * std::mem::size_of::<C::Elem>()) + 2;
    let bytes = w * h * std::mem::size_of::<C::Elem>();
    assert!(bytes >= convc::__private::STREAM_MIN_BYTES);
    let src = image::<C::Elem>(11, w, h);
    for isa in c.isas() {
        let mut plain = Image::<C::Elem>::zeros(w, h).unwrap();
        c.apply_with_isa(isa, &src.view(), &mut plain.view_mut())
            .unwrap();
        if let Err(m) = check_against_reference(c.spec(), &src.view(), &plain.view()).unwrap() {
            panic!("{isa}: {m}");
        }
        for &(pitch, offset) in layouts {
            let mut buf = vec![C::Elem::ZERO; offset + pitch * h];
            let mut dst = ImageViewMut::with_pitch(&mut buf[offset..], w, h, pitch).unwrap();
            c.apply_with_isa(isa, &src.view(), &mut dst).unwrap();
            for y in 0..h {
                let row = offset + y * pitch;
                assert!(
                    buf[row..row + w] == plain.data()[y * w..(y + 1) * w],
                    "{isa}, pitch {pitch}, offset {offset}: row {y}"
                );
            }
        }
    }
}

#[test]
fn large_outputs_of_light_direct_plans_stream_the_same_values() {
    // Rows aligned alike (2048 columns and pitches a multiple of 64 bytes) stream
    // from their first aligned vector on; rows aligned differently (2051
    // columns, odd pitches) through vectors joined across steps, each row's
    // first and last columns through scratch rows; rows of 40 columns stream
    // little or nothing, by where their first aligned column falls.
    let aligned = [(2048 + 16, 3), (2048 + 32, 0), (2048 + 5, 1)];
    let narrow = [(48, 4), (64, 0), (48, 13)];
    let sobel = conv!(sobel_x, 3x3, border = replicate);
    check_streaming(&sobel);
    check_streaming_layouts(&sobel, 2048, &aligned);
    check_streaming_layouts(&sobel, 40, &narrow);
    let laplacian = conv!(laplacian, dtype = f64, dilation = 2);
    check_streaming(&laplacian);
    check_streaming_layouts(&laplacian, 2048, &aligned);
    check_streaming_layouts(&laplacian, 40, &narrow);
    check_streaming(&conv!(box, 3x3, strategy = direct, border = wrap));
}

#[test]
fn large_outputs_of_heavy_direct_plans_stream_the_same_values() {
    // Heavy blocks stream where every row of a call is aligned alike (rows of
    // 2048 columns, pitches a multiple of 64 bytes, from any first element), and
    // where the rows are aligned differently (2051-column rows, odd pitches)
    // through vectors joined across blocks, with each row's first and last
    // columns computed into scratch rows; rows of 130 columns hold a few blocks
    // and a tail as long as it gets.
    let dense = conv!(
        [
            [0.5, -1.25, 2, 0.75, 1, -0.5, 0.25],
            [1.5, 0.125, -2, 1, 0.5, 3, -1],
            [0.25, 1, 0.75, -1.5, 2, 0.5, 1.25],
            [-0.75, 2.5, 1, 0.5, -1, 0.25, 1],
            [1, 0.5, -0.25, 2, 1.5, -1, 0.5],
            [0.125, -1, 1.5, 0.25, 0.5, 2, -0.5],
            [2, 0.75, 0.5, -1, 0.25, 1, 1.5]
        ],
        border = reflect
    );
    assert!(convc::Plan::new(dense.spec()).unwrap().is_heavy());
    check_streaming_layouts(
        &dense,
        2048,
        &[(2048 + 16, 3), (2048 + 32, 0), (2048 + 5, 1)],
    );
    check_streaming(&dense);
    check_streaming_layouts(&dense, 130, &[(133, 0), (160, 5), (131, 2)]);
    let dense64 = conv!(
        [
            [0.5, -1.25, 2, 0.75, 1, -0.5],
            [1.5, 0.125, -2, 1, 0.5, 3],
            [0.25, 1, 0.75, -1.5, 2, 0.5],
            [-0.75, 2.5, 1, 0.5, -1, 0.25],
            [1, 0.5, -0.25, 2, 1.5, -1],
            [0.125, -1, 1.5, 0.25, 0.5, 2]
        ],
        dtype = f64,
        border = wrap
    );
    assert!(convc::Plan::new(dense64.spec()).unwrap().is_heavy());
    check_streaming(&dense64);
    check_streaming_layouts(&dense64, 70, &[(73, 0), (72, 3)]);
}

#[test]
fn large_outputs_of_separable_plans_stream_the_same_values() {
    // The horizontal pass first: the vertical pass (or the light plans' fused
    // sweep) writes the output rows, streaming them like a direct pass, where a
    // call's rows are aligned alike and, through vectors joined across steps,
    // where they are not.
    let light = conv!(gaussian(sigma = 1), 5x5, border = reflect);
    let light64 = conv!(binomial, 5x5, dtype = f64, border = replicate);
    let heavy = conv!(gaussian(sigma = 3), 15x15, border = wrap);
    let heavy64 = conv!(gaussian(sigma = 2), 13x13, dtype = f64, border = replicate);
    for spec in [light.spec(), light64.spec(), heavy.spec(), heavy64.spec()] {
        let plan = convc::Plan::new(spec).unwrap();
        assert!(convc::exec::runs_horizontal_first(&plan), "{plan}");
    }
    let aligned = [(2048 + 16, 3), (2048 + 32, 0), (2048 + 5, 1)];
    for_each_streaming_layout(&light, &aligned);
    for_each_streaming_layout(&light64, &aligned);
    for_each_streaming_layout(&heavy, &aligned);
    check_streaming(&heavy64);
    check_streaming_layouts(&heavy64, 70, &[(73, 0), (72, 3)]);
}

/// [`check_streaming`], then rows of 2048 columns into `aligned` layouts and
/// rows of 130 columns (a few vectors and a tail) into odd ones.
fn for_each_streaming_layout<C: Convolution>(c: &C, aligned: &[(usize, usize)]) {
    check_streaming(c);
    check_streaming_layouts(c, 2048, aligned);
    check_streaming_layouts(c, 130, &[(133, 0), (160, 5), (131, 2)]);
}

#[test]
fn tall_separable_passes_run_blocks_too() {
    // 27 vertical taps: a heavy vertical pass, 4 rows per call, blocks of 2
    // vectors (rows of 150 columns hold nine blocks of AVX2, four of AVX-512).
    let tall = conv!(gaussian(sigma = 5), 27x27, border = reflect);
    let plan = convc::Plan::new(tall.spec()).unwrap();
    assert!(
        matches!(plan.method, convc::plan::Method::Separable { .. }) && plan.rows_per_call == 4,
        "{plan}"
    );
    check(
        &tall,
        &named("gaussian(sigma = 5)", Some((27, 27))).border(Border::Reflect),
        150,
        31,
    );
}

#[test]
fn wide_separable_plans_agree_with_the_reference_horizontal_pass_first_and_in_strips() {
    // Rows several strips wide (`SEPARABLE_STRIP` output columns each), with
    // borders whose padding copies columns from the far side or the near edge.
    const { assert!(700 > 2 * convc::__private::SEPARABLE_STRIP) };
    let runs_horizontal_first =
        |spec: &ConvSpec| convc::exec::runs_horizontal_first(&convc::Plan::new(spec).unwrap());
    // The horizontal pass first: over the image row in place and each edge.
    let wrap = named("gaussian(sigma = 1.2)", Some((5, 5))).border(Border::Wrap);
    assert!(runs_horizontal_first(&wrap));
    check(
        &conv!(gaussian(sigma = 1.2), 5x5, border = wrap),
        &wrap,
        700,
        9,
    );
    // Binomial 5x5, a column stride of 2, columns 3 apart and rows `dy` apart.
    let binomial = |dy: usize| {
        named("binomial", Some((5, 5)))
            .stride_yx(1, 2)
            .dilation_yx(dy, 3)
            .border(Border::Reflect)
    };
    let strided = binomial(1);
    assert!(runs_horizontal_first(&strided));
    check(
        &conv!(
            binomial,
            5x5,
            stride = (1, 2),
            dilation = (1, 3),
            border = reflect
        ),
        &strided,
        1100,
        7,
    );
    // Windows with rows no output of a call reads (a dilation in y past the
    // rows per call): vertical pass first, in strips.
    let gapped = binomial(5);
    let plan = convc::Plan::new(&gapped).unwrap();
    assert!(
        matches!(plan.method, convc::plan::Method::Separable { .. }) && plan.rows_per_call == 4,
        "{plan}"
    );
    assert!(!runs_horizontal_first(&gapped));
    check(
        &conv!(
            binomial,
            5x5,
            stride = (1, 2),
            dilation = (5, 3),
            border = reflect
        ),
        &gapped,
        1100,
        31,
    );
}

#[test]
fn an_unsupported_or_uncompiled_isa_is_an_error() {
    let c = conv!(box);
    let src = image::<f32>(2, 8, 8);
    let mut dst = Image::<f32>::zeros(8, 8).unwrap();
    for isa in Isa::ALL {
        let r = c.apply_with_isa(isa, &src.view(), &mut dst.view_mut());
        assert_eq!(r.is_ok(), c.isas().contains(&isa), "{isa}");
    }
}

#[test]
fn light_gathered_column_plans_stop_at_avx2_and_the_others_go_to_avx512() {
    // 9 taps and a column stride of 3: lanes gathered, AVX2 + FMA at most.
    let light = conv!(box, stride = (1, 3));
    assert!(light.isas().iter().all(|&i| i <= Isa::Avx2Fma));
    assert_eq!(light.isa(), Isa::best_up_to(Isa::Avx2Fma));
    assert_eq!(light.isas().last(), Some(&light.isa()));
    // A stride of 2 loads whole vectors and shuffles them: every variant.
    let halving = conv!(box, stride = (1, 2));
    assert_eq!(halving.isas(), Isa::supported());
    assert_eq!(halving.isa(), Isa::detected());
    // Without the stride: every variant the CPU has.
    let unstrided = conv!(box);
    assert_eq!(unstrided.isas(), Isa::supported());
    assert_eq!(unstrided.isa(), Isa::detected());
    // 49 taps: bound by multiply-adds, every variant the CPU has.
    let heavy = conv!(
        [
            [1, 2, 3, 4, 5, 6, 7],
            [8, 9, 10, 11, 12, 13, 14],
            [15, 16, 17, 18, 19, 20, 21],
            [22, 23, 24, 25, 26, 27, 28],
            [29, 30, 31, 32, 33, 34, 35],
            [36, 37, 38, 39, 40, 41, 42],
            [43, 44, 45, 46, 47, 48, 50]
        ] / 1000
    );
    assert_eq!(heavy.isas(), Isa::supported());
    assert_eq!(heavy.isa(), Isa::detected());
    check(
        &heavy,
        &named(
            "[[1, 2, 3, 4, 5, 6, 7], [8, 9, 10, 11, 12, 13, 14], [15, 16, 17, 18, 19, 20, 21], \
             [22, 23, 24, 25, 26, 27, 28], [29, 30, 31, 32, 33, 34, 35], \
             [36, 37, 38, 39, 40, 41, 42], [43, 44, 45, 46, 47, 48, 50]] / 1000",
            None,
        ),
        77,
        9,
    );
}
