//! Cosine and inner-product metrics, filtered search, range search, removal with slot reuse and
//! replacement, against exact oracles (brute force over the same data).
#![allow(clippy::unwrap_used)]

mod common;

use common::{clustered_rows, naive_knn, uniform_rows, walks};
use nswg::{BuildParams, Error, GraphKind, Index, Metric, SearchParams};
use std::collections::HashSet;

fn params(graph: GraphKind) -> BuildParams {
    BuildParams {
        graph,
        ..BuildParams::default()
    }
}

fn wide(n: usize) -> SearchParams {
    SearchParams {
        ef: n,
        n_threads: 1,
        ..SearchParams::default()
    }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}

/// Brute-force k-NN by a distance in f64 (ties by id): (distance, id).
fn brute(
    rows: &[f32],
    dim: usize,
    ids: &[i64],
    k: usize,
    d: impl Fn(&[f32]) -> f64,
) -> Vec<(f64, i64)> {
    let mut all: Vec<(f64, i64)> = rows
        .chunks_exact(dim)
        .zip(ids)
        .map(|(r, &id)| (d(r), id))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.truncate(k);
    all
}

#[test]
fn cosine_and_inner_product_match_brute_force() {
    let (n, dim, k) = (600, 24, 10);
    let mut data = uniform_rows(n, dim, 3);
    for x in data.iter_mut() {
        *x = *x * 4.0 - 2.0;
    }
    let queries = uniform_rows(20, dim, 4)
        .iter()
        .map(|x| x * 4.0 - 2.0)
        .collect::<Vec<_>>();
    let ids: Vec<i64> = (0..n as i64).collect();
    for metric in [Metric::Cosine, Metric::InnerProduct] {
        for graph in [GraphKind::Hnsw, GraphKind::Nsw] {
            let mut idx = Index::new(dim, metric, params(graph)).unwrap();
            idx.add(&data, None, 1).unwrap();
            for q in queries.chunks_exact(dim) {
                let want = match metric {
                    Metric::Cosine => brute(&data, dim, &ids, k, |r| {
                        1.0 - dot(q, r) / (norm(q) * norm(r))
                    }),
                    _ => brute(&data, dim, &ids, k, |r| 1.0 - dot(q, r)),
                };
                for exact in [true, false] {
                    let (hits, _) = if exact {
                        idx.exact_search(q, k, &wide(n)).unwrap()
                    } else {
                        idx.search(q, k, &wide(n)).unwrap()
                    };
                    let got: Vec<i64> = hits.iter().map(|h| h.id).collect();
                    let want_ids: Vec<i64> = want.iter().map(|w| w.1).collect();
                    assert_eq!(got, want_ids, "{metric:?} {graph:?} exact={exact}");
                    for (h, w) in hits.iter().zip(&want) {
                        assert!(
                            (f64::from(h.distance) - w.0).abs() < 2e-5,
                            "{} vs {}",
                            h.distance,
                            w.0
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn inner_product_distances_can_be_negative_and_quantized_walks_agree() {
    let (n, dim) = (2000, 16);
    let data: Vec<f32> = clustered_rows(n, dim, 20, 0.3, 8)
        .iter()
        .map(|x| x * 3.0)
        .collect();
    let mut idx = Index::new(dim, Metric::InnerProduct, BuildParams::default()).unwrap();
    idx.add(&data, None, 2).unwrap();
    let q = &data[..dim];
    let (hits, _) = idx.exact_search(q, 5, &SearchParams::default()).unwrap();
    assert!(
        hits[0].distance < 0.0,
        "a large inner product gives a negative distance"
    );
    idx.set_codes(true).unwrap();
    let mut found = 0;
    let queries = &data[..100 * dim];
    let exact = idx
        .search_batch(queries, 10, &SearchParams::default(), true)
        .unwrap();
    let quant = SearchParams {
        quantized: true,
        ef: 128,
        ..SearchParams::default()
    };
    let got = idx.search_batch(queries, 10, &quant, false).unwrap();
    for (e, g) in exact.ids.chunks(10).zip(got.ids.chunks(10)) {
        let e: HashSet<i64> = e.iter().copied().collect();
        found += g.iter().filter(|id| e.contains(id)).count();
    }
    assert!(
        found >= 950,
        "quantized inner-product recall@10 {found}/1000"
    );
}

#[test]
fn cosine_refuses_zero_vectors_and_stores_unit_vectors() {
    let mut idx = Index::new(3, Metric::Cosine, BuildParams::default()).unwrap();
    let e = idx
        .add(&[1.0, 2.0, 2.0, 0.0, 0.0, 0.0], None, 1)
        .unwrap_err();
    assert!(e.to_string().contains("row 1"), "{e}");
    assert!(idx.is_empty(), "nothing added on error");
    idx.add(&[1.0, 2.0, 2.0, 0.0, 3.0, 0.0], None, 1).unwrap();
    let v = idx.get_vectors(&[0]).unwrap();
    assert_eq!(v, vec![1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0]);
    assert!(idx
        .search(&[0.0, 0.0, 0.0], 1, &SearchParams::default())
        .is_err());
    let back = Index::from_bytes(&idx.to_bytes()).unwrap();
    assert_eq!(back.metric(), Metric::Cosine);
    assert_eq!(back.format_version(), 5);
    let (hits, _) = back
        .search(&[0.0, 1.0, 0.0], 2, &SearchParams::default())
        .unwrap();
    assert_eq!(hits[0].id, 1);
    assert!(hits[0].distance.abs() < 1e-6);
    assert!((hits[1].distance - (1.0 - 2.0 / 3.0)).abs() < 1e-6);
}

/// Every graph search under a filter, with a beam as large as the index, equals the filtered
/// exact scan; both equal brute force over the allowed rows; padding when fewer are allowed.
#[test]
fn filtered_search_equals_the_filtered_exact_scan() {
    let (n, dim, k) = (1500, 12, 10);
    let data = clustered_rows(n, dim, 15, 0.4, 21);
    for metric in [Metric::Euclidean, Metric::Dtw { band: 2 }] {
        for graph in [GraphKind::Hnsw, GraphKind::Nsw] {
            let mut idx = Index::new(dim, metric, params(graph)).unwrap();
            idx.add(&data, None, 2).unwrap();
            for (step, expect_full) in [(2usize, true), (10, true), (100, true), (400, false)] {
                let allowed: Vec<i64> = (0..n as i64)
                    .filter(|i| ((i * 7919) as usize).is_multiple_of(step))
                    .collect();
                let f = idx.filter(&allowed).unwrap();
                let keep: HashSet<i64> = allowed.iter().copied().collect();
                let queries = &data[..30 * dim];
                let exact = idx
                    .search_batch_with(queries, k, &wide(n), true, None, Some(&f), |_, _| true)
                    .unwrap()
                    .0;
                let walk = idx
                    .search_batch_with(queries, k, &wide(n), false, None, Some(&f), |_, _| true)
                    .unwrap()
                    .0;
                assert_eq!(exact.ids, walk.ids, "{metric:?} {graph:?} 1/{step}");
                for (qi, q) in queries.chunks_exact(dim).enumerate() {
                    let mut want = naive_knn(&metric, &data, dim, q, n);
                    want.retain(|w| keep.contains(&w.1));
                    want.truncate(k);
                    let row = &exact.ids[qi * k..(qi + 1) * k];
                    let want_ids: Vec<i64> = want.iter().map(|w| w.1).collect();
                    assert_eq!(&row[..want_ids.len()], &want_ids[..]);
                    assert_eq!(want_ids.len() == k, expect_full);
                    assert!(row[want_ids.len()..].iter().all(|&id| id == -1));
                }
            }
        }
    }
}

#[test]
fn filtered_walk_keeps_the_recall_of_the_unfiltered_walk() {
    // 80% allowed out of 20,000: above the exact-scan rule, so the walk answers; it should do
    // about as well against the filtered truth as the unfiltered walk against the full truth.
    let (n, dim, k) = (20_000, 16, 10);
    let data = clustered_rows(n, dim, 40, 0.4, 5);
    let mut idx = Index::new(dim, Metric::Euclidean, BuildParams::default()).unwrap();
    idx.add(&data, None, 1).unwrap();
    let allowed: Vec<i64> = (0..n as i64).filter(|i| i % 10 < 8).collect();
    let f = idx.filter(&allowed).unwrap();
    let queries = clustered_rows(200, dim, 40, 0.4, 6);
    let overlap = |a: &[i64], b: &[i64]| -> f64 {
        let mut found = 0;
        for (e, g) in a.chunks(k).zip(b.chunks(k)) {
            let e: HashSet<i64> = e.iter().copied().collect();
            found += g.iter().filter(|id| e.contains(id)).count();
        }
        found as f64 / a.len() as f64
    };
    for ef in [64, 128] {
        let p = SearchParams {
            ef,
            ..SearchParams::default()
        };
        let run = |exact: bool, f: Option<&nswg::Filter>| {
            idx.search_batch_with(&queries, k, &p, exact, None, f, |_, _| true)
                .unwrap()
                .0
        };
        let (exact, walk) = (run(true, Some(&f)), run(false, Some(&f)));
        let visited: u64 = walk.stats.iter().map(|s| s.visited).sum();
        assert!(
            visited < 200 * allowed.len() as u64,
            "ef {ef}: the walk visited more than a scan of the allowed rows would"
        );
        let filtered = overlap(&exact.ids, &walk.ids);
        let plain = overlap(&run(true, None).ids, &run(false, None).ids);
        assert!(
            filtered >= plain - 0.02,
            "ef {ef}: filtered recall {filtered}, unfiltered {plain}"
        );
    }
}

#[test]
fn filters_name_unknown_ids_and_go_stale() {
    let mut idx = Index::new(2, Metric::Euclidean, BuildParams::default()).unwrap();
    idx.add(&uniform_rows(50, 2, 1), None, 1).unwrap();
    match idx.filter(&[3, 70, 71]) {
        Err(Error::UnknownIds { ids, count: 2 }) => assert_eq!(ids, vec![70, 71]),
        other => panic!("{other:?}"),
    }
    let f = idx.filter(&[1, 1, 2]).unwrap();
    assert_eq!(f.len(), 2);
    let mask: Vec<bool> = (0..50).map(|i| i == 1 || i == 2).collect();
    let g = idx.filter_mask(&mask).unwrap();
    let q = [0.5f32, 0.5];
    let a = idx
        .search_batch_with(
            &q,
            2,
            &SearchParams::default(),
            false,
            None,
            Some(&f),
            |_, _| true,
        )
        .unwrap()
        .0;
    let b = idx
        .search_batch_with(
            &q,
            2,
            &SearchParams::default(),
            false,
            None,
            Some(&g),
            |_, _| true,
        )
        .unwrap()
        .0;
    assert_eq!(a.ids, b.ids);
    let mut sorted = a.ids.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![1, 2]);
    idx.add(&[0.1, 0.1], None, 1).unwrap();
    let e = idx
        .search_batch_with(
            &q,
            2,
            &SearchParams::default(),
            false,
            None,
            Some(&f),
            |_, _| true,
        )
        .unwrap_err();
    assert!(e.to_string().contains("filter"), "{e}");
}

#[test]
fn range_search_exact_equals_brute_force_and_graph_finds_almost_all() {
    let (n, dim) = (3000, 16);
    let data = clustered_rows(n, dim, 30, 0.4, 12);
    let walk_data = walks(400, 32, 13);
    let cases = [
        (Metric::Euclidean, &data, dim, 1.6f32),
        (Metric::Cosine, &data, dim, 0.1),
        (Metric::InnerProduct, &data, dim, -5.0),
        (Metric::Dtw { band: 3 }, &walk_data, 32, 6.0),
    ];
    for (metric, rows, dim, radius) in cases {
        let n = rows.len() / dim;
        let mut idx = Index::new(dim, metric, BuildParams::default()).unwrap();
        idx.add(rows, None, 2).unwrap();
        let queries = &rows[..40 * dim];
        let exact = idx
            .range_search(queries, radius, &SearchParams::default(), true, None)
            .unwrap();
        let p = SearchParams {
            ef: 64,
            ..SearchParams::default()
        };
        let graph = idx.range_search(queries, radius, &p, false, None).unwrap();
        let (mut total, mut found) = (0, 0);
        let stored: Vec<f32> = idx.get_vectors(&(0..n as i64).collect::<Vec<_>>()).unwrap();
        for (qi, q) in queries.chunks_exact(dim).enumerate() {
            // Brute force in the metric's own definition (cosine normalises both sides).
            let mut want: Vec<(f32, i64)> = stored
                .chunks_exact(dim)
                .enumerate()
                .map(|(i, r)| (metric.distance(q, r), i as i64))
                .filter(|w| w.0 <= radius)
                .collect();
            want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let (a, b) = (exact.offsets[qi], exact.offsets[qi + 1]);
            let got: Vec<i64> = exact.ids[a..b].to_vec();
            let want_ids: Vec<i64> = want.iter().map(|w| w.1).collect();
            // Values at the radius can round either way between the two sums: compare as sets
            // away from the boundary.
            let near = |d: f32| (d - radius).abs() <= 1e-4 * radius.abs().max(1.0);
            let got_set: HashSet<i64> = got.iter().copied().collect();
            for w in &want {
                assert!(
                    got_set.contains(&w.1) || near(w.0),
                    "{metric:?} query {qi} misses {w:?}"
                );
            }
            assert!(got.len() <= want_ids.len() + want.iter().filter(|w| near(w.0)).count() + 2);
            assert!(exact.distances[a..b].windows(2).all(|w| w[0] <= w[1]));
            let (ga, gb) = (graph.offsets[qi], graph.offsets[qi + 1]);
            for id in &graph.ids[ga..gb] {
                assert!(
                    got_set.contains(id),
                    "graph range hit {id} not in the exact answer"
                );
            }
            total += got.len();
            found += gb - ga;
        }
        assert!(
            total > 40,
            "{metric:?}: radius {radius} finds too little ({total})"
        );
        assert!(
            found as f64 >= 0.95 * total as f64,
            "{metric:?}: graph found {found}/{total}"
        );
    }
    let idx = Index::new(2, Metric::Euclidean, BuildParams::default()).unwrap();
    assert!(idx
        .range_search(&[0.0, 0.0], -1.0, &SearchParams::default(), true, None)
        .is_err());
}

fn recall(idx: &Index, truth: &[Vec<i64>], queries: &[f32], k: usize, ef: usize) -> f64 {
    let p = SearchParams {
        ef,
        ..SearchParams::default()
    };
    let got = idx.search_batch(queries, k, &p, false).unwrap();
    let mut found = 0;
    for (t, g) in truth.iter().zip(got.ids.chunks(k)) {
        let t: HashSet<i64> = t.iter().copied().collect();
        found += g.iter().filter(|id| t.contains(id)).count();
    }
    found as f64 / (truth.len() * k) as f64
}

/// Remove 30%, add as many: removed ids never come back, exact search is brute force over what
/// remains, slots are reused, the file keeps it all, and recall stays near a fresh build's.
#[test]
fn removal_repairs_the_graph_and_reuses_slots() {
    let (n, dim, k) = (6000, 16, 10);
    let data = clustered_rows(n + n * 3 / 10, dim, 40, 0.4, 31);
    // 4% removed: repaired in place; 30%: the graph is dropped and built again.
    for (graph, pct) in [
        (GraphKind::Hnsw, 4),
        (GraphKind::Nsw, 4),
        (GraphKind::Hnsw, 30),
        (GraphKind::Nsw, 30),
    ] {
        let mut idx = Index::new(dim, Metric::Euclidean, params(graph)).unwrap();
        idx.add(&data[..n * dim], None, 1).unwrap();
        let gone: Vec<i64> = (0..n as i64)
            .filter(|i| (i * 2654435761) % 100 < pct)
            .collect();
        let before = idx.to_bytes();
        match idx.remove(&[gone[0], 1_000_000], 1) {
            Err(Error::UnknownIds { ids, .. }) => assert_eq!(ids, vec![1_000_000]),
            other => panic!("{other:?}"),
        }
        assert_eq!(idx.to_bytes(), before, "nothing changes on error");
        idx.remove(&gone, 2).unwrap();
        assert_eq!(idx.len(), n - gone.len());
        let dropped = pct > 5;
        assert_eq!(idx.pending(), if dropped { idx.len() } else { 0 });
        assert!(gone.iter().all(|&id| !idx.contains(id)));
        let gone_set: HashSet<i64> = gone.iter().copied().collect();
        // Queries at removed vectors: never answered by them.
        let queries: Vec<f32> = gone[..50]
            .iter()
            .flat_map(|&id| data[id as usize * dim..(id as usize + 1) * dim].to_vec())
            .collect();
        for exact in [true, false] {
            let r = idx
                .search_batch(&queries, k, &SearchParams::default(), exact)
                .unwrap();
            assert!(
                r.ids.iter().all(|id| !gone_set.contains(id) && *id >= 0),
                "exact={exact}"
            );
        }
        let kept: Vec<i64> = (0..n as i64).filter(|i| !gone_set.contains(i)).collect();
        let kept_rows: Vec<f32> = kept
            .iter()
            .flat_map(|&i| data[i as usize * dim..(i as usize + 1) * dim].to_vec())
            .collect();
        let r = idx
            .search_batch(&queries, k, &SearchParams::default(), true)
            .unwrap();
        for (qi, q) in queries.chunks_exact(dim).enumerate() {
            let want = naive_knn(&Metric::Euclidean, &kept_rows, dim, q, k);
            let want: Vec<i64> = want.iter().map(|w| kept[w.1 as usize]).collect();
            assert_eq!(&r.ids[qi * k..(qi + 1) * k], &want[..]);
        }
        // Refill: the new rows take the freed slots (no growth), are pending until a build, and
        // survive a save before that build.
        let slots = idx.slots();
        let new_rows = &data[n * dim..];
        let m = gone.len();
        let new_rows = &new_rows[..m * dim];
        let new_ids: Vec<i64> = (0..m as i64).map(|i| 100_000 + i).collect();
        idx.add_unlinked(new_rows, Some(&new_ids)).unwrap();
        assert_eq!(idx.slots(), slots, "the new rows fill the freed slots");
        let pending = if dropped { n } else { m };
        assert_eq!(idx.pending(), pending);
        let back = Index::from_bytes(&idx.to_bytes()).unwrap();
        assert_eq!(back.ids(), idx.ids());
        assert_eq!(back.pending(), pending);
        let a = idx
            .search_batch(&queries, k, &SearchParams::default(), true)
            .unwrap();
        let b = back
            .search_batch(&queries, k, &SearchParams::default(), true)
            .unwrap();
        assert_eq!(a.ids, b.ids);
        idx.build(1).unwrap();
        assert_eq!(idx.pending(), 0);
        // Recall against a fresh build of the same final rows (same ids).
        let final_ids = idx.ids();
        let final_rows = idx.get_vectors(&final_ids).unwrap();
        let mut fresh = Index::new(dim, Metric::Euclidean, params(graph)).unwrap();
        fresh.add(&final_rows, Some(&final_ids), 1).unwrap();
        let probe = clustered_rows(300, dim, 40, 0.4, 77);
        let truth: Vec<Vec<i64>> = probe
            .chunks_exact(dim)
            .map(|q| {
                naive_knn(&Metric::Euclidean, &final_rows, dim, q, k)
                    .iter()
                    .map(|w| final_ids[w.1 as usize])
                    .collect()
            })
            .collect();
        for ef in [16, 32, 64] {
            let r_idx = recall(&idx, &truth, &probe, k, ef);
            let r_fresh = recall(&fresh, &truth, &probe, k, ef);
            // Two fresh builds of these rows with different seeds differ by up to about 0.03.
            assert!(
                r_idx >= r_fresh - 0.03,
                "{graph:?} {pct}%: ef {ef}: after removal {r_idx}, fresh {r_fresh}"
            );
        }
        let back = Index::from_bytes(&idx.to_bytes()).unwrap();
        assert_eq!(
            back.search_batch(&probe, k, &SearchParams::default(), false)
                .unwrap()
                .ids,
            idx.search_batch(&probe, k, &SearchParams::default(), false)
                .unwrap()
                .ids
        );
    }
}

#[test]
fn removing_everything_and_replacing() {
    let dim = 4;
    let mut idx = Index::new(dim, Metric::Euclidean, BuildParams::default()).unwrap();
    let data = uniform_rows(200, dim, 9);
    idx.add(&data, None, 1).unwrap();
    let all = idx.ids();
    idx.remove(&all, 1).unwrap();
    assert!(idx.is_empty());
    assert!(matches!(
        idx.search(&data[..dim], 1, &SearchParams::default()),
        Err(Error::EmptyIndex)
    ));
    idx.add(&data[..50 * dim], None, 1).unwrap();
    assert_eq!(idx.len(), 50);
    assert_eq!(idx.slots(), 200, "the freed slots are reused");
    let (hits, _) = idx
        .search(&data[7 * dim..8 * dim], 1, &SearchParams::default())
        .unwrap();
    assert_eq!(hits[0].distance, 0.0);
    // Replace: id 5000 is new, id `first` is stored.
    let first = idx.ids()[0];
    let fresh_row = [9.0f32, 9.0, 9.0, 9.0];
    let rows: Vec<f32> = fresh_row
        .iter()
        .chain(&[5.0, 5.0, 5.0, 5.0])
        .copied()
        .collect();
    assert!(matches!(
        idx.add_unlinked(&rows, Some(&[first, 5000])),
        Err(Error::DuplicateId { .. })
    ));
    idx.add_unlinked_replacing(&rows, &[first, 5000]).unwrap();
    idx.build(1).unwrap();
    assert_eq!(idx.len(), 51);
    assert_eq!(idx.get_vectors(&[first]).unwrap(), fresh_row.to_vec());
    let (hits, _) = idx.search(&fresh_row, 1, &SearchParams::default()).unwrap();
    assert_eq!((hits[0].id, hits[0].distance), (first, 0.0));
    assert!(matches!(
        idx.add_unlinked_replacing(&rows, &[3, 3]),
        Err(Error::DuplicateId { id: 3 })
    ));
    let mut var = Index::variable(1, Metric::Dtw { band: 1 }, BuildParams::default()).unwrap();
    var.add_series_unlinked(&[1.0, 2.0], &[2], None).unwrap();
    assert!(var.remove(&[0], 1).is_err());
}

#[test]
fn memory_usage_counts_rows_and_graph() {
    let (n, dim) = (5000, 32);
    let mut idx = Index::new(dim, Metric::Euclidean, BuildParams::default()).unwrap();
    idx.add(&uniform_rows(n, dim, 2), None, 2).unwrap();
    let used = idx.memory_usage();
    let floor = n * dim * 4 + n * 4 * (BuildParams::default().max_degree + 1);
    assert!(
        used >= floor && used < floor * 2,
        "{used} vs rows + links {floor}"
    );
    idx.set_codes(true).unwrap();
    assert!(idx.memory_usage() >= used + n * dim);
}
