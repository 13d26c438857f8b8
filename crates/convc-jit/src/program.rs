//! Row stencil -> block program: what one block of a generated loop computes, and
//! in which order, as plain data (the schedule; `clif.rs` only emits it).
//!
//! A block computes `U` vectors of each of the `R` output rows of a call. Its
//! program is a list of **features**, each a signed sum of taps (`x[t][c] - ...`,
//! loaded and added once per vector) with **uses**: the output rows it feeds and
//! with which coefficient (`acc[j] += c * f`, or `acc[j] ± f` for a unit term).
//! Two ways to form them ([`Sharing`]):
//!
//! - `Rows`: a term's taps are split by input row, and equal pieces of different
//!   output rows (same input row, same columns and signs) become one feature.
//!   Each input vector is loaded once per block for every output row that reads
//!   it, and pair sums within a row (`x[t][0] + x[t][4]`) are shared too; a term
//!   spanning several rows costs one multiply per row.
//! - `Terms`: one feature per term and output row, as the Plan writes it
//!   (`c * (x[0][0] + x[4][0])`: taps of several rows summed before one
//!   multiply); nothing is shared between output rows.
//! - `Window`: the features of `Terms`, the rows of a call taking turns term by
//!   term, all in one group with each coefficient splatted once per term: row
//!   `j`'s `x[j + i] + x[j + 14 - i]` loads vectors that rows `j + 1`, ... read
//!   in their next terms, so the rows' windows slide over the input rows with
//!   each vector loaded about once, and symmetric pairs still cost one add and
//!   one multiply (`Rows` must multiply every input row of a pair separately).
//!   For symmetric vertical passes this trades multiplies, which only two ports
//!   execute, for adds, which a third port takes (see [`Program::cycles`]).
//!
//! Features are evaluated in **groups**: consecutive features that read the same
//! column classes (column modulo the `L * sx` columns one vector step moves) of
//! the same rows. Within a group the vectors of the block are the outer loop and
//! the features the inner one, so a vector loaded for one feature at vector `i`
//! is still in a register when another feature (or the same one at vector
//! `i + 1`) reads the same columns: `x[t][4]` at vector 0 is `x[t][0]` at
//! vector 1. A group is as large as the vector registers allow.
//!
//! A **deferred** program (light direct passes) stores nothing until all of a
//! block's loads are issued, and each row's last vector only after the next
//! block's loads: see [`Program::deferred`].
//!
//! Every output element receives its contributions in the same order whatever
//! its row in the call, its vector in the block and the loop (wide, narrow,
//! scalar) computing it: groups in order, features in order within a group, the
//! feature order depending only on each feature's columns and signs relative to
//! the output row's window. This reassociates the Plan's sum (within DESIGN.md's
//! bound); results never depend on where an element falls.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use crate::lower::{LTap, LTerm, PassKind, RowStencil};

/// Vector registers a block may plan for. x86_64 has 16 (Cranelift allocates
/// `xmm0`-`xmm15`); two stay free for the register allocator's own moves
/// around the FMAs that overwrite an operand. (At 14, regalloc2 still spills a
/// value now and then in very long blocks, dense 7x7 twice in 1,700
/// instructions; planning for 13 removes that but drops dense 7x7 to four
/// vectors per row, 9% slower.)
pub(crate) const VECTOR_BUDGET: usize = 14;

/// Constants a program may keep in registers for a whole block.
pub(crate) const MAX_GLOBALS: usize = 4;

/// A tap of a feature: window row, column offset, sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct PTap {
    pub row: usize,
    pub col: usize,
    pub neg: bool,
}

/// One output row a feature feeds: `acc[out] += coeff * f` (`coeff` `None`: a
/// unit term, `acc[out] += f`), subtracted when `neg`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Use {
    pub out: usize,
    pub coeff: Option<f64>,
    pub neg: bool,
}

/// A signed sum of taps (the first one positive), computed once per vector of a
/// block and fed to each of its uses (unit uses first: add and subtract keep
/// their operands; the last multiply may overwrite the feature).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Feature {
    pub taps: Vec<PTap>,
    pub uses: Vec<Use>,
}

impl Feature {
    /// Constants the feature's multiplies need (distinct signed coefficients).
    pub(crate) fn constants(&self) -> Vec<f64> {
        let mut cs: Vec<f64> = Vec::new();
        for u in &self.uses {
            if let Some(c) = u.coeff {
                let c = if u.neg { -c } else { c };
                if !cs.iter().any(|&d| d.to_bits() == c.to_bits()) {
                    cs.push(c);
                }
            }
        }
        cs
    }
}

/// How features are formed (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sharing {
    Rows,
    Terms,
    Window,
}

/// The schedule of one generated function's blocks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Program {
    pub sharing: Sharing,
    /// Output rows per block: the call's rows, or 1 when the rows of a call are
    /// computed one after the other (each over every column).
    pub out_rows: usize,
    pub features: Vec<Feature>,
    /// Consecutive ranges of `features`, in order (see the module docs).
    pub groups: Vec<Range<usize>>,
    /// Per output row: the group after which its sum is complete (scaled and
    /// stored right there), `None` for a row without taps.
    pub done_after: Vec<Option<usize>>,
    /// Vectors per output row in the wide loop.
    pub vectors: usize,
    /// Lanes per vector.
    pub lanes: usize,
    /// Columns one vector step moves (`lanes * sx`).
    pub step: usize,
    /// Constants splatted once per block (and kept in registers throughout it)
    /// instead of once per group.
    pub globals: Vec<f64>,
    /// Whether the wide loop's stores wait: a block stores its rows only after
    /// all of its loads, and each row's last vector only after the next
    /// block's loads (carried in a register until then). A direct pass's loads
    /// reach a few columns left of the block, onto the columns the block before
    /// just stored; where input and output rows share their offsets modulo
    /// 4 KiB (two buffers from one allocator, rows a multiple of 4 KiB apart),
    /// the core likely takes such a load for a read of the store in flight and
    /// makes it wait (JIT sobel into an output moved 256 bytes off the input's
    /// offset ran 3-9% faster). Light direct passes only, whose cost is
    /// memory. On an AMD EPYC (Zen 4) at 4096 x 4096, the two versions
    /// alternating in one process: sobel 3-7% faster in nine runs of eleven
    /// and level in two (8.1-8.8 -> 7.7-8.3 ms in the quieter ones), scharr
    /// 8.2-9.5 -> 8.0-8.7, a dilated 3x3 8.6-9.1 -> 8.4-8.8; sobel at 4099 1-2%.
    /// The heavy LoG 7x7 ran 2% slower deferred.
    pub deferred: bool,
    /// Per output row: its first and last feature.
    spans: Vec<Option<(usize, usize)>>,
}

/// A term's taps (plus, then minus) kept by `keep`, rows shifted by `shift`;
/// normalized so the first is positive. Returns the taps and whether the sign
/// was flipped.
fn signed(term: &LTerm, keep: impl Fn(&LTap) -> bool, shift: usize) -> (Vec<PTap>, bool) {
    let plus = term.plus.iter().filter(|t| keep(t)).map(|t| (t, false));
    let minus = term.minus.iter().filter(|t| keep(t)).map(|t| (t, true));
    let mut taps: Vec<PTap> = plus
        .chain(minus)
        .map(|(t, neg)| PTap {
            row: t.row + shift,
            col: t.col,
            neg,
        })
        .collect();
    let flip = taps.first().is_some_and(|t| t.neg);
    if flip {
        for t in &mut taps {
            t.neg = !t.neg;
        }
    }
    (taps, flip)
}

/// Sort key of a feature: its first tap's row, column class and column, then
/// every tap, with rows relative to `base` (the output row's window), so that
/// features reading the same column classes sit next to each other and the
/// order is the same for every output row.
type Key = (usize, usize, usize, Vec<(usize, usize, bool)>);

fn key(taps: &[PTap], base: usize, step: usize) -> Key {
    let first = taps[0];
    (
        first.row - base,
        first.col % step,
        first.col,
        taps.iter().map(|t| (t.row - base, t.col, t.neg)).collect(),
    )
}

impl Program {
    /// A placeholder (no features).
    pub(crate) fn empty() -> Program {
        Program {
            sharing: Sharing::Terms,
            out_rows: 0,
            features: Vec::new(),
            groups: Vec::new(),
            done_after: Vec::new(),
            vectors: 0,
            lanes: 1,
            step: 1,
            globals: Vec::new(),
            deferred: false,
            spans: Vec::new(),
        }
    }

    /// The program of `st` with features formed by `sharing`, one group per
    /// feature and one vector per row until `clif::schedule` picks them.
    pub(crate) fn new(st: &RowStencil, lanes: usize, sharing: Sharing) -> Program {
        let r = st.out_rows;
        let step = lanes * st.sx;
        let mut features: Vec<Feature> = Vec::new();
        match sharing {
            Sharing::Rows => {
                // (window row, key) -> feature; BTreeMap order is program order.
                let mut map: BTreeMap<(usize, Key), Feature> = BTreeMap::new();
                for j in 0..r {
                    let base = j * st.row_step;
                    for term in &st.terms {
                        let mut rows: Vec<usize> =
                            term.plus.iter().chain(&term.minus).map(|t| t.row).collect();
                        rows.sort_unstable();
                        rows.dedup();
                        for row in rows {
                            let (taps, flip) = signed(term, |t| t.row == row, base);
                            // Keyed by absolute window row, then by the pattern
                            // alone (rows relative to that window row).
                            let k = key(&taps, row + base, step);
                            let f = map.entry((row + base, k)).or_insert_with(|| Feature {
                                taps,
                                uses: Vec::new(),
                            });
                            f.uses.push(Use {
                                out: j,
                                coeff: term.coeff,
                                neg: flip,
                            });
                        }
                    }
                }
                features.extend(map.into_values());
            }
            Sharing::Terms | Sharing::Window => {
                let mut rows: Vec<Vec<Feature>> = Vec::with_capacity(r);
                for j in 0..r {
                    let base = j * st.row_step;
                    let mut row: Vec<(Key, Feature)> = st
                        .terms
                        .iter()
                        .map(|term| {
                            let (taps, flip) = signed(term, |_| true, base);
                            let f = Feature {
                                uses: vec![Use {
                                    out: j,
                                    coeff: term.coeff,
                                    neg: flip,
                                }],
                                taps,
                            };
                            (key(&f.taps, base, step), f)
                        })
                        .collect();
                    row.sort_by(|a, b| a.0.cmp(&b.0));
                    rows.push(row.into_iter().map(|(_, f)| f).collect());
                }
                if sharing == Sharing::Window {
                    // Term by term, the rows taking turns.
                    let terms = rows.first().map_or(0, Vec::len);
                    let mut rows: Vec<_> = rows.into_iter().map(Vec::into_iter).collect();
                    for _ in 0..terms {
                        features.extend(rows.iter_mut().filter_map(Iterator::next));
                    }
                } else {
                    features.extend(rows.into_iter().flatten());
                }
            }
        }
        for f in &mut features {
            // Unit uses first, then multiplies; each group by output row.
            f.uses
                .sort_by_key(|u| (u.coeff.is_some(), u.out, u.coeff.map(f64::to_bits)));
        }
        let groups = (0..features.len()).map(|k| k..k + 1).collect();
        let mut p = Program {
            sharing,
            out_rows: r,
            features,
            groups,
            done_after: Vec::new(),
            vectors: 1,
            lanes,
            step,
            globals: Vec::new(),
            deferred: st.kind == PassKind::Direct && st.light,
            spans: vec![None; r],
        };
        for (k, f) in p.features.iter().enumerate() {
            for u in &f.uses {
                let s = &mut p.spans[u.out];
                *s = Some(s.map_or((k, k), |(a, _)| (a, k)));
            }
        }
        p.mark_done();
        p
    }

    /// Every distinct constant of the program.
    pub(crate) fn all_constants(&self) -> Vec<f64> {
        let mut cs: Vec<f64> = Vec::new();
        for f in &self.features {
            for c in f.constants() {
                if !cs.iter().any(|d| d.to_bits() == c.to_bits()) {
                    cs.push(c);
                }
            }
        }
        cs
    }

    fn mark_done(&mut self) {
        self.done_after = vec![None; self.out_rows];
        for (g, range) in self.groups.iter().enumerate() {
            for f in &self.features[range.clone()] {
                for u in &f.uses {
                    self.done_after[u.out] = Some(g);
                }
            }
        }
    }

    /// The column class of a tap (its row and column modulo the vector step).
    fn class(&self, t: &PTap) -> (usize, usize) {
        (t.row, t.col % self.step)
    }

    /// Groups consecutive features sharing a column class while a block of `u`
    /// vectors per row fits in the registers.
    pub(crate) fn regroup(&mut self, u: usize) {
        if self.sharing == Sharing::Window {
            // One group: the window slides across the whole block.
            self.groups = if self.features.is_empty() {
                Vec::new()
            } else {
                std::iter::once(0..self.features.len()).collect()
            };
            self.vectors = u;
            self.mark_done();
            return;
        }
        let mut groups: Vec<Range<usize>> = Vec::new();
        let mut start = 0;
        for k in 1..=self.features.len() {
            let joins = k < self.features.len() && {
                let shares = self.features[k].taps.iter().any(|t| {
                    self.features[start..k]
                        .iter()
                        .any(|f| f.taps.iter().any(|s| self.class(s) == self.class(t)))
                });
                shares && { self.pressure_of(start..k + 1, u) <= VECTOR_BUDGET }
            };
            if !joins {
                groups.push(start..k);
                start = k;
            }
        }
        if self.features.is_empty() {
            groups.clear();
        }
        self.groups = groups;
        self.vectors = u;
        self.mark_done();
    }

    /// Output rows whose accumulators are live while features `range` run
    /// (deferred: every row begun, until the block's end).
    fn live_rows(&self, range: &Range<usize>) -> usize {
        self.spans
            .iter()
            .filter(|s| {
                matches!(s, Some((a, b)) if *a < range.end && (self.deferred || *b >= range.start))
            })
            .count()
    }

    /// Loads of one group over `n` vectors: (loads, most loaded vectors held
    /// at once for reuse).
    pub(crate) fn group_loads(&self, range: Range<usize>, n: usize) -> (usize, usize) {
        let feats = &self.features[range];
        let key = |t: &PTap, i: usize| (t.row, t.col + i * self.step);
        let mut remaining: Vec<((usize, usize), usize)> = Vec::new();
        for i in 0..n {
            for f in feats {
                remaining.extend(f.taps.iter().map(|t| (key(t, i), 1)));
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
        let mut held: Vec<(usize, usize)> = Vec::new();
        let (mut loads, mut peak) = (0, 0);
        for i in 0..n {
            for f in feats {
                for t in &f.taps {
                    let k = key(t, i);
                    match held.iter().position(|h| *h == k) {
                        Some(p) => {
                            held.swap_remove(p);
                        }
                        None => loads += 1,
                    }
                    let e = remaining
                        .binary_search_by(|e| e.0.cmp(&k))
                        .expect("counted above");
                    remaining[e].1 -= 1;
                    if remaining[e].1 > 0 {
                        held.push(k);
                    }
                }
                peak = peak.max(held.len());
            }
        }
        (loads, peak)
    }

    /// Vector registers a group needs with `u` vectors per row: live
    /// accumulators, the group's constants, vectors held for reuse, two
    /// temporaries, and, deferred, each row's last vector of the block before.
    fn pressure_of(&self, range: Range<usize>, u: usize) -> usize {
        let mut consts: Vec<u64> = Vec::new();
        for f in &self.features[range.clone()] {
            for c in f.constants() {
                if !consts.contains(&c.to_bits()) {
                    consts.push(c.to_bits());
                }
            }
        }
        let consts = if !self.globals.is_empty() {
            self.globals.len()
        } else if self.sharing == Sharing::Window {
            // The current term's coefficient only.
            consts.len().min(1)
        } else {
            consts.len()
        };
        let (_, held) = self.group_loads(range.clone(), u);
        let carried = if self.deferred { self.out_rows } else { 0 };
        self.live_rows(&range) * u + consts + held + 2 + carried
    }

    /// Most vector registers live at once in a block of `u` vectors per row
    /// with the current groups.
    /// Whether a block of `u` vectors per row fits in [`VECTOR_BUDGET`].
    pub(crate) fn fits(&self, u: usize) -> bool {
        self.pressure(u) <= VECTOR_BUDGET
    }

    pub(crate) fn pressure(&self, u: usize) -> usize {
        self.groups
            .iter()
            .map(|g| self.pressure_of(g.clone(), u))
            .max()
            .unwrap_or(0)
    }

    /// What one block of `u` vectors per row costs, with the current groups:
    /// (loads of pixels and constants, multiplies, adds).
    pub(crate) fn costs(&self, u: usize) -> (usize, usize, usize) {
        let mut loads = 0;
        let (mut mul, mut add) = (0, 0);
        if self.sharing == Sharing::Window && self.globals.is_empty() {
            // A splat whenever the coefficient changes (clif.rs keeps the last).
            let mut last = None;
            for _ in 0..u {
                for c in self.features.iter().flat_map(Feature::constants) {
                    if last != Some(c.to_bits()) {
                        loads += 1;
                        last = Some(c.to_bits());
                    }
                }
            }
        }
        for g in &self.groups {
            loads += self.group_loads(g.clone(), u).0;
            let mut consts: Vec<u64> = Vec::new();
            for f in &self.features[g.clone()] {
                add += (f.taps.len() - 1) * u;
                for use_ in &f.uses {
                    match use_.coeff {
                        Some(_) => mul += u,
                        None => add += u,
                    }
                }
                for c in f.constants() {
                    if !consts.contains(&c.to_bits()) {
                        consts.push(c.to_bits());
                    }
                }
            }
            if self.globals.is_empty() && self.sharing != Sharing::Window {
                loads += consts.len();
            }
        }
        (loads, mul, add)
    }

    /// Multiplies per output vector of a block of `self.vectors` vectors per row.
    pub(crate) fn multiplies_per_vector(&self) -> f64 {
        let u = self.vectors;
        self.costs(u).1 as f64 / (u * self.out_rows.max(1)) as f64
    }

    /// Estimated cycles per output vector of a block of `self.vectors` vectors
    /// per row, from [`Program::costs`] and the throughputs measured on the
    /// project's machine with 128-bit vectors: 2 multiplies or FMAs, 3
    /// floating-point operations of any kind (a third port adds), 2 loads per
    /// cycle. Used to choose between ways of sharing, not to predict time.
    pub(crate) fn cycles(&self) -> f64 {
        let u = self.vectors;
        let (loads, mul, add) = self.costs(u);
        let per_block = (mul as f64 / 2.0)
            .max((mul + add) as f64 / 3.0)
            .max(loads as f64 / 2.0);
        per_block / (u * self.out_rows.max(1)) as f64
    }
}

impl fmt::Display for Program {
    /// One line per feature: `x[2][4] - x[2][0] -> 0:+, 1:+2`, groups braced.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "program: {:?} sharing, {} row(s) x {} vector(s), {} features in {} groups{}",
            self.sharing,
            self.out_rows,
            self.vectors,
            self.features.len(),
            self.groups.len(),
            if self.deferred {
                ", stores deferred"
            } else {
                ""
            }
        )?;
        for (g, range) in self.groups.iter().enumerate() {
            for k in range.clone() {
                let feat = &self.features[k];
                let taps: Vec<String> = feat
                    .taps
                    .iter()
                    .enumerate()
                    .map(|(n, t)| {
                        let s = match (n, t.neg) {
                            (_, true) => "-",
                            (0, false) => "",
                            (_, false) => "+",
                        };
                        format!("{s}x[{}][{}]", t.row, t.col)
                    })
                    .collect();
                let uses: Vec<String> = feat
                    .uses
                    .iter()
                    .map(|u| {
                        let s = if u.neg { "-" } else { "+" };
                        match u.coeff {
                            Some(c) => format!("{}:{s}{c}", u.out),
                            None => format!("{}:{s}", u.out),
                        }
                    })
                    .collect();
                let brace = match (k == range.start, k + 1 == range.end) {
                    (true, true) => "[ ",
                    (true, false) => "[ ",
                    (false, _) => "  ",
                };
                write!(
                    f,
                    "  {g:>3} {brace}{} -> {}",
                    taps.join(" "),
                    uses.join(", ")
                )?;
                if k + 1 == range.end {
                    let done: Vec<String> = (0..self.out_rows)
                        .filter(|&j| self.done_after[j] == Some(g))
                        .map(|j| j.to_string())
                        .collect();
                    f.write_str(" ]")?;
                    if !done.is_empty() {
                        write!(f, "; store {}", done.join(", "))?;
                    }
                }
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::{PassKind, lower};
    use convc_core::{Border, ConvSpec, Kernel, Plan, named};

    fn stencils(spec: &ConvSpec) -> Vec<RowStencil> {
        let l = lower(&Plan::new(spec).unwrap()).unwrap();
        l.stencils().cloned().collect()
    }

    /// One pass of the separable gaussian 15x15 (sigma 3, zero border), as the
    /// JIT plans it.
    fn gaussian_15x15_pass(kind: PassKind) -> RowStencil {
        let spec = ConvSpec::new(
            named::build("gaussian", &[("sigma".into(), 3.0)], Some((15, 15))).unwrap(),
        )
        .border(Border::Zero);
        lower(&crate::jit_plan(&spec).unwrap())
            .unwrap()
            .stencils()
            .find(|s| s.kind == kind)
            .cloned()
            .unwrap()
    }

    fn fitted(st: &RowStencil, sharing: Sharing, u: usize) -> Program {
        let mut p = Program::new(st, 4, sharing);
        p.regroup(u);
        p
    }

    /// Per output row, its contributions in program order, with rows relative
    /// to the row's window: what must not depend on the row's position.
    fn contributions(p: &Program, row_step: usize) -> Vec<Vec<String>> {
        (0..p.out_rows)
            .map(|j| {
                let mut seq = Vec::new();
                for g in &p.groups {
                    for f in &p.features[g.clone()] {
                        for u in f.uses.iter().filter(|u| u.out == j) {
                            let taps: Vec<_> = f
                                .taps
                                .iter()
                                .map(|t| (t.row - j * row_step, t.col, t.neg))
                                .collect();
                            seq.push(format!("{taps:?} {:?} {}", u.coeff, u.neg));
                        }
                    }
                }
                seq
            })
            .collect()
    }

    #[test]
    fn sobel_shares_one_difference_per_input_row() {
        let spec = ConvSpec::new(named::build("sobel_x", &[], None).unwrap());
        let st = &stencils(&spec)[0];
        assert_eq!((st.kind, st.out_rows, st.in_rows), (PassKind::Direct, 2, 4));
        let p = fitted(st, Sharing::Rows, 3);
        // x[t][2] - x[t][0], once per window row, for every output row reading it.
        assert_eq!(p.features.len(), 4);
        for (t, f) in p.features.iter().enumerate() {
            let cols: Vec<_> = f.taps.iter().map(|x| (x.row, x.col, x.neg)).collect();
            assert_eq!(cols, vec![(t, 2, false), (t, 0, true)]);
            let outs: Vec<_> = f.uses.iter().map(|u| (u.out, u.coeff)).collect();
            // Units first (kernel rows 0 and 2), then the 2*(...) of kernel row 1.
            let mut want: Vec<(usize, Option<f64>)> = (0..2)
                .filter(|&j| t >= j && (t - j == 0 || t - j == 2))
                .map(|j| (j, None))
                .collect();
            want.extend((0..2).filter(|&j| t == j + 1).map(|j| (j, Some(2.0))));
            assert_eq!(outs, want, "feature {t}");
        }
        // Rows complete as soon as their last input row is in.
        assert_eq!(p.done_after, vec![Some(2), Some(3)]);
        // Eight loads per vector of the block serve both rows (plus the constant
        // 2, splatted once per group that multiplies).
        assert_eq!(p.costs(3).0, 8 * 3 + 2);
        assert!(
            p.to_string().contains("x[1][2] -x[1][0] -> 1:+, 0:+2"),
            "{p}"
        );
    }

    #[test]
    fn every_row_of_a_call_gets_the_same_sums_in_the_same_order() {
        let dense = Kernel::new(
            5,
            4,
            (0..20).map(|i| ((i * 7 % 11) as f64 - 5.0) / 3.0).collect(),
        )
        .unwrap();
        let specs = [
            ConvSpec::new(named::build("sobel_y", &[], Some((5, 5))).unwrap()),
            ConvSpec::new(named::build("laplacian", &[], None).unwrap()).stride_yx(2, 1),
            ConvSpec::new(dense.clone()).dilation_yx(2, 3),
            ConvSpec::new(dense).stride(2),
            ConvSpec::new(named::build("gaussian", &[], Some((7, 3))).unwrap()),
        ];
        for spec in specs {
            for st in stencils(&spec) {
                for sharing in [Sharing::Rows, Sharing::Terms, Sharing::Window] {
                    for u in [1, 2, 5] {
                        let p = fitted(&st, sharing, u);
                        let c = contributions(&p, st.row_step);
                        assert!(
                            c.iter().all(|row| *row == c[0]),
                            "{spec:?} {sharing:?} u={u}\n{p}"
                        );
                        // Every tap of every term reaches every row exactly once.
                        let taps: usize =
                            st.terms.iter().map(|t| t.plus.len() + t.minus.len()).sum();
                        let reach: usize = p
                            .features
                            .iter()
                            .map(|f| f.taps.len() * f.uses.iter().filter(|x| x.out == 0).count())
                            .sum();
                        assert_eq!(reach, taps, "{spec:?} {sharing:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn groups_reuse_vectors_across_the_block_and_fit_the_registers() {
        // Gaussian 15x15: the horizontal pass's pairs (c, 14 - c) of one column
        // class reuse each other's vectors one vector apart.
        let h = gaussian_15x15_pass(PassKind::Horizontal);
        let p = fitted(&h, Sharing::Terms, 8);
        assert!(p.fits(8), "{p}");
        assert!(p.groups.len() < p.features.len(), "{p}");
        let (loads, mul, add) = p.costs(8);
        // 15 taps x 8 vectors without reuse; about 8 per vector with it.
        assert!(loads < 15 * 8 * 2 / 3, "{loads} loads\n{p}");
        assert_eq!((mul, add), (8 * 8, 7 * 8));
        // Single taps a vector apart: x[0] at vector 1 is x[4] at vector 0.
        let k = Kernel::new(1, 9, (2..=10).map(|i| (i as f64).sqrt() * 0.1).collect()).unwrap();
        let st = &stencils(&ConvSpec::new(k))[0];
        let p = fitted(st, Sharing::Terms, 4);
        // Classes {0, 4, 8}, {1, 5}, {2, 6}, {3, 7}: 4 + 2 + 1 + 1 + 1 new
        // vectors... each class loads its vectors once.
        assert_eq!(p.groups.len(), 4, "{p}");
        assert_eq!(p.costs(4).0, (4 + 2) + 3 * (4 + 1) + 9, "{p}");
        for u in 1..=8 {
            let mut p = Program::new(st, 4, Sharing::Terms);
            p.regroup(u);
            for g in &p.groups {
                assert!(p.pressure_of(g.clone(), u) <= VECTOR_BUDGET || g.len() == 1);
            }
        }
    }

    #[test]
    fn symmetric_vertical_passes_slide_a_window_over_the_rows() {
        let v = gaussian_15x15_pass(PassKind::Vertical);
        assert_eq!((v.out_rows, v.in_rows), (4, 18));
        let p = crate::clif::schedule(&v, 4, 8);
        assert_eq!((p.sharing, p.vectors), (Sharing::Window, 1), "{p}");
        assert!(p.fits(1), "{p}");
        let (loads, mul, add) = p.costs(1);
        // Each of the 18 input rows loaded once, one splat per term; 7 pair
        // sums and 8 multiplies per row, where Rows multiplies all 15 taps.
        assert_eq!((loads, mul, add), (18 + 8, 4 * 8, 4 * 7), "{p}");
        let rows = fitted(&v, Sharing::Rows, 2);
        assert_eq!(rows.costs(2).1, 4 * 2 * 15);
        assert!(p.cycles() < rows.cycles());
        // Without pairs to fold (dense taps), sharing rows stays cheaper.
        let dense = Kernel::new(7, 7, (0..49).map(|i| 0.5 + (i * 37 % 101) as f64).collect());
        let d = &stencils(&ConvSpec::new(dense.unwrap()))[0];
        assert_eq!(crate::clif::schedule(d, 4, 8).sharing, Sharing::Rows);
    }

    #[test]
    fn few_constants_per_program_can_live_across_the_block() {
        let spec = ConvSpec::new(
            named::build("gaussian", &[("sigma".into(), 1.0)], Some((5, 5))).unwrap(),
        );
        let v = stencils(&spec)
            .into_iter()
            .find(|s| s.kind == PassKind::Vertical)
            .unwrap();
        let mut p = fitted(&v, Sharing::Rows, 2);
        assert_eq!(p.all_constants().len(), 3);
        let (per_group, _, _) = p.costs(2);
        p.globals = p.all_constants();
        let (per_block, _, _) = p.costs(2);
        // 8 input rows x 2 vectors, constants no longer reloaded per group.
        assert_eq!(per_block, 16);
        assert!(per_group > per_block);
    }
}
