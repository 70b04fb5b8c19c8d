//! The entering-arc rule of the network simplex: block search (Grigoriadis 1986; LEMON's default
//! rule), over either of the two arc sets the solver uses: the growing list of active arcs of the
//! column generation, or all n·m arcs of the complete bipartite graph, read straight from the
//! row-major cost matrix.
//!
//! The arcs are scanned cyclically, from where the previous search stopped, in blocks of about
//! √(number of arcs); the search returns the arc of most negative reduced cost
//! `C_ij + π_i − π_{n+j} < −tol` in the first block that holds one.

use std::sync::atomic::{AtomicBool, Ordering};

use super::spanning_tree::{Arc, SpanningTree};

/// An arc set the simplex can search for an entering arc.
pub(super) trait EnteringArc {
    /// A nonbasic arc of reduced cost below `−tol` under the tree's potentials, or `None` when
    /// there is none (the basis is optimal on this arc set).
    fn find(&mut self, tree: &SpanningTree, tol: f64) -> Option<Arc>;
}

/// The pivots a run has made and may make, and the flag that stops it early.
pub(super) struct Budget<'a> {
    /// Pivots made so far.
    pub pivots: usize,
    /// The most pivots allowed.
    pub max: usize,
    /// Raised by another thread to stop the solve (one relaxed load per pivot).
    pub cancel: &'a AtomicBool,
}

impl Budget<'_> {
    /// True once the solve was cancelled.
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// Runs pivots until no arc of `arcs` prices out below `−tol` (returns true), or the budget's
/// pivots reach its `max` or its cancel flag is raised (returns false).
pub(super) fn optimize(
    tree: &mut SpanningTree,
    arcs: &mut impl EnteringArc,
    tol: f64,
    budget: &mut Budget,
) -> bool {
    loop {
        let Some(arc) = arcs.find(tree, tol) else {
            return true;
        };
        if budget.pivots >= budget.max || budget.cancelled() {
            return false;
        }
        tree.pivot(arc);
        budget.pivots += 1;
    }
}

/// Block length for `arcs` arcs: √arcs, at least 10 (LEMON's block size factor 1).
fn block_len(arcs: usize) -> usize {
    ((arcs as f64).sqrt() as usize).max(10)
}

/// The active arcs of the column generation, in the order they were added.
#[derive(Default)]
pub(super) struct ActiveArcs {
    source: Vec<u32>,
    target: Vec<u32>,
    cost: Vec<f64>,
    next: usize,
}

impl ActiveArcs {
    /// Appends the arc `source → target` of cost `cost`.
    pub(super) fn push(&mut self, source: u32, target: u32, cost: f64) {
        self.source.push(source);
        self.target.push(target);
        self.cost.push(cost);
    }
}

impl EnteringArc for ActiveArcs {
    fn find(&mut self, tree: &SpanningTree, tol: f64) -> Option<Arc> {
        let total = self.cost.len();
        if total == 0 {
            return None;
        }
        let pi = tree.potentials();
        let block = block_len(total);
        let mut best = None;
        let mut min = -tol;
        let mut count = block;
        if self.next >= total {
            self.next = 0;
        }
        'search: for (start, end) in [(self.next, total), (0, self.next)] {
            for e in start..end {
                let (s, t) = (self.source[e], self.target[e]);
                let r = self.cost[e] + pi[s as usize] - pi[t as usize];
                if r < min && !tree.has_arc(s, t) {
                    min = r;
                    best = Some(e);
                }
                count -= 1;
                if count == 0 {
                    if best.is_some() {
                        self.next = e + 1;
                        break 'search;
                    }
                    count = block;
                }
            }
        }
        best.map(|e| Arc {
            source: self.source[e],
            target: self.target[e],
            cost: self.cost[e],
        })
    }
}

/// Blocks of the search over all arcs are this many times LEMON's √arcs. Measured (callgrind and
/// wall clock, uniform 2-D clouds and 8 Gaussians → moons, n = 256 and 512): 2 takes ~20% fewer
/// pivots and ~10% fewer instructions than 1; 3 and 4 take more instructions. A segment scan costs
/// less than a pivot, so longer blocks that find better entering arcs pay.
const DENSE_BLOCK_FACTOR: usize = 2;

/// All n·m arcs `i → n + j` of the n×m row-major cost `c`, arc `(i, j)` at position `i·m + j`.
/// A block is scanned one row segment at a time: a branch-free minimum of the reduced costs
/// (compiled for AVX-512 or AVX2 where the processor has them), and only for a segment whose
/// minimum beats the block's best so far a second pass that finds where it is.
///
/// The search runs in two precisions. First on `c` and `π` rounded to `f32` (half the memory
/// traffic, twice the lanes), taking only arcs whose `f32` reduced cost is below
/// `−tol − margin`, where the margin bounds the rounding error (so every such arc has an exact
/// reduced cost below `−tol`; it is checked in `f64` all the same). When that finds none, the
/// caller switches to the exact `f64` search ([`AllArcs::make_exact`]), which finishes the run
/// and is the only one that can declare the basis optimal.
pub(super) struct AllArcs<'a> {
    c: &'a [f64],
    /// `c` rounded to `f32`; empty once the search is exact.
    c_single: Vec<f32>,
    /// `max |C|`.
    c_max: f64,
    n: usize,
    m: usize,
    block: usize,
    next: usize,
    simd: Simd,
}

/// Relative rounding margin of the `f32` search: `2⁻²⁰ = 16·2⁻²⁴` times the magnitudes
/// `max |C| + 2·max |π|` of the three rounded terms (each rounding, and each of the two `f32`
/// operations, errs by at most `2⁻²⁴` of its magnitude: five errors, bounded by 16).
const SINGLE_MARGIN: f64 = 1.0 / (1u64 << 20) as f64;

impl<'a> AllArcs<'a> {
    /// The arcs of `c` (of largest magnitude `c_max = max |C|`), searched in `f32` first.
    pub(super) fn new(c: &'a [f64], n: usize, m: usize, c_max: f64) -> Self {
        Self {
            c,
            c_single: c.iter().map(|&x| x as f32).collect(),
            c_max,
            n,
            m,
            block: DENSE_BLOCK_FACTOR * block_len(n * m),
            next: 0,
            simd: Simd::detect(),
        }
    }

    /// Whether the search is the exact `f64` one.
    pub(super) fn is_exact(&self) -> bool {
        self.c_single.is_empty()
    }

    /// Switches to the exact `f64` search for the rest of the run.
    pub(super) fn make_exact(&mut self) {
        self.c_single = Vec::new();
    }

    /// The block search in the precision of `c` (`f64` or `f32`, with the tree's potentials in
    /// it as `pi`): the nontree arc of smallest reduced cost below `threshold` in the first block
    /// that holds one.
    fn search<T: Real>(
        &mut self,
        c: &[T],
        pi: &[T],
        threshold: T,
        tree: &SpanningTree,
    ) -> Option<Arc> {
        let (n, m) = (self.n, self.m);
        let total = n * m;
        let (pi_rows, pi_cols) = pi.split_at(n);
        let admissible = |i: usize, j: usize| !tree.has_arc(i as u32, (n + j) as u32);
        let mut best = None;
        let mut min = threshold;
        let mut left = self.block;
        let mut scanned = 0;
        let mut p = self.next;
        while scanned < total {
            let i = p / m;
            let j0 = p - i * m;
            let len = (m - j0).min(left);
            let row = &c[p..p + len];
            let cols = &pi_cols[j0..j0 + len];
            let s = pi_rows[i];
            let seg_min = T::min_reduced(self.simd, row, cols, s);
            if seg_min < min {
                let k = T::position_of(self.simd, row, cols, s, seg_min);
                if admissible(i, j0 + k) {
                    min = seg_min;
                    best = Some(p + k);
                } else {
                    // Only round-off can put a tree arc below the threshold: skip it.
                    for (k, (&cij, &t)) in row.iter().zip(cols).enumerate() {
                        let r = cij + s - t;
                        if r < min && admissible(i, j0 + k) {
                            min = r;
                            best = Some(p + k);
                        }
                    }
                }
                if let Some(e) = best {
                    prefetch(&self.c[e]);
                }
            }
            p += len;
            if p == total {
                p = 0;
            }
            scanned += len;
            left -= len;
            if left == 0 {
                if best.is_some() {
                    break;
                }
                left = self.block;
            }
        }
        self.next = p;
        best.map(|e| Arc {
            source: (e / m) as u32,
            target: (n + e % m) as u32,
            cost: self.c[e],
        })
    }
}

impl EnteringArc for AllArcs<'_> {
    fn find(&mut self, tree: &SpanningTree, tol: f64) -> Option<Arc> {
        let exact = tree.potentials();
        if self.is_exact() {
            let c = self.c;
            return self.search(c, exact, -tol, tree);
        }
        let (pi, pi_bound) = tree.potentials_single();
        let margin = SINGLE_MARGIN * (self.c_max + 2.0 * pi_bound);
        let c = std::mem::take(&mut self.c_single);
        let arc = self.search(&c, pi, (-tol - margin) as f32, tree);
        self.c_single = c;
        // The margin makes this check redundant; should round-off ever beat it, the search goes
        // exact rather than pivot on an arc that does not improve the basis.
        match arc {
            Some(arc)
                if arc.cost + exact[arc.source as usize] - exact[arc.target as usize] < -tol =>
            {
                Some(arc)
            }
            Some(_) => {
                self.make_exact();
                self.find(tree, tol)
            }
            None => None,
        }
    }
}

/// Asks the processor to bring the cache line of `x` closer (a hint; no effect elsewhere).
#[inline]
fn prefetch(x: &f64) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch has no architectural effect and `x` is a valid reference.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((x as *const f64).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// The instruction sets the scans over a row segment are compiled for, chosen at run time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Simd {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    Baseline,
}

impl Simd {
    /// The widest vector unit of this processor.
    pub(super) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Simd::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Simd::Avx2;
            }
        }
        Simd::Baseline
    }
}

/// A floating-point type the segment scans run in: `f64` for the exact search, `f32` for the
/// fast one. The lane counts fill four vector registers (enough independent minima to hide the
/// latency of the minimum instruction).
pub(super) trait Real:
    Copy + PartialOrd + std::ops::Add<Output = Self> + std::ops::Sub<Output = Self>
{
    const INFINITY: Self;

    /// `min_j (c_j + s − t_j)` (∞ for empty slices), branch-free, compiled for `simd`.
    fn min_reduced(simd: Simd, c: &[Self], t: &[Self], s: Self) -> Self;

    /// The first `j` with `c_j + s − t_j == min`: the same expression as
    /// [`Real::min_reduced`], so a minimum it returned is found exactly.
    fn position_of(simd: Simd, c: &[Self], t: &[Self], s: Self, min: Self) -> usize;
}

impl Real for f64 {
    const INFINITY: Self = f64::INFINITY;

    #[inline]
    fn min_reduced(simd: Simd, c: &[f64], t: &[f64], s: f64) -> f64 {
        match simd {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Simd::detect` returns `Avx512` only where the processor has AVX-512F.
            Simd::Avx512 => unsafe { min_reduced_avx512::<f64, 32>(c, t, s) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Simd::detect` returns `Avx2` only where the processor has AVX2.
            Simd::Avx2 => unsafe { min_reduced_avx2::<f64, 16>(c, t, s) },
            Simd::Baseline => min_reduced_lanes::<f64, 8>(c, t, s),
        }
    }

    #[inline]
    fn position_of(simd: Simd, c: &[f64], t: &[f64], s: f64, min: f64) -> usize {
        match simd {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as in `min_reduced`.
            Simd::Avx512 => unsafe { position_of_avx512::<f64, 8>(c, t, s, min) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as in `min_reduced`.
            Simd::Avx2 => unsafe { position_of_avx2::<f64, 4>(c, t, s, min) },
            Simd::Baseline => position_of_lanes::<f64, 8>(c, t, s, min),
        }
    }
}

impl Real for f32 {
    const INFINITY: Self = f32::INFINITY;

    #[inline]
    fn min_reduced(simd: Simd, c: &[f32], t: &[f32], s: f32) -> f32 {
        match simd {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as for `f64`.
            Simd::Avx512 => unsafe { min_reduced_avx512::<f32, 64>(c, t, s) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as for `f64`.
            Simd::Avx2 => unsafe { min_reduced_avx2::<f32, 32>(c, t, s) },
            Simd::Baseline => min_reduced_lanes::<f32, 16>(c, t, s),
        }
    }

    #[inline]
    fn position_of(simd: Simd, c: &[f32], t: &[f32], s: f32, min: f32) -> usize {
        match simd {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as for `f64`.
            Simd::Avx512 => unsafe { position_of_avx512::<f32, 16>(c, t, s, min) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as for `f64`.
            Simd::Avx2 => unsafe { position_of_avx2::<f32, 8>(c, t, s, min) },
            Simd::Baseline => position_of_lanes::<f32, 16>(c, t, s, min),
        }
    }
}

/// `min_j (c_j + s − t_j)` in `f64`, for the vector unit `simd`.
#[inline]
pub(super) fn min_reduced(simd: Simd, c: &[f64], t: &[f64], s: f64) -> f64 {
    f64::min_reduced(simd, c, t, s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn min_reduced_avx512<T: Real, const LANES: usize>(c: &[T], t: &[T], s: T) -> T {
    min_reduced_lanes::<T, LANES>(c, t, s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn min_reduced_avx2<T: Real, const LANES: usize>(c: &[T], t: &[T], s: T) -> T {
    min_reduced_lanes::<T, LANES>(c, t, s)
}

/// The body of [`Real::min_reduced`] over `LANES` entries at a time, inlined into each
/// instruction-set variant.
#[inline(always)]
fn min_reduced_lanes<T: Real, const LANES: usize>(c: &[T], t: &[T], s: T) -> T {
    let mut lane_min = [T::INFINITY; LANES];
    let (c_blocks, t_blocks) = (c.chunks_exact(LANES), t.chunks_exact(LANES));
    let (c_tail, t_tail) = (c_blocks.remainder(), t_blocks.remainder());
    for (cb, tb) in c_blocks.zip(t_blocks) {
        for l in 0..LANES {
            let r = cb[l] + s - tb[l];
            lane_min[l] = if r < lane_min[l] { r } else { lane_min[l] };
        }
    }
    let mut min = T::INFINITY;
    for x in lane_min {
        min = if x < min { x } else { min };
    }
    for (&cj, &tj) in c_tail.iter().zip(t_tail) {
        let r = cj + s - tj;
        min = if r < min { r } else { min };
    }
    min
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn position_of_avx512<T: Real, const LANES: usize>(c: &[T], t: &[T], s: T, min: T) -> usize {
    position_of_lanes::<T, LANES>(c, t, s, min)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn position_of_avx2<T: Real, const LANES: usize>(c: &[T], t: &[T], s: T, min: T) -> usize {
    position_of_lanes::<T, LANES>(c, t, s, min)
}

/// The body of [`Real::position_of`]: a branch-free test of `LANES` entries at a time, then the
/// first match inside the block that has one.
#[inline(always)]
fn position_of_lanes<T: Real, const LANES: usize>(c: &[T], t: &[T], s: T, min: T) -> usize {
    let (c_blocks, t_blocks) = (c.chunks_exact(LANES), t.chunks_exact(LANES));
    let mut at = 0;
    for (cb, tb) in c_blocks.zip(t_blocks) {
        let mut hit = false;
        for l in 0..LANES {
            hit |= cb[l] + s - tb[l] == min;
        }
        if hit {
            break;
        }
        at += LANES;
    }
    at + c[at..]
        .iter()
        .zip(&t[at..])
        .position(|(&cj, &tj)| cj + s - tj == min)
        .expect("the minimum is attained")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn segment_scans_agree_with_a_scalar_loop_on_every_instruction_set() {
        // Truth: a plain scalar loop over the same expression `c_j + s − t_j` (so equality is
        // exact, no tolerance), on lengths around the lane counts (tails) and with tied minima
        // (integer values), for the baseline and every vector unit this processor has.
        let mut sets = vec![Simd::Baseline];
        if Simd::detect() != Simd::Baseline {
            sets.push(Simd::detect());
        }
        #[cfg(target_arch = "x86_64")]
        if Simd::detect() == Simd::Avx512 {
            sets.push(Simd::Avx2);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for len in (0..70).chain([511, 512, 1000]) {
            for ties in [false, true] {
                let draw = |rng: &mut ChaCha8Rng| {
                    let x: f64 = rng.gen_range(-2.0..2.0);
                    if ties {
                        x.round()
                    } else {
                        x
                    }
                };
                let c: Vec<f64> = (0..len).map(|_| draw(&mut rng)).collect();
                let t: Vec<f64> = (0..len).map(|_| draw(&mut rng)).collect();
                let s = draw(&mut rng);
                let (mut want, mut at) = (f64::INFINITY, 0);
                for j in 0..len {
                    let r = c[j] + s - t[j];
                    if r < want {
                        (want, at) = (r, j);
                    }
                }
                for &simd in &sets {
                    let min = min_reduced(simd, &c, &t, s);
                    assert_eq!(min, want, "{simd:?}, len {len}");
                    if len > 0 {
                        assert_eq!(f64::position_of(simd, &c, &t, s, min), at, "{simd:?}");
                    }
                    let single = |x: &[f64]| x.iter().map(|&y| y as f32).collect::<Vec<f32>>();
                    let (c32, t32, s32) = (single(&c), single(&t), s as f32);
                    let (mut want32, mut at32) = (f32::INFINITY, 0);
                    for j in 0..len {
                        let r = c32[j] + s32 - t32[j];
                        if r < want32 {
                            (want32, at32) = (r, j);
                        }
                    }
                    let min32 = f32::min_reduced(simd, &c32, &t32, s32);
                    assert_eq!(min32, want32, "{simd:?}, len {len}, f32");
                    if len > 0 {
                        assert_eq!(f32::position_of(simd, &c32, &t32, s32, min32), at32);
                    }
                }
            }
        }
    }
}
