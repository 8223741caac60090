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

/// A fresh hidden name in `path`'s folder: `.NAME.PID.N.tmp`.
fn temp_name(path: &Path) -> PathBuf {
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    ));
    path.with_file_name(name)
}

/// The folder `path` is in (`.` for a bare file name).
fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A named temporary file, removed when dropped unless [`Named::keep`] was called.
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
    let dir = folder(path);
    let tmp = Named {
        path: temp_name(path),
        kept: false,
    };
    #[cfg(target_os = "linux")]
    if temp == Temp::Best {
        if let Some(mut f) = unnamed::create(dir)? {
            write(&mut f)?;
            f.sync_all()?;
            if unnamed::link(&f, &tmp.path).is_err() {
                // No /proc to name the file by: copy it to a named one.
                use std::io::{Seek, SeekFrom};
                f.seek(SeekFrom::Start(0))?;
                let mut named = create_named(&tmp.path)?;
                std::io::copy(&mut f, &mut named)?;
                named.sync_all()?;
            }
            drop(f);
            return rename_into_place(tmp, path, dir);
        }
    }
    let _ = temp;
    let mut f = create_named(&tmp.path)?;
    write(&mut f)?;
    f.sync_all()?;
    drop(f);
    rename_into_place(tmp, path, dir)
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

#[cfg(unix)]
fn sync_folder(dir: &Path) -> Result<(), Error> {
    File::open(dir)?.sync_all()?;
    Ok(())
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
