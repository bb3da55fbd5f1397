//! Redis glob matching for KEYS, SCAN MATCH and friends.
//!
//! A port of Redis 7's `stringmatchlen` that keeps its exact behaviour,
//! quirks included, because clients rely on the server's answers rather than
//! on any glob standard:
//!
//! - `*` needs at least one byte to be tried against, so `*` alone does not
//!   match the empty string (KEYS and SCAN short-circuit a bare `*`);
//! - an unterminated `[` class matches as if closed at the end of the pattern;
//! - inside a class, `\x` matches `x` exactly even with `nocase`;
//! - range bounds compare as C `char`, which is signed on the platforms Redis
//!   ships for, so a range that mentions a byte >= 0x80 behaves as in Redis.
//!
//! Backtracking is bounded two ways, as in Redis 7: once the tail after a `*`
//! fails from every position, no earlier `*` retries longer matches (this
//! makes `*a*a*a*a*b` polynomial), and nesting deeper than 1000 stars fails.

/// Deeper `*` nesting than this is treated as no match (Redis's guard against
/// abusive patterns, which also bounds our recursion depth).
const MAX_NESTING: usize = 1000;

/// Whether `string` matches the glob `pattern`: `*`, `?`, `[abc]`, `[^a]`,
/// `[a-z]` (reversed ranges allowed) and `\` escapes. With `nocase`, ASCII
/// letters compare case-insensitively.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_from(pattern, string, nocase, &mut skip_longer, 0)
}

fn lower(c: u8, nocase: bool) -> u8 {
    if nocase { c.to_ascii_lowercase() } else { c }
}

/// `c` as C sees a `char` on x86/ARM Linux builds of Redis: signed.
fn signed(c: u8) -> i32 {
    i32::from(c as i8)
}

fn match_from(
    mut p: &[u8],
    mut s: &[u8],
    nocase: bool,
    skip_longer: &mut bool,
    nesting: usize,
) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    while let (Some(&pc), Some(&sc)) = (p.first(), s.first()) {
        match pc {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if match_from(&p[1..], s, nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                // The rest of the pattern matches no suffix at all, so no
                // earlier star can help by consuming more: tell them to stop.
                *skip_longer = true;
                return false;
            }
            b'?' => s = &s[1..],
            b'[' => {
                p = &p[1..];
                let negate = p.first() == Some(&b'^');
                if negate {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    if p.len() >= 2 && p[0] == b'\\' {
                        p = &p[1..];
                        if p[0] == sc {
                            matched = true;
                        }
                    } else if p.first() == Some(&b']') {
                        break;
                    } else if p.is_empty() {
                        // Unterminated class: the common advance below then
                        // leaves the pattern exhausted, as Redis's step back
                        // and forward does.
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut start, mut end) = (signed(p[0]), signed(p[2]));
                        let mut c = signed(sc);
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = lower_signed(start);
                            end = lower_signed(end);
                            c = lower_signed(c);
                        }
                        p = &p[2..];
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if lower(p[0], nocase) == lower(sc, nocase) {
                        matched = true;
                    }
                    p = &p[1..];
                }
                if negate {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s = &s[1..];
            }
            _ => {
                if pc == b'\\' && p.len() >= 2 {
                    p = &p[1..];
                }
                if lower(p[0], nocase) != lower(sc, nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = p.get(1..).unwrap_or(&[]);
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

/// C `tolower` on a signed char value: only ASCII upper case changes.
fn lower_signed(c: i32) -> i32 {
    if (i32::from(b'A')..=i32::from(b'Z')).contains(&c) {
        c + 32
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;
    use std::time::Instant;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(m("hello", "hello"));
        assert!(!m("hello", "hellO"));
        assert!(!m("hello", "hell"));
        assert!(!m("hell", "hello"));
        assert!(m("h?llo", "hallo"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("*", "anything"));
        assert!(m("**", "x"));
        assert!(m("a*", "a"));
        assert!(m("a**", "a"));
        assert!(m("*a", "a"));
        assert!(!m("*a", "ab"));
        assert!(m("user:*:name", "user:42:name"));
        assert!(!m("user:*:name", "user:42:names"));
    }

    #[test]
    fn star_needs_a_byte_like_redis() {
        // Redis's loop runs only while both sides are non-empty.
        assert!(!m("*", ""));
        assert!(!m("?", ""));
        assert!(m("", ""));
        assert!(!m("", "a"));
    }

    #[test]
    fn classes() {
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        // Reversed ranges are normalised.
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("[0-9][0-9]", "42"));
        assert!(!m("[0-9]", "a"));
        // Escapes inside a class, including a literal ']'.
        assert!(m("[\\]]", "]"));
        assert!(m("[\\-]", "-"));
        assert!(!m("[\\-]", "a"));
    }

    #[test]
    fn unterminated_class_is_closed_at_end() {
        assert!(m("[abc", "a"));
        assert!(!m("[abc", "d"));
        assert!(!m("[", "a"));
        assert!(m("[^", "a"));
        assert!(!m("[abc", "ab"));
        // "[a-" is not a range (needs three bytes) but the literals 'a', '-'.
        assert!(m("[a-", "-"));
        assert!(!m("[a-", "b"));
    }

    #[test]
    fn escapes() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("a\\?b", "a?b"));
        assert!(!m("a\\?b", "axb"));
        // A trailing backslash matches itself.
        assert!(m("a\\", "a\\"));
    }

    #[test]
    fn nocase() {
        assert!(glob_match(b"HeLLo", b"hello", true));
        assert!(glob_match(b"h[A-Z]llo", b"hello", true));
        assert!(glob_match(b"h[E]llo", b"hello", true));
        assert!(!glob_match(b"h[E]llo", b"hello", false));
        // Redis compares escaped class members exactly, even with nocase.
        assert!(!glob_match(b"h[\\E]llo", b"hello", true));
    }

    #[test]
    fn signed_char_ranges_like_redis() {
        // Bounds compare as signed chars: 0xff is -1, so [a-\xff] is the
        // range -1..='a', which holds '0' and 0xff but not 'b'.
        let pat = b"[a-\xff]";
        assert!(glob_match(pat, b"0", false));
        assert!(glob_match(pat, b"\xff", false));
        assert!(!glob_match(pat, b"b", false));
        assert!(!glob_match(pat, b"\x80", false));
    }

    #[test]
    fn binary_safe() {
        assert!(glob_match(b"a\0*", b"a\0zzz", false));
        assert!(!glob_match(b"a\0*", b"a\x01zzz", false));
    }

    #[test]
    fn abusive_patterns_are_not_exponential() {
        // Redis's regression test for CVE-2022-36021.
        let pattern = "*a".repeat(32) + "b";
        let subject = "a".repeat(100);
        let t = Instant::now();
        assert!(!m(&pattern, &subject));
        let pattern = "a*".repeat(300) + "b";
        let subject = "a".repeat(5000);
        assert!(!m(&pattern, &subject));
        assert!(t.elapsed().as_secs() < 5, "took {:?}", t.elapsed());
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let pattern = "*a".repeat(2000);
        let subject = "a".repeat(2000);
        // Over 1000 nested stars Redis gives up and reports no match.
        assert!(!m(&pattern, &subject));
        let pattern = "*a".repeat(500);
        assert!(m(&pattern, &subject));
    }
}
