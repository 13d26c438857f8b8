//! Block program -> CLIF, with cranelift-frontend.
//!
//! Every generated function has the signature
//! `fn(in_rows: *const *const T, out_rows: *const *mut T, x0: usize, x1: usize)`
//! and computes output columns `x0..x1` of the `out_rows` rows of one call (with
//! a fixed input shape the two column arguments are ignored and the bounds are
//! constants).
//!
//! Shape of the code (`U` = vectors per output row and iteration, `L` = lanes):
//!
//! ```text
//! entry:  load the row pointers once (biased), pick a loop
//! wide:   while x < x1 { x' = min(x, x1 - U*L); [prefetch]; block of U vectors
//!                        of every row at x'; x = x' + U*L }
//! narrow: while x < x1 { x' = min(x, x1 - L);   block of 1 vector at x';
//!                        x = x' + L }
//! scalar: while x < x1 { block of one element at x; x += 1 }
//! ```
//!
//! `wide` runs when the range holds at least `U*L` columns, `narrow` when it holds
//! at least `L`, `scalar` otherwise, so no access ever leaves `x0..x1`: the last
//! block overlaps the previous one instead of running past the row, and recomputes
//! a few outputs to exactly the same values (every block runs the same
//! [`Program`], so every lane and the scalar path perform the same operations in
//! the same order).
//!
//! A block runs the program's groups in order; inside a group the vectors are the
//! outer loop and the features the inner one, a vector loaded for one feature is
//! reused while the group still reads it, each feature feeds every output row
//! that uses it, and a row is scaled and stored as soon as its sum is complete
//! (in the wide loop of a deferred program, light direct passes, after the
//! block's last load, and its last vector after the next block's loads:
//! [`Program::deferred`]).
//! Each coefficient is a splatted constant (once per group, once per block
//! when the program has few of them, once per term in a `Window` program); unit
//! terms are add/sub; a feature with several taps
//! is summed before its multiplies; the scale is applied once before the store.
//!
//! Stencils over four rows per call (light, memory-bound; not the vertical
//! passes of heavy plans), and every horizontal pass (for its output row, or,
//! run first, for its image row), call [`crate::kernels`]'s prefetch helper every
//! [`PREFETCH_PERIOD`] bytes of columns: Cranelift has no prefetch instruction,
//! and the hardware prefetchers alone leave the core waiting on several
//! interleaved row streams (and, on an Intel Xeon, on the lines it writes).

use std::collections::BTreeSet;

use convc_core::DType;
use cranelift_codegen::ir::Endianness;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{F32, F32X4, F64, F64X2, I8X16};
use cranelift_codegen::ir::{
    AbiParam, Block, BlockArg, ConstantData, FuncRef, Function, InstBuilder, MemFlagsData,
    Signature, StackSlotData, StackSlotKind, Type, Value,
};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

use crate::lower::{LTerm, PassKind, RowStencil};
use crate::program::{PTap, Program, Sharing};

/// Target facts and schedule knobs the generator needs.
#[derive(Clone, Copy)]
pub(crate) struct Config {
    /// Use the `fma` instruction (only when the host has it).
    pub fma: bool,
    /// Most vectors per output row and iteration of the wide loop.
    pub unroll: usize,
    /// Pointer type of the target.
    pub ptr: Type,
    /// Calling convention of `extern "C"` on the host.
    pub call_conv: CallConv,
    /// What cranelift-frontend needs to know about the target.
    pub frontend: TargetFrontendConfig,
}

/// `fn(*const *const T, *const *mut T, usize, usize)`.
pub(crate) fn signature(cfg: &Config) -> Signature {
    let mut sig = Signature::new(cfg.call_conv);
    for _ in 0..4 {
        sig.params.push(AbiParam::new(cfg.ptr));
    }
    sig
}

/// The prefetch helper's signature: `fn(rows, n_rows, outs, n_outs, row_offset,
/// out_offset)`, every parameter pointer-sized (see `kernels::prefetch_rows`).
pub(crate) fn prefetch_signature(cfg: &Config) -> Signature {
    let mut sig = Signature::new(cfg.call_conv);
    for _ in 0..6 {
        sig.params.push(AbiParam::new(cfg.ptr));
    }
    sig
}

/// Bytes of columns between two calls of the prefetch helper.
pub(crate) const PREFETCH_PERIOD: usize = 256;
/// How far ahead of the current column the helper prefetches, in bytes: two
/// and a half periods. On the Xeon at width 4096, where the rows a call reads
/// and writes share L1 sets, distances of a whole number of periods are slow
/// and half-period ones fast (gaussian 5x5, strips of 256 columns: 16.0-16.4
/// ms at 256, 1024 and 768 bytes, 13.2-13.8 at 384, 640, 896 and 1152; sobel
/// 10.6-10.8 -> 10.1-10.6, dilation 2 12.2-12.4 -> 11.4-11.5 from 1024 to
/// 640). At 1024, 2048 and 4099 columns the distance makes no difference.
pub(crate) const PREFETCH_DISTANCE: usize = 640;
/// How far ahead a horizontal pass run first prefetches its image row, in
/// bytes (see `build`).
pub(crate) const HORIZONTAL_FIRST_DISTANCE: usize = 2048;
/// Output rows per call from which a program prefetches: the Plan gives four
/// rows per call to light stencils, whose cost is memory traffic.
const PREFETCH_ROWS: usize = 4;

/// How many elements one block computes per output row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Width {
    /// `n` full vectors.
    Vectors(usize),
    /// One element.
    Scalar,
}

/// Builds the function for `st` into `func` (whose signature must be
/// [`signature`]). `prefetch` is the helper's reference in `func`, where the
/// host has one.
pub(crate) fn build(
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    st: &RowStencil,
    cfg: &Config,
    prefetch: Option<FuncRef>,
) {
    let (elem, vec) = match st.dtype {
        DType::F32 => (F32, F32X4),
        DType::F64 => (F64, F64X2),
    };
    let size = st.dtype.size_bytes();
    let lanes = 16 / size;
    let program = schedule(st, lanes, cfg.unroll);
    // Horizontal passes read a cache-resident row and stream out their output
    // row, which the core otherwise waits for (gaussian 15x15 21.9-22.2 ->
    // 20.5-21.1 ms; at a 1 KiB distance, heavy ones lost). The vertical passes
    // of heavy plans do without (gaussian 15x15: 22.4 -> 21.6 ms): the hardware
    // prefetchers keep up with their new rows, and the call clobbers every
    // vector register.
    //
    // Horizontal pass first (separable plans of any input shape), the roles swap: the
    // horizontal pass reads an image row and prefetches it, 2 KiB ahead
    // (gaussian 15x15 at 4096: 22.4-22.6 ms without, 19.3-20.1 at 640 bytes,
    // 18.6-19.1 at 1.6-2.5 KiB, 19.8-19.9 at 4 KiB); the vertical pass, which
    // now writes the output rows, measured slower prefetching them (at 640
    // bytes to 4 KiB ahead).
    let prefetch = prefetch.filter(|_| {
        let heavy_vertical = st.kind == PassKind::Vertical && !st.light;
        if st.horizontal_first {
            st.kind == PassKind::Horizontal
        } else {
            (program.out_rows >= PREFETCH_ROWS && !heavy_vertical)
                || st.kind == PassKind::Horizontal
        }
    });
    let b = FunctionBuilder::new(func, fctx);
    let mut g = Gen {
        b,
        st,
        cfg,
        elem,
        vec,
        lanes,
        size,
        bases: Vec::new(),
        outs: Vec::new(),
        rows_arg: None,
        bias: 0,
        unroll: program.vectors,
        program,
        prefetch,
        deferring: false,
        carried_in: Vec::new(),
        carried_out: Vec::new(),
    };
    g.body();
    g.b.seal_all_blocks();
    g.b.finalize(cfg.frontend);
}

/// Decides how `st`'s blocks are computed (see [`Program`]): the Plan's terms
/// for one row per call; for several, features shared between the rows
/// (`Rows`) or the rows' windows sliding term by term (`Window`), whichever
/// [`Program::cycles`] estimates faster; then the most vectors per row (up to
/// `unroll`) whose block fits in the vector registers, with the call's
/// constants kept in registers when there are few and that costs no vectors.
pub(crate) fn schedule(st: &RowStencil, lanes: usize, unroll: usize) -> Program {
    let p = if st.out_rows == 1 {
        fitted(st, lanes, unroll, Sharing::Terms)
    } else {
        let rows = fitted(st, lanes, unroll, Sharing::Rows);
        // Window only where it folds pairs: its fewer loads alone do not pay for
        // the narrower block (dilated dense 3x3: 13.4 -> 15.2 ms). Without a
        // multiplied term over several input rows it cannot, and is not built
        // (dense kernels would pay for its fitting in compile time).
        let spans_rows = |t: &LTerm| {
            let mut rows = t.plus.iter().chain(&t.minus).map(|x| x.row);
            let first = rows.next();
            t.coeff.is_some() && rows.any(|r| Some(r) != first)
        };
        let window = st
            .terms
            .iter()
            .any(spans_rows)
            .then(|| fitted(st, lanes, unroll, Sharing::Window))
            .filter(|w| {
                w.multiplies_per_vector() < rows.multiplies_per_vector()
                    && w.fits(w.vectors)
                    && w.cycles() < rows.cycles()
            });
        window.unwrap_or(rows)
    };
    if crate::module::dump("program") {
        let (loads, mul, add) = p.costs(p.vectors);
        eprintln!(
            "; convc {} pass: per block {loads} loads, {mul} multiplies, {add} adds, \
             {} vector registers, about {:.2} cycles per vector\n{p}",
            st.kind,
            p.pressure(p.vectors),
            p.cycles()
        );
    }
    p
}

/// The program of `st` with features formed by `sharing`, and the most vectors
/// per row (up to `unroll`) that fit.
fn fitted(st: &RowStencil, lanes: usize, unroll: usize, sharing: Sharing) -> Program {
    let mut p = Program::new(st, lanes, sharing);
    let fit = |p: &mut Program| {
        (1..=unroll).rev().find(|&u| {
            p.regroup(u);
            p.fits(u)
        })
    };
    let mut u = fit(&mut p);
    let all = p.all_constants();
    if !all.is_empty() && all.len() <= crate::program::MAX_GLOBALS {
        p.globals = all;
        let with = fit(&mut p);
        // Kept only where they fit, and cost no vectors.
        if with.is_some() && with >= u {
            u = with;
        } else {
            p.globals.clear();
        }
    }
    p.regroup(u.unwrap_or(1));
    p
}

struct Gen<'a, 'f> {
    b: FunctionBuilder<'f>,
    st: &'a RowStencil,
    cfg: &'a Config,
    elem: Type,
    vec: Type,
    lanes: usize,
    size: usize,
    /// Per input row: its pointer minus `left * size`, plus `bias` (None for rows
    /// no tap reads).
    bases: Vec<Option<Value>>,
    /// Per output row: its pointer.
    outs: Vec<Value>,
    /// The row pointer arrays (for the prefetch helper).
    rows_arg: Option<(Value, Value)>,
    /// Bytes added to every row base and subtracted from every tap offset, so
    /// that the offsets of the wide loop are centred on 0 and fit the short
    /// (8-bit) displacement encoding: smaller code for large kernels.
    bias: i64,
    /// Vectors per output row and iteration of the wide loop.
    unroll: usize,
    /// What a block computes, in order.
    program: Program,
    /// The prefetch helper, when this function calls it.
    prefetch: Option<FuncRef>,
    /// Whether the block being built defers its stores (a deferred program's
    /// wide loop: [`Program::deferred`]).
    deferring: bool,
    /// The previous block's last vector of each row, with its address: stored
    /// once this block's loads are issued.
    carried_in: Vec<(Value, Value)>,
    /// This block's last vector of each row, with its address, for the next.
    carried_out: Vec<(Value, Value)>,
}

/// Byte counts are computed with wrapping arithmetic: the machine code adds them
/// modulo 2^64 too, and every address actually used was proven in bounds.
fn bytes(n: usize, size: usize) -> i64 {
    n.wrapping_mul(size) as i64
}

/// A small map from loaded (row, column) to a value, searched linearly (a group
/// holds a handful of entries).
struct Held<V>(Vec<((usize, usize), V)>);

impl<V: Copy> Held<V> {
    fn take(&mut self, key: (usize, usize)) -> Option<V> {
        let i = self.0.iter().position(|(k, _)| *k == key)?;
        Some(self.0.swap_remove(i).1)
    }
    fn put(&mut self, key: (usize, usize), v: V) {
        self.0.push((key, v));
    }
}

impl Gen<'_, '_> {
    fn trusted() -> MemFlagsData {
        MemFlagsData::trusted()
    }

    /// Image memory: unaligned, never traps (bounds were proven before the call).
    fn pixels() -> MemFlagsData {
        MemFlagsData::new().with_notrap()
    }

    fn body(&mut self) {
        let st = self.st;
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let params = self.b.block_params(entry).to_vec();
        let (lo, hi) = st.col_span();
        let span = hi.saturating_add((self.unroll * self.lanes).saturating_mul(st.sx));
        self.bias = i64::try_from(lo.saturating_add(span) / 2 * self.size).unwrap_or(0);
        self.row_pointers(params[0], params[1]);
        let exit = self.b.create_block();
        self.column_loops(&params, exit);
        self.b.switch_to_block(exit);
        self.b.ins().return_(&[]);
    }

    /// Loads the (biased) base pointer of every input row the program reads and
    /// the pointer of every output row it writes.
    fn row_pointers(&mut self, in_rows: Value, out_rows: Value) {
        self.rows_arg = Some((in_rows, out_rows));
        let ptr = self.cfg.ptr;
        let used: BTreeSet<usize> = self
            .program
            .features
            .iter()
            .flat_map(|f| f.taps.iter().map(|t| t.row))
            .collect();
        self.bases = vec![None; self.st.in_rows];
        for &r in &used {
            let p = self
                .b
                .ins()
                .load(ptr, Self::trusted(), in_rows, (r * 8) as i32);
            let shift = self.bias.wrapping_sub(bytes(self.st.left, self.size));
            let p = if shift == 0 {
                p
            } else {
                self.b.ins().iadd_imm_s(p, shift)
            };
            self.bases[r] = Some(p);
        }
        self.outs = (0..self.program.out_rows)
            .map(|j| {
                self.b
                    .ins()
                    .load(ptr, Self::trusted(), out_rows, (j * 8) as i32)
            })
            .collect();
    }

    /// The loops over the columns (see the module docs), leaving to `exit`.
    fn column_loops(&mut self, params: &[Value], exit: Block) {
        let ptr = self.cfg.ptr;
        let wide = self.unroll * self.lanes;
        match self.st.cols.clone() {
            Some(cols) => {
                // Constant loop bounds: only the loop this width needs.
                let x0 = self.b.ins().iconst(ptr, cols.start as i64);
                let x1 = self.b.ins().iconst(ptr, cols.end as i64);
                let n = cols.len();
                let head = self.loop_head();
                self.b.ins().jump(head, &[BlockArg::Value(x0)]);
                if n >= wide {
                    self.vector_loop(head, x1, self.unroll, n % wide != 0, exit);
                } else if n >= self.lanes && self.lanes > 1 {
                    self.vector_loop(head, x1, 1, n % self.lanes != 0, exit);
                } else {
                    self.scalar_loop(head, x1, exit);
                }
            }
            None => {
                let (x0, x1) = (params[2], params[3]);
                let n = self.b.ins().isub(x1, x0);
                let (wide_head, narrow_head, scalar_head) =
                    (self.loop_head(), self.loop_head(), self.loop_head());
                let narrow = self.b.create_block();
                let is_wide =
                    self.b
                        .ins()
                        .icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, n, wide as i64);
                self.b
                    .ins()
                    .brif(is_wide, wide_head, &[BlockArg::Value(x0)], narrow, &[]);
                self.b.switch_to_block(narrow);
                let is_narrow = self.b.ins().icmp_imm_u(
                    IntCC::UnsignedGreaterThanOrEqual,
                    n,
                    self.lanes as i64,
                );
                self.b.ins().brif(
                    is_narrow,
                    narrow_head,
                    &[BlockArg::Value(x0)],
                    scalar_head,
                    &[BlockArg::Value(x0)],
                );
                self.vector_loop(wide_head, x1, self.unroll, true, exit);
                self.vector_loop(narrow_head, x1, 1, true, exit);
                self.scalar_loop(scalar_head, x1, exit);
            }
        }
    }

    /// A loop header block taking the column `x`.
    fn loop_head(&mut self) -> Block {
        let head = self.b.create_block();
        self.b.append_block_param(head, self.cfg.ptr);
        head
    }

    /// Fills `head(x): if x >= x1 exit; x' = overlap ? min(x, x1 - step) : x;
    /// block at x'; head(x' + step)`. The caller must only enter it with at least
    /// `step` columns in the range when `overlap` is set.
    ///
    /// The wide loop of a deferred program carries each row's last vector and
    /// its address from block to block (see [`Gen::carrying_loop`]) and stores
    /// the last block's on the way out.
    fn vector_loop(&mut self, head: Block, x1: Value, nvec: usize, overlap: bool, exit: Block) {
        let step = nvec * self.lanes;
        let ptr = self.cfg.ptr;
        let deferred = self.program.deferred && nvec == self.unroll;
        let top = if deferred {
            self.carrying_loop(head)
        } else {
            head
        };
        let body = self.b.create_block();
        let xb = self.b.append_block_param(body, ptr);
        self.b.switch_to_block(top);
        let params = self.b.block_params(top).to_vec();
        let x = params[0];
        let carried = Self::carried(&params[1..]);
        let done = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, x, x1);
        let leave = if deferred {
            self.b.create_block()
        } else {
            exit
        };
        self.b
            .ins()
            .brif(done, leave, &[], body, &[BlockArg::Value(x)]);
        if deferred {
            self.b.switch_to_block(leave);
            self.carried_in = carried.clone();
            self.store_carried();
            self.b.ins().jump(exit, &[]);
        }
        self.b.switch_to_block(body);
        let xs = if overlap {
            let last = self.b.ins().iadd_imm_s(x1, -(step as i64));
            self.b.ins().umin(xb, last)
        } else {
            xb
        };
        if let Some(helper) = self.prefetch.filter(|_| nvec == self.unroll) {
            self.prefetch(helper, xs, step);
        }
        self.deferring = deferred;
        self.carried_in = carried;
        self.block(xs, Width::Vectors(nvec));
        self.deferring = false;
        let next = self.b.ins().iadd_imm_s(xs, step as i64);
        let out = std::mem::take(&mut self.carried_out);
        let args: Vec<BlockArg> = std::iter::once(next)
            .chain(out.iter().map(|&(addr, _)| addr))
            .chain(out.iter().map(|&(_, v)| v))
            .map(BlockArg::Value)
            .collect();
        self.b.ins().jump(top, &args);
    }

    /// The header of a deferred wide loop, `top(x, addresses.., vectors..)`
    /// (one of each per output row), entered from `head(x)` with nothing to
    /// store yet: zeros addressed to a stack slot of the function's own.
    fn carrying_loop(&mut self, head: Block) -> Block {
        let ptr = self.cfg.ptr;
        let rows = self.program.out_rows;
        let top = self.loop_head();
        for _ in 0..rows {
            self.b.append_block_param(top, ptr);
        }
        for _ in 0..rows {
            self.b.append_block_param(top, self.vec);
        }
        self.b.switch_to_block(head);
        let x = self.b.block_params(head)[0];
        let slot =
            self.b
                .create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 16, 4));
        let nowhere = self.b.ins().stack_addr(ptr, slot, 0);
        let zero = self.constant(0.0, Width::Vectors(1));
        let args: Vec<BlockArg> = std::iter::once(x)
            .chain(std::iter::repeat_n(nowhere, rows))
            .chain(std::iter::repeat_n(zero, rows))
            .map(BlockArg::Value)
            .collect();
        self.b.ins().jump(top, &args);
        top
    }

    /// (address, vector) pairs from a deferred loop header's parameters after
    /// `x`: the addresses, then the vectors.
    fn carried(params: &[Value]) -> Vec<(Value, Value)> {
        let (addrs, vecs) = params.split_at(params.len() / 2);
        addrs.iter().copied().zip(vecs.iter().copied()).collect()
    }

    /// Stores the vectors carried in from the previous block.
    fn store_carried(&mut self) {
        for (addr, v) in std::mem::take(&mut self.carried_in) {
            self.b.ins().store(Self::pixels(), v, addr, 0);
        }
    }

    /// Calls the prefetch helper when `x` enters a new period of
    /// [`PREFETCH_PERIOD`] bytes: for direct and vertical passes the rows new to
    /// this call (the window's last `rows * stride`), for direct and horizontal
    /// passes the output rows, at [`PREFETCH_DISTANCE`] bytes past the current
    /// column; for a horizontal pass run first, its input row alone, at
    /// [`HORIZONTAL_FIRST_DISTANCE`].
    fn prefetch(&mut self, helper: FuncRef, x: Value, step: usize) {
        let ptr = self.cfg.ptr;
        let period = (PREFETCH_PERIOD / self.size).max(step).next_power_of_two();
        let phase = self.b.ins().band_imm_s(x, period as i64 - 1);
        let due = self
            .b
            .ins()
            .icmp_imm_u(IntCC::UnsignedLessThan, phase, step as i64);
        let call = self.b.create_block();
        let work = self.b.create_block();
        self.b.ins().brif(due, call, &[], work, &[]);
        self.b.switch_to_block(call);
        let (in_rows, out_rows) = self.rows_arg.expect("row pointers are loaded first");
        let r = self.program.out_rows;
        let horizontal = self.st.kind == PassKind::Horizontal;
        let fresh = match (horizontal, self.st.horizontal_first) {
            // Its input is the image row.
            (true, true) => 1,
            // Its input is the cache-resident temporary row.
            (true, false) => 0,
            _ => (r * self.st.row_step).min(self.st.in_rows),
        };
        let first = self.st.in_rows - fresh;
        let rows = self.b.ins().iadd_imm_s(in_rows, (first * 8) as i64);
        let n_rows = self.b.ins().iconst(ptr, fresh as i64);
        let n_outs =
            if self.st.kind == PassKind::Direct || (horizontal && !self.st.horizontal_first) {
                r
            } else {
                // Cache-resident rows: the vertical pass's temporary rows, or
                // the rows a horizontal pass run first writes.
                0
            };
        let n_outs = self.b.ins().iconst(ptr, n_outs as i64);
        let row_off = self.b.ins().imul_imm_s(x, bytes(self.st.sx, self.size));
        let distance = if self.st.horizontal_first {
            HORIZONTAL_FIRST_DISTANCE
        } else {
            PREFETCH_DISTANCE
        };
        let row_off = self.b.ins().iadd_imm_s(row_off, distance as i64);
        let out_off = self.b.ins().imul_imm_s(x, self.size as i64);
        let out_off = self.b.ins().iadd_imm_s(out_off, PREFETCH_DISTANCE as i64);
        self.b
            .ins()
            .call(helper, &[rows, n_rows, out_rows, n_outs, row_off, out_off]);
        self.b.ins().jump(work, &[]);
        self.b.switch_to_block(work);
    }

    /// Fills `head(x): if x >= x1 exit; one element at x; head(x + 1)`.
    fn scalar_loop(&mut self, head: Block, x1: Value, exit: Block) {
        let ptr = self.cfg.ptr;
        let body = self.b.create_block();
        let xb = self.b.append_block_param(body, ptr);
        self.b.switch_to_block(head);
        let x = self.b.block_params(head)[0];
        let done = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, x, x1);
        self.b
            .ins()
            .brif(done, exit, &[], body, &[BlockArg::Value(x)]);
        self.b.switch_to_block(body);
        self.block(xb, Width::Scalar);
        let next = self.b.ins().iadd_imm_s(xb, 1);
        self.b.ins().jump(head, &[BlockArg::Value(next)]);
    }

    /// All output rows of one block starting at column `x`: the program's
    /// groups in order (vectors outer, features inner, loaded vectors reused
    /// while a later feature or vector of the group reads them), each row scaled
    /// and stored as soon as its sum is complete, or, deferring, after the last
    /// group's loads (with the vectors carried in from the block before).
    fn block(&mut self, x: Value, w: Width) {
        let st = self.st;
        let n = match w {
            Width::Vectors(n) => n,
            Width::Scalar => 1,
        };
        let out_off = self.b.ins().imul_imm_s(x, self.size as i64);
        let in_off = if st.sx == 1 {
            out_off
        } else {
            self.b.ins().imul_imm_s(x, bytes(st.sx, self.size))
        };
        let program = std::mem::replace(&mut self.program, Program::empty());
        // The program's block-wide constants, splatted once per block (and not
        // across the prefetch call, which clobbers every vector register).
        let globals: Vec<(u64, Value)> = match w {
            Width::Vectors(_) => program
                .globals
                .iter()
                .map(|&c| (c.to_bits(), self.constant(c, w)))
                .collect(),
            Width::Scalar => Vec::new(),
        };
        let rows = program.out_rows;
        let step = program.step;
        let mut acc: Vec<Vec<Option<Value>>> = vec![vec![None; n]; rows];
        for (j, row) in acc.iter().enumerate() {
            if program.done_after[j].is_none() {
                self.finish(j, row, out_off, w);
            }
        }
        for (g, range) in program.groups.iter().enumerate() {
            let feats = &program.features[range.clone()];
            let mut consts = globals.clone();
            // A `Window` program splats each coefficient where its term starts
            // (`last`), not all of them for the whole group.
            let per_term = program.sharing == Sharing::Window && consts.is_empty();
            let mut last: Option<(u64, Value)> = None;
            if !per_term {
                for f in feats {
                    for c in f.constants() {
                        if !consts.iter().any(|(b, _)| *b == c.to_bits()) {
                            let v = self.constant(c, w);
                            consts.push((c.to_bits(), v));
                        }
                    }
                }
            }
            // How often each (row, column) vector is still to be read in this
            // group, sorted for binary search.
            let mut remaining: Vec<((usize, usize), usize)> = Vec::new();
            for i in 0..n {
                for f in feats {
                    for t in &f.taps {
                        remaining.push(((t.row, t.col + i * step), 1));
                    }
                }
            }
            remaining.sort_unstable();
            remaining.dedup_by(|a, b| {
                let same = a.0 == b.0;
                if same {
                    b.1 += a.1;
                }
                same
            });
            let mut held = Held(Vec::new());
            #[allow(clippy::needless_range_loop)] // `i` also names the vector
            for i in 0..n {
                for f in feats {
                    let mut v: Option<Value> = None;
                    let mut kept = false;
                    for t in &f.taps {
                        let key = (t.row, t.col + i * step);
                        let x = match held.take(key) {
                            Some(x) => x,
                            None => self.tap(*t, in_off, i, w),
                        };
                        let k = remaining
                            .binary_search_by(|e| e.0.cmp(&key))
                            .expect("counted above");
                        remaining[k].1 -= 1;
                        if remaining[k].1 > 0 {
                            held.put(key, x);
                            kept = true;
                        }
                        v = Some(match v {
                            None => x,
                            Some(s) if t.neg => self.b.ins().fsub(s, x),
                            Some(s) => self.b.ins().fadd(s, x),
                        });
                    }
                    let v = v.expect("a feature has taps");
                    // A single tap still held for a later read must survive.
                    let lives_on = kept && f.taps.len() == 1;
                    let last_mul = f.uses.iter().rposition(|u| u.coeff.is_some());
                    for (q, u) in f.uses.iter().enumerate() {
                        let a = acc[u.out][i];
                        let r = match u.coeff {
                            None => match (a, u.neg) {
                                (None, false) => v,
                                (None, true) => self.b.ins().fneg(v),
                                (Some(a), false) => self.b.ins().fadd(a, v),
                                (Some(a), true) => self.b.ins().fsub(a, v),
                            },
                            Some(c) => {
                                let c = if u.neg { -c } else { c };
                                let cv = if per_term {
                                    match last {
                                        Some((bits, v)) if bits == c.to_bits() => v,
                                        _ => {
                                            let v = self.constant(c, w);
                                            last = Some((c.to_bits(), v));
                                            v
                                        }
                                    }
                                } else {
                                    consts
                                        .iter()
                                        .find(|(bits, _)| *bits == c.to_bits())
                                        .expect("every coefficient has a constant")
                                        .1
                                };
                                match a {
                                    None => self.b.ins().fmul(v, cv),
                                    // x86_64's FMA overwrites its first
                                    // multiplicand: the feature on its last
                                    // use, else the constant (copied by the
                                    // register allocator while still needed).
                                    Some(a) if Some(q) == last_mul && !lives_on => {
                                        self.mul_add(v, cv, a)
                                    }
                                    Some(a) => self.mul_add(cv, v, a),
                                }
                            }
                        };
                        acc[u.out][i] = Some(r);
                    }
                }
            }
            // Deferred, every row waits for the last group's loads.
            let last = g + 1 == program.groups.len();
            if self.deferring && last {
                self.store_carried();
            }
            for (j, row) in acc.iter().enumerate() {
                let done = match program.done_after[j] {
                    Some(_) if self.deferring => last,
                    d => d == Some(g),
                };
                if done {
                    self.finish(j, row, out_off, w);
                }
            }
        }
        // (A program without features has no last group.)
        self.store_carried();
        self.program = program;
    }

    /// Scales and stores output row `j` of a block (deferring, its last
    /// vector is carried to the next block instead).
    fn finish(&mut self, j: usize, acc: &[Option<Value>], out_off: Value, w: Width) {
        let zero = if acc.iter().any(Option::is_none) {
            Some(self.constant(0.0, w))
        } else {
            None
        };
        let scale = self.st.scale.map(|s| self.constant(s, w));
        let out = self.outs[j];
        for (i, a) in acc.iter().enumerate() {
            let mut v = a.or(zero).expect("zero exists for empty sums");
            if let Some(k) = scale {
                v = self.b.ins().fmul(v, k);
            }
            let addr = self.b.ins().iadd(out, out_off);
            let at = bytes(i * self.lanes, self.size);
            if self.deferring && i + 1 == acc.len() {
                let addr = self.b.ins().iadd_imm_s(addr, at);
                self.carried_out.push((addr, v));
                continue;
            }
            let (addr, off) = self.offset(addr, at);
            self.b.ins().store(Self::pixels(), v, addr, off);
        }
    }

    /// `addr + bytes` as an address and an immediate offset.
    fn offset(&mut self, addr: Value, bytes: i64) -> (Value, i32) {
        match i32::try_from(bytes) {
            Ok(off) => (addr, off),
            Err(_) => (self.b.ins().iadd_imm_s(addr, bytes), 0),
        }
    }

    /// A load of element `elems` past a row base (which carries `bias`).
    fn load(&mut self, ty: Type, addr: Value, elems: usize) -> Value {
        let (addr, off) = self.offset(addr, bytes(elems, self.size).wrapping_sub(self.bias));
        self.b.ins().load(ty, Self::pixels(), addr, off)
    }

    /// The value of `tap` (window row, column), vector `i` of the block.
    fn tap(&mut self, tap: PTap, in_off: Value, i: usize, w: Width) -> Value {
        let st = self.st;
        let base = self.bases[tap.row].expect("every tap row was loaded");
        let addr = self.b.ins().iadd(base, in_off);
        if w == Width::Scalar {
            return self.load(self.elem, addr, tap.col);
        }
        let first = tap.col.wrapping_add(i * self.lanes * st.sx);
        if st.sx == 1 {
            return self.load(self.vec, addr, first);
        }
        if st.sx == 2 && self.lanes == 4 {
            // Lanes c, c+2, c+4, c+6: the even lanes of [c..c+3] and the odd lanes
            // of [c+3..c+6] (the second load ends on the last lane, not past it).
            let a = self.load(self.vec, addr, first);
            let b = self.load(self.vec, addr, first.wrapping_add(3));
            let le = MemFlagsData::new().with_endianness(Endianness::Little);
            let a8 = self.b.ins().bitcast(I8X16, le, a);
            let b8 = self.b.ins().bitcast(I8X16, le, b);
            let mask: Vec<u8> = [0u8, 2, 5, 7]
                .iter()
                .flat_map(|&lane| (0..4).map(move |k| lane * 4 + k))
                .collect();
            let mask = self.b.func.dfg.immediates.push(ConstantData::from(mask));
            let s = self.b.ins().shuffle(a8, b8, mask);
            return self.b.ins().bitcast(self.vec, le, s);
        }
        // Any other stride: gather the lanes one by one.
        let mut v = None;
        for l in 0..self.lanes {
            let s = self.load(self.elem, addr, first.wrapping_add(l * st.sx));
            v = Some(match v {
                None => self.b.ins().scalar_to_vector(self.vec, s),
                Some(v) => self.b.ins().insertlane(v, s, l as u8),
            });
        }
        v.expect("a vector has lanes")
    }

    fn constant(&mut self, c: f64, w: Width) -> Value {
        let s = match self.st.dtype {
            DType::F32 => self.b.ins().f32const(c as f32),
            DType::F64 => self.b.ins().f64const(c),
        };
        match w {
            Width::Scalar => s,
            Width::Vectors(_) => self.b.ins().splat(self.vec, s),
        }
    }

    /// `a + x * y`, fused when the host has FMA (the same choice for vector and
    /// scalar code, so every lane rounds alike). On x86_64 the FMA overwrites
    /// `x` (or `y` when `x` is a load).
    fn mul_add(&mut self, x: Value, y: Value, a: Value) -> Value {
        if self.cfg.fma {
            self.b.ins().fma(x, y, a)
        } else {
            let p = self.b.ins().fmul(x, y);
            self.b.ins().fadd(a, p)
        }
    }
}
