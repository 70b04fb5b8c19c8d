//! Shortest augmenting paths on reduced costs (Dijkstra with a binary heap, duals updated on the
//! labelled nodes only), as in Jonker & Volgenant (1987), on the sparse candidate graph.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::candidates::CandidateGraph;
use super::{AssignmentSolution, NONE};
use crate::status::Status;

/// A heap entry: tentative distance of a column (min-heap order).
#[derive(Debug, Clone, Copy)]
struct Label {
    dist: f64,
    col: usize,
}

impl PartialEq for Label {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Label {}

impl PartialOrd for Label {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Label {
    fn cmp(&self, other: &Self) -> Ordering {
        other.dist.total_cmp(&self.dist)
    }
}

/// Matching, duals and the reusable Dijkstra buffers.
pub(super) struct State {
    pub(super) u: Vec<f64>,
    pub(super) v: Vec<f64>,
    pub(super) row_col: Vec<usize>,
    pub(super) col_row: Vec<usize>,
    free_rows: Vec<usize>,
    dist: Vec<f64>,
    pred: Vec<usize>,
    scanned: Vec<bool>,
    touched: Vec<usize>,
    scanned_list: Vec<usize>,
    heap: BinaryHeap<Label>,
    /// Arcs relaxed so far, and the budget.
    relaxations: u64,
    max_relaxations: u64,
}

impl State {
    pub(super) fn new(n: usize, v: Vec<f64>, max_relaxations: u64) -> Self {
        Self {
            u: vec![0.0; n],
            v,
            row_col: vec![NONE; n],
            col_row: vec![NONE; n],
            free_rows: Vec::new(),
            dist: vec![f64::INFINITY; n],
            pred: vec![NONE; n],
            scanned: vec![false; n],
            touched: Vec::new(),
            scanned_list: Vec::new(),
            heap: BinaryHeap::new(),
            relaxations: 0,
            max_relaxations,
        }
    }

    /// Sets `u_i = min_j (C_ij − v_j)` over the candidates and matches every row to a free column
    /// on a tight candidate arc where one exists (the column reduction of Jonker & Volgenant).
    pub(super) fn greedy_tight(&mut self, graph: &CandidateGraph, tol: f64) {
        for i in 0..self.u.len() {
            self.u[i] = graph.row_min_reduced(i, &self.v);
            let tight = graph.adjacency[i]
                .iter()
                .find(|a| self.col_row[a.col] == NONE && a.cost - self.u[i] - self.v[a.col] <= tol);
            match tight {
                Some(a) => {
                    self.row_col[i] = a.col;
                    self.col_row[a.col] = i;
                }
                None => self.free_rows.push(i),
            }
        }
    }

    /// Unmatches row i and queues it for augmentation.
    pub(super) fn free_row(&mut self, i: usize) {
        let j = self.row_col[i];
        if j != NONE {
            self.col_row[j] = NONE;
            self.row_col[i] = NONE;
            self.free_rows.push(i);
        }
    }

    /// Augments from every free row; false if the relaxation budget ran out first.
    pub(super) fn augment_all(&mut self, graph: &CandidateGraph) -> bool {
        while let Some(s) = self.free_rows.pop() {
            if self.relaxations > self.max_relaxations {
                return false;
            }
            self.u[s] = graph.row_min_reduced(s, &self.v);
            let found = self.augment(s, graph);
            assert!(found, "the candidate graph holds a perfect matching");
        }
        true
    }

    /// One shortest augmenting path from the free row s (Dijkstra on reduced costs), then the
    /// dual update on the labelled nodes and the flip of the path. False if no free column is
    /// reachable.
    fn augment(&mut self, s: usize, graph: &CandidateGraph) -> bool {
        let mut sink = NONE;
        let mut sink_dist = 0.0;
        if let Some(j) = self.relax(s, 0.0, graph) {
            sink = j;
        }
        while sink == NONE {
            let Some(Label { dist, col }) = self.heap.pop() else {
                break;
            };
            if self.scanned[col] || dist > self.dist[col] {
                continue;
            }
            self.scanned[col] = true;
            self.scanned_list.push(col);
            sink_dist = dist;
            let i = self.col_row[col];
            if i == NONE {
                sink = col;
            } else if let Some(j) = self.relax(i, dist, graph) {
                sink = j;
            }
        }
        self.heap.clear();
        if sink != NONE {
            self.u[s] += sink_dist;
            for &j in &self.scanned_list {
                let delta = sink_dist - self.dist[j];
                self.v[j] -= delta;
                let i = self.col_row[j];
                if i != NONE {
                    self.u[i] += delta;
                }
            }
            let mut j = sink;
            loop {
                let i = self.pred[j];
                let next = self.row_col[i];
                self.row_col[i] = j;
                self.col_row[j] = i;
                if i == s {
                    break;
                }
                j = next;
            }
        }
        for &j in &self.touched {
            self.dist[j] = f64::INFINITY;
            self.scanned[j] = false;
        }
        self.touched.clear();
        self.scanned_list.clear();
        sink != NONE
    }

    /// Relaxes the candidate arcs of row i, reached at distance `base`. Reduced costs are clamped
    /// at 0 against round-off, so a scanned column (distance ≤ `base`) is never relabelled.
    /// Returns a free column reached at distance `base`: no label is smaller, so it ends a
    /// shortest augmenting path at once (this keeps ties, e.g. integer costs, cheap).
    #[inline]
    fn relax(&mut self, i: usize, base: f64, graph: &CandidateGraph) -> Option<usize> {
        let ui = self.u[i];
        self.relaxations += graph.adjacency[i].len() as u64;
        for a in &graph.adjacency[i] {
            let j = a.col;
            let d = base + (a.cost - ui - self.v[j]).max(0.0);
            if d < self.dist[j] {
                if self.dist[j] == f64::INFINITY {
                    self.touched.push(j);
                }
                self.dist[j] = d;
                self.pred[j] = i;
                if d <= base && self.col_row[j] == NONE {
                    return Some(j);
                }
                self.heap.push(Label { dist: d, col: j });
            }
        }
        None
    }

    /// Recomputes `u_i = C_{iσ(i)} − v_{σ(i)}` so matched arcs are tight to the last bit.
    pub(super) fn retighten(&mut self, c: &[f64]) {
        let n = self.u.len();
        for (i, &j) in self.row_col.iter().enumerate() {
            self.u[i] = c[i * n + j] - self.v[j];
        }
    }

    pub(super) fn into_solution(self, c: &[f64], status: Status) -> AssignmentSolution {
        let n = self.u.len();
        let total_cost = self
            .row_col
            .iter()
            .enumerate()
            .map(|(i, &j)| c[i * n + j])
            .sum();
        AssignmentSolution {
            permutation: self.row_col,
            total_cost,
            u: self.u,
            v: self.v,
            status,
        }
    }
}
