//! Replacing a file crash-safely: the new content goes to a temporary file in the same folder,
//! which is synced, renamed over the destination, and the folder synced, so that at every moment
//! the destination holds the old file or the new one, complete.
//!
//! On Linux the temporary file is first an unnamed `O_TMPFILE` inode, given a name only once it
//! is complete and synced, just before the rename: a save killed while writing leaves nothing
//! behind (the kernel frees the inode), and one killed in the microseconds between naming and
//! renaming leaves one hidden `.NAME.PID.N.tmp` file. Elsewhere, or where the file system does
//! not support `O_TMPFILE`, the file is created under that unique name from the start. Every
//! error path removes the temporary file. Names are unique per process, thread and call
//! (`create_new` refuses a clash), so concurrent saves to one path never share a temporary file;
//! the last rename wins and the destination is always one of the saves, whole.

use crate::error::Error;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Calls of [`temp_name`] in this process, to keep names unique across threads.
static CALLS: AtomicU64 = AtomicU64::new(0);

/// Bytes of the destination's name kept in a temporary name, so that it stays within the usual
/// 255-byte limit of a file name.
const NAME_KEPT: usize = 200;

/// Tries for a temporary name that does not exist yet.
const TRIES: usize = 64;

/// A fresh hidden name in `path`'s folder: `.NAME.PID.N.tmp`, with `NAME` cut to 200 bytes and
/// `N` a per-process counter mixed with the clock (processes in different containers can share
/// a pid and a folder; a name that exists anyway is retried, never reused).
fn temp_name(path: &Path) -> PathBuf {
    let mut name = OsString::from(".");
    name.push(short_name(path));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed) << 30 | u64::from(nanos >> 2)
    ));
    path.with_file_name(name)
}

/// `path`'s file name, cut to [`NAME_KEPT`] bytes.
#[cfg(unix)]
fn short_name(path: &Path) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    let b = path.file_name().unwrap_or_default().as_bytes();
    std::ffi::OsStr::from_bytes(&b[..b.len().min(NAME_KEPT)]).to_os_string()
}

/// `path`'s file name, cut to [`NAME_KEPT`] characters.
#[cfg(not(unix))]
fn short_name(path: &Path) -> OsString {
    let s = path.file_name().unwrap_or_default().to_string_lossy();
    OsString::from(s.chars().take(NAME_KEPT).collect::<String>())
}

/// Runs `make` on fresh temporary names for `path` until one does not exist yet (up to
/// [`TRIES`]); returns the name, made, and what `make` returned.
fn fresh<T>(
    path: &Path,
    mut make: impl FnMut(&Path) -> std::io::Result<T>,
) -> std::io::Result<(Named, T)> {
    let mut last = None;
    for _ in 0..TRIES {
        let name = temp_name(path);
        match make(&name) {
            Ok(v) => {
                return Ok((
                    Named {
                        path: name,
                        kept: false,
                    },
                    v,
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
}

/// The folder `path` is in (`.` for a bare file name).
fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A temporary file this call created, removed when dropped unless [`Named::keep`] was called.
struct Named {
    path: PathBuf,
    kept: bool,
}

impl Named {
    fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Which temporary files [`replace_with`] may use.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Temp {
    /// An unnamed `O_TMPFILE` file where the platform and file system offer one, else a named one.
    Best,
    /// A uniquely named file from the start (the portable path; tests use it to cover that path
    /// on Linux).
    #[cfg_attr(not(test), allow(dead_code))]
    Named,
}

/// Replaces `path` with what `write` puts into the file it is given, crash-safely (see the
/// module documentation). The previous file, if any, is untouched on error.
///
/// # Errors
/// `Io` if the folder cannot be written or synced, or `write`'s error.
pub(crate) fn replace(
    path: &Path,
    write: impl FnOnce(&mut File) -> Result<(), Error>,
) -> Result<(), Error> {
    replace_with(path, Temp::Best, write)
}

/// [`replace`] with a choice of temporary file.
pub(crate) fn replace_with(
    path: &Path,
    temp: Temp,
    write: impl FnOnce(&mut File) -> Result<(), Error>,
) -> Result<(), Error> {
    // Saving through a symbolic link replaces the file it points to, not the link.
    let resolved;
    let path = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            resolved = std::fs::canonicalize(path)?;
            resolved.as_path()
        }
        _ => path,
    };
    if path.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            format!("{} is a directory", path.display()),
        )
        .into());
    }
    // The new file keeps the permissions of the one it replaces (owner and ACLs are not copied).
    let keep_mode = std::fs::metadata(path).ok().map(|m| m.permissions());
    let dir = folder(path);
    #[cfg(target_os = "linux")]
    if temp == Temp::Best {
        if let Some(mut f) = unnamed::create(dir)? {
            write(&mut f)?;
            finish(&f, keep_mode.as_ref())?;
            let tmp = match fresh(path, |name| unnamed::link(&f, name)) {
                Ok((tmp, ())) => tmp,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(e.into()),
                Err(_) => {
                    // No /proc to name the file by: copy it to a named one.
                    use std::io::{Seek, SeekFrom};
                    f.seek(SeekFrom::Start(0))?;
                    let (tmp, mut named) = fresh(path, create_named)?;
                    std::io::copy(&mut f, &mut named)?;
                    finish(&named, keep_mode.as_ref())?;
                    tmp
                }
            };
            drop(f);
            return rename_into_place(tmp, path, dir);
        }
    }
    let _ = temp;
    let (tmp, mut f) = fresh(path, create_named)?;
    write(&mut f)?;
    finish(&f, keep_mode.as_ref())?;
    drop(f);
    rename_into_place(tmp, path, dir)
}

/// Gives the written temporary file `f` the permissions of the file it replaces, if any, and
/// syncs it to disk.
fn finish(f: &File, mode: Option<&std::fs::Permissions>) -> std::io::Result<()> {
    if let Some(mode) = mode {
        f.set_permissions(mode.clone())?;
    }
    f.sync_all()
}

/// Creates `path`, which must not exist yet.
fn create_named(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// Renames the complete, synced `tmp` over `path` and syncs the folder so the rename is durable.
fn rename_into_place(tmp: Named, path: &Path, dir: &Path) -> Result<(), Error> {
    std::fs::rename(&tmp.path, path)?;
    tmp.keep();
    sync_folder(dir)
}

/// Syncs the folder so a rename in it is durable. File systems that cannot sync a folder
/// (`EINVAL`, `ENOTSUP` on some FUSE and network file systems) are not an error: the new file is
/// in place by then, and the previous one gone.
#[cfg(unix)]
fn sync_folder(dir: &Path) -> Result<(), Error> {
    match File::open(dir)?.sync_all() {
        Ok(()) => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOTSUP)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(unix))]
fn sync_folder(_dir: &Path) -> Result<(), Error> {
    Ok(())
}

#[cfg(target_os = "linux")]
mod unnamed {
    use std::ffi::CString;
    use std::fs::File;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    use std::path::Path;

    /// An unnamed file in `dir` (mode 0666 less the umask, as `File::create`), or `None` where the
    /// kernel or file system has no `O_TMPFILE`.
    pub fn create(dir: &Path) -> std::io::Result<Option<File>> {
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_TMPFILE)
            .mode(0o666)
            .open(dir)
        {
            Ok(f) => Ok(Some(f)),
            Err(e) => match e.raw_os_error() {
                // Unsupported by the file system or kernel (EISDIR: kernels before 3.11).
                Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL | libc::ENOENT)
                    if dir.is_dir() =>
                {
                    Ok(None)
                }
                _ => Err(e),
            },
        }
    }

    /// Gives the unnamed file `f` the name `to` (which must not exist).
    pub fn link(f: &File, to: &Path) -> std::io::Result<()> {
        let from = CString::new(format!("/proc/self/fd/{}", f.as_raw_fd()))?;
        let to = CString::new(to.as_os_str().as_bytes())?;
        // SAFETY: both are valid NUL-terminated paths; linkat does not keep the pointers.
        let r = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn leftovers(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("nswg-durable-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn replaces_and_leaves_only_the_file() {
        for temp in [Temp::Best, Temp::Named] {
            let d = scratch(&format!("ok-{temp:?}"));
            let p = d.join("x.bin");
            for content in [&b"first"[..], b"second, longer"] {
                replace_with(&p, temp, |f| Ok(f.write_all(content)?)).unwrap();
                assert_eq!(std::fs::read(&p).unwrap(), content);
                assert_eq!(leftovers(&d), vec!["x.bin"]);
            }
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_unnamed_temporary_is_invisible_while_it_is_written() {
        let d = scratch("unnamed");
        if unnamed::create(&d).unwrap().is_none() {
            eprintln!("skipped: the temp folder's file system has no O_TMPFILE");
            return;
        }
        let p = d.join("x.bin");
        std::fs::write(&p, b"old").unwrap();
        replace_with(&p, Temp::Best, |f| {
            f.write_all(b"new")?;
            assert_eq!(leftovers(&d), vec!["x.bin"]);
            Ok(())
        })
        .unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_no_temporary() {
        for temp in [Temp::Best, Temp::Named] {
            let d = scratch(&format!("err-{temp:?}"));
            let p = d.join("x.bin");
            std::fs::write(&p, b"old").unwrap();
            let r = replace_with(&p, temp, |f| {
                f.write_all(b"partial")?;
                Err(Error::Io(std::io::Error::other("disk full")))
            });
            assert!(r.is_err());
            assert_eq!(std::fs::read(&p).unwrap(), b"old");
            assert_eq!(leftovers(&d), vec!["x.bin"]);
        }
    }

    #[test]
    fn a_missing_folder_is_an_io_error() {
        let p = std::env::temp_dir().join("nswg-no-such-folder-7f3a/x.bin");
        for temp in [Temp::Best, Temp::Named] {
            assert!(matches!(
                replace_with(&p, temp, |_| Ok(())),
                Err(Error::Io(_))
            ));
        }
    }

    #[test]
    fn a_name_taken_by_someone_else_is_skipped_and_left_alone() {
        let d = scratch("taken");
        let p = d.join("x.bin");
        let mut tried = Vec::new();
        let (tmp, ()) = fresh(&p, |name| {
            tried.push(name.to_path_buf());
            if tried.len() < 3 {
                std::fs::write(name, b"another process's")?;
                Err(std::io::ErrorKind::AlreadyExists.into())
            } else {
                Ok(())
            }
        })
        .unwrap();
        assert_eq!(tmp.path, tried[2]);
        drop(tmp);
        // The two names that were taken keep their files.
        for t in &tried[..2] {
            assert_eq!(std::fs::read(t).unwrap(), b"another process's");
        }
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_modes_kept_long_names_fit_and_folders_refused() {
        use std::os::unix::fs::PermissionsExt;
        for temp in [Temp::Best, Temp::Named] {
            let d = scratch(&format!("edge-{temp:?}"));
            let target = d.join("real.bin");
            std::fs::write(&target, b"old").unwrap();
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
            let link = d.join("link.bin");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            replace_with(&link, temp, |f| Ok(f.write_all(b"new")?)).unwrap();
            assert!(std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink());
            assert_eq!(std::fs::read(&target).unwrap(), b"new");
            let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o640);
            let long = d.join("n".repeat(250));
            replace_with(&long, temp, |f| Ok(f.write_all(b"long")?)).unwrap();
            assert_eq!(std::fs::read(&long).unwrap(), b"long");
            let mut wrote = false;
            let r = replace_with(&d, temp, |_| {
                wrote = true;
                Ok(())
            });
            assert!(matches!(r, Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::IsADirectory));
            assert!(!wrote, "a folder is refused before anything is written");
            let mut names = leftovers(&d);
            names.retain(|n| n.ends_with(".tmp"));
            assert!(names.is_empty(), "{names:?}");
        }
    }

    #[test]
    fn temporary_names_are_unique_and_hidden_beside_the_file() {
        let p = Path::new("some/dir/idx.nswg");
        let (a, b) = (temp_name(p), temp_name(p));
        assert_ne!(a, b);
        assert_eq!(a.parent(), p.parent());
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(".idx.nswg.") && name.ends_with(".tmp"),
            "{name}"
        );
        assert_eq!(folder(Path::new("bare")), Path::new("."));
    }
}
