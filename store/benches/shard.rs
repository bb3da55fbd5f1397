//! Shard operation costs on a shard pre-filled with 100k keys: SET of new
//! keys and overwrites, GET hits and misses, INCR.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use kiln_store::{SetOptions, Shard, ShardConfig};

const KEYS: usize = 100_000;

fn key(i: usize) -> Vec<u8> {
    format!("key:{i:08}").into_bytes()
}

fn filled() -> Shard {
    let mut s = Shard::new(ShardConfig::default());
    let value = Bytes::from(vec![b'x'; 64]);
    for i in 0..KEYS {
        s.set(&key(i), value.clone(), SetOptions::default())
            .unwrap();
    }
    for i in 0..1024 {
        s.set(
            format!("counter:{i}").as_bytes(),
            Bytes::from_static(b"0"),
            SetOptions::default(),
        )
        .unwrap();
    }
    s
}

fn bench_shard(c: &mut Criterion) {
    let keys: Vec<Vec<u8>> = (0..KEYS).map(key).collect();
    let misses: Vec<Vec<u8>> = (0..KEYS)
        .map(|i| format!("absent:{i:08}").into_bytes())
        .collect();
    let value = Bytes::from(vec![b'y'; 64]);
    let mut group = c.benchmark_group("shard_100k");

    group.bench_function("set_overwrite", |b| {
        let mut s = filled();
        let mut i = 0;
        b.iter(|| {
            i = (i + 7919) % KEYS;
            black_box(
                s.set(&keys[i], value.clone(), SetOptions::default())
                    .unwrap(),
            );
        });
    });

    group.bench_function("set_new", |b| {
        // Inserts only keys that are absent. Every 50k inserts they are
        // deleted again outside the timed region, so the shard stays between
        // 100k and 150k keys however many iterations criterion asks for.
        b.iter_custom(|iters| {
            let mut s = filled();
            let mut total = Duration::ZERO;
            let mut next = 0;
            let mut remaining = iters;
            while remaining > 0 {
                let chunk = remaining.min((misses.len() - next) as u64) as usize;
                let start = Instant::now();
                for k in &misses[next..next + chunk] {
                    black_box(s.set(k, value.clone(), SetOptions::default()).unwrap());
                }
                total += start.elapsed();
                next += chunk;
                remaining -= chunk as u64;
                if next == misses.len() {
                    for k in &misses {
                        s.del(k);
                    }
                    next = 0;
                }
            }
            total
        });
    });

    group.bench_function("get_hit", |b| {
        let mut s = filled();
        let mut i = 0;
        b.iter(|| {
            i = (i + 7919) % KEYS;
            black_box(s.get(&keys[i]).unwrap());
        });
    });

    group.bench_function("get_miss", |b| {
        let mut s = filled();
        let mut i = 0;
        b.iter(|| {
            i = (i + 7919) % misses.len();
            black_box(s.get(&misses[i]).unwrap());
        });
    });

    group.bench_function("incr", |b| {
        let mut s = filled();
        let counters: Vec<Vec<u8>> = (0..1024)
            .map(|i| format!("counter:{i}").into_bytes())
            .collect();
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % counters.len();
            black_box(s.incr_by(&counters[i], 1).unwrap());
        });
    });

    group.finish();
}

criterion_group!(benches, bench_shard);
criterion_main!(benches);
