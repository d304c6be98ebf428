#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datafusion::arrow::array::{
    Array, AsArray, BooleanArray, Float64Array, Int64Array, StringArray, TimestampNanosecondArray,
    UInt64Array,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, TimeUnit};

use super::*;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            true,
        ),
        Field::new("host", DataType::Utf8, true),
        Field::new("n", DataType::Int64, true),
        Field::new("u", DataType::UInt64, true),
        Field::new("x", DataType::Float64, true),
        Field::new("ok", DataType::Boolean, true),
    ]))
}

/// Loads `text` fed in `chunks` pieces cut at `cuts` (byte offsets), into one batch.
fn load_cut(text: &[u8], cuts: &[usize], options: CsvOptions, batch_rows: usize) -> RecordBatch {
    let mut loader = CsvLoader::new(schema(), options)
        .unwrap()
        .with_batch_rows(batch_rows);
    let mut batches = Vec::new();
    let mut from = 0;
    for &cut in cuts.iter().chain([text.len()].iter()) {
        batches.extend(loader.push(&text[from..cut]).unwrap());
        from = cut;
    }
    batches.extend(loader.finish().unwrap());
    assert_eq!(
        batches.iter().map(RecordBatch::num_rows).sum::<usize>() as u64,
        loader.rows()
    );
    concat_batches(&loader.batch_schema(), &batches).unwrap()
}

fn load(text: &str) -> Result<RecordBatch, CsvError> {
    let mut loader = CsvLoader::new(schema(), CsvOptions::default())?;
    let mut batches = loader.push(text.as_bytes())?;
    batches.extend(loader.finish()?);
    Ok(concat_batches(&loader.batch_schema(), &batches).unwrap())
}

fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    batch
        .column_by_name(name)
        .unwrap()
        .as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

/// Quoted delimiters, doubled quotes, quoted newlines (LF and CRLF), CRLF line ends, an empty
/// quoted string, NULLs, a blank line and no final newline.
const TRICKY: &str = "ts,host,n,u,x,ok\r\n\
    2024-01-01T00:00:00Z,\"a,b\",1,2,0.5,true\r\n\
    2024-01-01 00:00:01.5,\"say \"\"hi\"\"\",-3,,NaN,f\n\
    \n\
    1704067202000000000,\"two\nlines\",,7,-Infinity,\n\
    2024-01-01T01:00:03+01:00,\"\",9,0,1e3,YES\n\
    2024-01-01T00:00:04Z,,10,11,inf,0\n\
    2024-01-01T00:00:05Z,\"crlf\r\ninside\",12,13,2.25,\"t\"";

#[test]
fn every_chunk_boundary_gives_the_same_batches() {
    let text = TRICKY.as_bytes();
    let whole = load_cut(text, &[], CsvOptions::default(), 65_536);
    assert_eq!(whole.num_rows(), 6);
    for cut in 0..=text.len() {
        for batch_rows in [1, 4, 65_536] {
            let got = load_cut(text, &[cut], CsvOptions::default(), batch_rows);
            assert_eq!(got, whole, "cut at byte {cut}, {batch_rows} rows per batch");
        }
    }
    let bytewise: Vec<usize> = (1..text.len()).collect();
    assert_eq!(load_cut(text, &bytewise, CsvOptions::default(), 2), whole);
}

#[test]
fn quoted_fields_and_nulls_decode_like_postgresql() {
    let b = load(TRICKY).unwrap();
    assert_eq!(
        strings(&b, "host"),
        [
            Some("a,b"),
            Some("say \"hi\""),
            Some("two\nlines"),
            Some(""),
            None,
            Some("crlf\r\ninside")
        ]
        .map(|s| s.map(str::to_owned))
    );
    let base = 1_704_067_200_000_000_000i64;
    let ts: &TimestampNanosecondArray = b.column(0).as_primitive();
    assert_eq!(
        ts.values().to_vec(),
        (0..6)
            .map(|s| base + s * 1_000_000_000 + if s == 1 { 500_000_000 } else { 0 })
            .collect::<Vec<_>>()
    );
    assert_eq!(ts.timezone(), Some("UTC"));
    let n: &Int64Array = b.column(2).as_primitive();
    assert_eq!(
        n.iter().collect::<Vec<_>>(),
        [Some(1), Some(-3), None, Some(9), Some(10), Some(12)]
    );
    let u: &UInt64Array = b.column(3).as_primitive();
    assert_eq!(u.null_count(), 1);
    let x: &Float64Array = b.column(4).as_primitive();
    assert!(x.value(1).is_nan());
    assert_eq!(x.value(2), f64::NEG_INFINITY);
    assert_eq!(x.value(3), 1000.0);
    assert_eq!(x.value(4), f64::INFINITY);
    let ok: &BooleanArray = b.column(5).as_boolean();
    assert_eq!(
        ok.iter().collect::<Vec<_>>(),
        [
            Some(true),
            Some(false),
            None,
            Some(true),
            Some(false),
            Some(true)
        ]
    );
}

#[test]
fn errors_name_the_physical_line_and_the_column() {
    // Line 3 holds a quoted newline, so the bad value sits on line 5.
    let text = "ts,host,n\n2024-01-01T00:00:00Z,a,1\n2024-01-01T00:00:01Z,\"b\nc\",2\n\
                2024-01-01T00:00:02Z,d,zwei\n";
    let e = load(text).unwrap_err();
    assert_eq!((e.line, e.column.as_deref()), (5, Some("n")), "{e}");
    assert_eq!(
        e.to_string(),
        "line 5, column \"n\": invalid BIGINT value \"zwei\""
    );
    let e = load("ts,ok\n2024-01-01,maybe\n").unwrap_err();
    assert_eq!((e.line, e.column.as_deref()), (2, Some("ok")));
    let e = load("ts,host\nyesterday,a\n").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("line 2, column \"ts\": invalid timestamp")
    );
    let e = load("ts,u\n2024-01-01,-1\n").unwrap_err();
    assert!(e.message.contains("negative"), "{e}");
    // A quoted value spanning lines: the error names the line the field starts on.
    let e = load("ts,host,n\n2024-01-01,\"x\ny\",\"1\n2\"\n").unwrap_err();
    assert_eq!((e.line, e.column.as_deref()), (3, Some("n")), "{e}");
    let e = load("ts,host\n2024-01-01,\"open\n").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("not closed"), "{e}");
    let e = load("ts,host\n2024-01-01,\"a\"b\n").unwrap_err();
    assert_eq!(e.line, 2);
    let e = load("ts,host\n2024-01-01,a,extra\n").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("expected 2 fields"), "{e}");
}

#[test]
fn invalid_utf8_is_an_error_with_its_line() {
    let mut loader = CsvLoader::new(schema(), CsvOptions::default()).unwrap();
    let text = b"ts,host\n2024-01-01,ok\n2024-01-02,bad\xff\xfe\n";
    let e = loader.push(text).and_then(|_| loader.finish()).unwrap_err();
    assert_eq!((e.line, e.column.as_deref()), (3, Some("host")));
    assert!(e.message.contains("UTF-8"), "{e}");
}

#[test]
fn header_columns_match_by_name_in_any_order() {
    let b = load("OK,x,host,ts\nt,1.5,a,2024-01-01\nf,,\"b\",2024-01-02\n").unwrap();
    // The batches hold the loaded columns in the collection's order; n and u are left out.
    let names: Vec<_> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["ts", "host", "x", "ok"]);
    assert_eq!(strings(&b, "host"), [Some("a".into()), Some("b".into())]);
    let x: &Float64Array = b.column(2).as_primitive();
    assert_eq!(x.iter().collect::<Vec<_>>(), [Some(1.5), None]);
    let e = load("ts,hostname\n").unwrap_err();
    assert_eq!((e.line, e.column.as_deref()), (1, Some("hostname")));
    assert!(e.message.contains("ts, host, n, u, x, ok"), "{e}");
    let e = load("ts,host,Host\n").unwrap_err();
    assert!(e.message.contains("twice"), "{e}");
    // A byte-order mark before the header is dropped.
    let b = load("\u{feff}host\nz\n").unwrap();
    assert_eq!(strings(&b, "host"), [Some("z".into())]);
}

#[test]
fn without_a_header_fields_are_the_declared_columns() {
    let options = CsvOptions {
        header: false,
        delimiter: b';',
        null: "\\N".into(),
        ..CsvOptions::default()
    };
    let text = b"2024-01-01;\\N;1;2;3.5;1\n2024-01-02;\"\\N\";;;;\n";
    let b = load_cut(text, &[], options.clone(), 100);
    assert_eq!(b.num_columns(), 6);
    // Unquoted \N is NULL, quoted it is the text; an empty number is NULL.
    assert_eq!(strings(&b, "host"), [None, Some("\\N".into())]);
    let n: &Int64Array = b.column(2).as_primitive();
    assert_eq!(n.iter().collect::<Vec<_>>(), [Some(1), None]);
    let mut loader = CsvLoader::new(schema(), options).unwrap();
    let e = loader.push(b"2024-01-01;a;1\n").unwrap_err();
    assert_eq!(e.line, 1);
    assert!(e.message.contains("ts, host, n, u, x, ok"), "{e}");
}

#[test]
fn batches_before_a_bad_row_come_first_then_the_error() {
    let mut loader = CsvLoader::new(schema(), CsvOptions::default())
        .unwrap()
        .with_batch_rows(2);
    let text = "ts,n\n2024-01-01,1\n2024-01-01,2\n2024-01-01,3\n2024-01-01,x\n2024-01-01,5\n";
    let batches = loader.push(text.as_bytes()).unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].num_rows(), 2);
    let e = loader.finish().unwrap_err();
    assert_eq!((e.line, e.column.as_deref()), (5, Some("n")));
    // Every later call repeats the error.
    assert_eq!(loader.push(b"").unwrap_err(), e);
}

#[test]
fn gen_dns_rows_parse_exactly() {
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            true,
        ),
        Field::new("client_ip", DataType::Utf8, true),
        Field::new("qname", DataType::Utf8, true),
        Field::new("qtype", DataType::Utf8, true),
        Field::new("rcode", DataType::Utf8, true),
        Field::new("cached", DataType::Boolean, true),
        Field::new("elapsed_ms", DataType::Float64, true),
    ]));
    let mut loader = CsvLoader::new(schema, CsvOptions::default()).unwrap();
    let text = "ts,client_ip,qname,qtype,rcode,cached,elapsed_ms\n\
                2024-03-01 12:34:56.789,10.0.0.1,a.com,A,NOERROR,true,0.319\n";
    let mut batches = loader.push(text.as_bytes()).unwrap();
    batches.extend(loader.finish().unwrap());
    let b = &batches[0];
    let ts: &TimestampNanosecondArray = b.column(0).as_primitive();
    assert_eq!(ts.value(0), 1_709_296_496_789_000_000);
    let e: &Float64Array = b.column(6).as_primitive();
    assert_eq!(e.value(0), 0.319);
    assert_eq!(
        b.column(3)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .value(0),
        "A"
    );
}

#[test]
fn bad_options_are_refused() {
    let same = CsvOptions {
        quote: b',',
        ..CsvOptions::default()
    };
    assert!(CsvLoader::new(schema(), same).is_err());
    let odd = Arc::new(Schema::new(vec![Field::new("d", DataType::Date32, true)]));
    let e = CsvLoader::new(odd, CsvOptions::default()).unwrap_err();
    assert_eq!(e.column.as_deref(), Some("d"));
}
