//! Aligning two sequences on a longest common subsequence, for the list diff (rule 3).
//!
//! Myers' O((N+M)·D) algorithm ("An O(ND) Difference Algorithm and Its Variations", 1986) in
//! its linear-space form: find the middle snake of an optimal path from both ends at once,
//! then recurse on the halves. D is the number of elements left unaligned (N + M − 2·LCS).
//! The search stops once D passes a bound, so a list that would cost too much to align costs
//! O((N+M)·bound) to give up on.
//!
//! Written here rather than taken from a crate: `similar` (the usual choice) bounds its work
//! only by a wall-clock deadline, so the same input could give a different diff on a busier
//! machine, and the contract wants the same output for the same input and a bound counted in
//! elements. Elements are compared as `u32` classes (see `diff`), so rule 1 is applied once
//! per element rather than once per comparison.
//!
//! The tie rule: among alignments of equal length, the one this search meets first (ties
//! between a deletion and an insertion go to the deletion going forward). It depends on the
//! input alone. This module performs no IO.

/// The pairs `(i, j)` with `a[i] == b[j]` of a longest common subsequence of `a` and `b`,
/// ascending; or `None` when every alignment leaves more than `max_unaligned` elements of
/// `a` and `b` unaligned.
pub(crate) fn align(a: &[u32], b: &[u32], max_unaligned: usize) -> Option<Vec<(usize, usize)>> {
    let mut search = Search::new(a, b, max_unaligned);
    let mut pairs = Vec::new();
    let (a0, b0, a1, b1, suffix) = search.strip(0, 0, a.len(), b.len(), &mut pairs);
    if a0 < a1 && b0 < b1 {
        // The top-level search alone is bounded: it finds D for the whole problem, and every
        // part it splits into costs less.
        let (x, y, d) = search.middle_snake(a0, a1, b0, b1, max_unaligned.div_ceil(2))?;
        if d > max_unaligned {
            return None;
        }
        search.conquer(a0, x, b0, y, &mut pairs);
        search.conquer(x, a1, y, b1, &mut pairs);
    } else if (a1 - a0) + (b1 - b0) > max_unaligned {
        return None;
    }
    pairs.extend((0..suffix).map(|s| (a1 + s, b1 + s)));
    Some(pairs)
}

/// The search's state: the two sequences and the furthest-reaching x on each diagonal k,
/// forward (`vf`) and backward (`vb`), indexed from `offset`.
struct Search<'s> {
    a: &'s [u32],
    b: &'s [u32],
    vf: Vec<usize>,
    vb: Vec<usize>,
    offset: isize,
}

impl<'s> Search<'s> {
    fn new(a: &'s [u32], b: &'s [u32], max_unaligned: usize) -> Self {
        // Diagonals reach ±(d+1) for the largest d searched: at most half of D, and D is at
        // most both lengths together or the bound.
        let reach = (a.len() + b.len()).min(max_unaligned).div_ceil(2) + 2;
        Self {
            a,
            b,
            vf: vec![0; 2 * reach + 1],
            vb: vec![0; 2 * reach + 1],
            offset: reach as isize,
        }
    }

    fn at(&self, k: isize) -> usize {
        (k + self.offset) as usize
    }

    /// Aligns the common prefix of `a[a0..a1]` and `b[b0..b1]` (pushing its pairs) and measures
    /// the common suffix; returns the ranges between them and the suffix's length.
    fn strip(
        &self,
        mut a0: usize,
        mut b0: usize,
        mut a1: usize,
        mut b1: usize,
        pairs: &mut Vec<(usize, usize)>,
    ) -> (usize, usize, usize, usize, usize) {
        while a0 < a1 && b0 < b1 && self.a[a0] == self.b[b0] {
            pairs.push((a0, b0));
            a0 += 1;
            b0 += 1;
        }
        let mut suffix = 0;
        while a0 < a1 && b0 < b1 && self.a[a1 - 1] == self.b[b1 - 1] {
            a1 -= 1;
            b1 -= 1;
            suffix += 1;
        }
        (a0, b0, a1, b1, suffix)
    }

    /// Pushes the pairs of a longest common subsequence of `a[a0..a1]` and `b[b0..b1]`.
    fn conquer(
        &mut self,
        a0: usize,
        a1: usize,
        b0: usize,
        b1: usize,
        pairs: &mut Vec<(usize, usize)>,
    ) {
        let (a0, b0, a1, b1, suffix) = self.strip(a0, b0, a1, b1, pairs);
        if a0 < a1 && b0 < b1 {
            let (x, y, _) = self
                .middle_snake(a0, a1, b0, b1, usize::MAX)
                .expect("an unbounded search always meets");
            self.conquer(a0, x, b0, y, pairs);
            self.conquer(x, a1, y, b1, pairs);
        }
        pairs.extend((0..suffix).map(|s| (a1 + s, b1 + s)));
    }

    /// A point `(x, y)` on an optimal path through `a[a0..a1]` × `b[b0..b1]` (both non-empty,
    /// first and last elements differing), strictly between its corners, and the path's
    /// cost D; `None` if D needs more than `d_limit` steps from each end.
    fn middle_snake(
        &mut self,
        a0: usize,
        a1: usize,
        b0: usize,
        b1: usize,
        d_limit: usize,
    ) -> Option<(usize, usize, usize)> {
        let (n, m) = ((a1 - a0) as isize, (b1 - b0) as isize);
        let delta = n - m;
        let odd = delta & 1 == 1;
        let one = self.at(1);
        self.vf[one] = 0;
        self.vb[one] = 0;
        let d_max = ((n + m + 1) / 2).min(d_limit.min(isize::MAX as usize) as isize);
        for d in 0..=d_max {
            for k in (-d..=d).step_by(2) {
                let (lo, hi) = (self.vf[self.at(k - 1)], self.vf[self.at(k + 1)]);
                let mut x = (if k == -d || (k != d && lo < hi) {
                    hi
                } else {
                    lo + 1
                }) as isize;
                let mut y = x - k;
                let (x0, y0) = (x, y);
                while x < n && y < m && self.a[a0 + x as usize] == self.b[b0 + y as usize] {
                    x += 1;
                    y += 1;
                }
                let i = self.at(k);
                self.vf[i] = x as usize;
                if odd && (k - delta).abs() < d {
                    let back = self.vb[self.at(delta - k)] as isize;
                    if x + back >= n {
                        let point = (a0 + x0 as usize, b0 + y0 as usize);
                        return Some((point.0, point.1, 2 * d as usize - 1));
                    }
                }
            }
            for k in (-d..=d).step_by(2) {
                let (lo, hi) = (self.vb[self.at(k - 1)], self.vb[self.at(k + 1)]);
                let mut x = (if k == -d || (k != d && lo < hi) {
                    hi
                } else {
                    lo + 1
                }) as isize;
                let mut y = x - k;
                while x < n && y < m && self.a[a1 - 1 - x as usize] == self.b[b1 - 1 - y as usize] {
                    x += 1;
                    y += 1;
                }
                let i = self.at(k);
                self.vb[i] = x as usize;
                if !odd && (k - delta).abs() <= d {
                    let forward = self.vf[self.at(delta - k)] as isize;
                    if x + forward >= n {
                        return Some((a1 - x as usize, b1 - y as usize, 2 * d as usize));
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain O(N·M) dynamic programme: the length of a longest common subsequence.
    fn lcs_len(a: &[u32], b: &[u32]) -> usize {
        let mut row = vec![0usize; b.len() + 1];
        for x in a {
            let mut diagonal = 0;
            for (j, y) in b.iter().enumerate() {
                let above = row[j + 1];
                row[j + 1] = if x == y {
                    diagonal + 1
                } else {
                    above.max(row[j])
                };
                diagonal = above;
            }
        }
        row[b.len()]
    }

    fn is_common_subsequence(a: &[u32], b: &[u32], pairs: &[(usize, usize)]) -> bool {
        pairs.iter().all(|&(i, j)| a[i] == b[j])
            && pairs.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1)
    }

    // Small cases a person can check: an insert at the front, a deletion in the middle, a
    // move, repeated elements.
    #[test]
    fn aligns_what_a_person_would() {
        assert_eq!(
            align(&[1, 2, 3], &[0, 1, 2, 3], 10).unwrap(),
            [(0, 1), (1, 2), (2, 3)]
        );
        assert_eq!(align(&[1, 2, 3], &[1, 3], 10).unwrap(), [(0, 0), (2, 1)]);
        assert_eq!(align(&[1, 2, 3], &[2, 3, 1], 10).unwrap(), [(1, 0), (2, 1)]);
        assert_eq!(align(&[5, 5], &[5], 10).unwrap(), [(0, 0)]);
        assert_eq!(align(&[], &[1], 10).unwrap(), []);
        assert_eq!(align(&[1, 2], &[3, 4], 10).unwrap(), []);
    }

    // Past the bound the search gives up, at exactly the bound it does not.
    #[test]
    fn gives_up_past_the_bound() {
        let a: Vec<u32> = (0..10).collect();
        let b: Vec<u32> = (100..110).collect();
        assert!(align(&a, &b, 20).is_some());
        assert!(align(&a, &b, 19).is_none());
        let mut c = a.clone();
        c.insert(5, 99);
        assert!(align(&a, &c, 1).is_some());
        assert!(align(&a, &c, 0).is_none());
        assert!(align(&[], &[1, 2], 1).is_none());
    }

    // The bound in the contract: 4,096 unaligned elements align, 4,097 do not.
    #[test]
    fn the_contract_bound_is_exact() {
        let a: Vec<u32> = (0..2048).collect();
        let b: Vec<u32> = (5000..7048).collect();
        assert!(align(&a, &b, 4096).unwrap().is_empty());
        let b: Vec<u32> = (5000..7049).collect();
        assert!(align(&a, &b, 4096).is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        // The alignment is a common subsequence, and a longest one (checked against the plain
        // dynamic programme), over small alphabets where repeats abound.
        #[test]
        fn alignment_is_a_longest_common_subsequence(
            a in prop::collection::vec(0u32..4, 0..40),
            b in prop::collection::vec(0u32..4, 0..40),
        ) {
            let pairs = align(&a, &b, usize::MAX).expect("unbounded");
            prop_assert!(is_common_subsequence(&a, &b, &pairs));
            prop_assert_eq!(pairs.len(), lcs_len(&a, &b));
            // Bounded at exactly its cost, it still aligns; one below, it gives up.
            let d = a.len() + b.len() - 2 * pairs.len();
            prop_assert_eq!(align(&a, &b, d).map(|p| p.len()), Some(pairs.len()));
            if d > 0 {
                prop_assert!(align(&a, &b, d - 1).is_none());
            }
        }
    }
}
