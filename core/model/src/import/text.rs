//! Bytes to text for every importer: files must be UTF-8, and when one is
//! not, the user is told where (line and byte offset of the first bad byte)
//! so they can find it, instead of a bare "stream did not contain valid UTF-8".

use std::fmt;

/// Where a file stops being UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotUtf8 {
    /// 1-based line of the first invalid byte.
    pub line: usize,
    /// 0-based byte offset of the first invalid byte in the file, as `xxd`/`hexdump` show it.
    pub offset: usize,
    /// The invalid byte itself.
    pub byte: u8,
    /// Whether the file merely ends inside a multi-byte character (cut short), rather than
    /// holding a byte that is never valid there (another encoding, e.g. Latin-1 `é` = 0xE9).
    pub truncated: bool,
}

/// What is wrong, without the place (callers put `line N, byte offset M` in front, as each
/// format words its locations).
impl fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.truncated {
            write!(
                f,
                "the file ends inside a UTF-8 character (byte 0x{:02X}): it was cut short",
                self.byte
            )
        } else {
            write!(
                f,
                "not UTF-8: byte 0x{:02X} is invalid here; save the file as UTF-8 and import it again",
                self.byte
            )
        }
    }
}

/// The file as text, or where it stops being UTF-8. A UTF-8 byte-order mark is kept (each
/// parser drops it), so offsets stay those of the file.
pub fn utf8(bytes: &[u8]) -> Result<&str, NotUtf8> {
    std::str::from_utf8(bytes).map_err(|e| {
        let offset = e.valid_up_to();
        let line = 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count();
        NotUtf8 {
            line,
            offset,
            byte: bytes.get(offset).copied().unwrap_or(0),
            truncated: e.error_len().is_none(),
        }
    })
}

/// The longest valid UTF-8 start of `bytes`, e.g. to detect a format from a file that turns
/// out not to be UTF-8 further on.
pub fn valid_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_at_the_first_invalid_byte() {
        let bytes = b"line one\nline two\ncaf\xE9\n";
        let e = utf8(bytes).unwrap_err();
        assert_eq!(
            (e.line, e.offset, e.byte, e.truncated),
            (3, 21, 0xE9, false)
        );
        assert!(e.to_string().starts_with("not UTF-8: byte 0xE9"), "{e}");
        assert_eq!(valid_prefix(bytes), "line one\nline two\ncaf");
    }

    #[test]
    fn a_file_cut_inside_a_character_says_so() {
        let bytes = "ab\n\u{e9}".as_bytes();
        let e = utf8(&bytes[..bytes.len() - 1]).unwrap_err();
        assert_eq!((e.line, e.offset, e.truncated), (2, 3, true));
        assert!(e.to_string().contains("cut short"), "{e}");
        assert_eq!(utf8(b"fine\n"), Ok("fine\n"));
    }
}
