//! Redis Cluster key slots: CRC16 (XMODEM) of the key, or of its `{hash tag}`,
//! modulo 16384 — bit for bit what Redis Cluster computes, so every cluster
//! client agrees with the server about which core owns a key.

/// Number of hash slots.
pub const SLOT_COUNT: usize = 16384;

/// CRC16/XMODEM (polynomial 0x1021), the checksum Redis Cluster uses.
///
/// Two bytes per step (a 16-bit CRC absorbs a whole 16-bit word at once),
/// which halves the chain of dependent table loads: every request to the
/// main port hashes its key.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut pairs = bytes.chunks_exact(2);
    let mut crc = 0u16;
    for pair in &mut pairs {
        let w = crc ^ u16::from_be_bytes([pair[0], pair[1]]);
        crc = CRC16_TABLE2[(w >> 8) as usize] ^ CRC16_TABLE[(w & 0xff) as usize];
    }
    for &b in pairs.remainder() {
        crc = crc16_byte(crc, b);
    }
    crc
}

fn crc16_byte(crc: u16, b: u8) -> u16 {
    (crc << 8) ^ CRC16_TABLE[(((crc >> 8) as u8) ^ b) as usize]
}

/// The slot of `key`. If the key holds `{...}` with at least one byte between
/// the first `{` and the next `}`, only that part is hashed, so `{user1}:a`
/// and `{user1}:b` share a slot.
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) & (SLOT_COUNT as u16 - 1)
}

/// The one slot every key a glob-style `pattern` can match hashes to, or
/// `None` when they may fall in several (Redis's `patternHashSlot`): a
/// wildcard or escape before a complete hash tag spreads them.
pub fn pattern_slot(pattern: &[u8]) -> Option<u16> {
    let mut open: Option<usize> = None;
    let mut empty_tag = false;
    for (i, &b) in pattern.iter().enumerate() {
        match b {
            b'*' | b'?' | b'[' | b'\\' => return None,
            b'{' if open.is_none() && !empty_tag => open = Some(i),
            b'}' if open.is_some_and(|o| i == o + 1) => {
                // `{}` hashes the whole key.
                open = None;
                empty_tag = true;
            }
            b'}' if open.is_some() => {
                let o = open.unwrap_or_default();
                return Some(crc16(&pattern[o + 1..i]) & (SLOT_COUNT as u16 - 1));
            }
            _ => {}
        }
    }
    Some(key_slot(pattern))
}

fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&b| b == b'{') else {
        return key;
    };
    match key[open + 1..].iter().position(|&b| b == b'}') {
        Some(len) if len > 0 => &key[open + 1..open + 1 + len],
        _ => key,
    }
}

const CRC16_TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// `CRC16_TABLE2[x]`: the CRC register after `x` in the high byte is
/// shifted out followed by eight more zero bits.
const CRC16_TABLE2: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let once = CRC16_TABLE[i];
        table[i] = (once << 8) ^ CRC16_TABLE[(once >> 8) as usize];
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_cluster() {
        // Values from the Redis Cluster spec and `CLUSTER KEYSLOT` on Redis 7.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"somekey"), 11058);
        assert_eq!(key_slot(b"key:000000000000"), key_slot(b"key:000000000000"));
        assert_eq!(key_slot(b""), 0);
    }

    #[test]
    fn pattern_slots_as_redis() {
        assert_eq!(pattern_slot(b"{user1}:w_*"), Some(key_slot(b"user1")));
        assert_eq!(pattern_slot(b"w_*"), None);
        assert_eq!(pattern_slot(b"a?{user1}"), None);
        assert_eq!(pattern_slot(b"\\{x}"), None);
        assert_eq!(pattern_slot(b"fixed"), Some(key_slot(b"fixed")));
        assert_eq!(pattern_slot(b"{}{a}*"), None);
        assert_eq!(pattern_slot(b"{}{a}"), Some(key_slot(b"{}{a}")));
    }

    proptest::proptest! {
        #[test]
        fn two_bytes_at_a_time_equals_one(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let bytewise = bytes.iter().fold(0u16, |crc, &b| crc16_byte(crc, b));
            proptest::prop_assert_eq!(crc16(&bytes), bytewise);
        }
    }

    #[test]
    fn hash_tags() {
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"{user1000}.followers"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
    }
}
