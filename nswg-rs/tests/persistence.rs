//! Save/load round trips, and corrupt files that must fail cleanly, never panic.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use nswg::{BuildParams, Error, Index, Metric, SearchParams};

fn small(metric: Metric) -> Index {
    let dim = 6;
    let mut idx = Index::new(
        dim,
        metric,
        BuildParams {
            max_degree: 4,
            ..Default::default()
        },
    )
    .unwrap();
    let ids: Vec<i64> = (0..40).map(|i| 1000 - 7 * i).collect();
    idx.add(&walks(40, dim, 21), Some(&ids), 1).unwrap();
    idx
}

#[test]
fn save_load_round_trip() {
    for metric in [Metric::Euclidean, Metric::Dtw { band: 2 }] {
        let idx = small(metric);
        let dir =
            std::env::temp_dir().join(format!("nswg-rt-{}-{}", std::process::id(), metric.name()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.nswg");
        idx.save(&path).unwrap();
        let h = nswg::read_header(&path).unwrap();
        assert_eq!((h.dim, h.n, h.metric), (6, 40, metric));
        let back = Index::load(&path).unwrap();
        assert_eq!(back.to_bytes(), idx.to_bytes());
        let q = walks(10, 6, 22);
        let p = SearchParams::default();
        let a = idx.search_batch(&q, 5, &p, false).unwrap();
        let b = back.search_batch(&q, 5, &p, false).unwrap();
        assert_eq!(a.ids, b.ids);
        assert_eq!(a.distances, b.distances);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn every_truncation_fails_cleanly() {
    let bytes = small(Metric::Dtw { band: 1 }).to_bytes();
    for cut in 0..bytes.len() {
        assert!(
            Index::from_bytes(&bytes[..cut]).is_err(),
            "truncation at {cut} loaded"
        );
    }
}

#[test]
fn byte_flips_fail_cleanly() {
    let bytes = small(Metric::Euclidean).to_bytes();
    let mut r = Rng::new(3);
    for _ in 0..2000 {
        let mut b = bytes.clone();
        let at = (r.next_u64() % b.len() as u64) as usize;
        let bit = 1u8 << (r.next_u64() % 8);
        b[at] ^= bit;
        match Index::from_bytes(&b) {
            Err(Error::Format { .. }) | Err(Error::UnsupportedVersion { .. }) => {}
            Err(e) => panic!("unexpected error kind {e:?}"),
            Ok(_) => panic!("flip at byte {at} loaded"),
        }
    }
}

#[test]
fn future_version_is_reported() {
    let mut b = small(Metric::Euclidean).to_bytes();
    b[8..12].copy_from_slice(&99u32.to_le_bytes());
    match Index::from_bytes(&b) {
        Err(Error::UnsupportedVersion {
            found: 99,
            supported: 1,
        }) => {}
        other => panic!("{other:?}"),
    }
}
