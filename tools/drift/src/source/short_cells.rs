//! Short category cells (at most 15 bytes, as most category names are) found and counted without
//! a scan for the delimiter or a string comparison: the 16 bytes at the start of the cell are
//! loaded as one number, the delimiter is found in it with word-at-a-time arithmetic, and the
//! cell (its bytes with its length) is a `u128` key looked up in a small direct-mapped table.
//!
//! The table only holds categories the column has already counted the slow way (so a hit is a
//! category, never a number or a missing marker to infer), and a category whose slots are taken
//! by others is simply counted the slow way every time.

/// A cell of at most 15 bytes: its bytes (little-endian) with `length + 1` in the top byte, so
/// no key is zero.
pub type ShortKey = u128;

const ONES: u128 = u128::from_le_bytes([1; 16]);
const HIGHS: u128 = u128::from_le_bytes([0x80; 16]);

/// Bytes of `word` equal to `byte`, as their top bit (exact up to the first one found).
#[inline]
fn equal_bytes(word: u128, byte: u8) -> u128 {
    let x = word ^ (ONES * u128::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// The cell at the start of `bytes`, when `delimiter` ends it within 16 bytes: its key and its
/// length. Only the byte that must end a cell in its column is looked for (a comma, or the line's
/// end in the last column): a cell that holds another delimiter (a short row, an extra field)
/// then gets a key no category has (a category's text holds none), is not counted here, and is
/// left to the delimiter scan of the general path.
#[inline]
pub fn split(bytes: &[u8], delimiter: u8) -> Option<(ShortKey, usize)> {
    let word = u128::from_le_bytes(*bytes.first_chunk::<16>()?);
    let ends = equal_bytes(word, delimiter);
    if ends == 0 {
        return None;
    }
    let len = (ends.trailing_zeros() / 8) as usize;
    // `len` < 16: the mask keeps the cell's bytes, the tag makes keys of different lengths differ.
    let cell = word & ((1u128 << (8 * len)) - 1);
    Some((cell | ((len as u128 + 1) << 120), len))
}

const SLOTS: usize = 256;

/// Counts of short categories, by key.
#[derive(Debug, Clone)]
pub struct ShortCells {
    /// (key, count); key 0 is an empty slot.
    slots: Vec<(ShortKey, u64)>,
}

impl Default for ShortCells {
    fn default() -> Self {
        Self {
            slots: vec![(0, 0); SLOTS],
        }
    }
}

impl ShortCells {
    /// The two slots a key may take.
    #[inline]
    fn slots_of(key: ShortKey) -> [usize; 2] {
        let mixed = (key as u64) ^ ((key >> 64) as u64).rotate_left(29);
        let h = (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize;
        [h, h ^ 1]
    }

    /// Counts one more cell of `key`; false when the key is not in the table.
    #[inline]
    pub fn count(&mut self, key: ShortKey) -> bool {
        for i in Self::slots_of(key) {
            if let Some((k, n)) = self.slots.get_mut(i)
                && *k == key
            {
                *n += 1;
                return true;
            }
        }
        false
    }

    /// True when `key` is not in the table and has a free slot (then [`Self::learn`] takes it).
    #[inline]
    pub fn has_room_for(&self, key: ShortKey) -> bool {
        let slots = Self::slots_of(key);
        let here = |k: ShortKey| {
            slots
                .iter()
                .any(|&i| self.slots.get(i).map(|s| s.0) == Some(k))
        };
        !here(key) && here(0)
    }

    /// Puts `key` in a free slot (with count 0), if there is one.
    pub fn learn(&mut self, key: ShortKey) {
        if !self.has_room_for(key) {
            return;
        }
        for i in Self::slots_of(key) {
            if let Some(slot) = self.slots.get_mut(i)
                && slot.0 == 0
            {
                *slot = (key, 0);
                return;
            }
        }
    }

    /// The counted categories as text, and their counts; the table is left empty.
    pub fn drain(&mut self) -> impl Iterator<Item = (String, u64)> + '_ {
        self.slots
            .iter_mut()
            .filter(|(k, n)| *k != 0 && *n > 0)
            .map(|slot| {
                let (key, n) = std::mem::take(slot);
                let len = ((key >> 120) as usize).saturating_sub(1);
                let bytes = key.to_le_bytes();
                let text = String::from_utf8_lossy(bytes.get(..len).unwrap_or_default());
                (text.into_owned(), n)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_cells_ended_within_sixteen_bytes() {
        let (k, len) = split(b"level_13,level_02\n", b',').unwrap();
        assert_eq!(len, 8);
        assert_eq!(split(b"level_13\nxxxxxxxxxxx", b'\n').unwrap().0, k);
        assert_eq!(split(b"level_13\r\nxxxxxxxxxx", b'\r').unwrap().0, k);
        assert_eq!(split(b",abcdefghijklmnop", b',').unwrap().1, 0);
        assert_eq!(split(b"abcdefghijklmno\r\n", b'\r').unwrap().1, 15);
        // Only the given delimiter ends the cell.
        assert_eq!(split(b"ab\ncd,xxxxxxxxxxxx", b',').unwrap().1, 5);
        assert_eq!(split(b"ab,cd\nxxxxxxxxxxxx", b'\n').unwrap().1, 5);
        // No delimiter in the first 16 bytes, or fewer than 16 bytes left.
        assert_eq!(split(b"abcdefghijklmnop,", b','), None);
        assert_eq!(split(b"abc,", b','), None);
        // Keys differ by length even when the bytes agree (a cell of NULs).
        assert_ne!(
            split(b"\0,xxxxxxxxxxxxxxxxx", b',').unwrap().0,
            split(b"\0\0,xxxxxxxxxxxxxxxx", b',').unwrap().0
        );
        assert_ne!(split(b",xxxxxxxxxxxxxxxxxx", b',').unwrap().0, 0);
    }

    #[test]
    fn counts_learned_keys_and_gives_them_back_as_text() {
        let mut cells = ShortCells::default();
        let key = |s: &str| split(format!("{s},{:16}", "").as_bytes(), b',').unwrap().0;
        assert!(!cells.count(key("a")));
        cells.learn(key("a"));
        cells.learn(key("a"));
        for _ in 0..3 {
            assert!(cells.count(key("a")));
        }
        assert!(!cells.count(key("b")));
        // Many keys: those without a slot are refused, never miscounted.
        let names: Vec<String> = (0..2000).map(|i| format!("c{i}")).collect();
        for n in &names {
            cells.learn(key(n));
            cells.count(key(n));
        }
        let mut out: Vec<(String, u64)> = cells.drain().collect();
        out.sort();
        assert!(out.contains(&("a".to_owned(), 3)));
        assert!(out.iter().all(|(name, n)| *n == 1 || name == "a"));
        assert!(out.len() > 1 && out.len() <= SLOTS);
        assert_eq!(cells.drain().count(), 0);
        assert_eq!(
            split("é,xxxxxxxxxxxxxxx".as_bytes(), b',').map(|s| s.1),
            Some(2)
        );
    }
}
