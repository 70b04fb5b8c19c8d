//! The entering-arc rule of the network simplex: block search (Grigoriadis 1986; LEMON's default
//! rule), over either of the two arc sets the solver uses: the growing list of active arcs of the
//! column generation, or all n·m arcs of the complete bipartite graph, read straight from the
//! row-major cost matrix.
//!
//! The arcs are scanned cyclically, from where the previous search stopped, in blocks of about
//! √(number of arcs); the search returns the arc of most negative reduced cost
//! `C_ij + π_i − π_{n+j} < −tol` in the first block that holds one.

use super::spanning_tree::{Arc, SpanningTree};

/// An arc set the simplex can search for an entering arc.
pub(super) trait EnteringArc {
    /// A nonbasic arc of reduced cost below `−tol` under the tree's potentials, or `None` when
    /// there is none (the basis is optimal on this arc set).
    fn find(&mut self, tree: &SpanningTree, tol: f64) -> Option<Arc>;
}

/// Runs pivots until no arc of `arcs` prices out below `−tol` (returns true) or `*pivots`
/// reaches `max_pivots` (returns false).
pub(super) fn optimize(
    tree: &mut SpanningTree,
    arcs: &mut impl EnteringArc,
    tol: f64,
    pivots: &mut usize,
    max_pivots: usize,
) -> bool {
    loop {
        let Some(arc) = arcs.find(tree, tol) else {
            return true;
        };
        if *pivots >= max_pivots {
            return false;
        }
        tree.pivot(arc);
        *pivots += 1;
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
pub(super) struct AllArcs<'a> {
    c: &'a [f64],
    n: usize,
    m: usize,
    block: usize,
    next: usize,
    simd: Simd,
}

impl<'a> AllArcs<'a> {
    pub(super) fn new(c: &'a [f64], n: usize, m: usize) -> Self {
        Self {
            c,
            n,
            m,
            block: DENSE_BLOCK_FACTOR * block_len(n * m),
            next: 0,
            simd: Simd::detect(),
        }
    }
}

impl EnteringArc for AllArcs<'_> {
    fn find(&mut self, tree: &SpanningTree, tol: f64) -> Option<Arc> {
        let (n, m) = (self.n, self.m);
        let total = n * m;
        let (pi_rows, pi_cols) = tree.potentials().split_at(n);
        let mut best = None;
        let mut min = -tol;
        let mut left = self.block;
        let mut scanned = 0;
        let mut p = self.next;
        while scanned < total {
            let i = p / m;
            let j0 = p - i * m;
            let len = (m - j0).min(left);
            let row = &self.c[p..p + len];
            let cols = &pi_cols[j0..j0 + len];
            let s = pi_rows[i];
            let seg_min = min_reduced(self.simd, row, cols, s);
            if seg_min < min {
                let k = position_of(self.simd, row, cols, s, seg_min);
                if !tree.has_arc(i as u32, (n + j0 + k) as u32) {
                    min = seg_min;
                    best = Some(p + k);
                } else {
                    // Only round-off can put a tree arc below −tol: skip it.
                    for (k, (&cij, &t)) in row.iter().zip(cols).enumerate() {
                        let r = cij + s - t;
                        if r < min && !tree.has_arc(i as u32, (n + j0 + k) as u32) {
                            min = r;
                            best = Some(p + k);
                        }
                    }
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

/// `min_j (c_j + s − t_j)` (∞ for empty slices), branch-free, compiled for the vector unit
/// `simd` with enough independent lanes to hide the latency of the minimum.
#[inline]
pub(super) fn min_reduced(simd: Simd, c: &[f64], t: &[f64], s: f64) -> f64 {
    match simd {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Simd::detect` returns `Avx512` only where the processor has AVX-512F.
        Simd::Avx512 => unsafe { min_reduced_avx512(c, t, s) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Simd::detect` returns `Avx2` only where the processor has AVX2.
        Simd::Avx2 => unsafe { min_reduced_avx2(c, t, s) },
        Simd::Baseline => min_reduced_lanes::<8>(c, t, s),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn min_reduced_avx512(c: &[f64], t: &[f64], s: f64) -> f64 {
    min_reduced_lanes::<32>(c, t, s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn min_reduced_avx2(c: &[f64], t: &[f64], s: f64) -> f64 {
    min_reduced_lanes::<16>(c, t, s)
}

/// The body of [`min_reduced`] over `LANES` entries at a time, inlined into each
/// instruction-set variant.
#[inline(always)]
fn min_reduced_lanes<const LANES: usize>(c: &[f64], t: &[f64], s: f64) -> f64 {
    let mut lane_min = [f64::INFINITY; LANES];
    let (c_blocks, t_blocks) = (c.chunks_exact(LANES), t.chunks_exact(LANES));
    let (c_tail, t_tail) = (c_blocks.remainder(), t_blocks.remainder());
    for (cb, tb) in c_blocks.zip(t_blocks) {
        for l in 0..LANES {
            let r = cb[l] + s - tb[l];
            lane_min[l] = if r < lane_min[l] { r } else { lane_min[l] };
        }
    }
    let mut min = lane_min.iter().fold(f64::INFINITY, |x, &y| x.min(y));
    for (&cj, &tj) in c_tail.iter().zip(t_tail) {
        min = min.min(cj + s - tj);
    }
    min
}

/// The first `j` with `c_j + s − t_j == min`: the same expression as [`min_reduced`], so a
/// minimum it returned is found exactly.
#[inline]
fn position_of(simd: Simd, c: &[f64], t: &[f64], s: f64, min: f64) -> usize {
    match simd {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `min_reduced`.
        Simd::Avx512 => unsafe { position_of_avx512(c, t, s, min) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `min_reduced`.
        Simd::Avx2 => unsafe { position_of_avx2(c, t, s, min) },
        Simd::Baseline => position_of_lanes::<8>(c, t, s, min),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn position_of_avx512(c: &[f64], t: &[f64], s: f64, min: f64) -> usize {
    position_of_lanes::<8>(c, t, s, min)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn position_of_avx2(c: &[f64], t: &[f64], s: f64, min: f64) -> usize {
    position_of_lanes::<4>(c, t, s, min)
}

/// The body of [`position_of`]: a branch-free test of `LANES` entries at a time, then the first
/// match inside the block that has one.
#[inline(always)]
fn position_of_lanes<const LANES: usize>(c: &[f64], t: &[f64], s: f64, min: f64) -> usize {
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
                        assert_eq!(position_of(simd, &c, &t, s, min), at, "{simd:?}");
                    }
                }
            }
        }
    }
}
