//! Fuzz target `load`: any bytes through `Index::from_bytes`. A loaded index must be usable:
//! exact and graph searches answer without panicking and with stored ids, its graph holds the
//! invariants every search relies on, and its own bytes load back to the same bytes.
//!
//! The streamed forms agree with the byte forms: `read_from` through a reader that hands out one
//! byte at a time gives the same answer as `from_bytes`, `read_from` with a shorter length
//! answers as `from_bytes` of that prefix and with a longer one fails, and `write_to` into a
//! writer that fails part-way returns `Io`.
//!
//! Input: one flag byte, then the file. Flag bit 0 rewrites the last four bytes with the CRC-32 of
//! the rest, so mutations reach the structural checks behind the checksum.
#![no_main]

mod common;

use common::{check_graph, round_trip, search_and_check};
use libfuzzer_sys::fuzz_target;
use nswg::{Entry, Error, Index, Metric, SearchParams};
use std::io::{Read, Write};

/// A reader that returns at most one byte per call.
struct OneByte<'a>(&'a [u8]);

impl Read for OneByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (buf.first_mut(), self.0.split_first()) {
            (Some(out), Some((&b, rest))) => {
                *out = b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

/// A writer that accepts `room` bytes, then fails.
struct Full {
    room: usize,
}

impl Write for Full {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.room == 0 && !buf.is_empty() {
            return Err(std::io::Error::other("no space left"));
        }
        let k = buf.len().min(self.room);
        self.room -= k;
        Ok(k)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn is_format_error(e: &Error) -> bool {
    matches!(e, Error::Format { .. } | Error::UnsupportedVersion { .. })
}

fuzz_target!(|data: &[u8]| {
    let Some((&flag, file)) = data.split_first() else {
        return;
    };
    let mut file = file.to_vec();
    if flag & 1 == 1 && file.len() >= 4 {
        let n = file.len() - 4;
        let crc = crc32fast::hash(&file[..n]);
        file[n..].copy_from_slice(&crc.to_le_bytes());
    }
    let parsed = Index::from_bytes(&file);
    let streamed = Index::read_from(OneByte(&file), file.len() as u64);
    match (&parsed, &streamed) {
        (Ok(a), Ok(b)) => assert!(
            a.to_bytes() == b.to_bytes(),
            "read_from loaded another index"
        ),
        (Err(a), Err(b)) => {
            assert!(is_format_error(a), "unexpected error kind {a:?}");
            assert!(is_format_error(b), "unexpected error kind {b:?}");
            let _ = a.to_string();
        }
        _ => panic!("from_bytes {parsed:?} but read_from {streamed:?}"),
    }
    // `len` is the file's length: read_from(r, len) reads the first `len` bytes as a file (so it
    // answers as from_bytes of that prefix), and fails when the stream ends first.
    for len in [
        file.len().checked_sub(1),
        Some(file.len() + 1),
        Some(file.len() + 4096),
    ] {
        let Some(len) = len else { continue };
        let r = Index::read_from(&file[..], len as u64);
        match (r, file.get(..len).map(Index::from_bytes)) {
            (Ok(a), Some(Ok(b))) => assert!(a.to_bytes() == b.to_bytes(), "read_from a prefix"),
            (Err(e), Some(Err(_)) | None) => {
                assert!(is_format_error(&e), "unexpected error kind {e:?}")
            }
            (r, want) => {
                panic!("read_from with len {len}: {r:?}, from_bytes of the prefix: {want:?}")
            }
        }
    }
    let Ok(mut index) = parsed else {
        return;
    };
    let len = index.file_len();
    assert_eq!(len, file.len(), "file_len");
    for room in [0, len / 2, len - 1] {
        let r = index.write_to(&mut Full { room });
        assert!(
            matches!(r, Err(Error::Io(_))),
            "write_to a full writer: {r:?}"
        );
    }
    index.write_to(&mut Full { room: len }).unwrap();
    // The header reader agrees with the loader.
    assert_eq!(index.len(), index.ids().len());
    check_graph(&index);
    let back = round_trip(&index);
    drop(back);
    if index.is_empty() {
        assert!(index
            .search(&vec![0.0; index.dim()], 1, &SearchParams::default())
            .is_err());
        return;
    }
    // Queries: the first stored row, and zeros; a small k and beam, every entry mode, and (for
    // Euclidean) the 8-bit codes, which loaded rows of any range must survive.
    let dim = index.dim();
    let first = index.get_vectors(&index.ids()[..1]).unwrap();
    let k = index.len().min(3);
    let codes = index.metric() == Metric::Euclidean && flag & 2 == 2;
    if codes {
        index.set_codes(true).unwrap();
    }
    let mut entries = vec![None, Some(Entry::Random), Some(Entry::Pivots)];
    if index.entry_point().is_some() {
        entries.push(Some(Entry::Hierarchy));
    }
    for query in [first, vec![0.0; dim]] {
        let p = SearchParams {
            ef: 1 + (flag >> 4) as usize % 4,
            restarts: 1 + (flag >> 6) as usize,
            n_threads: 1,
            ..Default::default()
        };
        search_and_check(&index, &query, k, &p, true, false);
        for &entry in &entries {
            for quantized in [false, codes] {
                let p = SearchParams {
                    entry,
                    quantized,
                    ..p
                };
                search_and_check(&index, &query, k, &p, false, false);
            }
        }
    }
});
