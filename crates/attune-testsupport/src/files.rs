//! Damaging a file under a live process the way an operator's copy would: a new file renamed
//! over the old one.

use std::path::Path;

/// Replace the file at `path` with `bytes`: written beside it, then renamed into place.
///
/// Not `std::fs::write`: that truncates the file in place, and a server that has the old file
/// memory-mapped (artifacts are mapped while they are verified and served) faults with SIGBUS
/// on the vanished pages, killing the whole test process. After a rename the mapping keeps the
/// old inode, and the next open sees the new bytes.
pub fn replace_file(path: &Path, bytes: &[u8]) {
    let name = path.file_name().expect("a file path").to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.replacing"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Flip every bit of the middle byte of the file at `path` (through [`replace_file`]).
pub fn flip_middle_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    replace_file(path, &bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapped_file_keeps_its_old_bytes_and_the_path_gets_the_new_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v0001.attune");
        std::fs::write(&path, vec![7u8; 8192]).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: read-only map of a file this test owns and never truncates.
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        flip_middle_byte(&path);
        assert!(map.iter().all(|&b| b == 7));
        let now = std::fs::read(&path).unwrap();
        assert_eq!(now.len(), 8192);
        assert_eq!(now[4096], 7 ^ 0xff);
        assert_eq!(now.iter().filter(|&&b| b != 7).count(), 1);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
