//! convc-jit: run-time specialization of 2D convolutions with Cranelift.
//!
//! [`Jit::compile`] lowers a spec's [`Plan`] to CLIF — every tap a splatted
//! constant, zero taps absent, ±1 taps add/sub, equal-magnitude taps summed before
//! one multiply, the common factor applied once, explicit `F32X4`/`F64X2` vectors
//! with `fma` where the host has it, the several output rows of a call and several
//! vectors per row computed together so that each input vector is loaded once for
//! all of them, stride and dilation as constants, constant loop bounds when the
//! input shape is fixed — and compiles it to machine code for this host. The generated
//! functions are the row loops of [`convc_core::exec::RowKernels`]; the core
//! driver runs everything else (checks, threads, border rows, the padded
//! temporary rows between separable passes, the edge columns of direct passes),
//! so every [`Border`](convc_core::Border),
//! mode, op, stride, dilation, anchor and element type of a
//! [`ConvSpec`] is supported.
//!
//! ```
//! use convc_core::{Border, ConvSpec, Image, named};
//! use convc_jit::Jit;
//! // Correlate with a 5x5 Gaussian, mirrored border (OpenCV's BORDER_REFLECT_101).
//! let spec = ConvSpec::new(named::build("gaussian", &[], Some((5, 5)))?).border(Border::Mirror);
//! let jit = Jit::new();
//! let blur = jit.compile(&spec)?; // milliseconds; cached by spec
//! let src = Image::<f32>::from_fn(64, 48, |y, x| ((x ^ y) & 7) as f32)?;
//! let mut dst = Image::<f32>::zeros(64, 48)?;
//! blur.apply(&src.view(), &mut dst.view_mut())?;
//! assert!(jit.compile(&spec)?.same_code(&blur)); // the cache answered
//! # Ok::<(), convc_core::ConvError>(())
//! ```
//!
//! Safety: generated code reads raw pointers, so before every call the crate
//! proves each access in bounds from the slices the driver passes (see
//! `kernels.rs`); a wrong buffer is a [`ConvError`] from the driver's checks, and an
//! impossible internal state a panic, never undefined behaviour. Dropping the last
//! handle to a compiled convolution frees its machine code ([`live_modules`]).
//!
//! Set `CONVC_DUMP=clif` to print the CLIF of every function as it is compiled,
//! `CONVC_DUMP=program` for the block schedule each one follows (`clif,program`
//! for both), `CONVC_DUMP=perf-map` to name the generated functions for `perf`
//! in `/tmp/perf-<pid>.map`.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod cache;
mod clif;
mod isa;
mod kernels;
mod lower;
mod module;
mod program;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use convc_core::exec::execute_with_threads;
use convc_core::plan::HEAVY_TAPS;
use convc_core::{
    ConvError, ConvSpec, DType, Element, Image, ImageView, ImageViewMut, Plan, Result, Shape,
};

pub use cache::CacheStats;
pub use module::live_modules;

use isa::Target;
use kernels::Kernels;
use module::Code;

/// Cranelift's optimization level for generated code.
///
/// `None` is the default: for this code (long unrolled FMA chains) `Speed`'s
/// e-graph pass re-places the arithmetic after all the loads of an iteration, so
/// every loaded vector spills to the stack; code comes out several times slower
/// and compiles slower (docs/jit.md has the measurements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum OptLevel {
    /// No mid-end optimization; the register allocator still runs and the code
    /// follows the order convc emits (the default).
    #[default]
    None,
    /// Cranelift's `speed` level.
    Speed,
    /// Cranelift's `speed_and_size` level.
    SpeedAndSize,
}

impl OptLevel {
    /// Cranelift's name of the level.
    pub fn name(self) -> &'static str {
        match self {
            OptLevel::None => "none",
            OptLevel::Speed => "speed",
            OptLevel::SpeedAndSize => "speed_and_size",
        }
    }
}

/// How a [`Jit`] generates code.
///
/// ```
/// use convc_jit::{JitOptions, OptLevel};
/// let opts = JitOptions::default().unroll(4).opt_level(OptLevel::Speed).cache_capacity(16);
/// assert_eq!(opts.unroll, 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JitOptions {
    /// Cranelift optimization level (default [`OptLevel::None`]).
    pub opt_level: OptLevel,
    /// Most vectors per output row computed in one loop iteration, each with
    /// its own accumulator (1..=16; default 8). The generator uses the largest
    /// count up to this whose accumulators, for every row of a call, fit in the
    /// vector registers (x86_64 has 16).
    pub unroll: usize,
    /// Use fused multiply-add where the host has it (default true). Without it,
    /// multiply and add are separate (and round separately).
    pub fma: bool,
    /// Compiled convolutions the cache keeps (default 256; 0 disables caching).
    pub cache_capacity: usize,
    /// Run Cranelift's IR verifier on every function (default: in debug builds).
    pub verify: bool,
}

impl Default for JitOptions {
    fn default() -> Self {
        JitOptions {
            opt_level: OptLevel::None,
            unroll: 8,
            fma: true,
            cache_capacity: 256,
            verify: cfg!(debug_assertions),
        }
    }
}

impl JitOptions {
    /// Sets [`JitOptions::opt_level`].
    #[must_use]
    pub fn opt_level(mut self, level: OptLevel) -> Self {
        self.opt_level = level;
        self
    }
    /// Sets [`JitOptions::unroll`].
    #[must_use]
    pub fn unroll(mut self, vectors: usize) -> Self {
        self.unroll = vectors;
        self
    }
    /// Sets [`JitOptions::fma`].
    #[must_use]
    pub fn fma(mut self, fma: bool) -> Self {
        self.fma = fma;
        self
    }
    /// Sets [`JitOptions::cache_capacity`].
    #[must_use]
    pub fn cache_capacity(mut self, entries: usize) -> Self {
        self.cache_capacity = entries;
        self
    }
    /// Sets [`JitOptions::verify`].
    #[must_use]
    pub fn verify(mut self, verify: bool) -> Self {
        self.verify = verify;
        self
    }

    fn validate(&self) -> Result<()> {
        if !(1..=16).contains(&self.unroll) {
            return Err(ConvError::InvalidOption(format!(
                "JIT unroll must be 1..=16 vectors, got {}",
                self.unroll
            )));
        }
        Ok(())
    }
}

/// Whether the JIT can generate code for this machine (x86_64 with SSE4.1, or
/// aarch64). Where it cannot, [`Jit::compile`] returns [`ConvError::Unsupported`].
pub fn host_supported() -> bool {
    isa::host_supported()
}

struct Shared {
    options: JitOptions,
    target: Result<Target>,
    cache: Mutex<cache::Cache>,
}

/// The JIT compiler: the host target, code-generation options and a bounded,
/// thread-safe cache of compiled convolutions keyed by spec (the thread count
/// aside). Cheap to clone; clones share the cache.
///
/// ```
/// use convc_core::{ConvSpec, Kernel};
/// use convc_jit::Jit;
/// let jit = Jit::new();
/// let spec = ConvSpec::new(Kernel::from_rows(&[[1.0, 0.0, -1.0]])?);
/// let a = jit.compile(&spec)?;
/// let b = jit.compile(&spec.clone().threads(1))?; // same code, one thread
/// assert!(a.same_code(&b));
/// assert_eq!(jit.cache_stats().entries, 1);
/// # Ok::<(), convc_core::ConvError>(())
/// ```
#[derive(Clone)]
pub struct Jit {
    shared: Arc<Shared>,
}

impl Default for Jit {
    fn default() -> Self {
        Jit::new()
    }
}

impl fmt::Debug for Jit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jit")
            .field("options", &self.shared.options)
            .field("fma", &self.fma())
            .field("cache", &self.cache_stats())
            .finish()
    }
}

impl Jit {
    /// A JIT with default options. Never fails: on a host the JIT cannot
    /// target, [`Jit::compile`] reports [`ConvError::Unsupported`].
    pub fn new() -> Jit {
        Jit::build(JitOptions::default())
    }

    /// A JIT with `options` (an out-of-range value is [`ConvError::InvalidOption`]).
    pub fn with_options(options: JitOptions) -> Result<Jit> {
        options.validate()?;
        Ok(Jit::build(options))
    }

    /// The process-wide JIT with default options (what `convc`'s `Backend::Jit` uses).
    pub fn global() -> &'static Jit {
        static GLOBAL: OnceLock<Jit> = OnceLock::new();
        GLOBAL.get_or_init(Jit::new)
    }

    fn build(options: JitOptions) -> Jit {
        let target = isa::host_target(options.opt_level, options.verify, options.fma);
        Jit {
            shared: Arc::new(Shared {
                cache: Mutex::new(cache::Cache::new(options.cache_capacity)),
                options,
                target,
            }),
        }
    }

    /// The options in effect.
    pub fn options(&self) -> &JitOptions {
        &self.shared.options
    }

    /// Whether generated code uses fused multiply-add.
    pub fn fma(&self) -> bool {
        self.shared.target.as_ref().is_ok_and(|t| t.fma)
    }

    fn target(&self) -> Result<&Target> {
        self.shared.target.as_ref().map_err(Clone::clone)
    }

    fn cache(&self) -> MutexGuard<'_, cache::Cache> {
        // The cache holds no invariant a panicking thread could break halfway.
        self.shared
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Compiles `spec` (or returns the cached code for an equal spec). The
    /// element type is `spec.dtype`; compile errors are [`ConvError::Codegen`],
    /// and a pass of more than [`MAX_UNROLLED_TAPS`] taps is
    /// [`ConvError::Unsupported`].
    pub fn compile(&self, spec: &ConvSpec) -> Result<CompiledConv> {
        spec.validate()?;
        let key = spec.code_key();
        let cached = self.cache().get(&key);
        let code = match cached {
            Some(code) => code,
            None => {
                // Compile outside the lock; a racing thread's result wins.
                let code = Arc::new(self.generate(&key)?);
                self.cache().insert(key, code)
            }
        };
        Ok(CompiledConv::new(code, spec.threads))
    }

    /// Compiles `spec` without consulting or filling the cache (what compile-time
    /// benchmarks measure).
    pub fn compile_uncached(&self, spec: &ConvSpec) -> Result<CompiledConv> {
        spec.validate()?;
        let code = Arc::new(self.generate(&spec.code_key())?);
        Ok(CompiledConv::new(code, spec.threads))
    }

    fn generate(&self, key: &ConvSpec) -> Result<Code> {
        let target = self.target()?;
        module::compile(target, self.shared.options.unroll, jit_plan(key)?)
    }

    /// The CLIF text of every function generated for `spec`, each after a
    /// `; convc <pass> pass` line.
    ///
    /// ```
    /// use convc_core::{ConvSpec, named};
    /// let spec = ConvSpec::new(named::build("sobel_x", &[], None)?);
    /// let clif = convc_jit::Jit::new().emit_clif(&spec)?;
    /// assert!(clif.contains("; convc direct pass") && clif.contains("f32x4"));
    /// # Ok::<(), convc_core::ConvError>(())
    /// ```
    pub fn emit_clif(&self, spec: &ConvSpec) -> Result<String> {
        spec.validate()?;
        module::emit(
            self.target()?,
            self.shared.options.unroll,
            &jit_plan(spec)?,
            false,
        )
    }

    /// Cranelift's disassembly of every function generated for `spec` (the
    /// machine code [`Jit::compile`] produces), each after a `; convc <pass> pass`
    /// line.
    pub fn emit_asm(&self, spec: &ConvSpec) -> Result<String> {
        spec.validate()?;
        module::emit(
            self.target()?,
            self.shared.options.unroll,
            &jit_plan(spec)?,
            true,
        )
    }

    /// Cache counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache().stats()
    }

    /// Empties the cache (compiled convolutions still held elsewhere stay valid).
    pub fn clear_cache(&self) {
        self.cache().clear();
    }
}

/// A convolution compiled to machine code for one spec; reusable on any number of
/// images (of the fixed shape, if the spec has one) from any number of threads.
///
/// Cheap to clone (two `Arc`s). The machine code is freed when the last clone and
/// the cache entry are gone.
#[derive(Clone)]
pub struct CompiledConv {
    code: Arc<Code>,
    /// Threads `apply` runs on (`None`: all cores).
    threads: Option<usize>,
}

impl fmt::Debug for CompiledConv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledConv")
            .field("dtype", &self.code.plan.dtype)
            .field("threads", &self.threads)
            .field("compile_time", &self.code.compile_time)
            .field("code_bytes", &self.code.code_bytes)
            .finish_non_exhaustive()
    }
}

impl CompiledConv {
    fn new(code: Arc<Code>, threads: Option<usize>) -> CompiledConv {
        CompiledConv { code, threads }
    }

    /// Correlates or convolves `input` into `output` as the spec says (its op,
    /// border, mode, stride, dilation, anchor), on the spec's thread count.
    ///
    /// Errors: the element type is not the spec's ([`ConvError::DTypeMismatch`]),
    /// the input differs from a fixed input shape or the output does not have the
    /// output shape ([`ConvError::ShapeMismatch`]), the kernel does not fit.
    ///
    /// ```
    /// use convc_core::{Border, ConvSpec, Image, Kernel};
    /// let spec = ConvSpec::new(Kernel::from_rows(&[[1.0, 2.0, 1.0]])?).border(Border::Zero);
    /// let k = convc_jit::Jit::new().compile(&spec)?;
    /// let src = Image::<f32>::from_fn(5, 1, |_, x| x as f32)?;
    /// let mut dst = Image::<f32>::zeros(5, 1)?;
    /// k.apply(&src.view(), &mut dst.view_mut())?;
    /// assert_eq!(dst.data(), &[1.0, 4.0, 8.0, 12.0, 11.0]);
    /// let mut wrong = Image::<f64>::zeros(5, 1)?;
    /// assert!(k.apply(&Image::<f64>::zeros(5, 1)?.view(), &mut wrong.view_mut()).is_err());
    /// # Ok::<(), convc_core::ConvError>(())
    /// ```
    pub fn apply<T: Element>(
        &self,
        input: &ImageView<'_, T>,
        output: &mut ImageViewMut<'_, T>,
    ) -> Result<()> {
        let kernels = Kernels::<T>::new(&self.code)?;
        execute_with_threads(&self.code.plan, &kernels, input, output, self.threads)
    }

    /// Filters `input` into a new image.
    pub fn apply_new<T: Element>(&self, input: &ImageView<'_, T>) -> Result<Image<T>> {
        let out = self.output_shape(input.shape())?;
        let mut img = Image::zeros(out.width, out.height)?;
        self.apply(input, &mut img.view_mut())?;
        Ok(img)
    }

    /// The output shape for an input shape.
    pub fn output_shape(&self, input: Shape) -> Result<Shape> {
        Ok(self.code.plan.geometry(input)?.output)
    }

    /// The plan the code was generated from (shared by every thread count: its
    /// `threads` is `None`; [`CompiledConv::threads`] is what `apply` uses).
    pub fn plan(&self) -> &Plan {
        &self.code.plan
    }

    /// The thread count `apply` runs on (`None`: all cores).
    pub fn threads(&self) -> Option<usize> {
        self.threads
    }

    /// The element type the code computes in.
    pub fn dtype(&self) -> DType {
        self.code.plan.dtype
    }

    /// The same code run on `threads` threads (`None`: all cores). Results are
    /// bit-identical for every count.
    #[must_use]
    pub fn with_threads(&self, threads: Option<usize>) -> CompiledConv {
        CompiledConv::new(Arc::clone(&self.code), threads)
    }

    /// How long lowering and code generation took.
    pub fn compile_time(&self) -> Duration {
        self.code.compile_time
    }

    /// Bytes of machine code generated.
    pub fn code_bytes(&self) -> usize {
        self.code.code_bytes
    }

    /// Whether both handles run the very same machine code (one cache entry).
    pub fn same_code(&self, other: &CompiledConv) -> bool {
        Arc::ptr_eq(&self.code, &other.code)
    }
}

/// Taps of a row pass above which the JIT computes one output row per call: its
/// code is then a third smaller and compiles a third faster (dense 15x15 on a
/// Xeon: 8 ms instead of 11.5, over issue 3's 10 ms), for 15-25% more run time
/// (still 2.3-2.9x the generic executor).
const ONE_ROW_TAPS: usize = 100;

/// The most output rows per call of the JIT's light row passes.
const MAX_ROWS_PER_CALL: usize = 4;

/// The most taps a pass may have for the JIT (a 128 x 128 dense kernel), which
/// unrolls every tap: code size, compile time and memory grow with them, a
/// little faster than linearly. A dense 64 x 64 kernel compiled in about 0.5 s
/// and 60 MB on a 2-core AMD EPYC, a 128 x 128 one in 3 s and 250 MB.
/// `convc::Backend::Auto` runs larger ones on the generic executor;
/// [`Jit::compile`] refuses them.
pub const MAX_UNROLLED_TAPS: usize = 1 << 14;

/// Whether the JIT compiles `plan`: every pass has at most
/// [`MAX_UNROLLED_TAPS`] taps.
///
/// ```
/// use convc_core::{ConvSpec, Kernel, Plan};
/// let dense = |n| Plan::new(&ConvSpec::new(Kernel::new(n, n, (1..=n * n).map(|i| i as f64).collect())?));
/// assert!(convc_jit::unrolls(&dense(128)?));
/// assert!(!convc_jit::unrolls(&dense(129)?));
/// # Ok::<(), convc_core::ConvError>(())
/// ```
pub fn unrolls(plan: &Plan) -> bool {
    plan.widest_pass_taps() <= MAX_UNROLLED_TAPS
}

/// The Plan the JIT compiles for `spec`: two output rows per call where the pass
/// that computes several is heavy (more than [`HEAVY_TAPS`] taps), one above
/// [`ONE_ROW_TAPS`], and at most [`MAX_ROWS_PER_CALL`] otherwise. Cranelift's 16
/// vector registers hold two rows' partial sums and the vectors they share, not
/// four: a dense 7x7 on a Xeon ran 36.9 ms with two rows per call, 41.9 with
/// four. The eight rows the Plan gives a heavy separable plan's light vertical
/// pass spill there too: gaussian 15x15 at 4096 x 4096 on the Zen 4, five
/// alternating runs, 17.7-17.9 ms with four, 21.2-21.6 with eight.
fn jit_plan(spec: &ConvSpec) -> Result<Plan> {
    let plan = Plan::new(spec)?;
    if !unrolls(&plan) {
        return Err(ConvError::Unsupported(format!(
            "the JIT unrolls every tap, and this {}x{} kernel's widest pass has {} taps, \
             over its limit of {MAX_UNROLLED_TAPS}; use the generic backend",
            plan.kernel.height,
            plan.kernel.width,
            plan.widest_pass_taps()
        )));
    }
    let taps = plan.row_pass_taps();
    Ok(if taps > ONE_ROW_TAPS {
        plan.with_rows_per_call_at_most(1)
    } else if taps > HEAVY_TAPS {
        plan.with_rows_per_call_at_most(2)
    } else {
        plan.with_rows_per_call_at_most(MAX_ROWS_PER_CALL)
    })
}
