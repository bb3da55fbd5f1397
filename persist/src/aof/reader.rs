//! Reading a log file back: RESP commands, one at a time, with the byte
//! offset of each, telling a torn tail from corruption.
//!
//! A file is untrusted input: every length is checked against its limit
//! before it is believed, and memory grows only with bytes actually read.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use bytes::Bytes;

/// Most arguments one logged command may have.
pub const MAX_ARGS: u64 = 1 << 26;
/// Longest argument (Redis's largest `proto-max-bulk-len`).
pub const MAX_ARG_LEN: u64 = 4 << 30;
/// Bytes read from the file at a time.
const CHUNK: usize = 256 * 1024;

/// One command read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The command, name first.
    pub args: Vec<Bytes>,
    /// Where it starts in the file.
    pub offset: u64,
}

/// Why a file could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file ends inside a record (a crash mid-write); `offset` is where
    /// that record starts, so cutting the file there keeps every whole one.
    #[error("the last record, at offset {offset}, is incomplete")]
    Truncated {
        /// Start of the torn record.
        offset: u64,
    },
    /// Bytes that are not a logged command.
    #[error("bad record at offset {offset}: {what}")]
    Corrupt {
        /// Where the bad bytes are.
        offset: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// Reading failed.
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
}

/// The commands of one file, in order.
pub struct Records<R = File> {
    input: R,
    buf: Vec<u8>,
    /// Start of unparsed bytes in `buf`.
    pos: usize,
    /// File offset of `buf[0]`.
    base: u64,
    eof: bool,
    failed: bool,
}

impl Records<File> {
    /// Reads the file at `path`.
    pub fn open(path: &Path) -> io::Result<Records<File>> {
        Ok(Records::new(File::open(path)?))
    }
}

impl<R: Read> Records<R> {
    /// Reads commands from `input`.
    pub fn new(input: R) -> Records<R> {
        Records {
            input,
            buf: Vec::new(),
            pos: 0,
            base: 0,
            eof: false,
            failed: false,
        }
    }

    /// Offset just past the last whole record returned.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Reads more of the input into the buffer; false at its end.
    fn fill(&mut self) -> io::Result<bool> {
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.base += self.pos as u64;
            self.pos = 0;
        }
        let len = self.buf.len();
        // Reading as much again as is buffered keeps re-parsing a record that
        // spans many reads linear overall.
        self.buf.resize(len + CHUNK.max(len), 0);
        let n = loop {
            match self.input.read(&mut self.buf[len..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(len);
                    return Err(e);
                }
            }
        };
        self.buf.truncate(len + n);
        Ok(n > 0)
    }
}

impl<R: Read> Iterator for Records<R> {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let offset = self.offset();
            match parse(&self.buf[self.pos..]) {
                Ok(Some((args, used))) => {
                    self.pos += used;
                    return Some(Ok(Record { args, offset }));
                }
                Ok(None) if self.eof => {
                    self.failed = true;
                    return (self.pos < self.buf.len())
                        .then_some(Err(ReadError::Truncated { offset }));
                }
                Ok(None) => match self.fill() {
                    Ok(more) => self.eof = !more,
                    Err(e) => {
                        self.failed = true;
                        return Some(Err(e.into()));
                    }
                },
                Err((at, what)) => {
                    self.failed = true;
                    return Some(Err(ReadError::Corrupt {
                        offset: offset + at as u64,
                        what,
                    }));
                }
            }
        }
    }
}

/// Where bytes stop being a command (relative to the parsed slice), and why.
type Malformed = (usize, &'static str);

/// One command from the front of `buf`: its arguments and the bytes it
/// took, `None` when `buf` ends inside it, `Err((at, what))` when it is not
/// a command.
fn parse(buf: &[u8]) -> Result<Option<(Vec<Bytes>, usize)>, Malformed> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] != b'*' {
        return Err((0, "expected '*'"));
    }
    let Some((count, mut at)) = number(buf, 1)? else {
        return Ok(None);
    };
    if count == 0 || count > MAX_ARGS {
        return Err((1, "bad argument count"));
    }
    // Memory follows the bytes present, never the count the file claims.
    let mut args = Vec::with_capacity(count.min(64) as usize);
    for _ in 0..count {
        match buf.get(at) {
            None => return Ok(None),
            Some(b'$') => {}
            Some(_) => return Err((at, "expected '$'")),
        }
        let Some((len, start)) = number(buf, at + 1)? else {
            return Ok(None);
        };
        if len > MAX_ARG_LEN {
            return Err((at + 1, "argument too long"));
        }
        let end = start + len as usize;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err((end, "expected CRLF after an argument"));
        }
        args.push(Bytes::copy_from_slice(&buf[start..end]));
        at = end + 2;
    }
    Ok(Some((args, at)))
}

/// A decimal number at `buf[from..]` ended by CRLF: the number and where
/// the next byte is; `None` if `buf` ends first.
fn number(buf: &[u8], from: usize) -> Result<Option<(u64, usize)>, (usize, &'static str)> {
    let mut n: u64 = 0;
    let mut at = from;
    loop {
        match buf.get(at) {
            None => return Ok(None),
            Some(b'\r') => break,
            Some(d @ b'0'..=b'9') if at - from < 19 => n = n * 10 + u64::from(d - b'0'),
            Some(_) => return Err((at, "bad length")),
        }
        at += 1;
    }
    if at == from {
        return Err((at, "empty length"));
    }
    match buf.get(at + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some((n, at + 2))),
        Some(_) => Err((at + 1, "expected LF")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> (Vec<Vec<Bytes>>, Option<ReadError>) {
        let mut records = Records::new(bytes);
        let mut out = Vec::new();
        for r in &mut records {
            match r {
                Ok(r) => out.push(r.args),
                Err(e) => return (out, Some(e)),
            }
        }
        (out, None)
    }

    const TWO: &[u8] = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n";

    #[test]
    fn reads_commands_with_offsets() {
        let records: Vec<Record> = Records::new(TWO).map(Result::unwrap).collect();
        assert_eq!(records.len(), 2);
        assert_eq!(
            records[0].args,
            vec![Bytes::from("SELECT"), Bytes::from("0")]
        );
        assert_eq!(records[1].offset, 23);
        assert_eq!(records[1].args[2], Bytes::new());
    }

    #[test]
    fn every_cut_is_a_torn_tail_never_corruption() {
        for cut in 1..TWO.len() {
            let (whole, err) = read_all(&TWO[..cut]);
            let expected = if cut < 23 { 0 } else { 1 };
            assert_eq!(whole.len(), expected, "cut at {cut}");
            if cut == 23 {
                assert!(err.is_none());
                continue;
            }
            match err {
                Some(ReadError::Truncated { offset }) => {
                    assert_eq!(offset, if cut < 23 { 0 } else { 23 })
                }
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn garbage_is_corruption_at_its_offset() {
        let mut bytes = TWO.to_vec();
        bytes[28] = b'x'; // the second record's first length
        match read_all(&bytes).1 {
            Some(ReadError::Corrupt { offset, .. }) => assert_eq!(offset, 28),
            other => panic!("{other:?}"),
        }
        for bad in [
            &b"+OK\r\n"[..],
            b"*0\r\n",
            b"*99999999999999999999\r\n",
            b"*1\r\n:1\r\n",
        ] {
            assert!(
                matches!(read_all(bad).1, Some(ReadError::Corrupt { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_huge_claimed_length_allocates_nothing() {
        // A count and a length far beyond the bytes present: a torn tail,
        // read without reserving what the file claims.
        let (_, err) = read_all(b"*67108864\r\n$4294967296\r\nab");
        assert!(matches!(err, Some(ReadError::Truncated { offset: 0 })));
        let (_, err) = read_all(b"*1\r\n$4294967297\r\n");
        assert!(matches!(err, Some(ReadError::Corrupt { .. })));
    }

    #[test]
    fn records_span_chunks() {
        let big = vec![b'v'; CHUNK * 2 + 7];
        let mut bytes = format!("*2\r\n$1\r\nx\r\n${}\r\n", big.len()).into_bytes();
        bytes.extend_from_slice(&big);
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(TWO);
        let (records, err) = read_all(&bytes);
        assert!(err.is_none());
        assert_eq!(records.len(), 3);
        assert_eq!(records[0][1].len(), big.len());
    }
}
