use super::*;
use crate::accuracy::check_against_reference;
use crate::{Border, ConvSpec, Image, Kernel, Mode, Op, Strategy, named};

/// A small deterministic generator (SplitMix64) so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

/// Valid, Same, Full or explicit pads below `max_pad`.
fn random_mode(rng: &mut Rng, max_pad: usize) -> Mode {
    match rng.below(4) {
        0 => Mode::Valid,
        1 => Mode::Same,
        2 => Mode::Full,
        _ => Mode::Explicit {
            top: rng.below(max_pad),
            bottom: rng.below(max_pad),
            left: rng.below(max_pad),
            right: rng.below(max_pad),
        },
    }
}

fn image<T: Element>(rng: &mut Rng, w: usize, h: usize) -> Image<T> {
    Image::from_fn(w, h, |_, _| T::from_f64(rng.unit() * 10.0)).unwrap()
}

fn check_all_executors<T: Element>(spec: &ConvSpec, src: &Image<T>) {
    let out = spec.output_shape(src.shape()).unwrap();
    let run = |name: &str, f: &dyn Fn(&mut Image<T>)| {
        let mut dst = Image::<T>::zeros(out.width, out.height).unwrap();
        f(&mut dst);
        let verdict = check_against_reference(spec, &src.view(), &dst.view()).unwrap();
        if let Err(m) = verdict {
            panic!(
                "{name} disagrees with the reference: {m}\nspec: {spec:?}\n{}",
                Plan::new(spec).unwrap()
            );
        }
    };
    run("naive", &|d| {
        naive(spec, &src.view(), &mut d.view_mut()).unwrap()
    });
    run("generic", &|d| {
        Generic::new(spec)
            .unwrap()
            .apply(&src.view(), &mut d.view_mut())
            .unwrap()
    });
}

#[test]
fn random_cases_agree_with_the_reference() {
    let mut rng = Rng(7);
    let borders = [
        Border::Zero,
        Border::Constant(2.5),
        Border::Replicate,
        Border::Reflect,
        Border::Mirror,
        Border::Wrap,
    ];
    for case in 0..300 {
        let (kh, kw) = (1 + rng.below(6), 1 + rng.below(6));
        let coeffs: Vec<f64> = if case % 3 == 0 {
            (0..kh * kw).map(|_| (rng.below(7) as f64) - 3.0).collect()
        } else {
            (0..kh * kw).map(|_| rng.unit()).collect()
        };
        let kernel = if case % 5 == 0 {
            let col: Vec<f64> = (0..kh).map(|_| rng.unit()).collect();
            let row: Vec<f64> = (0..kw).map(|_| rng.unit()).collect();
            Kernel::outer(&col, &row).unwrap()
        } else {
            Kernel::new(kh, kw, coeffs).unwrap()
        };
        let mode = random_mode(&mut rng, 5);
        let spec = ConvSpec::new(kernel)
            .op(if rng.below(2) == 0 {
                Op::Correlate
            } else {
                Op::Convolve
            })
            .stride_yx(1 + rng.below(3), 1 + rng.below(3))
            .dilation_yx(1 + rng.below(3), 1 + rng.below(3))
            .mode(mode)
            .border(borders[rng.below(borders.len())])
            .strategy([Strategy::Auto, Strategy::Direct, Strategy::Auto][rng.below(3)]);
        let (w, h) = (1 + rng.below(40), 1 + rng.below(30));
        if spec.output_shape(crate::Shape::new(h, w)).is_err() {
            continue;
        }
        if case % 2 == 0 {
            check_all_executors(&spec, &image::<f32>(&mut rng, w, h));
        } else {
            check_all_executors(
                &spec.clone().dtype(crate::DType::F64),
                &image::<f64>(&mut rng, w, h),
            );
        }
    }
}

#[test]
fn separable_and_direct_paths_agree_on_named_kernels() {
    let mut rng = Rng(11);
    let src = image::<f32>(&mut rng, 53, 37);
    for (name, size) in [
        ("gaussian", (5, 5)),
        ("sobel_y", (7, 7)),
        ("box", (3, 9)),
        ("binomial", (9, 1)),
    ] {
        for strategy in [Strategy::Direct, Strategy::Separable] {
            for border in [Border::Zero, Border::Mirror, Border::Wrap] {
                let spec = ConvSpec::new(named::build(name, &[], Some(size)).unwrap())
                    .strategy(strategy)
                    .border(border)
                    .stride_yx(1 + rng.below(2), 1)
                    .dilation_yx(1, 1 + rng.below(2));
                check_all_executors(&spec, &src);
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let mut rng = Rng(3);
    let src = image::<f32>(&mut rng, 301, 517);
    for name in ["gaussian", "laplacian", "sobel_x"] {
        let base = ConvSpec::new(named::build(name, &[], None).unwrap());
        let run = |threads: usize| {
            let mut dst = Image::<f32>::zeros(301, 517).unwrap();
            Generic::new(&base.clone().threads(threads))
                .unwrap()
                .apply(&src.view(), &mut dst.view_mut())
                .unwrap();
            dst
        };
        let one = run(1);
        for t in [2, 3, 7] {
            assert!(one == run(t), "{name}: {t} threads differ from 1");
        }
    }
}

#[test]
fn pitched_views_read_and_write_only_their_pixels() {
    let mut rng = Rng(5);
    let (w, h, pitch) = (13, 9, 17);
    let data: Vec<f32> = (0..h * pitch).map(|_| rng.unit() as f32).collect();
    let src = ImageView::with_pitch(&data, w, h, pitch).unwrap();
    let spec = ConvSpec::new(named::build("gaussian", &[], Some((3, 3))).unwrap());
    let mut out = vec![-7.0f32; h * pitch];
    Generic::new(&spec)
        .unwrap()
        .apply(
            &src,
            &mut ImageViewMut::with_pitch(&mut out, w, h, pitch).unwrap(),
        )
        .unwrap();
    for y in 0..h {
        assert!(
            out[y * pitch + w..(y + 1) * pitch]
                .iter()
                .all(|&v| v == -7.0)
        );
    }
    let packed = Image::from_fn(w, h, |y, x| data[y * pitch + x]).unwrap();
    let mut want = Image::<f32>::zeros(w, h).unwrap();
    Generic::new(&spec)
        .unwrap()
        .apply(&packed.view(), &mut want.view_mut())
        .unwrap();
    for y in 0..h {
        assert_eq!(
            &out[y * pitch..y * pitch + w],
            &want.data()[y * w..(y + 1) * w]
        );
    }
}

#[test]
fn wrong_shapes_and_types_are_errors() {
    let spec = ConvSpec::new(named::build("box", &[], None).unwrap());
    let src = Image::<f32>::zeros(8, 8).unwrap();
    let mut small = Image::<f32>::zeros(7, 8).unwrap();
    let g = Generic::<f32>::new(&spec).unwrap();
    assert!(matches!(
        g.apply(&src.view(), &mut small.view_mut()),
        Err(ConvError::ShapeMismatch { what: "output", .. })
    ));
    let g64 = Generic::<f64>::new(&spec).unwrap();
    let src64 = Image::<f64>::zeros(8, 8).unwrap();
    let mut dst64 = Image::<f64>::zeros(8, 8).unwrap();
    assert!(matches!(
        g64.apply(&src64.view(), &mut dst64.view_mut()),
        Err(ConvError::DTypeMismatch { .. })
    ));
    let valid = ConvSpec::new(named::build("box", &[], Some((9, 9))).unwrap()).mode(Mode::Valid);
    let mut any = Image::<f32>::zeros(1, 1).unwrap();
    assert!(matches!(
        naive(&valid, &src.view(), &mut any.view_mut()),
        Err(ConvError::KernelLargerThanInput { .. })
    ));
}

/// Dilations wider than the image: the edge buffers switch to one segment per
/// kernel column (and stay small), with the same results.
#[test]
fn dilations_wider_than_the_image_agree_with_the_reference() {
    let mut rng = Rng(13);
    for case in 0..60 {
        let (kh, kw) = (1 + rng.below(4), 2 + rng.below(4));
        let kernel = Kernel::new(kh, kw, (0..kh * kw).map(|_| rng.unit()).collect()).unwrap();
        let (w, h) = (1 + rng.below(12), 1 + rng.below(8));
        let dx = w + 1 + rng.below(3000);
        let spec = ConvSpec::new(kernel)
            .dilation_yx(1 + rng.below(3), dx)
            .stride_yx(1, 1 + rng.below(3))
            .mode([Mode::Same, Mode::Full][case % 2])
            .border(
                [
                    Border::Zero,
                    Border::Reflect,
                    Border::Wrap,
                    Border::Replicate,
                ][rng.below(4)],
            );
        check_all_executors(&spec, &image::<f32>(&mut rng, w, h));
    }
    // The largest span the spec allows, on a 3-pixel row: a few buffered
    // columns, not four million.
    let d = crate::MAX_KERNEL_EXTENT - 1;
    let kernel = Kernel::new(1, 2, vec![1.0, 1.0]).unwrap();
    let spec = ConvSpec::new(kernel)
        .dilation_yx(1, d)
        .mode(Mode::Explicit {
            top: 0,
            bottom: 0,
            left: d,
            right: 0,
        })
        .border(Border::Constant(2.0));
    let plan = Plan::new(&spec).unwrap();
    let geom = plan.geometry(crate::Shape::new(1, 3)).unwrap();
    let edges = Edge::<f32>::for_plan(&plan, &geom, None);
    let buffered: usize = edges.iter().map(Edge::len).sum();
    assert!(buffered < 100, "{buffered} buffered columns");
    check_all_executors(&spec, &image::<f32>(&mut rng, 3, 1));
}

/// `plan` run by `kernels` over `src` into a new image of shape `out`.
fn run_with<K: RowKernels<f32>>(
    plan: &Plan,
    kernels: &K,
    src: &Image<f32>,
    out: crate::Shape,
) -> Image<f32> {
    let mut dst = Image::<f32>::zeros(out.width, out.height).unwrap();
    execute(plan, kernels, &src.view(), &mut dst.view_mut()).unwrap();
    dst
}

/// Borders with a constant other than 0, for tests that go through all of them.
const BORDERS: [Border; 6] = [
    Border::Zero,
    Border::Constant(-1.5),
    Border::Replicate,
    Border::Reflect,
    Border::Mirror,
    Border::Wrap,
];

/// The generic loops, offering what a specialized backend may ask the driver
/// for: strips of `strip` output columns, edges widened to `edge_columns`
/// through `direct_edge` (counted), the horizontal pass first, and with it
/// fused sweeps (counted; by their definition: the horizontal pass of the new
/// rows, then the vertical pass).
struct Offering<T> {
    kernels: GenericKernels<T>,
    strip: Option<usize>,
    edge_columns: Option<usize>,
    edge_calls: std::sync::atomic::AtomicUsize,
    horizontal_first: bool,
    horizontal_calls: std::sync::atomic::AtomicUsize,
    fused: bool,
    fused_calls: std::sync::atomic::AtomicUsize,
}

impl<T: Element> Offering<T> {
    fn new(plan: &Plan, strip: Option<usize>, edge_columns: Option<usize>) -> Self {
        Offering {
            kernels: GenericKernels::new(plan),
            strip,
            edge_columns,
            edge_calls: Default::default(),
            horizontal_first: false,
            horizontal_calls: Default::default(),
            fused: false,
            fused_calls: Default::default(),
        }
    }

    fn horizontal_first(plan: &Plan) -> Self {
        Offering {
            horizontal_first: true,
            ..Offering::new(plan, None, None)
        }
    }
}

impl<T: Element> RowKernels<T> for Offering<T> {
    fn direct(&self, window: &[&[T]], out: &mut [&mut [T]], cols: Range<usize>) {
        self.kernels.direct(window, out, cols);
    }
    fn vertical(&self, window: &[&[T]], tmp: &mut [&mut [T]], cols: Range<usize>) {
        self.kernels.vertical(window, tmp, cols);
    }
    fn horizontal(&self, src: &[T], out: &mut [T], cols: Range<usize>) {
        self.horizontal_calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.kernels.horizontal(src, out, cols);
    }
    fn direct_edge_columns(&self) -> Option<usize> {
        self.edge_columns
    }
    fn direct_edge(&self, window: &[&[T]], out: &mut [&mut [T]], cols: Range<usize>) {
        self.edge_calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.kernels.direct(window, out, cols);
    }
    fn separable_strip(&self) -> Option<usize> {
        self.strip
    }
    fn horizontal_first(&self) -> bool {
        self.horizontal_first
    }
    fn horizontal_edge_columns(&self) -> Option<usize> {
        self.edge_columns
    }
    fn fused(
        &self,
        sources: &[&[T]],
        new: &mut [&mut [T]],
        old: &[&[T]],
        out: &mut [&mut [T]],
        cols: Range<usize>,
    ) -> bool {
        if !self.fused {
            return false;
        }
        self.fused_calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(sources.len(), new.len());
        for (src, row) in sources.iter().zip(new.iter_mut()) {
            self.kernels
                .horizontal(src, &mut row[cols.clone()], 0..cols.len());
        }
        let window: Vec<&[T]> = old
            .iter()
            .copied()
            .chain(new.iter().map(|r| &**r))
            .collect();
        self.kernels.vertical(&window, out, cols);
        true
    }
}

/// A separable plan run by its definition, horizontal pass first: every padded
/// input row through the border rule in full, the horizontal pass over it, then
/// the vertical pass over those rows, one output row at a time.
fn horizontal_first_by_definition(plan: &Plan, src: &Image<f32>, out: crate::Shape) -> Image<f32> {
    let kernels = GenericKernels::<f32>::new(plan);
    let (h, w) = (src.height(), src.width());
    let (sx, sy) = (plan.stride.x, plan.stride.y);
    let padded_width = (out.width - 1) * sx + (plan.kernel.width - 1) * plan.dilation.x + 1;
    let rows = (out.height - 1) * sy + (plan.kernel.height - 1) * plan.dilation.y + 1;
    let constant = plan.border.constant() as f32;
    let value = |r: usize, c: usize| {
        let row = plan.border.map(r as isize - plan.pads.top as isize, h);
        let col = plan.border.map(c as isize - plan.pads.left as isize, w);
        match (row, col) {
            (Source::Index(y), Source::Index(x)) => src.view().get(y, x),
            _ => constant,
        }
    };
    let filtered: Vec<Vec<f32>> = (0..rows)
        .map(|r| {
            let padded: Vec<f32> = (0..padded_width).map(|c| value(r, c)).collect();
            let mut row = vec![0.0; out.width];
            kernels.horizontal(&padded, &mut row, 0..out.width);
            row
        })
        .collect();
    let mut dst = Image::<f32>::zeros(out.width, out.height).unwrap();
    for y in 0..out.height {
        let window: Vec<&[f32]> = filtered[y * sy..].iter().map(Vec::as_slice).collect();
        let row = &mut dst.data_mut()[y * out.width..(y + 1) * out.width];
        kernels.vertical(&window, &mut [row], 0..out.width);
    }
    dst
}

#[test]
fn horizontal_first_gives_the_bits_of_its_definition() {
    // Whatever the driver takes from the image row, from an edge's scratch row
    // or from the ring, each output must come out of the same sums as when every
    // padded row is built in full.
    let mut rng = Rng(17);
    let (mut first, mut kept, mut fused_calls, mut widened) = (0, 0, 0, 0);
    for case in 0..400 {
        let (kh, kw) = (1 + rng.below(16), 2 + rng.below(15));
        let col: Vec<f64> = (0..kh).map(|_| rng.unit()).collect();
        let row: Vec<f64> = (0..kw).map(|_| rng.unit()).collect();
        let mode = random_mode(&mut rng, 9);
        // Now and then a dilation too wide for the edges' scratch rows (the
        // vertical pass then stays first).
        let dx = if case % 10 == 0 {
            300
        } else {
            1 + rng.below(3)
        };
        let spec = ConvSpec::new(Kernel::outer(&col, &row).unwrap())
            .stride_yx(1 + rng.below(3), 1 + rng.below(3))
            .dilation_yx(1 + rng.below(2), dx)
            .mode(mode)
            .border(BORDERS[case % BORDERS.len()])
            .strategy(Strategy::Separable)
            .threads(1 + rng.below(3));
        // Images narrower and wider than the kernel, several bands tall.
        let (w, h) = (1 + rng.below(70), 1 + rng.below(40));
        let Ok(out) = spec.output_shape(crate::Shape::new(h, w)) else {
            continue;
        };
        let plan = Plan::new(&spec).unwrap();
        let src = image::<f32>(&mut rng, w, h);
        let kernels = Offering::<f32>::horizontal_first(&plan);
        // Bands of a few rows each (the plan's threads), so that every band
        // starts its own ring.
        let got = run_with(&plan, &kernels, &src, out);
        let expected = if runs_horizontal_first(&plan) {
            first += 1;
            horizontal_first_by_definition(&plan, &src, out)
        } else {
            kept += 1;
            run_with(&plan, &GenericKernels::new(&plan), &src, out)
        };
        assert!(
            expected.data() == got.data(),
            "horizontal first differs from its definition\n{plan}\n{w}x{h}"
        );
        // Swept in one go where the backend offers it: the same bits.
        let fusing = Offering::<f32> {
            fused: true,
            ..Offering::horizontal_first(&plan)
        };
        let swept = run_with(&plan, &fusing, &src, out);
        assert!(
            expected.data() == swept.data(),
            "fused sweeps differ from the passes\n{plan}\n{w}x{h}"
        );
        fused_calls += fusing
            .fused_calls
            .load(std::sync::atomic::Ordering::Relaxed);
        // Edges widened towards the interior (the backend's vector code over
        // more columns than the edge has), swept or not: the same bits.
        let columns = 1 + rng.below(40);
        let widening = Offering::<f32> {
            edge_columns: Some(columns),
            fused: case % 2 == 0,
            ..Offering::horizontal_first(&plan)
        };
        let wide = run_with(&plan, &widening, &src, out);
        assert!(
            expected.data() == wide.data(),
            "edges widened to {columns} columns differ\n{plan}\n{w}x{h}"
        );
        let geom = plan.geometry(src.shape()).unwrap();
        widened += HorizontalFirst::new::<f32>(&plan, &geom, Some(columns))
            .map_or(0, |hf| hf.widened_edges());
        let calls = kernels
            .horizontal_calls
            .load(std::sync::atomic::Ordering::Relaxed);
        if runs_horizontal_first(&plan) {
            // Each padded row once per band at most (edges and interior apart).
            let rows = (out.height - 1) * plan.stride.y + plan.window_rows();
            assert!(
                calls <= 3 * rows * plan.threads.unwrap_or(1),
                "{calls} calls"
            );
        }
    }
    assert!(
        first > 180 && kept > 40 && fused_calls > 200 && widened > 100,
        "{first} horizontal first, {kept} kept, {fused_calls} fused sweeps, \
         {widened} widened edges"
    );
}

/// Horizontal pass first, with or without sweeps: records whether every ring
/// row the kernels got sat at the first output row's offset within a cache
/// line.
struct RingAlignment {
    offering: Offering<f32>,
    calls: std::sync::atomic::AtomicUsize,
    misaligned: std::sync::atomic::AtomicUsize,
}

impl RingAlignment {
    fn check(&self, ring: &[&[f32]], out: &[&mut [f32]]) {
        let line = |p: *const f32| p as usize % 64;
        let want = line(out[0].as_ptr());
        let off = ring.iter().filter(|r| line(r.as_ptr()) != want).count();
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.misaligned
            .fetch_add(off, std::sync::atomic::Ordering::Relaxed);
    }
}

impl RowKernels<f32> for RingAlignment {
    fn direct(&self, window: &[&[f32]], out: &mut [&mut [f32]], cols: Range<usize>) {
        self.offering.direct(window, out, cols);
    }
    fn vertical(&self, window: &[&[f32]], tmp: &mut [&mut [f32]], cols: Range<usize>) {
        self.check(window, tmp);
        self.offering.vertical(window, tmp, cols);
    }
    fn horizontal(&self, src: &[f32], out: &mut [f32], cols: Range<usize>) {
        self.offering.horizontal(src, out, cols);
    }
    fn horizontal_first(&self) -> bool {
        true
    }
    fn fused(
        &self,
        sources: &[&[f32]],
        new: &mut [&mut [f32]],
        old: &[&[f32]],
        out: &mut [&mut [f32]],
        cols: Range<usize>,
    ) -> bool {
        let news: Vec<&[f32]> = new.iter().map(|r| &**r).collect();
        self.check(old, out);
        self.check(&news, out);
        self.offering.fused(sources, new, old, out, cols)
    }
}

#[test]
fn ring_rows_sit_at_the_output_rows_offset_in_a_cache_line() {
    // Where the kernels' output vectors are aligned, their ring vectors are
    // then aligned too: on a Zen 4, a ring a quarter line off made conv!'s
    // gaussian 5x5 sweep 40% slower. Output rows at every offset in a line.
    let spec = ConvSpec::new(named::build("gaussian", &[], Some((5, 5))).unwrap())
        .strategy(Strategy::Separable)
        .border(Border::Zero)
        .threads(2);
    let plan = Plan::new(&spec).unwrap();
    let (w, h, pitch) = (64, 24, 64);
    let src = Image::from_fn(w, h, |y, x| (y * w + x) as f32).unwrap();
    for fused in [false, true] {
        for shift in 0..16 {
            let probe = RingAlignment {
                offering: Offering {
                    fused,
                    ..Offering::horizontal_first(&plan)
                },
                calls: Default::default(),
                misaligned: Default::default(),
            };
            let mut buf = vec![0.0f32; h * pitch + 16];
            let out = &mut buf[shift..][..h * pitch];
            let mut view = ImageViewMut::with_pitch(out, w, h, pitch).unwrap();
            execute(&plan, &probe, &src.view(), &mut view).unwrap();
            let calls = probe.calls.load(std::sync::atomic::Ordering::Relaxed);
            let off = probe.misaligned.load(std::sync::atomic::Ordering::Relaxed);
            assert!(calls > 4, "{calls} calls");
            assert_eq!(off, 0, "fused {fused}, output {shift} elements into a line");
        }
    }
}

#[test]
fn horizontal_first_only_where_it_reads_every_row_and_the_ring_fits() {
    let plan = |kh: usize, sy: usize, dy: usize| {
        let col: Vec<f64> = (1..=kh).map(|i| i as f64).collect();
        let row: Vec<f64> = (1..=15).map(|i| 1.0 / i as f64).collect();
        let spec = ConvSpec::new(Kernel::outer(&col, &row).unwrap())
            .strategy(Strategy::Separable)
            .stride_yx(sy, 1)
            .dilation_yx(dy, 1);
        Plan::new(&spec).unwrap()
    };
    assert!(runs_horizontal_first(&plan(15, 1, 1)));
    assert!(runs_horizontal_first(&plan(15, 1, 3)));
    // Rows j + 5 * m (j < 4, m < 3): rows 4 and 9 of the window unread.
    let gaps = plan(3, 1, 5);
    assert_eq!((gaps.rows_per_call, gaps.window_rows()), (4, 14));
    assert!(!runs_horizontal_first(&gaps));
    // 15 rows 5 apart, eight per call: a window of 78 rows.
    assert!(plan(15, 1, 5).window_rows() > 64);
    assert!(!runs_horizontal_first(&plan(15, 1, 5)));
    let g15 = plan(15, 1, 1);
    let fits = |h: usize, w: usize| {
        let geom = g15.geometry(crate::Shape::new(h, w)).unwrap();
        HorizontalFirst::new::<f32>(&g15, &geom, None).is_some()
    };
    assert!(fits(4096, 4096) && fits(1, 1));
    // 18 ring rows of 2^22 f32 columns: 288 MiB.
    assert!(!fits(20, 1 << 22));
}

#[test]
fn separable_strips_give_the_bits_of_whole_rows() {
    let mut rng = Rng(11);
    let mut strips_run = 0;
    for case in 0..200 {
        let (kh, kw) = (1 + rng.below(7), 2 + rng.below(7));
        let col: Vec<f64> = (0..kh).map(|_| rng.unit()).collect();
        let row: Vec<f64> = (0..kw).map(|_| rng.unit()).collect();
        let mode = [Mode::Valid, Mode::Same, Mode::Full][rng.below(3)];
        let spec = ConvSpec::new(Kernel::outer(&col, &row).unwrap())
            .stride_yx(1 + rng.below(2), 1 + rng.below(3))
            .dilation_yx(1 + rng.below(3), 1 + rng.below(4))
            .mode(mode)
            .border(BORDERS[case % BORDERS.len()])
            .strategy(Strategy::Separable);
        // Widths up to several strips, and images narrower than the padding.
        let (w, h) = (1 + rng.below(90), 1 + rng.below(12));
        let Ok(out) = spec.output_shape(crate::Shape::new(h, w)) else {
            continue;
        };
        let plan = Plan::new(&spec).unwrap();
        let src = image::<f32>(&mut rng, w, h);
        let whole = run_with(&plan, &GenericKernels::new(&plan), &src, out);
        let strip = 1 + rng.below(9);
        let striped = run_with(&plan, &Offering::new(&plan, Some(strip), None), &src, out);
        assert!(
            whole.data() == striped.data(),
            "strips of {strip} differ from whole rows\n{plan}\n{w}x{h}"
        );
        strips_run += usize::from(strip < out.width);
    }
    assert!(
        strips_run > 100,
        "only {strips_run} cases ran in several strips"
    );
}

#[test]
fn edges_through_the_backend_give_the_bits_of_the_generic_edges() {
    // The same per-pixel sums run over the widened scratch rows as over the
    // generic edge buffers: any column or border the scratch rows get wrong
    // shows as a difference.
    let mut rng = Rng(13);
    let (mut widened, mut generic) = (0, 0);
    for case in 0..300 {
        let (kh, kw) = (1 + rng.below(5), 1 + rng.below(9));
        let values: Vec<f64> = (0..kh * kw).map(|_| rng.unit()).collect();
        let mode = [Mode::Same, Mode::Full, Mode::Valid][rng.below(3)];
        // Now and then a dilation too wide for scratch rows (the generic
        // segments then stay in charge).
        let dx = if case % 10 == 0 {
            300
        } else {
            1 + rng.below(4)
        };
        let spec = ConvSpec::new(Kernel::new(kh, kw, values).unwrap())
            .stride_yx(1 + rng.below(2), 1 + rng.below(3))
            .dilation_yx(1 + rng.below(2), dx)
            .mode(mode)
            .border(BORDERS[case % BORDERS.len()])
            .strategy(Strategy::Direct);
        // Widths narrower and wider than a widened edge.
        let (w, h) = (1 + rng.below(150), 1 + rng.below(9));
        let Ok(out) = spec.output_shape(crate::Shape::new(h, w)) else {
            continue;
        };
        let plan = Plan::new(&spec).unwrap();
        let src = image::<f32>(&mut rng, w, h);
        let plain = run_with(&plan, &GenericKernels::new(&plan), &src, out);
        let columns = 1 + rng.below(40);
        let kernels = Offering::<f32>::new(&plan, None, Some(columns));
        let through = run_with(&plan, &kernels, &src, out);
        assert!(
            plain.data() == through.data(),
            "edges through the backend ({columns} columns) differ\n{plan}\n{w}x{h}"
        );
        let geom = plan.geometry(src.shape()).unwrap();
        let edges = Edge::<f32>::for_plan(&plan, &geom, Some(columns));
        let calls = kernels
            .edge_calls
            .load(std::sync::atomic::Ordering::Relaxed);
        if edges.iter().any(|e| e.widened.is_some()) {
            assert!(calls > 0, "no edge went through the backend\n{plan}");
            widened += 1;
        } else {
            assert_eq!(calls, 0);
            generic += usize::from(!edges.is_empty());
        }
    }
    assert!(
        widened > 100 && generic > 5,
        "{widened} widened, {generic} generic"
    );
}

/// The generic loops, counting the calls of each band and checking that
/// `band_done` comes after the last one.
struct Bands<T> {
    kernels: GenericKernels<T>,
    /// Calls since the last `band_done`, per thread.
    calls: std::sync::Mutex<std::collections::HashMap<std::thread::ThreadId, usize>>,
    done: std::sync::atomic::AtomicUsize,
}

impl<T: Element> Bands<T> {
    fn call(&self) {
        *self
            .calls
            .lock()
            .unwrap()
            .entry(std::thread::current().id())
            .or_default() += 1;
    }
}

impl<T: Element> RowKernels<T> for Bands<T> {
    fn direct(&self, window: &[&[T]], out: &mut [&mut [T]], cols: Range<usize>) {
        self.call();
        self.kernels.direct(window, out, cols);
    }
    fn vertical(&self, window: &[&[T]], tmp: &mut [&mut [T]], cols: Range<usize>) {
        self.call();
        self.kernels.vertical(window, tmp, cols);
    }
    fn horizontal(&self, src: &[T], out: &mut [T], cols: Range<usize>) {
        self.call();
        self.kernels.horizontal(src, out, cols);
    }
    fn band_done(&self) {
        let calls = self
            .calls
            .lock()
            .unwrap()
            .insert(std::thread::current().id(), 0);
        assert!(calls.unwrap_or(0) > 0, "a band ended before any call");
        self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn every_band_ends_with_band_done_on_its_thread() {
    let mut rng = Rng(5);
    let src = image::<f32>(&mut rng, 300, 700);
    for name in ["sobel_x", "gaussian"] {
        let spec = ConvSpec::new(crate::named::build(name, &[], Some((5, 5))).unwrap());
        let plan = Plan::new(&spec).unwrap();
        for threads in [1, 2, 3] {
            let kernels = Bands {
                kernels: GenericKernels::new(&plan),
                calls: Default::default(),
                done: Default::default(),
            };
            let mut dst = Image::<f32>::zeros(300, 700).unwrap();
            execute_with_threads(
                &plan,
                &kernels,
                &src.view(),
                &mut dst.view_mut(),
                Some(threads),
            )
            .unwrap();
            // One band per thread here (700 rows of 300 are enough for three).
            assert_eq!(
                kernels.done.into_inner(),
                threads,
                "{name}, {threads} threads"
            );
            let calls = kernels.calls.into_inner().unwrap();
            assert!(calls.values().all(|&c| c == 0), "{name}: {calls:?}");
        }
    }
}

#[test]
fn plans_with_too_many_rows_per_call_are_refused() {
    let spec = ConvSpec::new(named::build("gaussian", &[], Some((5, 5))).unwrap());
    let src = Image::<f32>::zeros(20, 20).unwrap();
    let mut dst = Image::<f32>::zeros(20, 20).unwrap();
    for rows in [0, crate::plan::MAX_ROWS_PER_CALL + 1] {
        let mut plan = Plan::new(&spec).unwrap();
        plan.rows_per_call = rows;
        let kernels = GenericKernels::new(&plan);
        let e = execute(&plan, &kernels, &src.view(), &mut dst.view_mut()).unwrap_err();
        assert!(e.to_string().contains("rows per call"), "{e}");
    }
}
