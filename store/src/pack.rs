//! A listpack-like compact vector: every entry of a small collection in one
//! allocation, each entry a varint length followed by its bytes.
//!
//! ```text
//!   buf: [len₀ varint][bytes₀][len₁ varint][bytes₁] ...
//! ```
//!
//! Small hashes, sets, sorted sets and lists keep their elements here, as
//! Redis keeps them in a listpack: one heap block instead of one per element
//! plus a table, at the price of linear search, which the conversion
//! thresholds (128 entries by default) keep short. Positions are byte
//! offsets; an offset handed out by [`Pack::iter`] stays valid until the
//! next mutation.

/// Bytes a varint for `n` takes.
fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn write_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A compact vector of byte strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pack {
    buf: Vec<u8>,
    len: usize,
}

/// One entry as iteration sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'a> {
    /// Byte offset of the entry's header.
    pub offset: usize,
    /// The entry's bytes.
    pub bytes: &'a [u8],
}

/// Iterator over a pack's entries, front to back.
pub(crate) struct Iter<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        if self.at >= self.buf.len() {
            return None;
        }
        let (bytes, next) = read_entry(self.buf, self.at);
        let entry = Entry {
            offset: self.at,
            bytes,
        };
        self.at = next;
        Some(entry)
    }
}

/// The entry at `at` and the offset after it.
fn read_entry(buf: &[u8], at: usize) -> (&[u8], usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut i = at;
    loop {
        let b = buf[i];
        n |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (&buf[i..i + n], i + n)
}

impl Pack {
    /// An empty pack.
    pub fn new() -> Pack {
        Pack::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes of the encoded entries (headers included).
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// Bytes an entry of `len` bytes adds to [`Pack::byte_len`].
    pub fn cost(len: usize) -> usize {
        varint_len(len) + len
    }

    /// Entries front to back.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            buf: &self.buf,
            at: 0,
        }
    }

    /// The entry at byte `offset` and the offset after it.
    pub fn at(&self, offset: usize) -> (&[u8], usize) {
        read_entry(&self.buf, offset)
    }

    /// Byte offset of entry number `index` (`len()` gives the end).
    pub fn offset_of(&self, index: usize) -> usize {
        self.iter()
            .nth(index)
            .map_or(self.buf.len(), |entry| entry.offset)
    }

    /// Appends entries at the end.
    pub fn push(&mut self, items: &[&[u8]]) {
        let end = self.buf.len();
        self.insert(end, items);
    }

    /// Inserts entries before the entry at byte `offset` (or at the end).
    pub fn insert(&mut self, offset: usize, items: &[&[u8]]) {
        let mut encoded = Vec::with_capacity(items.iter().map(|i| Pack::cost(i.len())).sum());
        for item in items {
            write_varint(&mut encoded, item.len());
            encoded.extend_from_slice(item);
        }
        self.buf.splice(offset..offset, encoded);
        self.len += items.len();
    }

    /// Removes `count` entries starting at byte `offset`.
    pub fn remove(&mut self, offset: usize, count: usize) {
        let mut end = offset;
        let mut removed = 0;
        while removed < count && end < self.buf.len() {
            end = read_entry(&self.buf, end).1;
            removed += 1;
        }
        self.buf.drain(offset..end);
        self.len -= removed;
        self.shrink();
    }

    /// Replaces the entry at byte `offset` with `item`.
    pub fn replace(&mut self, offset: usize, item: &[u8]) {
        let end = read_entry(&self.buf, offset).1;
        let mut encoded = Vec::with_capacity(Pack::cost(item.len()));
        write_varint(&mut encoded, item.len());
        encoded.extend_from_slice(item);
        self.buf.splice(offset..end, encoded);
    }

    /// Gives back spare capacity after a large shrink, so a pack that
    /// was once big does not keep its peak allocation.
    fn shrink(&mut self) {
        if self.buf.capacity() > 64 && self.buf.len() < self.buf.capacity() / 4 {
            self.buf.shrink_to(self.buf.len() * 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(p: &Pack) -> Vec<Vec<u8>> {
        p.iter().map(|e| e.bytes.to_vec()).collect()
    }

    #[test]
    fn push_insert_remove_replace() {
        let mut p = Pack::new();
        assert_eq!(p.len(), 0);
        p.push(&[b"a", b"bb"]);
        let long = vec![7u8; 300];
        p.push(&[&long]);
        assert_eq!(p.len(), 3);
        assert_eq!(p.byte_len(), 2 + 3 + 2 + 300);
        assert_eq!(Pack::cost(300), 302);
        let off = p.offset_of(1);
        p.insert(off, &[b"", b"x"]);
        assert_eq!(
            items(&p),
            vec![
                b"a".to_vec(),
                vec![],
                b"x".to_vec(),
                b"bb".to_vec(),
                long.clone()
            ]
        );
        let off = p.offset_of(2);
        p.replace(off, b"yyyy");
        assert_eq!(p.at(off).0, b"yyyy");
        p.remove(p.offset_of(0), 2);
        assert_eq!(items(&p), vec![b"yyyy".to_vec(), b"bb".to_vec(), long]);
        p.remove(p.offset_of(1), 10);
        assert_eq!(p.len(), 1);
        assert_eq!(p.offset_of(5), p.byte_len());
    }
}
