//! Atomic file replacement: write a temp file in the same directory, fsync it, rename it over
//! the destination, fsync the directory. A reader sees the old file or the new one, never half.

use crate::error::TargetError;
use std::io;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Mode of newly created files on Unix: owner read/write, group read (employee data is
/// personal data). An existing file's permissions are carried over to its replacement.
#[cfg(unix)]
const NEW_FILE_MODE: u32 = 0o640;

/// The temp file for `dest`: `.<file name>.tmp` next to it (same file system, so rename is
/// atomic; a dot file, so directory watchers that skip hidden files ignore it).
pub(crate) fn temp_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.tmp"))
}

/// Writes every `(destination, content)` pair atomically, as a group as far as a file system
/// allows: all temp files are written and synced first, and only then renamed, in the given
/// order. A destination whose content is already identical is left alone (its mtime stays).
/// Returns the destinations that were replaced.
///
/// If writing any temp file fails, no destination is touched and the temp files are removed.
/// If a rename fails, the error names the files already replaced.
pub(crate) async fn replace_all(
    target: &str,
    files: &[(PathBuf, Vec<u8>)],
) -> Result<Vec<PathBuf>, TargetError> {
    let mut staged: Vec<(PathBuf, &Path)> = Vec::new();
    for (dest, bytes) in files {
        if same_content(dest, bytes).await {
            continue;
        }
        match stage(dest, bytes).await {
            Ok(tmp) => staged.push((tmp, dest)),
            Err(e) => {
                for (tmp, _) in &staged {
                    discard(tmp).await;
                }
                return Err(TargetError::fatal(format!(
                    "file target '{target}': cannot write {} ({e}); nothing was replaced, the \
                     previous files are intact. Check free space and that the directory is \
                     writable for the user running personio-sync, then run again",
                    dest.display()
                )));
            }
        }
    }
    let mut done = Vec::new();
    for (i, (tmp, dest)) in staged.iter().enumerate() {
        if let Err(e) = tokio::fs::rename(tmp, dest).await {
            for (rest, _) in &staged[i..] {
                discard(rest).await;
            }
            let replaced: Vec<String> = done
                .iter()
                .map(|p: &PathBuf| p.display().to_string())
                .collect();
            return Err(TargetError::fatal(format!(
                "file target '{target}': cannot move {} over {} ({e}); already replaced: [{}]. \
                 Fix the directory's permissions and run again (the run rewrites every file)",
                tmp.display(),
                dest.display(),
                replaced.join(", ")
            )));
        }
        done.push(dest.to_path_buf());
    }
    let dirs: std::collections::BTreeSet<&Path> = done.iter().filter_map(|p| p.parent()).collect();
    for dir in dirs {
        sync_dir(dir).await;
    }
    Ok(done)
}

async fn same_content(dest: &Path, bytes: &[u8]) -> bool {
    let same_size = matches!(
        tokio::fs::metadata(dest).await,
        Ok(meta) if meta.is_file() && meta.len() == bytes.len() as u64
    );
    same_size && matches!(tokio::fs::read(dest).await, Ok(old) if old == bytes)
}

/// Writes and syncs the temp file of `dest`; returns its path.
async fn stage(dest: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
    let tmp = temp_path(dest);
    // A temp file left by a crashed run is replaced; `create_new` below never follows a link.
    match tokio::fs::remove_file(&tmp).await {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(named(&tmp, e)),
    }
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(NEW_FILE_MODE);
    let mut file = options.open(&tmp).await.map_err(|e| named(&tmp, e))?;
    let written = async {
        file.write_all(bytes).await?;
        file.flush().await?;
        file.sync_all().await?;
        if let Ok(meta) = tokio::fs::metadata(dest).await {
            tokio::fs::set_permissions(&tmp, meta.permissions()).await?;
        }
        io::Result::Ok(())
    }
    .await;
    drop(file);
    match written {
        Ok(()) => Ok(tmp),
        Err(e) => {
            discard(&tmp).await;
            Err(named(&tmp, e))
        }
    }
}

fn named(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Best effort: removes a temp file we created (never a directory).
async fn discard(tmp: &Path) {
    if let Err(e) = tokio::fs::remove_file(tmp).await
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %tmp.display(), error = %e, "Could not remove a temp file.");
    }
}

/// Makes the renames durable. Best effort: some file systems cannot sync a directory.
async fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    {
        let synced = async { tokio::fs::File::open(dir).await?.sync_all().await }.await;
        if let Err(e) = synced {
            tracing::debug!(dir = %dir.display(), error = %e, "Directory fsync not possible.");
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Creates and removes a probe file in `dir`: the only reliable writability test (permission
/// bits lie under ACLs, read-only mounts and root).
pub(crate) async fn probe_writable(dir: &Path, target: &str) -> io::Result<()> {
    let probe = dir.join(format!(".{target}.check-{}.tmp", std::process::id()));
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .await?;
    let written = file.write_all(b"probe").await;
    drop(file);
    let removed = tokio::fs::remove_file(&probe).await;
    written.and(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::tests::scratch;

    #[tokio::test]
    async fn replaces_files_and_skips_identical_ones() {
        let dir = scratch("atomic-replace");
        let a = dir.join("a.txt");
        let b = dir.join("b.txt");
        std::fs::write(&b, "same").unwrap();
        let files = vec![(a.clone(), b"new".to_vec()), (b.clone(), b"same".to_vec())];
        let done = replace_all("t", &files).await.unwrap();
        assert_eq!(done, vec![a.clone()]);
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "new");
        assert!(!temp_path(&a).exists());
    }

    #[tokio::test]
    async fn a_failed_temp_write_leaves_every_old_file_intact() {
        let dir = scratch("atomic-fail");
        let a = dir.join("a.txt");
        let b = dir.join("b.txt");
        std::fs::write(&a, "old a").unwrap();
        std::fs::write(&b, "old b").unwrap();
        // The temp path of b is a non-empty directory: the write fails midway through the group.
        std::fs::create_dir_all(temp_path(&b).join("blocker")).unwrap();
        let files = vec![
            (a.clone(), b"new a".to_vec()),
            (b.clone(), b"new b".to_vec()),
        ];
        let err = replace_all("t", &files).await.unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::Fatal);
        assert!(err.message.contains("b.txt"), "{}", err.message);
        assert!(
            err.message.contains("nothing was replaced"),
            "{}",
            err.message
        );
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old a");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "old b");
        assert!(
            !temp_path(&a).exists(),
            "the staged temp of a is cleaned up"
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn new_files_are_not_world_readable_and_old_modes_are_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("atomic-mode");
        let a = dir.join("a.txt");
        let b = dir.join("b.txt");
        std::fs::write(&b, "old").unwrap();
        std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o644)).unwrap();
        let files = vec![(a.clone(), b"x".to_vec()), (b.clone(), b"y".to_vec())];
        replace_all("t", &files).await.unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&a) & 0o007, 0, "{:o}", mode(&a));
        assert_eq!(mode(&b), 0o644);
    }
}
