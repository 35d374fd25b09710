//! Finding input files and opening them as plain bytes (gzip undone, BOM dropped).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::SourceError;
use crate::pipeline::Compression;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const UTF8_BOM: [u8; 3] = [0xef, 0xbb, 0xbf];
const READ_BUFFER: usize = 1 << 20;

/// The files a path or glob names, sorted by path so runs are reproducible.
pub fn expand(pattern: &str) -> Result<Vec<PathBuf>, SourceError> {
    let glob_err = |e: String| SourceError::Glob { pattern: pattern.into(), message: e };
    let mut files = Vec::new();
    for entry in glob::glob(pattern).map_err(|e| glob_err(e.to_string()))? {
        let path = entry.map_err(|e| glob_err(e.to_string()))?;
        if path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(SourceError::NoFiles { pattern: pattern.into() });
    }
    files.sort();
    Ok(files)
}

/// Opens a file as its decompressed bytes, without a leading UTF-8 BOM.
pub fn open_decompressed(path: &Path, compression: Compression) -> Result<Box<dyn BufRead + Send>, SourceError> {
    let file = File::open(path).map_err(|e| SourceError::io(path, e))?;
    let mut raw = BufReader::with_capacity(READ_BUFFER, file);
    let gzip = match compression {
        Compression::Gzip => true,
        Compression::None => false,
        Compression::Auto => {
            let head = raw.fill_buf().map_err(|e| SourceError::io(path, e))?;
            head.starts_with(&GZIP_MAGIC) || path.extension().is_some_and(|e| e == "gz")
        }
    };
    let mut reader: Box<dyn BufRead + Send> = if gzip {
        Box::new(BufReader::with_capacity(READ_BUFFER, MultiGzDecoder::new(raw)))
    } else {
        Box::new(raw)
    };
    skip_bom(&mut reader).map_err(|e| SourceError::io(path, e))?;
    Ok(reader)
}

fn skip_bom(reader: &mut Box<dyn BufRead + Send>) -> std::io::Result<()> {
    let mut head = [0u8; 3];
    let mut seen = 0;
    // fill_buf may return fewer than 3 bytes at a buffer edge; peek byte by byte.
    while seen < 3 {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let take = (3 - seen).min(buf.len());
        head[seen..seen + take].copy_from_slice(&buf[..take]);
        if head[..seen + take] != UTF8_BOM[..seen + take] {
            // Not a BOM: nothing consumed unless an earlier partial match was (never for real data).
            return if seen == 0 { Ok(()) } else { Err(std::io::Error::other("truncated byte order mark")) };
        }
        reader.consume(take);
        seen += take;
    }
    Ok(())
}

/// Size of a file on disk, for the run report.
pub(crate) fn size_of(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}


#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    fn read(bytes: &[u8], name: &str, compression: Compression) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let mut out = Vec::new();
        open_decompressed(&path, compression).unwrap().read_to_end(&mut out).unwrap();
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn bom_is_dropped_once() {
        assert_eq!(read(b"\xef\xbb\xbfa,b\n", "x.csv", Compression::Auto), b"a,b\n");
        assert_eq!(read(b"a,b\n", "x.csv", Compression::Auto), b"a,b\n");
        assert_eq!(read(b"\xef\xbb", "x.csv", Compression::Auto), b"");
    }

    #[test]
    fn gzip_by_magic_by_extension_and_multi_member() {
        let mut two = gzip(b"a\n1\n");
        two.extend(gzip(b"2\n"));
        assert_eq!(read(&two, "data.bin", Compression::Auto), b"a\n1\n2\n");
        assert_eq!(read(&gzip(b"\xef\xbb\xbfa\n"), "x.csv.gz", Compression::Gzip), b"a\n");
        assert_eq!(read(b"plain", "x.csv", Compression::None), b"plain");
    }
}
