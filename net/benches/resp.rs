//! RESP framing and encoding throughput: the per-request work every command
//! pays before and after it touches the store.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kiln_net::resp::{ParseLimits, Protocol, Reply, RequestParser, encode, encode_request};

fn pipeline(commands: usize, value_len: usize) -> Vec<u8> {
    let value = vec![b'x'; value_len];
    let mut wire = Vec::new();
    for i in 0..commands {
        let key = format!("key:{i:012}");
        encode_request(&[&b"SET"[..], key.as_bytes(), &value], &mut wire);
    }
    wire
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for value_len in [32usize, 1024] {
        let wire = pipeline(64, value_len);
        group.throughput(Throughput::Elements(64));
        group.bench_function(format!("set_pipeline64_{value_len}B"), |b| {
            let mut parser = RequestParser::new(ParseLimits::default());
            b.iter(|| {
                let mut buf = &wire[..];
                let mut n = 0;
                while let Some(used) = parser.parse(buf).unwrap() {
                    n += parser.args(buf).len();
                    buf = &buf[used..];
                }
                black_box(n)
            })
        });
    }
    let inline = b"SET key:000000000001 \"hello world\"\r\n".repeat(64);
    group.bench_function("inline64", |b| {
        let mut parser = RequestParser::new(ParseLimits::default());
        b.iter(|| {
            let mut buf = &inline[..];
            while let Some(used) = parser.parse(buf).unwrap() {
                buf = &buf[used..];
            }
        })
    });
    group.finish();
}

fn encode_replies(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    let bulk = Reply::Bulk(Bytes::from(vec![b'x'; 32]));
    let mut out = Vec::with_capacity(1 << 16);
    group.bench_function("bulk32", |b| {
        b.iter(|| {
            out.clear();
            encode(black_box(&bulk), Protocol::Resp2, &mut out);
        })
    });
    let array = Reply::Array((0..16).map(Reply::Integer).collect());
    group.bench_function("array16_int", |b| {
        b.iter(|| {
            out.clear();
            encode(black_box(&array), Protocol::Resp3, &mut out);
        })
    });
    group.finish();
}

criterion_group!(benches, parse, encode_replies);
criterion_main!(benches);
