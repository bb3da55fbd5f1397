//! What to send: command templates with `__key__` / `__data__` placeholders,
//! the SET:GET pair memtier sends by default, and the ratio schedule that
//! picks the next command.
//!
//! A template is split into literal segments and placeholders once, at
//! start-up; encoding a request then only appends bytes to the connection's
//! output buffer.

use std::str::FromStr;

use crate::BenchError;
use crate::keys::{Key, KeyPattern};

/// memtier's `--ratio SET:GET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    /// SETs per cycle.
    pub set: u32,
    /// GETs per cycle.
    pub get: u32,
}

impl FromStr for Ratio {
    type Err = BenchError;

    fn from_str(s: &str) -> Result<Ratio, BenchError> {
        let bad = || BenchError::Flag(format!("--ratio: expected SET:GET, got {s:?}"));
        let (a, b) = s.split_once(':').ok_or_else(bad)?;
        let ratio = Ratio {
            set: a.trim().parse().map_err(|_| bad())?,
            get: b.trim().parse().map_err(|_| bad())?,
        };
        if ratio.set == 0 && ratio.get == 0 {
            return Err(BenchError::Flag("--ratio: 0:0 sends nothing".into()));
        }
        Ok(ratio)
    }
}

/// One piece of an argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// Bytes sent as written.
    Literal(Vec<u8>),
    /// `__key__`: the key prefix and the drawn key number.
    Key,
    /// `__data__`: the value bytes.
    Data,
    /// The SET expiry in seconds, drawn from `--expiry-range`.
    Expiry,
}

/// How replies to a command count as hits and misses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitKind {
    /// A write: its replies are neither hits nor misses.
    Set,
    /// A read: a nil reply is a miss, anything else a hit.
    Get,
    /// Any other command: only counted.
    Other,
}

/// A command to send, how often, and how it picks keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Row label in the results (`Sets`, `Gets`, or the command's name).
    pub name: String,
    /// Arguments, each a list of segments.
    pub args: Vec<Vec<Segment>>,
    /// Weight in the schedule.
    pub ratio: u32,
    /// Key pattern.
    pub pattern: KeyPattern,
    /// Hit/miss accounting.
    pub kind: HitKind,
    /// `--expiry-range` for [`Segment::Expiry`].
    pub expiry: (u64, u64),
}

const KEY: &str = "__key__";
const DATA: &str = "__data__";

impl Template {
    /// memtier's default workload: `SET __key__ __data__` and `GET __key__`.
    pub fn set_get(
        ratio: Ratio,
        set: KeyPattern,
        get: KeyPattern,
        expiry: Option<(u64, u64)>,
    ) -> Vec<Template> {
        let mut set_args = vec![
            vec![Segment::Literal(b"SET".to_vec())],
            vec![Segment::Key],
            vec![Segment::Data],
        ];
        if expiry.is_some() {
            set_args.push(vec![Segment::Literal(b"EX".to_vec())]);
            set_args.push(vec![Segment::Expiry]);
        }
        vec![
            Template {
                name: "Sets".into(),
                args: set_args,
                ratio: ratio.set,
                pattern: set,
                kind: HitKind::Set,
                expiry: expiry.unwrap_or((0, 0)),
            },
            Template {
                name: "Gets".into(),
                args: vec![vec![Segment::Literal(b"GET".to_vec())], vec![Segment::Key]],
                ratio: ratio.get,
                pattern: get,
                kind: HitKind::Get,
                expiry: (0, 0),
            },
        ]
    }

    /// A `--command` line: whitespace-separated arguments, double quotes
    /// group words, placeholders may sit anywhere inside an argument.
    pub fn parse(text: &str, ratio: u32, pattern: KeyPattern) -> Result<Template, BenchError> {
        let words = split_words(text)?;
        let Some(first) = words.first() else {
            return Err(BenchError::Flag("--command is empty".into()));
        };
        let name = first.to_ascii_uppercase();
        let kind = match name.as_str() {
            "GET" | "GETEX" | "GETDEL" | "HGET" | "LINDEX" => HitKind::Get,
            "SET" | "SETEX" | "PSETEX" | "HSET" | "MSET" => HitKind::Set,
            _ => HitKind::Other,
        };
        Ok(Template {
            name: first.clone(),
            args: words.iter().map(|w| segments(w)).collect(),
            ratio,
            pattern,
            kind,
            expiry: (0, 0),
        })
    }

    /// Whether any argument holds the key (only such commands can be routed by slot).
    pub fn has_key(&self) -> bool {
        self.args.iter().flatten().any(|s| *s == Segment::Key)
    }

    /// Appends the RESP request for `key` with value `data` and expiry
    /// `expiry` to `out`. Allocates nothing once `out` has grown.
    pub fn encode(&self, key: &mut Key<'_>, data: &[u8], expiry: u64, out: &mut Vec<u8>) {
        let mut num = itoa::Buffer::new();
        let mut expiry_digits = itoa::Buffer::new();
        let expiry = expiry_digits.format(expiry).as_bytes();
        out.push(b'*');
        out.extend_from_slice(num.format(self.args.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        for arg in &self.args {
            let len: usize = arg
                .iter()
                .map(|s| match s {
                    Segment::Literal(bytes) => bytes.len(),
                    Segment::Key => key.encoded_len(),
                    Segment::Data => data.len(),
                    Segment::Expiry => expiry.len(),
                })
                .sum();
            out.push(b'$');
            out.extend_from_slice(num.format(len).as_bytes());
            out.extend_from_slice(b"\r\n");
            for segment in arg {
                match segment {
                    Segment::Literal(bytes) => out.extend_from_slice(bytes),
                    Segment::Key => key.write(out),
                    Segment::Data => out.extend_from_slice(data),
                    Segment::Expiry => out.extend_from_slice(expiry),
                }
            }
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Splits an argument into literals and placeholders.
fn segments(word: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut rest = word;
    while !rest.is_empty() {
        let next = [
            (rest.find(KEY), KEY, Segment::Key),
            (rest.find(DATA), DATA, Segment::Data),
        ]
        .into_iter()
        .filter_map(|(at, tag, seg)| at.map(|at| (at, tag, seg)))
        .min_by_key(|(at, ..)| *at);
        match next {
            Some((at, tag, seg)) => {
                if at > 0 {
                    out.push(Segment::Literal(rest.as_bytes()[..at].to_vec()));
                }
                out.push(seg);
                rest = &rest[at + tag.len()..];
            }
            None => {
                out.push(Segment::Literal(rest.as_bytes().to_vec()));
                rest = "";
            }
        }
    }
    if out.is_empty() {
        out.push(Segment::Literal(Vec::new()));
    }
    out
}

/// Whitespace-separated words; `"..."` keeps spaces and may be empty.
fn split_words(text: &str) -> Result<Vec<String>, BenchError> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(c) => word.push(c),
                    None => {
                        return Err(BenchError::Flag(format!(
                            "--command: unbalanced quote in {text:?}"
                        )));
                    }
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    Ok(words)
}

/// Picks commands in fixed cycles as memtier does: `ratio[0]` of the first,
/// then `ratio[1]` of the second, and so on, repeating.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Running sums of the ratios.
    bounds: Vec<u32>,
    /// Position in the cycle.
    pos: u32,
}

impl Schedule {
    /// A schedule over these weights; at least one must be non-zero.
    pub fn new(ratios: impl IntoIterator<Item = u32>) -> Schedule {
        let bounds: Vec<u32> = ratios
            .into_iter()
            .scan(0u32, |sum, r| {
                *sum += r;
                Some(*sum)
            })
            .collect();
        assert!(
            bounds.last().is_some_and(|&t| t > 0),
            "a schedule needs a non-zero ratio"
        );
        Schedule { bounds, pos: 0 }
    }

    /// Index of the next command.
    pub fn pick(&mut self) -> usize {
        let index = self.bounds.partition_point(|&b| b <= self.pos);
        self.pos += 1;
        if self.pos == *self.bounds.last().unwrap_or(&1) {
            self.pos = 0;
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(t: &Template, key: u64, data: &[u8], expiry: u64) -> String {
        let mut out = Vec::new();
        t.encode(&mut Key::new(b"k:", key), data, expiry, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn ratio_parses() {
        assert_eq!("1:10".parse::<Ratio>().unwrap(), Ratio { set: 1, get: 10 });
        assert!("1:".parse::<Ratio>().is_err());
        assert!("0:0".parse::<Ratio>().is_err());
    }

    #[test]
    fn schedule_runs_each_ratio_in_turn() {
        let mut s = Schedule::new([1, 3]);
        let picks: Vec<usize> = (0..8).map(|_| s.pick()).collect();
        assert_eq!(picks, vec![0, 1, 1, 1, 0, 1, 1, 1]);
    }

    #[test]
    fn schedule_skips_zero_ratios() {
        let mut s = Schedule::new([0, 2, 0, 1]);
        let picks: Vec<usize> = (0..6).map(|_| s.pick()).collect();
        assert_eq!(picks, vec![1, 1, 3, 1, 1, 3]);
    }

    #[test]
    fn schedule_counts_match_the_ratio_over_many_cycles() {
        let mut s = Schedule::new([1, 10]);
        let mut counts = [0; 2];
        for _ in 0..1100 {
            counts[s.pick()] += 1;
        }
        assert_eq!(counts, [100, 1000]);
    }

    #[test]
    fn default_set_and_get_encode_as_resp() {
        let t = Template::set_get(
            Ratio { set: 1, get: 1 },
            KeyPattern::Random,
            KeyPattern::Random,
            None,
        );
        assert_eq!(
            encode(&t[0], 42, b"xyz", 0),
            "*3\r\n$3\r\nSET\r\n$4\r\nk:42\r\n$3\r\nxyz\r\n"
        );
        assert_eq!(encode(&t[1], 7, b"", 0), "*2\r\n$3\r\nGET\r\n$3\r\nk:7\r\n");
    }

    #[test]
    fn set_with_expiry_adds_ex() {
        let t = Template::set_get(
            Ratio { set: 1, get: 0 },
            KeyPattern::Random,
            KeyPattern::Random,
            Some((5, 9)),
        );
        assert_eq!(
            encode(&t[0], 1, b"v", 7),
            "*5\r\n$3\r\nSET\r\n$3\r\nk:1\r\n$1\r\nv\r\n$2\r\nEX\r\n$1\r\n7\r\n"
        );
    }

    #[test]
    fn placeholders_substitute_anywhere_in_an_argument() {
        let t =
            Template::parse("HSET h:__key__ f \"a b __data__!\"", 1, KeyPattern::Random).unwrap();
        assert_eq!(t.kind, HitKind::Set);
        assert!(t.has_key());
        assert_eq!(
            encode(&t, 5, b"DD", 0),
            "*4\r\n$4\r\nHSET\r\n$5\r\nh:k:5\r\n$1\r\nf\r\n$7\r\na b DD!\r\n"
        );
    }

    #[test]
    fn repeated_placeholders_and_empty_quotes() {
        let t =
            Template::parse("MSET __key__ __key____data__ \"\"", 1, KeyPattern::Random).unwrap();
        assert_eq!(
            encode(&t, 3, b"v", 0),
            "*4\r\n$4\r\nMSET\r\n$3\r\nk:3\r\n$4\r\nk:3v\r\n$0\r\n\r\n"
        );
    }

    #[test]
    fn commands_without_keys_and_bad_quotes() {
        let t = Template::parse("ping", 1, KeyPattern::Random).unwrap();
        assert!(!t.has_key());
        assert_eq!(t.kind, HitKind::Other);
        assert_eq!(t.name, "ping");
        assert!(Template::parse("SET \"oops", 1, KeyPattern::Random).is_err());
        assert!(Template::parse("   ", 1, KeyPattern::Random).is_err());
    }
}
