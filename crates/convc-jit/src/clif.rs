//! Row stencil -> CLIF, with cranelift-frontend.
//!
//! Every generated function has the signature
//! `fn(in_rows: *const *const T, out_rows: *const *mut T, x0: usize, x1: usize)`
//! and computes output columns `x0..x1` of `out_rows[0..out_rows]` (with a fixed
//! input shape the two column arguments are ignored and the bounds are constants).
//!
//! Shape of the code (`U` = vectors per iteration, `L` = lanes):
//!
//! ```text
//! entry:  load the row pointers once (minus left * size), pick a loop
//! wide:   while x < x1 { x' = min(x, x1 - U*L); U vectors at x'; x = x' + U*L }
//! narrow: while x < x1 { x' = min(x, x1 - L);   1 vector  at x'; x = x' + L }
//! scalar: while x < x1 { one element at x; x += 1 }
//! ```
//!
//! `wide` runs when the range holds at least `U*L` columns, `narrow` when it holds
//! at least `L`, `scalar` otherwise, so no access ever leaves `x0..x1`: the last
//! block overlaps the previous one instead of running past the row, and recomputes
//! a few outputs to exactly the same values (every lane and the scalar path perform
//! the same operations in the same order).
//!
//! Inside a block the taps are the outer loop and the `U` independent accumulators
//! the inner one, so the FMA latency is hidden and at most `U + 2` vector registers
//! are live. Each tap coefficient is a splatted constant; unit terms are add/sub;
//! a term with several taps of one magnitude sums them before one multiply; the
//! scale is applied once before the store.

use std::collections::BTreeSet;

use convc_core::DType;
use cranelift_codegen::ir::Endianness;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{F32, F32X4, F64, F64X2, I8X16};
use cranelift_codegen::ir::{
    AbiParam, Block, BlockArg, ConstantData, Function, InstBuilder, MemFlagsData, Signature, Type,
    Value,
};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

use crate::lower::{LTap, LTerm, RowStencil};

/// Target facts and schedule knobs the generator needs.
#[derive(Clone, Copy)]
pub(crate) struct Config {
    /// Use the `fma` instruction (only when the host has it).
    pub fma: bool,
    /// Vectors per loop iteration in the wide loop.
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

/// How many elements one block computes per output row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Width {
    /// `n` full vectors.
    Vectors(usize),
    /// One element.
    Scalar,
}

/// Builds the function for `st` into `func` (whose signature must be [`signature`]).
pub(crate) fn build(
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    st: &RowStencil,
    cfg: &Config,
) {
    let (elem, vec) = match st.dtype {
        DType::F32 => (F32, F32X4),
        DType::F64 => (F64, F64X2),
    };
    let size = st.dtype.size_bytes();
    let lanes = 16 / size;
    let b = FunctionBuilder::new(func, fctx);
    let schedule = Schedule::new(st, lanes);
    let unroll = if schedule.has_chains() {
        cfg.unroll.min(CHAINED_UNROLL)
    } else {
        cfg.unroll
    };
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
        bias: 0,
        unroll,
        schedule,
    };
    g.body();
    g.b.seal_all_blocks();
    g.b.finalize(cfg.frontend);
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
    /// Bytes added to every row base and subtracted from every tap offset, so
    /// that the offsets of the wide loop are centred on 0 and fit the short
    /// (8-bit) displacement encoding: smaller code for large kernels.
    bias: i64,
    /// Per output row: its pointer.
    outs: Vec<Value>,
    /// Vectors per iteration of the wide loop.
    unroll: usize,
    /// The order terms are evaluated in, and how they chain (see [`Schedule`]).
    schedule: Schedule,
}

/// Term order and load reuse, decided once per stencil.
///
/// Single-tap terms of one row whose columns differ by one vector width (`L`
/// lanes) form a chain: vector `i + 1` of a tap is vector `i` of the next tap in
/// the chain, so only one new vector is loaded per tap and block (load ports,
/// not FMA ports, limit dense kernels). Terms are reordered to put chains next
/// to each other (a reassociation within DESIGN.md's bound); every loop (wide,
/// narrow, scalar) evaluates the same order, so every output element is computed
/// the same way wherever it falls.
#[derive(Debug, Clone, Default)]
struct Schedule {
    /// Indices into `terms`, in evaluation order.
    order: Vec<usize>,
    /// Per position in `order`: the previous term's loaded vectors are reusable.
    from_prev: Vec<bool>,
    /// Per position in `order`: the next term reuses this one's vectors.
    to_next: Vec<bool>,
}

/// Largest unroll whose live vectors fit the 16 vector registers of x86_64 when
/// taps chain: `U` accumulators, `U` carried vectors, the constant and a temporary.
const CHAINED_UNROLL: usize = 7;

fn single_tap(t: &LTerm) -> Option<LTap> {
    match (t.coeff, &t.plus[..], &t.minus[..]) {
        (Some(_), [tap], []) | (Some(_), [], [tap]) => Some(*tap),
        _ => None,
    }
}

impl Schedule {
    /// Chains only where a vector is a plain load (unit stride).
    fn new(st: &RowStencil, lanes: usize) -> Schedule {
        let mut order: Vec<usize> = (0..st.terms.len()).collect();
        if st.sx != 1 {
            let n = order.len();
            return Schedule {
                order,
                from_prev: vec![false; n],
                to_next: vec![false; n],
            };
        }
        // Other terms first, in plan order; then single taps by row, column
        // class modulo the vector width, column.
        order.sort_by_key(|&k| match single_tap(&st.terms[k]) {
            None => (0, 0, 0, k),
            Some(t) => (1, t.row, t.col % lanes, t.col),
        });
        let links: Vec<bool> = order
            .windows(2)
            .map(
                |w| match (single_tap(&st.terms[w[0]]), single_tap(&st.terms[w[1]])) {
                    (Some(a), Some(b)) => a.row == b.row && a.col + lanes == b.col,
                    _ => false,
                },
            )
            .collect();
        let from_prev = std::iter::once(false)
            .chain(links.iter().copied())
            .collect();
        let to_next = links
            .iter()
            .copied()
            .chain(std::iter::once(false))
            .collect();
        Schedule {
            order,
            from_prev,
            to_next,
        }
    }

    fn has_chains(&self) -> bool {
        self.to_next.iter().any(|&b| b)
    }
}

/// Byte counts are computed with wrapping arithmetic: the machine code adds them
/// modulo 2^64 too, and every address actually used was proven in bounds.
fn bytes(n: usize, size: usize) -> i64 {
    n.wrapping_mul(size) as i64
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
        let ptr = self.cfg.ptr;
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let params = self.b.block_params(entry).to_vec();
        let (in_rows, out_rows) = (params[0], params[1]);

        // Row base pointers, loaded once per call.
        let used: BTreeSet<usize> = (0..st.out_rows)
            .flat_map(|j| st.taps().map(move |t| t.row + j * st.row_step))
            .collect();
        let (lo, hi) = st.col_span();
        let span = hi.saturating_add((self.unroll * self.lanes).saturating_mul(st.sx));
        self.bias = i64::try_from(lo.saturating_add(span) / 2 * self.size).unwrap_or(0);
        self.bases = vec![None; st.in_rows];
        for &r in &used {
            let p = self
                .b
                .ins()
                .load(ptr, Self::trusted(), in_rows, (r * 8) as i32);
            let shift = self.bias.wrapping_sub(bytes(st.left, self.size));
            let p = if shift == 0 {
                p
            } else {
                self.b.ins().iadd_imm_s(p, shift)
            };
            self.bases[r] = Some(p);
        }
        self.outs = (0..st.out_rows)
            .map(|j| {
                self.b
                    .ins()
                    .load(ptr, Self::trusted(), out_rows, (j * 8) as i32)
            })
            .collect();

        let exit = self.b.create_block();
        let wide = self.unroll * self.lanes;
        match st.cols.clone() {
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
        self.b.switch_to_block(exit);
        self.b.ins().return_(&[]);
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
    fn vector_loop(&mut self, head: Block, x1: Value, nvec: usize, overlap: bool, exit: Block) {
        let step = nvec * self.lanes;
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
        let xs = if overlap {
            let last = self.b.ins().iadd_imm_s(x1, -(step as i64));
            self.b.ins().umin(xb, last)
        } else {
            xb
        };
        self.block(xs, Width::Vectors(nvec));
        let next = self.b.ins().iadd_imm_s(xs, step as i64);
        self.b.ins().jump(head, &[BlockArg::Value(next)]);
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

    /// All output rows of one block starting at column `x`.
    fn block(&mut self, x: Value, w: Width) {
        let st = self.st;
        let out_off = self.b.ins().imul_imm_s(x, self.size as i64);
        let in_off = if st.sx == 1 {
            out_off
        } else {
            self.b.ins().imul_imm_s(x, bytes(st.sx, self.size))
        };
        for j in 0..st.out_rows {
            let accs = self.accumulate(j, in_off, w);
            let out = self.outs[j];
            for (i, acc) in accs.into_iter().enumerate() {
                let addr = self.b.ins().iadd(out, out_off);
                let (addr, off) = self.offset(addr, bytes(i * self.lanes, self.size));
                self.b.ins().store(Self::pixels(), acc, addr, off);
            }
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

    /// The value of `tap` for output row `j`, vector `i` of the block.
    fn tap(&mut self, tap: LTap, j: usize, in_off: Value, i: usize, w: Width) -> Value {
        let st = self.st;
        let base = self.bases[tap.row + j * st.row_step].expect("every tap row was loaded");
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

    /// `a + c * s`, fused when the host has FMA (the same choice for vector and
    /// scalar code, so every lane rounds alike).
    ///
    /// Operand order matters on x86_64, whose lowering only has the `213`/`132`
    /// forms: the destination is the first multiplicand unless it is a load,
    /// then the other one. With `s` first, a sum held in a register is
    /// overwritten in place; with a loaded `s`, the constant is copied first.
    fn mul_add(&mut self, c: Value, s: Value, a: Value) -> Value {
        if self.cfg.fma {
            self.b.ins().fma(s, c, a)
        } else {
            let p = self.b.ins().fmul(s, c);
            self.b.ins().fadd(a, p)
        }
    }

    /// One single-tap term over the vectors of a block: `acc[i] += c * tap[i]`.
    /// Vector `i` is `reuse[i + 1]` when the previous term chains into this one;
    /// returns this term's vectors for the next term (empty unless `to_next`).
    #[allow(clippy::too_many_arguments)]
    fn single_term(
        &mut self,
        term: &LTerm,
        tap: LTap,
        j: usize,
        in_off: Value,
        w: Width,
        acc: &mut [Option<Value>],
        reuse: &[Value],
        to_next: bool,
    ) -> Vec<Value> {
        let c = term.coeff.expect("single-tap terms have a coefficient");
        let c = if term.plus.is_empty() { -c } else { c };
        let cv = self.constant(c, w);
        let mut loaded = Vec::new();
        for (i, a) in acc.iter_mut().enumerate() {
            let v = match reuse.get(i + 1) {
                Some(&v) => v,
                None => self.tap(tap, j, in_off, i, w),
            };
            // Vector 0 is never reused; the others are when the chain goes on.
            let lives_on = to_next && i > 0;
            if to_next {
                loaded.push(v);
            }
            *a = Some(match *a {
                None => self.b.ins().fmul(v, cv),
                // The x86_64 FMA overwrites its first multiplicand: the pixel
                // when it dies here, else the constant (copied unless last).
                Some(a) if lives_on => self.mul_add_keep(cv, v, a),
                Some(a) => self.mul_add(cv, v, a),
            });
        }
        loaded
    }

    /// `a + c * s` like [`Self::mul_add`], but with `c` as the first multiplicand
    /// (overwritten on x86_64) because `s` is still needed.
    fn mul_add_keep(&mut self, c: Value, s: Value, a: Value) -> Value {
        if self.cfg.fma {
            self.b.ins().fma(c, s, a)
        } else {
            let p = self.b.ins().fmul(s, c);
            self.b.ins().fadd(a, p)
        }
    }

    /// The finished (scaled) outputs of row `j`, one value per vector of the block.
    fn accumulate(&mut self, j: usize, in_off: Value, w: Width) -> Vec<Value> {
        let n = match w {
            Width::Vectors(n) => n,
            Width::Scalar => 1,
        };
        let mut acc: Vec<Option<Value>> = vec![None; n];
        // Vectors the previous term loaded, when the current one may reuse them.
        let mut carried: Vec<Value> = Vec::new();
        let schedule = std::mem::take(&mut self.schedule);
        for (pos, &k) in schedule.order.iter().enumerate() {
            let term = &self.st.terms[k];
            if let (Some(tap), Width::Vectors(_)) = (single_tap(term), w) {
                let reuse = if schedule.from_prev[pos] {
                    &carried[..]
                } else {
                    &[]
                };
                carried = self.single_term(
                    term,
                    tap,
                    j,
                    in_off,
                    w,
                    &mut acc,
                    reuse,
                    schedule.to_next[pos],
                );
                continue;
            }
            carried.clear();
            match term.coeff {
                None => {
                    // Unit term: add/sub, taps outer, accumulators inner.
                    let signed = term
                        .plus
                        .iter()
                        .map(|&t| (t, false))
                        .chain(term.minus.iter().map(|&t| (t, true)));
                    for (t, neg) in signed {
                        for (i, a) in acc.iter_mut().enumerate() {
                            let v = self.tap(t, j, in_off, i, w);
                            *a = Some(match (*a, neg) {
                                (None, false) => v,
                                (None, true) => self.b.ins().fneg(v),
                                (Some(a), false) => self.b.ins().fadd(a, v),
                                (Some(a), true) => self.b.ins().fsub(a, v),
                            });
                        }
                    }
                }
                Some(c) => {
                    // coeff * (sum plus - sum minus); an all-minus term negates the
                    // constant instead (exact).
                    let (c, plus, minus) = if term.plus.is_empty() {
                        (-c, &term.minus[..], &[][..])
                    } else {
                        (c, &term.plus[..], &term.minus[..])
                    };
                    let cv = self.constant(c, w);
                    for (i, a) in acc.iter_mut().enumerate() {
                        let mut s = self.tap(plus[0], j, in_off, i, w);
                        for &t in &plus[1..] {
                            let v = self.tap(t, j, in_off, i, w);
                            s = self.b.ins().fadd(s, v);
                        }
                        for &t in minus {
                            let v = self.tap(t, j, in_off, i, w);
                            s = self.b.ins().fsub(s, v);
                        }
                        *a = Some(match *a {
                            None => self.b.ins().fmul(cv, s),
                            Some(a) => self.mul_add(cv, s, a),
                        });
                    }
                }
            }
        }
        self.schedule = schedule;
        let zero = if acc.iter().any(Option::is_none) {
            Some(self.constant(0.0, w))
        } else {
            None
        };
        let mut out: Vec<Value> = acc
            .into_iter()
            .map(|a| a.or(zero).expect("zero exists for empty sums"))
            .collect();
        if let Some(scale) = self.st.scale {
            let k = self.constant(scale, w);
            for v in &mut out {
                *v = self.b.ins().fmul(*v, k);
            }
        }
        out
    }
}
