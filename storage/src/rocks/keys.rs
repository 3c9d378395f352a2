//! Byte-level key arithmetic for range scans over RocksDB's bytewise-ordered keys.
//!
//! Owns no state and no I/O; [`super`] uses these bounds to keep `list` from reading more than
//! the one level it answers.

/// The smallest key greater than every key that starts with `prefix`, or `None` when no such
/// key exists (the empty prefix, or one made only of `0xff`), meaning "scan to the end".
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Where a scan of `prefix` resumes after the folder `prefix + segment + "/"`: the same path
/// with the `/` replaced by the next byte (`'0'`), so one seek jumps over every key in the
/// folder however many there are.
pub(crate) fn after_folder(prefix: &[u8], segment: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + segment.len() + 1);
    key.extend_from_slice(prefix);
    key.extend_from_slice(segment);
    key.push(b'/' + 1);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_next_prefix() {
        assert_eq!(prefix_end(b""), None);
        assert_eq!(prefix_end(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
    }

    #[test]
    fn after_folder_sorts_after_every_child_and_before_the_next_sibling() {
        let resume = after_folder(b"p/", b"dir");
        assert_eq!(resume, b"p/dir0".to_vec());
        assert!(b"p/dir/\xff\xff\xff".as_slice() < resume.as_slice());
        assert!(b"p/dir0".as_slice() >= resume.as_slice());
        assert!(
            b"p/dir.".as_slice() < b"p/dir/".as_slice(),
            "'.' sorts before the folder"
        );
    }
}
