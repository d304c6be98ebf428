//! Splitting CSV bytes into records and fields, incrementally: input arrives in chunks of any
//! size (a chunk may end inside a line, a quoted field or a `""` escape) and the state machine
//! resumes where it stopped, so no byte is scanned twice however a long record is chunked.
//!
//! Syntax (RFC 4180 as PostgreSQL reads it): fields are separated by the delimiter; a field
//! that starts with the quote character runs to the matching quote, and may hold delimiters,
//! newlines and doubled quotes (`""` for one `"`); a quote inside an unquoted field is an
//! ordinary character. Records end with `\n` or `\r\n` (outside quotes). A UTF-8 byte-order
//! mark at the very start is dropped. Line numbers count physical lines, 1-based, so a record
//! holding a quoted newline spans two of them.

/// UTF-8 byte-order mark that spreadsheet exports put before the first header name.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One field of the current record: a byte range relative to the record's start (in the
/// input, or in the scratch buffer when its `""` escapes were undone).
#[derive(Debug, Clone, Copy)]
pub(super) struct Field {
    start: usize,
    end: usize,
    /// Where the field's bytes start in the record (after its opening quote).
    raw_start: usize,
    quoted: bool,
    /// Held `""` escapes: `start..end` is then a range of the scratch buffer.
    unescaped: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the first byte of a field.
    FieldStart,
    /// Inside an unquoted field.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: a second quote is an escape, anything else
    /// ends the field.
    QuoteInQuoted,
    /// After a quoted field's closing quote and a `\r`: only `\n` may follow.
    CarriageReturn,
}

/// Why the input is not CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SplitError {
    pub line: u64,
    pub message: String,
}

/// A complete record, borrowed from the splitter until the next call.
#[derive(Debug)]
pub(super) struct Record<'a> {
    /// Physical line where the record starts.
    pub line: u64,
    bytes: &'a [u8],
    scratch: &'a [u8],
    fields: &'a [Field],
}

impl Record<'_> {
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Field `i`'s bytes (quotes removed, escapes undone) and whether it was quoted.
    pub fn field(&self, i: usize) -> (&[u8], bool) {
        let f = self.fields[i];
        let src = if f.unescaped {
            self.scratch
        } else {
            self.bytes
        };
        (&src[f.start..f.end], f.quoted)
    }

    /// The physical line field `i` starts on (a record may span lines).
    pub fn line_of(&self, i: usize) -> u64 {
        let before = &self.bytes[..self.fields[i].raw_start.min(self.bytes.len())];
        self.line + before.iter().filter(|&&b| b == b'\n').count() as u64
    }
}

/// The incremental splitter: `feed` bytes, then call `next_record` until it returns `None`.
#[derive(Debug)]
pub(super) struct Splitter {
    delimiter: u8,
    quote: u8,
    buf: Vec<u8>,
    /// Start of the current record in `buf`.
    rec: usize,
    /// Next byte to examine.
    pos: usize,
    state: State,
    /// Start of the current field, relative to `rec`.
    field_start: usize,
    /// The current quoted field held a `""`.
    escaped: bool,
    fields: Vec<Field>,
    scratch: Vec<u8>,
    /// Physical line where the current record starts.
    line: u64,
    /// `\n`s consumed inside the current record so far.
    newlines: u64,
    /// The last call returned a record: the next one starts after it.
    returned: bool,
    /// The start of the input was checked for a byte-order mark.
    bom_checked: bool,
}

impl Splitter {
    pub fn new(delimiter: u8, quote: u8) -> Splitter {
        Splitter {
            delimiter,
            quote,
            buf: Vec::new(),
            rec: 0,
            pos: 0,
            state: State::FieldStart,
            field_start: 0,
            escaped: false,
            fields: Vec::new(),
            scratch: Vec::new(),
            line: 1,
            newlines: 0,
            returned: false,
            bom_checked: false,
        }
    }

    /// Appends input. Bytes of records already returned are dropped first.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.advance();
        if self.rec > 0 {
            self.buf.drain(..self.rec);
            self.pos -= self.rec;
            self.rec = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held for an incomplete record (a bound on what a caller buffers).
    pub fn pending_bytes(&self) -> usize {
        self.buf.len() - self.rec
    }

    /// Starts the next record after the one returned last.
    fn advance(&mut self) {
        if self.returned {
            self.returned = false;
            self.rec = self.pos;
            self.line += self.newlines;
            self.newlines = 0;
            self.fields.clear();
            self.scratch.clear();
            self.state = State::FieldStart;
        }
    }

    /// The next complete record; `None` when more input is needed (or, with `eof`, when the
    /// input is exhausted). With `eof`, a last record without a newline is complete. Blank
    /// lines are skipped.
    pub fn next_record(&mut self, eof: bool) -> Result<Option<Record<'_>>, SplitError> {
        self.advance();
        if !self.bom_checked {
            let have = &self.buf[self.pos..];
            if have.len() < BOM.len() && BOM.starts_with(have) && !eof {
                return Ok(None);
            }
            if have.starts_with(BOM) {
                self.pos += BOM.len();
                self.rec = self.pos;
            }
            self.bom_checked = true;
        }
        loop {
            if !self.scan(eof)? {
                return Ok(None);
            }
            let blank = self.fields.len() == 1
                && !self.fields[0].quoted
                && self.fields[0].start == self.fields[0].end;
            self.returned = true;
            if blank {
                self.advance();
                continue;
            }
            self.unescape();
            return Ok(Some(Record {
                line: self.line,
                bytes: &self.buf[self.rec..self.pos],
                scratch: &self.scratch,
                fields: &self.fields,
            }));
        }
    }

    /// Runs the state machine from `pos`; true when a record is complete.
    fn scan(&mut self, eof: bool) -> Result<bool, SplitError> {
        let (delim, quote) = (self.delimiter, self.quote);
        let buf = &self.buf;
        let n = buf.len();
        let rec = self.rec;
        let mut i = self.pos;
        let mut state = self.state;
        let complete = loop {
            match state {
                State::FieldStart => {
                    if i == n {
                        if eof && !self.fields.is_empty() {
                            // "a,b," at the end: one more, empty field.
                            push(&mut self.fields, i - rec, i - rec, false, false);
                            break true;
                        }
                        break false;
                    }
                    if buf[i] == quote {
                        i += 1;
                        self.escaped = false;
                        state = State::Quoted;
                    } else {
                        state = State::Unquoted;
                    }
                    self.field_start = i - rec;
                }
                State::Unquoted => {
                    while i < n && buf[i] != delim && buf[i] != b'\n' {
                        i += 1;
                    }
                    if i == n && !eof {
                        break false;
                    }
                    let mut end = i - rec;
                    let newline = i < n && buf[i] == b'\n';
                    if (newline || i == n) && end > self.field_start && buf[rec + end - 1] == b'\r'
                    {
                        end -= 1;
                    }
                    push(&mut self.fields, self.field_start, end, false, false);
                    state = State::FieldStart;
                    if i == n {
                        break true;
                    }
                    i += 1;
                    if newline {
                        self.newlines += 1;
                        break true;
                    }
                }
                State::Quoted => {
                    while i < n && buf[i] != quote {
                        if buf[i] == b'\n' {
                            self.newlines += 1;
                        }
                        i += 1;
                    }
                    if i == n {
                        if eof {
                            return Err(SplitError {
                                line: self.line,
                                message: format!(
                                    "a quoted field starting on this line is not closed at the end of the input (a {} is missing)",
                                    char::from(quote)
                                ),
                            });
                        }
                        break false;
                    }
                    i += 1;
                    state = State::QuoteInQuoted;
                }
                State::QuoteInQuoted => {
                    let end = i - 1 - rec;
                    if i == n {
                        if eof {
                            push(&mut self.fields, self.field_start, end, true, self.escaped);
                            state = State::FieldStart;
                            break true;
                        }
                        break false;
                    }
                    let b = buf[i];
                    i += 1;
                    if b == quote {
                        self.escaped = true;
                        state = State::Quoted;
                        continue;
                    }
                    push(&mut self.fields, self.field_start, end, true, self.escaped);
                    state = State::FieldStart;
                    if b == delim {
                        continue;
                    }
                    if b == b'\n' {
                        self.newlines += 1;
                        break true;
                    }
                    if b == b'\r' {
                        state = State::CarriageReturn;
                        continue;
                    }
                    return Err(SplitError {
                        line: self.line + self.newlines,
                        message: format!(
                            "unexpected {:?} after the closing quote of a quoted field (write a \
                             quote inside a quoted field as two quotes)",
                            char::from(b)
                        ),
                    });
                }
                State::CarriageReturn => {
                    if i == n {
                        if eof {
                            state = State::FieldStart;
                            break true;
                        }
                        break false;
                    }
                    if buf[i] != b'\n' {
                        return Err(SplitError {
                            line: self.line + self.newlines,
                            message: "a carriage return after a quoted field must end the line"
                                .into(),
                        });
                    }
                    i += 1;
                    self.newlines += 1;
                    state = State::FieldStart;
                    break true;
                }
            }
        };
        self.pos = i;
        self.state = state;
        Ok(complete)
    }

    /// Copies fields holding `""` into the scratch buffer with the escapes undone.
    fn unescape(&mut self) {
        let quote = self.quote;
        let bytes = &self.buf[self.rec..self.pos];
        for f in self.fields.iter_mut().filter(|f| f.unescaped) {
            let start = self.scratch.len();
            let mut prev_quote = false;
            for &b in &bytes[f.start..f.end] {
                if b == quote && prev_quote {
                    prev_quote = false;
                    continue;
                }
                prev_quote = b == quote;
                self.scratch.push(b);
            }
            f.start = start;
            f.end = self.scratch.len();
        }
    }
}

fn push(fields: &mut Vec<Field>, start: usize, end: usize, quoted: bool, unescaped: bool) {
    fields.push(Field {
        start,
        end,
        raw_start: start,
        quoted,
        unescaped,
    });
}
