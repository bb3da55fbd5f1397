//! A core's manifest: the files of its log, in Redis 7's line format.
//!
//! ```text
//! file appendonly.aof.core0.1.base.aof seq 1 type b
//! file appendonly.aof.core0.1.incr.aof seq 1 type i
//! file appendonly.aof.core0.2.incr.aof seq 2 type i
//! ```

use std::fmt::Write as _;

/// What a file of the log holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A rewrite's compacted state (loaded first).
    Base,
    /// Commands run after the base, in `seq` order.
    Incr,
}

/// One line of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// File name, inside the log directory.
    pub name: String,
    /// Its sequence number.
    pub seq: u64,
    /// Base or incremental.
    pub kind: FileKind,
}

/// A parsed manifest: at most one base, then incremental files by `seq`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The base file, if a rewrite made one.
    pub base: Option<ManifestEntry>,
    /// Incremental files, oldest first; the last is the one written to.
    pub incr: Vec<ManifestEntry>,
}

/// Longest manifest accepted (a real one is a few lines).
pub const MAX_MANIFEST_LEN: usize = 1 << 20;

impl Manifest {
    /// Parses manifest text; `Err` names the bad line.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut manifest = Manifest::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let entry = parse_line(line).ok_or_else(|| format!("bad manifest line {}", n + 1))?;
            match entry.kind {
                FileKind::Base if manifest.base.is_some() => {
                    return Err(format!("second base file at line {}", n + 1));
                }
                FileKind::Base => manifest.base = Some(entry),
                FileKind::Incr => {
                    if manifest
                        .incr
                        .last()
                        .is_some_and(|last| last.seq >= entry.seq)
                    {
                        return Err(format!("incr files out of order at line {}", n + 1));
                    }
                    manifest.incr.push(entry);
                }
            }
        }
        Ok(manifest)
    }

    /// The manifest's text.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for entry in self.base.iter().chain(&self.incr) {
            let kind = match entry.kind {
                FileKind::Base => 'b',
                FileKind::Incr => 'i',
            };
            let _ = writeln!(text, "file {} seq {} type {kind}", entry.name, entry.seq);
        }
        text
    }

    /// Every file, in load order.
    pub fn files(&self) -> impl Iterator<Item = &ManifestEntry> {
        self.base.iter().chain(&self.incr)
    }

    /// The highest sequence number in use.
    pub fn last_seq(&self) -> u64 {
        self.files().map(|e| e.seq).max().unwrap_or(0)
    }
}

fn parse_line(line: &str) -> Option<ManifestEntry> {
    let mut name = None;
    let mut seq = None;
    let mut kind = None;
    let mut words = line.split_ascii_whitespace();
    while let Some(word) = words.next() {
        let value = words.next()?;
        match word {
            "file" => name = Some(value),
            "seq" => seq = value.parse().ok(),
            "type" => {
                kind = match value {
                    "b" => Some(FileKind::Base),
                    "i" => Some(FileKind::Incr),
                    _ => None,
                }
            }
            // Redis may add keys; an unknown one is ignored, as Redis does.
            _ => {}
        }
    }
    let name = name?;
    // A file name must stay inside the directory.
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return None;
    }
    Some(ManifestEntry {
        name: name.to_owned(),
        seq: seq?,
        kind: kind?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let text = "file a.1.base.aof seq 1 type b\nfile a.1.incr.aof seq 1 type i\nfile a.2.incr.aof seq 2 type i\n";
        let manifest = Manifest::parse(text).unwrap();
        assert_eq!(manifest.base.as_ref().unwrap().name, "a.1.base.aof");
        assert_eq!(manifest.incr.len(), 2);
        assert_eq!(manifest.last_seq(), 2);
        assert_eq!(manifest.render(), text);
    }

    #[test]
    fn rejects_bad_lines() {
        assert!(Manifest::parse("file x seq one type i").is_err());
        assert!(Manifest::parse("file x seq 1 type z").is_err());
        assert!(Manifest::parse("file ../etc/passwd seq 1 type i").is_err());
        assert!(Manifest::parse("file x seq 1").is_err());
        assert!(Manifest::parse("file a seq 2 type i\nfile b seq 1 type i").is_err());
        assert!(Manifest::parse("file a seq 1 type b\nfile b seq 2 type b").is_err());
        // Comments, blank lines and unknown keys are fine.
        let m = Manifest::parse("# kiln\n\nfile a seq 1 type i startoffset 0\n").unwrap();
        assert_eq!(m.incr[0].name, "a");
    }
}
