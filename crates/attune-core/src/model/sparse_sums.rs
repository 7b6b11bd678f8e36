//! Sums over a catalog that only a few items receive: a request scatters a few thousand
//! contributions into tens of thousands of items, and both clearing a catalog-sized buffer and
//! sorting the touched items afterwards would cost more than the scatter itself.

/// One (stamp, sum) cell per item, reused across calls on a thread (a fresh catalog-sized
/// buffer per served list costs page faults), and the items touched in the current round.
/// Stamp and sum side by side: each scattered contribution is one cache miss, not two.
#[derive(Default)]
pub(crate) struct SparseSums {
    cells: Vec<(u32, f32)>,
    stamp: u32,
    touched: Vec<u32>,
}

impl SparseSums {
    /// Starts a round over `n` items: every sum reads 0 and nothing is touched.
    pub(crate) fn start(&mut self, n: usize) {
        self.cells.resize(n, (0, 0.0));
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.cells.fill((0, 0.0));
            self.stamp = 1;
        }
        self.touched.clear();
    }

    /// Adds `v` to item `j`'s sum (the first addition of a round starts from 0.0, so sums are
    /// those of a zeroed dense buffer, in the same order).
    #[inline]
    pub(crate) fn add(&mut self, j: u32, v: f32) {
        let cell = &mut self.cells[j as usize];
        if cell.0 != self.stamp {
            *cell = (self.stamp, 0.0);
            self.touched.push(j);
        }
        cell.1 += v;
    }

    /// The touched items with their sums, in the order first touched.
    pub(crate) fn sums(&self) -> Vec<(u32, f32)> {
        self.touched
            .iter()
            .map(|&j| (j, self.cells[j as usize].1))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_round_starts_from_zero_and_lists_items_in_first_touch_order() {
        let mut s = SparseSums::default();
        s.start(10);
        s.add(7, 1.0);
        s.add(2, 0.5);
        s.add(7, 0.25);
        assert_eq!(s.sums(), vec![(7, 1.25), (2, 0.5)]);
        s.start(10);
        s.add(2, 3.0);
        assert_eq!(s.sums(), vec![(2, 3.0)], "the last round's sums are gone");
        // A wrapped stamp clears the cells instead of reading old rounds as current.
        s.stamp = u32::MAX;
        s.start(10);
        s.add(2, 1.0);
        assert_eq!(s.sums(), vec![(2, 1.0)]);
    }
}
