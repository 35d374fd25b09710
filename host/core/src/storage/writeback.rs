//! A file whose bytes are handed to the kernel for writing out as they come, a few MiB at
//! a time, so that the `fsync` that stages it waits only for the last few.
//!
//! Written plainly, a 130 MB Parquet file reached its `fsync` with all of it still dirty
//! in the page cache, and every run ended waiting ~45 ms for the disk with every core
//! idle. Starting the write-out of each range once it is written (`sync_file_range`, as
//! RocksDB's `bytes_per_sync` does) overlaps it with the encoding. It is only a hint:
//! durability still comes from the `fsync` at staging, and where the call does not exist
//! (not Linux) or fails, the file is written as before.

use std::fs::File;
use std::io::Write;

/// Bytes written between two hand-overs: large enough that the calls cost nothing, small
/// enough that little is left for the `fsync`.
const WRITEBACK_BYTES: u64 = 8 << 20;

pub(super) struct Writeback {
    file: File,
    /// Bytes written so far, and where the range not yet handed over starts.
    written: u64,
    handed: u64,
}

impl Writeback {
    pub fn new(file: File) -> Self {
        Writeback {
            file,
            written: 0,
            handed: 0,
        }
    }

    pub fn into_file(self) -> File {
        self.file
    }

    /// Starts writing out `handed..written`, without waiting for it.
    fn hand_over(&mut self) {
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::io::AsRawFd;
            let (start, len) = (self.handed as i64, (self.written - self.handed) as i64);
            // SAFETY: the descriptor is this open file's; the call reads no memory.
            let _ = unsafe {
                libc::sync_file_range(
                    self.file.as_raw_fd(),
                    start,
                    len,
                    libc::SYNC_FILE_RANGE_WRITE,
                )
            };
        }
        self.handed = self.written;
    }
}

impl Write for Writeback {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.handed >= WRITEBACK_BYTES {
            self.hand_over();
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn every_byte_is_written_and_whole_steps_are_handed_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut out = Writeback::new(File::create(&path).unwrap());
        let piece: Vec<u8> = (0..=255u8).cycle().take(3 << 20).collect();
        for _ in 0..7 {
            out.write_all(&piece).unwrap();
        }
        // Handed over at 9 and 18 MiB: the writes that reached 8 MiB past the last.
        assert_eq!(out.written, 21 << 20);
        assert_eq!(out.handed, 18 << 20);
        out.into_file().sync_all().unwrap();
        let mut back = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back.len(), 21 << 20);
        assert!(back.chunks(piece.len()).all(|c| c == piece));
    }
}
