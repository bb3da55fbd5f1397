//! Whole keyspaces in Redis's RDB file format (`dump.rdb`).
//!
//! A file is `REDIS` and a four-digit version, auxiliary fields (`AUX`
//! name/value pairs), then for each database a `SELECTDB` and its keys —
//! each an optional deadline (`EXPIRETIME_MS`), the value's type byte, the
//! key and the value's body (the encoding [`super::dump`] uses) — then `EOF`
//! and a CRC-64 of everything before it.
//!
//! Kiln writes a file in pieces: each core encodes its own keys into part
//! files with [`put_entry`], between requests, and [`Assembler`] joins the
//! parts under one header into the final file (a background thread does
//! that, never a core). [`FileReader`] streams a file back, an entry at a
//! time, through a bounded window: a file is untrusted input as a payload
//! is, and a corrupt one is refused with the offset where it went wrong.

use std::io::{self, Read, Write};

use bytes::Bytes;
use kiln_store::Record;

use super::{
    Input, Payload, READ_VERSION, RdbError, WRITE_VERSION, crc64_update, put_body, put_len,
    put_string, value_type,
};

const OP_FUNCTION2: u8 = 245;
const OP_MODULE_AUX: u8 = 247;
const OP_IDLE: u8 = 248;
const OP_FREQ: u8 = 249;
const OP_AUX: u8 = 250;
const OP_RESIZEDB: u8 = 251;
const OP_EXPIRETIME_MS: u8 = 252;
const OP_EXPIRETIME: u8 = 253;
const OP_SELECTDB: u8 = 254;
const OP_EOF: u8 = 255;

/// The longest one entry of a file may be, encoded; the reader's window
/// never grows past it, however a length in the file reads.
pub const MAX_ENTRY: usize = 1 << 30;

/// The aux field that names the tenant whose keys follow, in Kiln's
/// tenants file (Redis ignores aux fields it does not know).
pub const TENANT_AUX: &str = "kiln-tenant";

/// Appends one key's entry: its deadline, type, key and value.
pub fn put_entry(out: &mut Vec<u8>, key: &[u8], record: &Record) {
    if let Some(at) = record.expire_at {
        out.push(OP_EXPIRETIME_MS);
        out.extend_from_slice(&at.to_le_bytes());
    }
    out.push(value_type(&record.value));
    put_string(out, key);
    put_body(out, &record.value);
}

/// Appends an aux field.
pub fn put_aux(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.push(OP_AUX);
    put_string(out, name.as_bytes());
    put_string(out, value);
}

/// Appends a `SELECTDB`.
pub fn put_select(out: &mut Vec<u8>, db: u64) {
    out.push(OP_SELECTDB);
    put_len(out, db);
}

/// Writes a file: header and aux fields, then whatever bytes the caller
/// adds (parts, entries), then `EOF` and the checksum of it all.
pub struct Assembler<W: Write> {
    out: W,
    crc: u64,
}

impl<W: Write> Assembler<W> {
    /// Starts a file on `out` with `aux` fields after the header (Redis's
    /// own: `redis-ver`, `redis-bits`, `ctime`... as the caller gives).
    pub fn new(out: W, aux: &[(&str, &[u8])]) -> io::Result<Assembler<W>> {
        let mut head = format!("REDIS{WRITE_VERSION:04}").into_bytes();
        for (name, value) in aux {
            put_aux(&mut head, name, value);
        }
        let mut file = Assembler { out, crc: 0 };
        file.write(&head)?;
        Ok(file)
    }

    /// Adds encoded bytes (entries, aux fields, a `SELECTDB`).
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.crc = crc64_update(self.crc, bytes);
        self.out.write_all(bytes)
    }

    /// Copies a part file's bytes in.
    pub fn copy_from(&mut self, mut part: impl Read) -> io::Result<u64> {
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0;
        loop {
            let n = match part.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.write(&buf[..n])?;
            total += n as u64;
        }
    }

    /// Ends the file (`EOF`, checksum) and hands back the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.write(&[OP_EOF])?;
        let crc = self.crc.to_le_bytes();
        self.out.write_all(&crc)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One thing read from a file.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// An aux field.
    Aux(Bytes, Bytes),
    /// The database the following entries belong to.
    SelectDb(u64),
    /// A key, its value and its deadline (unix ms).
    Entry {
        key: Bytes,
        value: Payload,
        expire_at: Option<u64>,
    },
    /// A function library (Redis 7's Lua libraries): Kiln cannot run it.
    Function(Bytes),
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The bytes at `offset` are not what an RDB file holds there.
    #[error("{what} at offset {offset}")]
    Corrupt { offset: u64, what: String },
}

/// Reads a file an item at a time, holding at most one entry (and what
/// was read ahead with it) in memory.
pub struct FileReader<R: Read> {
    src: R,
    buf: Vec<u8>,
    /// Where the unread part of `buf` starts.
    pos: usize,
    /// The file offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// The checksum of the bytes consumed so far.
    crc: u64,
    version: u16,
    /// Decoded bytes one entry may take.
    budget: usize,
    done: bool,
}

/// What one attempt at the next item gave.
enum Step {
    Item(Item),
    /// Opcodes Kiln skips (sizes, a key's idle time or frequency).
    Skipped,
    End,
}

impl<R: Read> FileReader<R> {
    /// Reads the header of `src`; each entry may decode to `budget` bytes.
    pub fn new(src: R, budget: usize) -> Result<FileReader<R>, LoadError> {
        let mut reader = FileReader {
            src,
            buf: Vec::new(),
            pos: 0,
            base: 0,
            eof: false,
            crc: 0,
            version: 0,
            budget,
            done: false,
        };
        while reader.available() < 9 && !reader.eof {
            reader.fill(9)?;
        }
        let head = &reader.buf[..reader.available().min(9)];
        let version = (head.len() == 9 && &head[..5] == b"REDIS")
            .then(|| std::str::from_utf8(&head[5..]).ok()?.parse::<u16>().ok())
            .flatten();
        let Some(version) = version else {
            return Err(reader.corrupt(0, "not an RDB file (no REDIS header)"));
        };
        if !(1..=READ_VERSION).contains(&version) {
            return Err(reader.corrupt(
                5,
                &format!("RDB version {version} is newer than Kiln reads"),
            ));
        }
        reader.version = version;
        reader.consume(9);
        Ok(reader)
    }

    /// The file's RDB version.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// The offset of the next unread byte.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// The next item; `None` after `EOF` (its checksum checked).
    pub fn next_item(&mut self) -> Result<Option<Item>, LoadError> {
        while !self.done {
            match self.step()? {
                Step::Item(item) => return Ok(Some(item)),
                Step::Skipped => {}
                Step::End => self.done = true,
            }
        }
        Ok(None)
    }

    fn step(&mut self) -> Result<Step, LoadError> {
        loop {
            let start = self.offset();
            let (parsed, used, short) = {
                let mut input = Input::new(&self.buf[self.pos..], self.budget);
                let parsed = parse(&mut input);
                let used = self.available() - input.data.len();
                (parsed, used, input.short)
            };
            match parsed {
                Ok(step) => {
                    if matches!(step, Step::End) {
                        return self.check_sum(used).map(|()| Step::End);
                    }
                    self.consume(used);
                    return Ok(step);
                }
                Err(_) if short && !self.eof => {
                    let want = self.available().saturating_mul(2).max(1 << 16);
                    if self.available() >= MAX_ENTRY {
                        return Err(self.corrupt(start, "an entry longer than 1 GiB"));
                    }
                    self.fill(want.min(MAX_ENTRY))?;
                }
                Err(_) if short => {
                    return Err(self.corrupt(start, "the file ends inside an entry (truncated)"));
                }
                Err(RdbError::TooBig) => {
                    return Err(self.corrupt(start, "an entry larger than the load budget"));
                }
                Err(RdbError::Unsupported(what)) => {
                    return Err(self.corrupt(start, &format!("{what}, which Kiln cannot load")));
                }
                Err(_) => return Err(self.corrupt(start, "an entry that is not valid RDB")),
            }
        }
    }

    /// `EOF` was read (`used` bytes with it): the checksum follows.
    fn check_sum(&mut self, used: usize) -> Result<(), LoadError> {
        self.consume(used);
        if self.version < 5 {
            return Ok(());
        }
        while self.available() < 8 && !self.eof {
            self.fill(8)?;
        }
        let at = self.offset();
        if self.available() < 8 {
            return Err(self.corrupt(at, "the file ends inside its checksum"));
        }
        let stored = u64::from_le_bytes(self.buf[self.pos..self.pos + 8].try_into().expect("8"));
        // Redis writes 0 with `rdbchecksum no`.
        if stored != 0 && stored != self.crc {
            return Err(self.corrupt(at, "a checksum that does not match the file"));
        }
        self.pos += 8;
        Ok(())
    }

    fn available(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn consume(&mut self, n: usize) {
        self.crc = crc64_update(self.crc, &self.buf[self.pos..self.pos + n]);
        self.pos += n;
    }

    /// Reads until at least `want` bytes are unread, or the file ends.
    fn fill(&mut self, want: usize) -> Result<(), LoadError> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.base += self.pos as u64;
            self.pos = 0;
        }
        let mut chunk = [0u8; 1 << 16];
        while self.buf.len() < want && !self.eof {
            match self.src.read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn corrupt(&self, offset: u64, what: &str) -> LoadError {
        LoadError::Corrupt {
            offset,
            what: what.to_string(),
        }
    }
}

/// One item (or skipped opcode) from the front of `input`.
fn parse(input: &mut Input<'_>) -> Result<Step, RdbError> {
    let mut expire_at = None;
    loop {
        let op = input.byte()?;
        match op {
            OP_EOF => return Ok(Step::End),
            OP_AUX => {
                let name = input.string()?;
                let value = input.string()?;
                return Ok(Step::Item(Item::Aux(name, value)));
            }
            OP_SELECTDB => return Ok(Step::Item(Item::SelectDb(input.plain_len()? as u64))),
            OP_RESIZEDB => {
                input.plain_len()?;
                input.plain_len()?;
                return Ok(Step::Skipped);
            }
            OP_FUNCTION2 => return Ok(Step::Item(Item::Function(input.string()?))),
            OP_MODULE_AUX => return Err(RdbError::Unsupported("module data")),
            // A key's LRU idle time or LFU counter: it precedes the key,
            // as a deadline does.
            OP_IDLE => {
                input.plain_len()?;
            }
            OP_FREQ => {
                input.byte()?;
            }
            OP_EXPIRETIME_MS => {
                let at = u64::from_le_bytes(input.take(8)?.try_into().expect("8 bytes"));
                expire_at = Some(at);
            }
            OP_EXPIRETIME => {
                let at = u32::from_le_bytes(input.take(4)?.try_into().expect("4 bytes"));
                expire_at = Some(u64::from(at) * 1000);
            }
            kind => {
                let key = input.string()?;
                let value = input.value_of(kind)?;
                if value.is_empty() {
                    return Err(RdbError::BadFormat);
                }
                return Ok(Step::Item(Item::Entry {
                    key,
                    value,
                    expire_at,
                }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use kiln_store::{EncodingLimits, Hash, Value};

    use super::*;

    fn record(value: Value, expire_at: Option<u64>) -> Record {
        Record::new(value, expire_at)
    }

    fn file_of(entries: &[(&[u8], Record)]) -> Vec<u8> {
        let mut body = Vec::new();
        put_select(&mut body, 0);
        for (key, record) in entries {
            put_entry(&mut body, key, record);
        }
        let mut file = Assembler::new(Vec::new(), &[("redis-ver", b"7.0.0")]).unwrap();
        file.write(&body).unwrap();
        file.finish().unwrap()
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<Item>, LoadError> {
        let mut reader = FileReader::new(bytes, 1 << 20)?;
        let mut items = Vec::new();
        while let Some(item) = reader.next_item()? {
            items.push(item);
        }
        Ok(items)
    }

    fn sample() -> Vec<u8> {
        let limits = EncodingLimits::default();
        let mut hash = Hash::new();
        hash.insert(b"f", b"v", &limits);
        file_of(&[
            (b"s", record(Value::String("hello".into()), None)),
            (
                b"h",
                record(Value::Hash(Box::new(hash)), Some(1_900_000_000_000)),
            ),
        ])
    }

    #[test]
    fn entries_round_trip_with_their_deadlines() {
        let items = read_all(&sample()).unwrap();
        assert_eq!(
            items,
            [
                Item::Aux("redis-ver".into(), "7.0.0".into()),
                Item::SelectDb(0),
                Item::Entry {
                    key: "s".into(),
                    value: Payload::String("hello".into()),
                    expire_at: None,
                },
                Item::Entry {
                    key: "h".into(),
                    value: Payload::Hash(vec![("f".into(), "v".into())]),
                    expire_at: Some(1_900_000_000_000),
                },
            ]
        );
    }

    /// Every cut of `file`, and every byte of it flipped, is refused.
    fn refused_at_every_byte(file: &[u8]) {
        for at in 0..file.len() {
            assert!(read_all(&file[..at]).is_err(), "cut at {at}");
            let mut bad = file.to_vec();
            bad[at] ^= 0x20;
            assert!(read_all(&bad).is_err(), "flipped byte {at}");
        }
    }

    #[test]
    fn a_cut_or_flipped_file_is_refused_at_every_byte() {
        let file = sample();
        refused_at_every_byte(&file);
    }

    #[test]
    fn a_stream_entry_round_trips_and_a_cut_or_flip_is_refused() {
        use kiln_store::{StreamBuilder, StreamId};
        let mut builder = StreamBuilder::new();
        for ms in 1..=150u64 {
            let fields = [(Bytes::from("f"), Bytes::from(ms.to_string()))];
            builder.push(StreamId::new(ms, 0), &fields).unwrap();
        }
        let stream = builder
            .finish(
                StreamId::new(150, 0),
                150,
                StreamId::MIN,
                Default::default(),
            )
            .unwrap();
        let entries = stream.range(StreamId::MIN, StreamId::MAX, 0, false);
        let file = file_of(&[(
            b"st",
            record(Value::Stream(Box::new(stream)), Some(1_900_000_000_000)),
        )]);
        let items = read_all(&file).unwrap();
        let Some(Item::Entry {
            key,
            value: Payload::Stream(back),
            expire_at,
        }) = items.last()
        else {
            panic!("{items:?}")
        };
        assert_eq!(
            (&key[..], *expire_at),
            (&b"st"[..], Some(1_900_000_000_000))
        );
        assert_eq!(back.range(StreamId::MIN, StreamId::MAX, 0, false), entries);
        refused_at_every_byte(&file);
    }

    #[test]
    fn a_big_entry_streams_through_the_window() {
        let big = Bytes::from(vec![b'x'; 300_000]);
        let file = file_of(&[(b"big", record(Value::String(big.clone()), None))]);
        let items = read_all(&file).unwrap();
        assert_eq!(
            items.last(),
            Some(&Item::Entry {
                key: "big".into(),
                value: Payload::String(big),
                expire_at: None,
            })
        );
    }

    #[test]
    fn a_hostile_length_reads_no_further_than_the_file() {
        let mut body = b"REDIS0010".to_vec();
        body.push(2); // a set
        put_string(&mut body, b"k");
        body.extend_from_slice(&[0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        let err = read_all(&body).unwrap_err();
        assert!(matches!(err, LoadError::Corrupt { offset: 9, .. }), "{err}");
    }

    #[test]
    fn a_newer_version_and_a_foreign_file_are_refused() {
        assert!(read_all(b"REDIS0099\xff").is_err());
        assert!(read_all(b"*1\r\n$4\r\nPING\r\n").is_err());
    }
}
