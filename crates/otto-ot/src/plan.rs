//! Transport plans and how to use them: sparse plans from exact solvers, dense plans from entropic
//! ones, and drawing index pairs `(i, j)` with probability `π_ij / Σπ` (the minibatch couplings of
//! OT-CFM and SB-CFM, Tong et al. 2023).

use crate::matrix::Matrix;

/// A sparse transport plan: the nonzero entries `(i, j, π_ij)` of an n×m plan.
#[derive(Debug, Clone, PartialEq)]
pub struct SparsePlan {
    /// Number of source points n.
    pub rows: usize,
    /// Number of target points m.
    pub cols: usize,
    /// Nonzero entries `(i, j, π_ij)`.
    pub entries: Vec<(usize, usize, f64)>,
}

impl SparsePlan {
    /// The dense n×m matrix of the plan.
    pub fn to_dense(&self) -> Matrix {
        let mut p = Matrix::zeros(self.rows, self.cols);
        for &(i, j, v) in &self.entries {
            p.set(i, j, p.get(i, j) + v);
        }
        p
    }

    /// `⟨π, C⟩ = Σ π_ij C_ij`.
    pub fn cost(&self, cost: &Matrix) -> f64 {
        self.entries.iter().map(|&(i, j, v)| v * cost.get(i, j)).sum()
    }

    /// Row sums `π 1` (the first marginal).
    pub fn row_sums(&self) -> Vec<f64> {
        let mut s = vec![0.0; self.rows];
        for &(i, _, v) in &self.entries {
            s[i] += v;
        }
        s
    }

    /// Column sums `πᵀ 1` (the second marginal).
    pub fn col_sums(&self) -> Vec<f64> {
        let mut s = vec![0.0; self.cols];
        for &(_, j, v) in &self.entries {
            s[j] += v;
        }
        s
    }
}
