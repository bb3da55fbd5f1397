//! The log directory: locked against a second server, one manifest per core.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::encode::Encoder;
use super::manifest::{FileKind, MAX_MANIFEST_LEN, Manifest, ManifestEntry};

/// The lock file inside the log directory.
const LOCK_FILE: &str = "kiln.lock";

/// The log directory of a server with a given number of cores, locked for
/// as long as this value lives.
#[derive(Debug)]
pub struct AofDir {
    path: PathBuf,
    /// `appendfilename`: every file's name starts with it.
    prefix: String,
    cores: Vec<CoreFiles>,
    /// Holds the flock.
    _lock: File,
}

/// One core's part of the directory.
#[derive(Debug, Clone)]
pub struct CoreFiles {
    /// The core.
    pub core: usize,
    /// Its manifest as found (empty for a new log).
    pub manifest: Manifest,
}

/// A new base file being written by a rewrite; removed unless finished.
#[derive(Debug)]
pub struct NewBase {
    file: Option<File>,
    temp: PathBuf,
    seq: u64,
    out: Encoder,
    size: u64,
}

impl NewBase {
    /// Where the records go, as commands (written by [`NewBase::write_out`]).
    pub fn out(&mut self) -> &mut Encoder {
        &mut self.out
    }

    /// Writes what was encoded to the file.
    pub fn write_out(&mut self) -> io::Result<()> {
        let file = self.file.as_mut().expect("an unfinished base has its file");
        file.write_all(self.out.bytes())?;
        self.size += self.out.bytes().len() as u64;
        self.out.clear();
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Where it is while being written.
    pub fn path(&self) -> &Path {
        &self.temp
    }
}

impl Drop for NewBase {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// How a rewrite's temporary base file's name starts.
const TEMP_REWRITE: &str = "temp-rewrite-";

/// A file to load, in order.
#[derive(Debug, Clone)]
pub struct LoadFile {
    /// Where it is.
    pub path: PathBuf,
    /// Base or incremental.
    pub kind: FileKind,
    /// The last file: the only one whose tail may be torn.
    pub last: bool,
}

impl AofDir {
    /// Opens (creating) `dir`, locks it, and reads every core's manifest.
    /// Fails when another server holds the lock, a manifest is corrupt, or
    /// the logs were written by a server with another number of cores (each
    /// core's log holds the keys of that core's slots).
    pub fn open(dir: &Path, prefix: &str, cores: usize) -> io::Result<AofDir> {
        fs::create_dir_all(dir)
            .map_err(|e| annotate(e, format!("cannot create {}", dir.display())))?;
        let lock = lock(&dir.join(LOCK_FILE))?;
        let mut found = Vec::new();
        for entry in fs::read_dir(dir)? {
            let name = entry?.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(core) = core_of_manifest(name, prefix) {
                found.push(core);
            }
        }
        // Every core creates its log as it starts, so the highest index
        // tells how many cores wrote them (a core that crashed before its
        // first write may lack one: it simply has nothing to load).
        if let Some(written) = found.iter().max().map(|max| max + 1)
            && written != cores
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} holds the logs of a server with {written} cores, but this one runs \
                     {cores}: start it with --cores {written} (a core's log holds the keys \
                     of that core's slots)",
                    dir.display(),
                ),
            ));
        }
        let mut files = Vec::with_capacity(cores);
        for core in 0..cores {
            let path = dir.join(manifest_name(prefix, core));
            let manifest = match fs::read(&path) {
                Ok(bytes) if bytes.len() > MAX_MANIFEST_LEN => {
                    return Err(corrupt(&path, "manifest too long".into()));
                }
                Ok(bytes) => {
                    let text =
                        String::from_utf8(bytes).map_err(|_| corrupt(&path, "not UTF-8".into()))?;
                    Manifest::parse(&text).map_err(|e| corrupt(&path, e))?
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => Manifest::default(),
                Err(e) => return Err(annotate(e, format!("cannot read {}", path.display()))),
            };
            files.push(CoreFiles { core, manifest });
        }
        let dir = AofDir {
            path: dir.to_owned(),
            prefix: prefix.to_owned(),
            cores: files,
            _lock: lock,
        };
        dir.remove_temporaries()?;
        Ok(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Core `core`'s files to load, in order (none for a new log).
    pub fn load_files(&self, core: usize) -> Vec<LoadFile> {
        let manifest = &self.cores[core].manifest;
        let count = manifest.files().count();
        manifest
            .files()
            .enumerate()
            .map(|(i, entry)| LoadFile {
                path: self.path.join(&entry.name),
                kind: entry.kind,
                last: i + 1 == count,
            })
            .collect()
    }

    /// Opens core `core`'s current incremental file for appending, first
    /// creating it and its manifest for a new log. Returns the file and
    /// its path.
    pub fn open_incr(&mut self, core: usize) -> io::Result<(File, PathBuf)> {
        if self.cores[core].manifest.incr.is_empty() {
            let seq = self.cores[core].manifest.last_seq() + 1;
            let entry = ManifestEntry {
                name: format!("{}.core{core}.{seq}.incr.aof", self.prefix),
                seq,
                kind: FileKind::Incr,
            };
            let mut manifest = self.cores[core].manifest.clone();
            manifest.incr.push(entry);
            // The file exists before the manifest names it.
            let path = self.path.join(&manifest.incr[0].name);
            File::create(&path)?.sync_all()?;
            self.write_manifest(core, manifest)?;
        }
        let name = &self.cores[core]
            .manifest
            .incr
            .last()
            .expect("an incr file exists")
            .name;
        let path = self.path.join(name);
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| annotate(e, format!("cannot open {}", path.display())))?;
        Ok((file, path))
    }

    /// Starts a rewrite of core `core`'s log: an empty temporary base file
    /// for the caller to write the core's records into, then hand to
    /// [`AofDir::finish_rewrite`] (or drop, which removes it).
    pub fn begin_rewrite(&mut self, core: usize) -> io::Result<NewBase> {
        let seq = self.cores[core].manifest.last_seq() + 1;
        let temp = self.path.join(format!(
            "{TEMP_REWRITE}{}.core{core}.{seq}.base.aof",
            self.prefix
        ));
        let file = File::create(&temp)
            .map_err(|e| annotate(e, format!("cannot create {}", temp.display())))?;
        Ok(NewBase {
            file: Some(file),
            temp,
            seq,
            out: Encoder::with_capacity(256 * 1024),
            size: 0,
        })
    }

    /// Makes `base`, which holds everything core `core`'s log held, its
    /// log: the base is fsynced and renamed, a new empty incremental file
    /// follows it, the manifest is replaced to name just those two, and
    /// the files it named before are removed. Returns the new incremental
    /// file, for appending, and its path. On an error the old log stays
    /// the log.
    pub fn finish_rewrite(
        &mut self,
        core: usize,
        mut base: NewBase,
    ) -> io::Result<(File, PathBuf)> {
        base.write_out()?;
        let file = base.file.take().expect("a base is finished once");
        file.sync_all()?;
        drop(file);
        let base_name = format!("{}.core{core}.{}.base.aof", self.prefix, base.seq);
        fs::rename(&base.temp, self.path.join(&base_name))?;
        let incr_seq = base.seq + 1;
        let incr_name = format!("{}.core{core}.{incr_seq}.incr.aof", self.prefix);
        let incr_path = self.path.join(&incr_name);
        File::create(&incr_path)?.sync_all()?;
        let old: Vec<String> = self.cores[core]
            .manifest
            .files()
            .map(|entry| entry.name.clone())
            .collect();
        let manifest = Manifest {
            base: Some(ManifestEntry {
                name: base_name,
                seq: base.seq,
                kind: FileKind::Base,
            }),
            incr: vec![ManifestEntry {
                name: incr_name,
                seq: incr_seq,
                kind: FileKind::Incr,
            }],
        };
        self.write_manifest(core, manifest)?;
        for name in old {
            if let Err(e) = fs::remove_file(self.path.join(&name)) {
                tracing::warn!(file = %name, error = %e, "cannot remove a rewritten log file");
            }
        }
        let file = OpenOptions::new()
            .append(true)
            .open(&incr_path)
            .map_err(|e| annotate(e, format!("cannot open {}", incr_path.display())))?;
        Ok((file, incr_path))
    }

    /// Removes what an interrupted rewrite left (its temporary bases).
    fn remove_temporaries(&self) -> io::Result<()> {
        for entry in fs::read_dir(&self.path)? {
            let entry = entry?;
            let name = entry.file_name();
            if name.to_str().is_some_and(|n| n.starts_with(TEMP_REWRITE)) {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }

    /// Replaces core `core`'s manifest atomically: a temporary file,
    /// fsynced, renamed over the old one, then the directory fsynced.
    fn write_manifest(&mut self, core: usize, manifest: Manifest) -> io::Result<()> {
        let path = self.path.join(manifest_name(&self.prefix, core));
        let temp = self
            .path
            .join(format!("temp-{}", manifest_name(&self.prefix, core)));
        let mut file = File::create(&temp)?;
        file.write_all(manifest.render().as_bytes())?;
        file.sync_all()?;
        fs::rename(&temp, &path)?;
        File::open(&self.path)?.sync_all()?;
        self.cores[core].manifest = manifest;
        Ok(())
    }
}

/// `<prefix>.core<k>.manifest`.
fn manifest_name(prefix: &str, core: usize) -> String {
    format!("{prefix}.core{core}.manifest")
}

/// The core whose manifest `name` is, if it is one.
fn core_of_manifest(name: &str, prefix: &str) -> Option<usize> {
    let core = name
        .strip_prefix(prefix)?
        .strip_prefix(".core")?
        .strip_suffix(".manifest")?;
    core.parse().ok()
}

/// Takes an exclusive, non-blocking flock on `path`.
fn lock(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| annotate(e, format!("cannot open {}", path.display())))?;
    // SAFETY: flock on a descriptor this function owns; no memory involved.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = io::Error::last_os_error();
        return Err(match err.raw_os_error() {
            Some(libc::EWOULDBLOCK) => io::Error::new(
                io::ErrorKind::AddrInUse,
                format!(
                    "another Kiln server uses {} (its lock is held)",
                    path.parent().unwrap_or(path).display()
                ),
            ),
            _ => annotate(err, format!("cannot lock {}", path.display())),
        });
    }
    Ok(file)
}

fn corrupt(path: &Path, what: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{} is corrupt: {what}", path.display()),
    )
}

fn annotate(err: io::Error, context: String) -> io::Error {
    io::Error::new(err.kind(), format!("{context}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_directory_gets_one_incr_file_per_core() {
        let tmp = tempfile::tempdir().unwrap();
        let mut dir = AofDir::open(tmp.path(), "appendonly.aof", 2).unwrap();
        assert!(dir.load_files(0).is_empty());
        let (_, path) = dir.open_incr(1).unwrap();
        assert!(path.ends_with("appendonly.aof.core1.1.incr.aof"));
        let text = fs::read_to_string(tmp.path().join("appendonly.aof.core1.manifest")).unwrap();
        assert_eq!(text, "file appendonly.aof.core1.1.incr.aof seq 1 type i\n");
        drop(dir);
        // Core 0 never wrote: it has nothing to load.
        let dir = AofDir::open(tmp.path(), "appendonly.aof", 2).unwrap();
        assert!(dir.load_files(0).is_empty());
        assert_eq!(dir.load_files(1).len(), 1);
        drop(dir);
        let refused = AofDir::open(tmp.path(), "appendonly.aof", 1).unwrap_err();
        assert!(refused.to_string().contains("--cores 2"), "{refused}");
    }

    #[test]
    fn a_second_server_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let first = AofDir::open(tmp.path(), "appendonly.aof", 1).unwrap();
        let second = AofDir::open(tmp.path(), "appendonly.aof", 1).unwrap_err();
        assert_eq!(second.kind(), io::ErrorKind::AddrInUse);
        drop(first);
        AofDir::open(tmp.path(), "appendonly.aof", 1).unwrap();
    }

    #[test]
    fn reopening_appends_to_the_last_incr_file() {
        let tmp = tempfile::tempdir().unwrap();
        let mut dir = AofDir::open(tmp.path(), "a", 1).unwrap();
        let (mut file, path) = dir.open_incr(0).unwrap();
        file.write_all(b"x").unwrap();
        drop((file, dir));
        let mut dir = AofDir::open(tmp.path(), "a", 1).unwrap();
        let files = dir.load_files(0);
        assert_eq!(files.len(), 1);
        assert!(files[0].last);
        let (mut file, again) = dir.open_incr(0).unwrap();
        assert_eq!(path, again);
        file.write_all(b"y").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"xy");
    }
}
