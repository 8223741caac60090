//! Multichannel series: dependent and independent DTW through the public API (exact and graph
//! search against a naive oracle, pruning counters, persistence as format version 4).

mod common;

use common::{naive_knn, naive_knn_channels, walks, Rng};
use nswg::{BuildParams, Error, Index, Metric, SearchParams};

/// `n` time-major series of `len` steps and `c` channels: each channel its own random walk.
fn series(n: usize, len: usize, c: usize, seed: u64) -> Vec<f32> {
    let per_channel = walks(n * c, len, seed);
    let mut out = vec![0.0; n * len * c];
    for s in 0..n {
        for ch in 0..c {
            for t in 0..len {
                out[(s * len + t) * c + ch] = per_channel[(s * c + ch) * len + t];
            }
        }
    }
    out
}

#[test]
fn exact_and_full_beam_graph_search_equal_the_naive_scan_in_both_forms() {
    let (len, c, n) = (24, 3, 250);
    let dim = len * c;
    let data = series(n, len, c, 7);
    let queries = series(15, len, c, 8);
    for metric in [
        Metric::Dtw { band: 3 },
        Metric::DtwIndependent { band: 3 },
        Metric::Dtw { band: 0 },
        Metric::DtwIndependent { band: 23 },
        Metric::Euclidean,
    ] {
        let mut idx = Index::with_channels(len, c, metric, BuildParams::default()).unwrap();
        assert_eq!((idx.dim(), idx.channels()), (dim, c));
        idx.add(&data, None, 1).unwrap();
        for k in [1, 5] {
            let mut pruned_or_abandoned = 0;
            for q in queries.chunks_exact(dim) {
                let want = naive_knn_channels(&metric, &data, dim, c, q, k);
                let (hits, stats) = idx.exact_search(q, k, &SearchParams::default()).unwrap();
                let got: Vec<i64> = hits.iter().map(|h| h.id).collect();
                let ids: Vec<i64> = want.iter().map(|w| w.1).collect();
                assert_eq!(got, ids, "{metric:?} k={k}");
                for (h, w) in hits.iter().zip(&want) {
                    assert!(
                        (h.distance - w.0).abs() <= 1e-4 * w.0.max(1.0),
                        "{metric:?}"
                    );
                }
                assert_eq!(stats.visited, n as u64);
                pruned_or_abandoned += stats.lb_pruned() + stats.abandoned;
                // A beam as wide as the index visits every linked node: the exact answer.
                let p = SearchParams {
                    ef: n,
                    ..SearchParams::default()
                };
                let (g, _) = idx.search(q, k, &p).unwrap();
                assert_eq!(g, hits, "{metric:?} graph k={k}");
            }
            if metric.band().is_some_and(|b| b > 0) {
                assert!(pruned_or_abandoned > 0, "{metric:?}: bounds never pruned");
            }
        }
    }
}

#[test]
fn independent_is_at_most_dependent_and_both_reduce_to_dtw_for_one_channel() {
    let (len, c) = (30, 4);
    let data = series(40, len, c, 11);
    let mut strict = 0;
    for pair in data.chunks_exact(2 * len * c) {
        let (a, b) = pair.split_at(len * c);
        let dep = Metric::Dtw { band: 4 }.distance_channels(a, b, c);
        let ind = Metric::DtwIndependent { band: 4 }.distance_channels(a, b, c);
        assert!(ind <= dep * (1.0 + 1e-5), "{ind} > {dep}");
        strict += usize::from(ind < dep * (1.0 - 1e-4));
    }
    assert!(
        strict > 0,
        "independent never below dependent on random walks"
    );
    let one = walks(2, len, 3);
    let (a, b) = one.split_at(len);
    let d = Metric::Dtw { band: 4 }.distance(a, b);
    assert_eq!(
        Metric::DtwIndependent { band: 4 }.distance_channels(a, b, 1),
        d
    );
    // Independent DTW on one channel searches like DTW.
    let mut r = Rng::new(5);
    let q: Vec<f32> = (0..len).map(|_| r.normal()).collect();
    let rows = walks(60, len, 4);
    let mut dep = Index::new(len, Metric::Dtw { band: 4 }, BuildParams::default()).unwrap();
    let mut ind = Index::new(
        len,
        Metric::DtwIndependent { band: 4 },
        BuildParams::default(),
    )
    .unwrap();
    dep.add(&rows, None, 1).unwrap();
    ind.add(&rows, None, 1).unwrap();
    let p = SearchParams::default();
    assert_eq!(
        dep.exact_search(&q, 5, &p).unwrap().0,
        ind.exact_search(&q, 5, &p).unwrap().0
    );
    let want = naive_knn(&Metric::Dtw { band: 4 }, &rows, len, &q, 5);
    let got: Vec<i64> = ind
        .exact_search(&q, 5, &p)
        .unwrap()
        .0
        .iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(got, want.iter().map(|w| w.1).collect::<Vec<_>>());
}

#[test]
fn multichannel_indexes_round_trip_as_version_4() {
    let (len, c) = (16, 2);
    let data = series(90, len, c, 21);
    let queries = series(5, len, c, 22);
    for metric in [
        Metric::Dtw { band: 2 },
        Metric::DtwIndependent { band: 2 },
        Metric::Euclidean,
    ] {
        for pending in [false, true] {
            let mut idx = Index::with_channels(len, c, metric, BuildParams::default()).unwrap();
            idx.add(&data[..60 * len * c], None, 1).unwrap();
            if pending {
                idx.add_unlinked(&data[60 * len * c..], None).unwrap();
            } else {
                idx.add(&data[60 * len * c..], None, 1).unwrap();
            }
            assert_eq!(idx.format_version(), 4);
            let bytes = idx.to_bytes();
            assert_eq!(bytes.len(), idx.file_len());
            assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 4);
            let back = Index::from_bytes(&bytes).unwrap();
            assert_eq!(back.to_bytes(), bytes, "{metric:?} pending={pending}");
            assert_eq!(
                (back.channels(), back.metric(), back.pending()),
                (c, metric, idx.pending())
            );
            let p = SearchParams::default();
            for q in queries.chunks_exact(len * c) {
                assert_eq!(
                    back.exact_search(q, 3, &p).unwrap().0,
                    idx.exact_search(q, 3, &p).unwrap().0
                );
                assert_eq!(
                    back.search(q, 3, &p).unwrap().0,
                    idx.search(q, 3, &p).unwrap().0
                );
            }
            // Every truncation fails cleanly.
            for cut in (0..bytes.len()).step_by(97) {
                assert!(Index::from_bytes(&bytes[..cut]).is_err());
            }
        }
    }
    // One channel, dependent DTW: still written as before (version 1 or 2).
    let mut one = Index::new(len, Metric::Dtw { band: 2 }, BuildParams::default()).unwrap();
    one.add(&data[..len * 10], None, 1).unwrap();
    assert!(one.format_version() <= 2);
}

#[test]
fn bad_shapes_are_refused_with_the_parameter_named() {
    let p = BuildParams::default;
    let name = |e: Error| match e {
        Error::InvalidParameter { name, .. } => name,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        name(Index::with_channels(10, 0, Metric::Euclidean, p()).unwrap_err()),
        "channels"
    );
    assert_eq!(
        name(Index::with_channels(0, 3, Metric::Euclidean, p()).unwrap_err()),
        "length"
    );
    assert_eq!(
        name(Index::with_channels(10, 3, Metric::Dtw { band: 11 }, p()).unwrap_err()),
        "band"
    );
    assert!(Index::with_channels(10, 3, Metric::Dtw { band: 10 }, p()).is_ok());
    // A query must hold whole series: length x channels floats.
    let mut idx = Index::with_channels(4, 3, Metric::Dtw { band: 1 }, p()).unwrap();
    idx.add(&series(5, 4, 3, 1), None, 1).unwrap();
    assert!(matches!(
        idx.exact_search(&[0.0; 4], 1, &SearchParams::default()),
        Err(Error::DimensionMismatch {
            expected: 12,
            got: 4,
            ..
        })
    ));
}

/// `n` series of lengths between `lo` and `hi` time steps (time-major, `c` channels): their
/// concatenation and their lengths.
fn ragged(n: usize, lo: usize, hi: usize, c: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut r = Rng::new(seed);
    let lengths: Vec<usize> = (0..n)
        .map(|_| lo + (r.next_u64() as usize) % (hi - lo + 1))
        .collect();
    let mut data = Vec::new();
    for &len in &lengths {
        let mut x = vec![0.0f32; c];
        for _ in 0..len {
            for v in x.iter_mut() {
                *v += r.normal();
            }
            data.extend_from_slice(&x);
        }
    }
    (data, lengths)
}

fn split<'a>(data: &'a [f32], lengths: &[usize], c: usize) -> Vec<&'a [f32]> {
    let mut out = Vec::new();
    let mut at = 0;
    for &len in lengths {
        out.push(&data[at..at + len * c]);
        at += len * c;
    }
    out
}

#[test]
fn variable_length_search_equals_the_naive_scan_and_round_trips() {
    let c = 2;
    let (data, lengths) = ragged(160, 8, 30, c, 31);
    let (qdata, qlengths) = ragged(12, 6, 34, c, 32);
    let rows = split(&data, &lengths, c);
    for metric in [
        Metric::Dtw { band: 2 },
        Metric::DtwIndependent { band: 3 },
        Metric::Dtw {
            band: Index::FULL_BAND,
        },
        Metric::Dtw { band: 0 },
    ] {
        let mut idx = Index::variable(c, metric, BuildParams::default()).unwrap();
        assert!(idx.is_variable() && idx.dim() == 0);
        idx.add_series_unlinked(
            &data[..lengths[..100].iter().sum::<usize>() * c],
            &lengths[..100],
            None,
        )
        .unwrap();
        idx.build(1).unwrap();
        let at = lengths[..100].iter().sum::<usize>() * c;
        idx.add_series_unlinked(&data[at..], &lengths[100..], None)
            .unwrap();
        assert_eq!(idx.pending(), 60);
        assert_eq!(
            idx.lengths(&[0, 159]).unwrap(),
            vec![lengths[0], lengths[159]]
        );
        for k in [1, 4] {
            let p = SearchParams::default();
            let (exact, done) = idx
                .search_series_with(&qdata, &qlengths, k, &p, true, None, None, |_, _| true)
                .unwrap();
            assert_eq!(done, qlengths.len());
            let mut skipped = 0;
            for (qi, q) in split(&qdata, &qlengths, c).into_iter().enumerate() {
                let mut want: Vec<(f32, i64)> = rows
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (metric.distance_channels(q, r, c), i as i64))
                    .collect();
                want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let got = &exact.ids[qi * k..(qi + 1) * k];
                let ids: Vec<i64> = want[..k].iter().map(|w| w.1).collect();
                assert_eq!(got, &ids[..], "{metric:?} k={k} query {qi}");
                for (d, w) in exact.distances[qi * k..(qi + 1) * k].iter().zip(&want) {
                    assert!((d - w.0).abs() <= 1e-4 * w.0.max(1.0));
                }
                skipped += exact.stats[qi].lb_keogh_skipped;
                // One query alone gives the same answer.
                let (one, _) = idx.exact_search(q, k, &p).unwrap();
                assert_eq!(one.iter().map(|h| h.id).collect::<Vec<_>>(), ids);
            }
            if metric.band().is_some_and(|b| b > 0) {
                assert!(skipped > 0, "{metric:?}: no candidate of another length?");
            }
            // A beam as wide as the index (the pending rows are scanned exactly): the graph
            // search equals the exact one.
            let wide = SearchParams {
                ef: 160,
                ..SearchParams::default()
            };
            let (graph, _) = idx
                .search_series_with(&qdata, &qlengths, k, &wide, false, None, None, |_, _| true)
                .unwrap();
            assert_eq!(graph.ids, exact.ids, "{metric:?} graph k={k}");
        }
        // The Euclidean distance bounds DTW only between series of one length.
        let euclid = SearchParams {
            entry: Some(nswg::Entry::Euclidean),
            ..SearchParams::default()
        };
        let err = idx
            .search_series_with(&qdata, &qlengths, 1, &euclid, false, None, None, |_, _| {
                true
            })
            .unwrap_err();
        assert!(err
            .to_string()
            .contains("'euclidean' needs a DTW index of series of one length"));
        // Persistence as version 4, shape 1, pending rows included; every truncation fails.
        let bytes = idx.to_bytes();
        assert_eq!(bytes.len(), idx.file_len());
        let back = Index::from_bytes(&bytes).unwrap();
        assert_eq!(back.to_bytes(), bytes);
        assert!(back.is_variable());
        assert_eq!(
            back.get_vectors(&[3, 7]).unwrap(),
            idx.get_vectors(&[3, 7]).unwrap()
        );
        for cut in (0..bytes.len()).step_by(211) {
            assert!(Index::from_bytes(&bytes[..cut]).is_err());
        }
        let h = nswg::Header::clone(&{
            let dir = std::env::temp_dir().join(format!("nswg-var-{}", std::process::id()));
            idx.save(&dir).unwrap();
            let h = nswg::read_header(&dir).unwrap();
            std::fs::remove_file(&dir).unwrap();
            h
        });
        assert!(h.variable && h.version == 4 && h.floats == data.len() && h.dim == 0);
    }
}

#[test]
fn variable_length_misuse_is_refused() {
    let p = BuildParams::default;
    let name = |e: Error| match e {
        Error::InvalidParameter { name, .. } => name,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        name(Index::variable(1, Metric::Euclidean, p()).unwrap_err()),
        "metric"
    );
    let mut idx = Index::variable(2, Metric::Dtw { band: 2 }, p()).unwrap();
    assert_eq!(
        name(idx.add_series_unlinked(&[0.0; 6], &[2], None).unwrap_err()),
        "lengths"
    );
    assert_eq!(
        name(
            idx.add_series_unlinked(&[0.0; 4], &[2, 0], None)
                .unwrap_err()
        ),
        "lengths"
    );
    assert_eq!(
        name(idx.add_unlinked(&[0.0; 4], None).unwrap_err()),
        "vectors"
    );
    assert!(matches!(
        idx.add_series_unlinked(&[0.0, 1.0, f32::NAN, 0.0], &[1, 1], None),
        Err(Error::NonFinite { row: 1, col: 0, .. })
    ));
    assert_eq!(idx.len(), 0);
    idx.add_series_unlinked(&[0.0; 10], &[2, 3], None).unwrap();
    let sp = SearchParams::default();
    assert_eq!(
        name(idx.exact_search(&[0.0; 3], 1, &sp).unwrap_err()),
        "query"
    );
    assert_eq!(
        name(idx.search_batch(&[0.0; 4], 1, &sp, true).unwrap_err()),
        "queries"
    );
    let mut fixed = Index::new(4, Metric::Dtw { band: 1 }, p()).unwrap();
    assert_eq!(
        name(
            fixed
                .add_series_unlinked(&[0.0; 4], &[4], None)
                .unwrap_err()
        ),
        "lengths"
    );
    fixed.add(&[0.0; 4], None, 1).unwrap();
    assert_eq!(
        name(
            fixed
                .search_series_with(&[0.0; 4], &[4], 1, &sp, true, None, None, |_, _| true)
                .unwrap_err()
        ),
        "lengths"
    );
}

#[test]
fn a_window_bands_each_pair_by_its_shorter_series_as_aeon_does() {
    let c = 3;
    let (data, lengths) = ragged(120, 5, 40, c, 41);
    let (qdata, qlengths) = ragged(10, 4, 44, c, 42);
    let rows = split(&data, &lengths, c);
    for (window, independent) in [(0.1, false), (0.25, true), (0.0, false), (1.0, false)] {
        let metric = if independent {
            Metric::DtwIndependent { band: 0 }
        } else {
            Metric::Dtw { band: 0 }
        };
        let mut idx =
            Index::variable_windowed(c, Some(window), metric, BuildParams::default()).unwrap();
        idx.add_series_unlinked(&data, &lengths, None).unwrap();
        idx.build(1).unwrap();
        let p = SearchParams::default();
        let (exact, _) = idx
            .search_series_with(&qdata, &qlengths, 3, &p, true, None, None, |_, _| true)
            .unwrap();
        let wide = SearchParams {
            ef: 120,
            ..SearchParams::default()
        };
        let (graph, _) = idx
            .search_series_with(&qdata, &qlengths, 3, &wide, false, None, None, |_, _| true)
            .unwrap();
        assert_eq!(graph.ids, exact.ids, "window {window}");
        for (qi, q) in split(&qdata, &qlengths, c).into_iter().enumerate() {
            let mut want: Vec<(f32, i64)> = rows
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let (n, m) = (q.len() / c, r.len() / c);
                    let band = if window >= 1.0 {
                        usize::MAX
                    } else {
                        (window * n.min(m) as f64) as usize
                    };
                    let band = band.min(1 << 24);
                    let m = if independent {
                        Metric::DtwIndependent { band }
                    } else {
                        Metric::Dtw { band }
                    };
                    (m.distance_channels(q, r, c), i as i64)
                })
                .collect();
            want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let ids: Vec<i64> = want[..3].iter().map(|w| w.1).collect();
            assert_eq!(
                &exact.ids[qi * 3..qi * 3 + 3],
                &ids[..],
                "window {window} query {qi}"
            );
        }
        let back = Index::from_bytes(&idx.to_bytes()).unwrap();
        assert_eq!(back.window(), Some(window));
        assert_eq!(back.to_bytes(), idx.to_bytes());
    }
    let bad = Index::variable_windowed(
        1,
        Some(1.5),
        Metric::Dtw { band: 0 },
        BuildParams::default(),
    );
    assert!(matches!(
        bad,
        Err(Error::InvalidParameter { name: "window", .. })
    ));
}
