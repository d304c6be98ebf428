//! JSON for `cairn bench dns`: a small parser (for the query list, `expected.json`, the peers'
//! result lines and the checksums python returns) into [`Json`], and query results written
//! as typed JSON rows for `common.checksum` (ints, floats, strings, bools; timestamps as epoch
//! seconds).

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};

use super::report::Json;
use crate::error::{CliError, Result};

/// Parses one JSON document. `null` becomes `Json::Num(NaN)` (which renders as `null`).
pub fn parse(text: &str) -> Result<Json> {
    let mut p = Parser {
        s: text.as_bytes(),
        pos: 0,
    };
    let value = p.value()?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(value)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> CliError {
        CliError::Invalid(format!("JSON: {what} at byte {}", self.pos))
    }

    fn ws(&mut self) {
        while self.s.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, word: &str) -> bool {
        let hit = self.s[self.pos..].starts_with(word.as_bytes());
        if hit {
            self.pos += word.len();
        }
        hit
    }

    fn value(&mut self) -> Result<Json> {
        self.ws();
        match self.s.get(self.pos) {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Json::Str(self.string()?)),
            _ if self.eat("true") => Ok(Json::Bool(true)),
            _ if self.eat("false") => Ok(Json::Bool(false)),
            _ if self.eat("null") => Ok(Json::Num(f64::NAN)),
            Some(_) => self.number(),
            None => Err(self.err("unexpected end")),
        }
    }

    fn object(&mut self) -> Result<Json> {
        self.pos += 1;
        let mut fields = Vec::new();
        self.ws();
        if self.eat("}") {
            return Ok(Json::Obj(fields));
        }
        loop {
            self.ws();
            if self.s.get(self.pos) != Some(&b'"') {
                return Err(self.err("expected a key"));
            }
            let key = self.string()?;
            self.ws();
            if !self.eat(":") {
                return Err(self.err("expected ':'"));
            }
            fields.push((key, self.value()?));
            self.ws();
            if self.eat("}") {
                return Ok(Json::Obj(fields));
            }
            if !self.eat(",") {
                return Err(self.err("expected ',' or '}'"));
            }
        }
    }

    fn array(&mut self) -> Result<Json> {
        self.pos += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat("]") {
            return Ok(Json::Arr(items));
        }
        loop {
            items.push(self.value()?);
            self.ws();
            if self.eat("]") {
                return Ok(Json::Arr(items));
            }
            if !self.eat(",") {
                return Err(self.err("expected ',' or ']'"));
            }
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self
            .s
            .get(self.pos..self.pos + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.err("bad \\u escape"))?;
        self.pos += 4;
        Ok(digits)
    }

    fn string(&mut self) -> Result<String> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.pos) else {
                return Err(self.err("unterminated string"));
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.s.get(self.pos) else {
                        return Err(self.err("unterminated escape"));
                    };
                    self.pos += 1;
                    let c = match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xD800..0xDC00).contains(&code) && self.eat("\\u") {
                                let low = self.hex4()?;
                                code = if (0xDC00..0xE000).contains(&low) {
                                    0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                                } else {
                                    0xFFFD
                                };
                            }
                            char::from_u32(code).unwrap_or('\u{fffd}')
                        }
                        other => char::from(other),
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                _ => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| self.err("string is not UTF-8"))
    }

    fn number(&mut self) -> Result<Json> {
        let start = self.pos;
        while self
            .s
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c))
        {
            self.pos += 1;
        }
        std::str::from_utf8(&self.s[start..self.pos])
            .ok()
            .and_then(|t| t.parse().ok())
            .map(Json::Num)
            .ok_or_else(|| self.err("unexpected character"))
    }
}

/// Read access to parsed JSON.
pub trait Lookup {
    /// The member `key` of an object.
    fn get(&self, key: &str) -> Option<&Json>;
    fn text(&self) -> Option<&str>;
    fn num(&self) -> Option<f64>;
    fn items(&self) -> &[Json];
}

impl Lookup for Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    fn num(&self) -> Option<f64> {
        match self {
            Json::Num(n) if n.is_finite() => Some(*n),
            _ => None,
        }
    }

    fn items(&self) -> &[Json] {
        match self {
            Json::Arr(items) => items,
            _ => &[],
        }
    }
}

/// Appends `s` as a JSON string.
pub fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends the rows of `batches` to `out` as a JSON array of arrays; returns the row count.
pub fn push_rows(out: &mut String, batches: &[RecordBatch]) -> Result<usize> {
    out.push('[');
    let mut rows = 0;
    for batch in batches {
        let columns: Vec<Vec<String>> = batch
            .columns()
            .iter()
            .map(|c| cells(c.as_ref()))
            .collect::<Result<_>>()?;
        for row in 0..batch.num_rows() {
            if rows > 0 {
                out.push(',');
            }
            out.push('[');
            for (i, column) in columns.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&column[row]);
            }
            out.push(']');
            rows += 1;
        }
    }
    out.push(']');
    Ok(rows)
}

/// Every value of `array` as JSON text (`null` for nulls and non-finite floats).
fn cells(array: &dyn Array) -> Result<Vec<String>> {
    fn each<T>(it: impl Iterator<Item = Option<T>>, f: impl Fn(T) -> String) -> Vec<String> {
        it.map(|v| v.map_or_else(|| "null".to_string(), &f))
            .collect()
    }
    let int = |v: i64| v.to_string();
    let float = |v: f64| {
        if v.is_finite() {
            v.to_string()
        } else {
            "null".to_string()
        }
    };
    let text = |v: &str| {
        let mut s = String::with_capacity(v.len() + 2);
        push_str(&mut s, v);
        s
    };
    Ok(match array.data_type() {
        DataType::Int8 => each(array.as_primitive::<Int8Type>().iter(), |v| int(v.into())),
        DataType::Int16 => each(array.as_primitive::<Int16Type>().iter(), |v| int(v.into())),
        DataType::Int32 => each(array.as_primitive::<Int32Type>().iter(), |v| int(v.into())),
        DataType::Int64 => each(array.as_primitive::<Int64Type>().iter(), int),
        DataType::UInt8 => each(array.as_primitive::<UInt8Type>().iter(), |v| int(v.into())),
        DataType::UInt16 => each(array.as_primitive::<UInt16Type>().iter(), |v| int(v.into())),
        DataType::UInt32 => each(array.as_primitive::<UInt32Type>().iter(), |v| int(v.into())),
        DataType::UInt64 => each(array.as_primitive::<UInt64Type>().iter(), |v| v.to_string()),
        DataType::Float32 => each(array.as_primitive::<Float32Type>().iter(), |v| {
            float(v.into())
        }),
        DataType::Float64 => each(array.as_primitive::<Float64Type>().iter(), float),
        DataType::Boolean => each(array.as_boolean().iter(), |v| v.to_string()),
        DataType::Utf8 => each(array.as_string::<i32>().iter(), text),
        DataType::LargeUtf8 => each(array.as_string::<i64>().iter(), text),
        DataType::Utf8View => each(array.as_string_view().iter(), text),
        DataType::Timestamp(unit, _) => {
            let secs = |per_sec: i64| move |v: i64| int(v.div_euclid(per_sec));
            match unit {
                TimeUnit::Second => {
                    each(array.as_primitive::<TimestampSecondType>().iter(), secs(1))
                }
                TimeUnit::Millisecond => each(
                    array.as_primitive::<TimestampMillisecondType>().iter(),
                    secs(1_000),
                ),
                TimeUnit::Microsecond => each(
                    array.as_primitive::<TimestampMicrosecondType>().iter(),
                    secs(1_000_000),
                ),
                TimeUnit::Nanosecond => each(
                    array.as_primitive::<TimestampNanosecondType>().iter(),
                    secs(1_000_000_000),
                ),
            }
        }
        DataType::Dictionary(_, _) => {
            let dict = array.as_any_dictionary();
            let values = cells(dict.values().as_ref())?;
            dict.normalized_keys()
                .into_iter()
                .enumerate()
                .map(|(i, k)| match values.get(k) {
                    Some(v) if !array.is_null(i) => v.clone(),
                    _ => "null".to_string(),
                })
                .collect()
        }
        other => {
            return Err(CliError::Invalid(format!(
                "a result column of type {other} (not supported by the answer check)"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{
        ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int64Array, StringArray,
        TimestampNanosecondArray,
    };

    use super::*;

    #[test]
    fn parses_nested_json() {
        let j =
            parse(r#" {"a": [1, -2.5e1, "x\"\u00e9\n"], "b": {"c": true, "d": null}} "#).unwrap();
        let a = j.get("a").unwrap().items();
        assert_eq!(a[0].num(), Some(1.0));
        assert_eq!(a[1].num(), Some(-25.0));
        assert_eq!(a[2].text(), Some("x\"é\n"));
        let b = j.get("b").unwrap();
        assert!(matches!(b.get("c"), Some(Json::Bool(true))));
        assert_eq!(b.get("d").unwrap().num(), None);
        assert!(parse("[1,").is_err());
        assert!(parse("{} x").is_err());
    }

    #[test]
    fn batches_become_typed_rows() {
        let dict: DictionaryArray<arrow_array::types::Int32Type> =
            vec!["A", "AAAA", "A"].into_iter().collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec!["a\"b", "c", "d"])),
            Arc::new(dict),
            Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])),
            Arc::new(Float64Array::from(vec![0.5, f64::NAN, 2.0])),
            Arc::new(BooleanArray::from(vec![true, false, true])),
            Arc::new(
                TimestampNanosecondArray::from(vec![1_704_067_200_999_999_999, 0, -1])
                    .with_timezone("UTC"),
            ),
        ];
        let batch =
            RecordBatch::try_from_iter(["s", "d", "i", "f", "b", "t"].into_iter().zip(columns))
                .unwrap();
        let mut out = String::new();
        assert_eq!(push_rows(&mut out, &[batch]).unwrap(), 3);
        assert_eq!(
            out,
            r#"[["a\"b","A",1,0.5,true,1704067200],["c","AAAA",null,null,false,0],["d","A",3,2,true,-1]]"#
        );
    }
}
