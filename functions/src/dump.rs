//! The `FUNCTION DUMP` payload: a tenant's library sources, checksummed.
//!
//! Layout: `KILNFN`, a format version byte, then per library a 4-byte
//! big-endian length and the source, then the CRC-32 of everything before
//! it (4 bytes, big-endian). Function metadata is not in it: `RESTORE` runs
//! each library again, as `FUNCTION LOAD` does.

const MAGIC: &[u8] = b"KILNFN";
const VERSION: u8 = 1;

/// The payload for these library sources.
pub fn encode<'a>(sources: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let mut out = Vec::from(MAGIC);
    out.push(VERSION);
    for source in sources {
        out.extend_from_slice(&(source.len() as u32).to_be_bytes());
        out.extend_from_slice(source.as_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// The library sources in a payload, or `None` when its magic, version,
/// checksum or framing is wrong.
pub fn decode(payload: &[u8]) -> Option<Vec<String>> {
    let (body, crc) = payload.split_at_checked(payload.len().checked_sub(4)?)?;
    if crc32fast::hash(body).to_be_bytes() != crc {
        return None;
    }
    let mut rest = body.strip_prefix(MAGIC)?.strip_prefix(&[VERSION])?;
    let mut sources = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest.split_at_checked(4)?;
        let len = u32::from_be_bytes(len.try_into().ok()?) as usize;
        let (source, tail) = tail.split_at_checked(len)?;
        sources.push(String::from_utf8(source.to_vec()).ok()?);
        rest = tail;
    }
    Some(sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let payload = encode(["#!js name=a\nx", "#!js name=b\n"]);
        assert_eq!(
            decode(&payload).unwrap(),
            vec!["#!js name=a\nx", "#!js name=b\n"]
        );
        assert_eq!(decode(&encode([])).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn rejects_damage() {
        let payload = encode(["#!js name=a\nx"]);
        for i in 0..payload.len() {
            let mut bad = payload.clone();
            bad[i] ^= 1;
            assert_eq!(decode(&bad), None, "flipped byte {i}");
        }
        assert_eq!(decode(&payload[..payload.len() - 1]), None);
        assert_eq!(decode(b""), None);
        assert_eq!(decode(b"abc"), None);
    }
}
