//! Throughput: a program, not a timed test; it prints figures and asserts nothing on time.

use super::*;

/// cargo test --release -p cairn-engine --test batch_codec -- --ignored --nocapture
#[test]
#[ignore]
fn throughput_dns_like() {
    let rows = 1_000_000;
    let mut rng = StdRng::seed_from_u64(42);
    let strings = |f: &mut dyn FnMut() -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values((0..rows).map(|_| f())))
    };
    let ts: Vec<i64> = (0..rows as i64)
        .map(|i| 1_700_000_000_000_000_000 + i * 997)
        .collect();
    let columns: Vec<(&str, ColumnType, ArrayRef)> = vec![
        (
            "time",
            ColumnType::Timestamp,
            Arc::new(PrimitiveArray::<TimestampNanosecondType>::from(ts).with_timezone("UTC")),
        ),
        (
            "qname",
            ColumnType::String,
            strings(&mut || {
                format!(
                    "host{}.svc{}.example.com",
                    rng.random_range(0..5000),
                    rng.random_range(0..40)
                )
            }),
        ),
        (
            "qtype",
            ColumnType::String,
            strings(&mut || ["A", "AAAA", "MX", "TXT", "PTR"][rng.random_range(0..5)].to_owned()),
        ),
        (
            "client",
            ColumnType::String,
            strings(&mut || {
                format!(
                    "10.{}.{}.{}",
                    rng.random::<u8>(),
                    rng.random::<u8>(),
                    rng.random::<u8>()
                )
            }),
        ),
        (
            "rcode",
            ColumnType::String,
            strings(&mut || ["NOERROR", "NXDOMAIN", "SERVFAIL"][rng.random_range(0..3)].to_owned()),
        ),
        (
            "tcp",
            ColumnType::Bool,
            Arc::new(BooleanArray::from(
                (0..rows).map(|i| i % 17 == 0).collect::<Vec<_>>(),
            )),
        ),
        (
            "latency_ms",
            ColumnType::F64,
            Arc::new(PrimitiveArray::<Float64Type>::from(
                (0..rows)
                    .map(|i| (i % 1000) as f64 * 0.25)
                    .collect::<Vec<_>>(),
            )),
        ),
    ];
    let types: Vec<ColumnType> = columns.iter().map(|c| c.1).collect();
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| Field::new(c.0, c.2.data_type().clone(), true))
        .collect();
    let arrays = columns.into_iter().map(|c| c.2).collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();

    let mut out = Vec::with_capacity(encoded_len(&batch, &types));
    let best = |f: &mut dyn FnMut()| {
        (0..7)
            .map(|_| {
                let t = std::time::Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::MAX, f64::min)
    };
    let encode_s = best(&mut || {
        out.clear();
        encode(9, &batch, &types, &mut out).unwrap();
    });
    let len = out.len();
    let decode_s = best(&mut || {
        std::hint::black_box(decode(&out).unwrap());
    });
    let mut copy = vec![0u8; len];
    let copy_s = best(&mut || {
        copy.copy_from_slice(&out);
        std::hint::black_box(&copy);
    });
    let mb = len as f64 / 1e6;
    println!(
        "record: {rows} rows, {mb:.1} MB ({:.1} bytes/row)",
        len as f64 / rows as f64
    );
    println!(
        "encode: {:.0} MB/s, {:.1} M rows/s",
        mb / encode_s,
        rows as f64 / encode_s / 1e6
    );
    println!(
        "decode: {:.0} MB/s, {:.1} M rows/s",
        mb / decode_s,
        rows as f64 / decode_s / 1e6
    );
    println!(
        "memcpy baseline: {:.0} MB/s (encode {:.2}x, decode {:.2}x of it)",
        mb / copy_s,
        copy_s / encode_s,
        copy_s / decode_s
    );
}
