//! Fuzz target `load`: any bytes through `Index::from_bytes`. A loaded index must be usable:
//! exact and graph searches answer without panicking and with stored ids, its graph holds the
//! invariants every search relies on, and its own bytes load back to the same bytes.
//!
//! Input: one flag byte, then the file. Flag bit 0 rewrites the last four bytes with the CRC-32 of
//! the rest, so mutations reach the structural checks behind the checksum.
#![no_main]

mod common;

use common::{check_graph, round_trip, search_and_check};
use libfuzzer_sys::fuzz_target;
use nswg::{Entry, Index, Metric, SearchParams};

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
    let mut index = match Index::from_bytes(&file) {
        Ok(index) => index,
        Err(e) => {
            assert!(
                matches!(
                    e,
                    nswg::Error::Format { .. } | nswg::Error::UnsupportedVersion { .. }
                ),
                "unexpected error kind {e:?}"
            );
            let _ = e.to_string();
            return;
        }
    };
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
