//! A JSON scanner for the fast decoders: it walks one record's text, hands out the keys and the
//! plain values a schema reads (strings borrowed from the record, integers, booleans) and skips
//! every other value structurally, without building it.
//!
//! It is the first half of a fast path whose second half is the serde decoder: whenever the
//! record holds anything it does not read exactly as serde_json would (an escape in a string it
//! keeps or in a key, a number that is not a plain integer where one is kept, `null`, nesting
//! past [`MAX_SKIP_DEPTH`], invalid JSON anywhere), it answers [`Unusual`] and the caller decodes
//! the record with serde instead. So a fast decoder never decides what a record means when the
//! two could differ; it only saves the work of the general parser on the records every log is
//! made of. Skipped values are still checked to be valid JSON (strings without control
//! characters and with valid escapes, numbers by the grammar, literals, brackets and commas), so
//! a record serde would reject is never accepted here.

/// The record holds something the fast path does not read as serde would: decode it with serde.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unusual;

/// What a scanning step gives: the value, or [`Unusual`].
pub(crate) type Scan<T> = Result<T, Unusual>;

/// How deep a skipped value may nest before the record is left to serde (serde_json stops at
/// 128 levels from the record's root; skipped values start a few levels down).
pub(crate) const MAX_SKIP_DEPTH: u32 = 64;

/// A position in one record's text.
pub(crate) struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner at the start of `text` (one whole record).
    pub(crate) fn new(text: &'a str) -> Scanner<'a> {
        Scanner { text, pos: 0 }
    }

    #[inline]
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// Passes over JSON whitespace.
    #[inline]
    fn ws(&mut self) {
        let bytes = self.bytes();
        // Compact records have none: one comparison decides.
        if bytes.get(self.pos).is_none_or(|b| *b > b' ') {
            return;
        }
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.bytes().get(self.pos).copied()
    }

    /// Consumes `byte` after whitespace.
    #[inline]
    fn eat(&mut self, byte: u8) -> Scan<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Unusual)
        }
    }

    /// Whether only whitespace is left.
    pub(crate) fn end(&mut self) -> Scan<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(Unusual),
        }
    }

    /// Opens an object: the next value must be one.
    #[inline]
    pub(crate) fn object(&mut self) -> Scan<Members> {
        self.eat(b'{')?;
        Ok(Members { first: true })
    }

    /// Opens an array: the next value must be one.
    #[inline]
    pub(crate) fn array(&mut self) -> Scan<Items> {
        self.eat(b'[')?;
        Ok(Items { first: true })
    }

    /// The next key of the object `members` walks, with its `:` consumed, or `None` after its
    /// closing brace. A key with an escape is [`Unusual`] (serde would match it unescaped).
    #[inline]
    pub(crate) fn key(&mut self, members: &mut Members) -> Scan<Option<&'a str>> {
        let next = self.peek().ok_or(Unusual)?;
        if members.first {
            members.first = false;
            if next == b'}' {
                self.pos += 1;
                return Ok(None);
            }
        } else {
            match next {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Ok(None);
                }
                _ => return Err(Unusual),
            }
        }
        let key = self.string()?;
        self.eat(b':')?;
        Ok(Some(key))
    }

    /// Reads the next value with `read`, and gives the text it was read from along with it.
    #[inline]
    pub(crate) fn spanned<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Scan<T>,
    ) -> Scan<(T, &'a str)> {
        self.ws();
        let start = self.pos;
        let value = read(self)?;
        Ok((value, self.text.get(start..self.pos).ok_or(Unusual)?))
    }

    /// Whether the array `items` walks has another value (then positioned before it).
    #[inline]
    pub(crate) fn item(&mut self, items: &mut Items) -> Scan<bool> {
        let next = self.peek().ok_or(Unusual)?;
        if items.first {
            items.first = false;
            if next == b']' {
                self.pos += 1;
                return Ok(false);
            }
            return Ok(true);
        }
        match next {
            b',' => {
                self.pos += 1;
                Ok(true)
            }
            b']' => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(Unusual),
        }
    }

    /// A string without escapes or control characters, borrowed from the record.
    #[inline]
    pub(crate) fn string(&mut self) -> Scan<&'a str> {
        let bytes = self.bytes();
        // Compact records have the quote right here: whitespace is only looked for otherwise.
        if bytes.get(self.pos) != Some(&b'"') {
            self.ws();
            if bytes.get(self.pos) != Some(&b'"') {
                return Err(Unusual);
            }
        }
        let start = self.pos + 1;
        let end = special(bytes, start).ok_or(Unusual)?;
        if bytes[end] != b'"' {
            return Err(Unusual);
        }
        self.pos = end + 1;
        // Both ends are ASCII quotes, so they are character boundaries of the text.
        self.text.get(start..end).ok_or(Unusual)
    }

    /// A non-negative integer written as a plain JSON number (no sign, fraction or exponent)
    /// that fits in a `u64`.
    #[inline]
    pub(crate) fn u64(&mut self) -> Scan<u64> {
        self.ws();
        let bytes = self.bytes();
        let start = self.pos;
        let mut end = start;
        let mut value: u64 = 0;
        while let Some(&b) = bytes.get(end) {
            if !b.is_ascii_digit() {
                break;
            }
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .ok_or(Unusual)?;
            end += 1;
        }
        let digits = end - start;
        if digits == 0
            || (digits > 1 && bytes[start] == b'0')
            || matches!(bytes.get(end), Some(b'.' | b'e' | b'E'))
        {
            return Err(Unusual);
        }
        self.pos = end;
        Ok(value)
    }

    /// A non-negative integer that fits in a `u32`.
    #[inline]
    pub(crate) fn u32(&mut self) -> Scan<u32> {
        u32::try_from(self.u64()?).map_err(|_| Unusual)
    }

    /// `true` or `false`.
    #[inline]
    pub(crate) fn bool(&mut self) -> Scan<bool> {
        self.ws();
        let rest = &self.bytes()[self.pos..];
        if rest.starts_with(b"true") {
            self.pos += 4;
            Ok(true)
        } else if rest.starts_with(b"false") {
            self.pos += 5;
            Ok(false)
        } else {
            Err(Unusual)
        }
    }

    /// The next value's first byte, not consumed: `"` a string, `{`, `[`, a digit or `-` a
    /// number, `t`/`f`/`n` a literal.
    #[inline]
    pub(crate) fn next_byte(&mut self) -> Scan<u8> {
        self.peek().ok_or(Unusual)
    }

    /// Consumes a `null` when one is next (serde reads it as an absent `Option`), and says
    /// whether it did.
    #[inline]
    pub(crate) fn null(&mut self) -> Scan<bool> {
        if self.next_byte()? != b'n' {
            return Ok(false);
        }
        self.literal(b"null")?;
        Ok(true)
    }

    /// Reads an optional value with `read`, as serde reads an `Option`: `null` is `None`.
    #[inline]
    pub(crate) fn optional<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Scan<T>,
    ) -> Scan<Option<T>> {
        if self.null()? {
            return Ok(None);
        }
        read(self).map(Some)
    }

    /// Skips one value of any kind, checking that it is valid JSON.
    pub(crate) fn skip(&mut self) -> Scan<()> {
        // One bit per open container, 1 for an object.
        let mut open: u64 = 0;
        let mut depth = 0u32;
        loop {
            // A value.
            match self.peek().ok_or(Unusual)? {
                b'"' => self.skip_string()?,
                b'{' => {
                    self.pos += 1;
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                    } else {
                        depth += 1;
                        if depth > MAX_SKIP_DEPTH {
                            return Err(Unusual);
                        }
                        open = open << 1 | 1;
                        self.skip_string()?;
                        self.eat(b':')?;
                        continue;
                    }
                }
                b'[' => {
                    self.pos += 1;
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                    } else {
                        depth += 1;
                        if depth > MAX_SKIP_DEPTH {
                            return Err(Unusual);
                        }
                        open <<= 1;
                        continue;
                    }
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => self.skip_number()?,
                _ => return Err(Unusual),
            }
            // After a value: close what ends here, or go on to the next member or item.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let in_object = open & 1 == 1;
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if in_object {
                            self.skip_string()?;
                            self.eat(b':')?;
                        }
                        break;
                    }
                    Some(b'}') if in_object => {}
                    Some(b']') if !in_object => {}
                    _ => return Err(Unusual),
                }
                self.pos += 1;
                open >>= 1;
                depth -= 1;
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Scan<()> {
        if self.bytes()[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Unusual)
        }
    }

    /// Skips a string, escapes included, checking them as serde_json does when it ignores one.
    fn skip_string(&mut self) -> Scan<()> {
        self.eat(b'"')?;
        let bytes = self.bytes();
        loop {
            let end = special(bytes, self.pos).ok_or(Unusual)?;
            match bytes[end] {
                b'"' => {
                    self.pos = end + 1;
                    return Ok(());
                }
                b'\\' => {}
                _ => return Err(Unusual),
            }
            let escape = *bytes.get(end + 1).ok_or(Unusual)?;
            self.pos = end + 2;
            match escape {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                b'u' => {
                    let hex = bytes.get(self.pos..self.pos + 4).ok_or(Unusual)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return Err(Unusual);
                    }
                    self.pos += 4;
                }
                _ => return Err(Unusual),
            }
        }
    }

    /// Skips a number, checking the JSON grammar.
    fn skip_number(&mut self) -> Scan<()> {
        let bytes = self.bytes();
        let digits = |from: usize| {
            bytes[from..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let mut pos = self.pos;
        if bytes[pos] == b'-' {
            pos += 1;
        }
        match digits(pos) {
            0 => return Err(Unusual),
            n if n > 1 && bytes[pos] == b'0' => return Err(Unusual),
            n => pos += n,
        }
        if bytes.get(pos) == Some(&b'.') {
            pos += 1;
            match digits(pos) {
                0 => return Err(Unusual),
                n => pos += n,
            }
        }
        if let Some(b'e' | b'E') = bytes.get(pos) {
            pos += 1;
            if let Some(b'+' | b'-') = bytes.get(pos) {
                pos += 1;
            }
            match digits(pos) {
                0 => return Err(Unusual),
                n => pos += n,
            }
        }
        self.pos = pos;
        Ok(())
    }
}

/// Where the first byte from `from` on is one that ends a string's plain run: a quote, a
/// backslash, or a control character (which JSON forbids unescaped). Eight bytes at a time:
/// the lowest flagged byte of a word is exact (borrows only run towards higher bytes).
#[inline]
fn special(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut words = bytes.get(from..)?.chunks_exact(8);
    let mut at = from;
    for word in &mut words {
        let mut x = [0; 8];
        x.copy_from_slice(word);
        let x = u64::from_le_bytes(x);
        let found = zero(x ^ (ONES * u64::from(b'"')))
            | zero(x ^ (ONES * u64::from(b'\\')))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGH);
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|b| matches!(b, b'"' | b'\\' | 0..=0x1f))
        .map(|i| at + i)
}

/// The state of walking one object's members ([`Scanner::key`]).
pub(crate) struct Members {
    first: bool,
}

/// The state of walking one array's items ([`Scanner::item`]).
pub(crate) struct Items {
    first: bool,
}

/// Marks `bit` of `seen`, or [`Unusual`] when it was marked before: a key given twice (serde
/// rejects a repeated field, aliases included).
#[inline]
pub(crate) fn once(seen: &mut u64, bit: u32) -> Scan<()> {
    let mask = 1 << bit;
    if *seen & mask != 0 {
        return Err(Unusual);
    }
    *seen |= mask;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skips(text: &str) -> bool {
        let mut s = Scanner::new(text);
        s.skip().is_ok() && s.end().is_ok()
    }

    #[test]
    fn skipping_accepts_exactly_what_serde_json_accepts() {
        let cases = [
            r#"{"a":[1,2,{"b":"c\"}"}],"d":{}}"#,
            r#"[]"#,
            r#"[[[[]]],{},"x",-0.5e+3,true,false,null]"#,
            r#""\u00e9\n\/""#,
            r#"{"k\u0041":1}"#,
            "  {\"a\" : [ 1 , 2 ] }  ",
            "0",
            "-",
            "01",
            "1.",
            "1e",
            ".5",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{\"a\":1 \"b\":2}",
            "[1 2]",
            "{1:2}",
            "\"tab\there\"",
            "\"\\x\"",
            "\"\\u12g4\"",
            "\"open",
            "[",
            "{\"a\":[}",
            "tru",
            "nul",
            "[true false]",
            "{\"a\":1]",
            "[1}",
        ];
        for text in cases {
            let serde = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
            assert_eq!(skips(text), serde, "{text:?}");
        }
    }

    #[test]
    fn deep_nesting_is_left_to_serde() {
        let deep = format!("{}{}", "[".repeat(70), "]".repeat(70));
        assert!(!skips(&deep));
        let shallow = format!("{}{}", "[".repeat(60), "]".repeat(60));
        assert!(skips(&shallow));
    }

    #[test]
    fn strings_are_borrowed_only_without_escapes_or_control_characters() {
        assert_eq!(Scanner::new(r#""node-a""#).string(), Ok("node-a"));
        assert_eq!(Scanner::new(r#""caf\u00e9""#).string(), Err(Unusual));
        assert_eq!(Scanner::new(r#""a\"b""#).string(), Err(Unusual));
        assert_eq!(Scanner::new("\"a\u{1}b\"").string(), Err(Unusual));
        assert_eq!(Scanner::new("\"ünï\"").string(), Ok("ünï"));
        assert_eq!(Scanner::new("\"unterminated").string(), Err(Unusual));
    }

    #[test]
    fn integers_are_plain_digits_in_range() {
        let u = |t: &str| Scanner::new(t).u64();
        assert_eq!(u("0"), Ok(0));
        assert_eq!(u(" 8080,"), Ok(8080));
        assert_eq!(u("18446744073709551615"), Ok(u64::MAX));
        for odd in [
            "18446744073709551616",
            "-1",
            "1.0",
            "1e3",
            "01",
            "\"1\"",
            "",
        ] {
            assert_eq!(u(odd), Err(Unusual), "{odd}");
        }
        assert_eq!(Scanner::new("4294967296").u32(), Err(Unusual));
    }

    #[test]
    fn objects_and_arrays_are_walked_member_by_member() {
        let mut s = Scanner::new(r#"{"a":[1,2],"b":true}"#);
        let mut members = s.object().unwrap();
        assert_eq!(s.key(&mut members), Ok(Some("a")));
        let mut items = s.array().unwrap();
        let mut sum = 0;
        while s.item(&mut items).unwrap() {
            sum += s.u64().unwrap();
        }
        assert_eq!(sum, 3);
        assert_eq!(s.key(&mut members), Ok(Some("b")));
        assert_eq!(s.bool(), Ok(true));
        assert_eq!(s.key(&mut members), Ok(None));
        assert_eq!(s.end(), Ok(()));
        // A trailing comma and a missing colon are not JSON.
        let mut s = Scanner::new(r#"{"a":1,}"#);
        let mut members = s.object().unwrap();
        s.key(&mut members).unwrap();
        s.u64().unwrap();
        assert_eq!(s.key(&mut members), Err(Unusual));
        let mut s = Scanner::new(r#"{"a" 1}"#);
        let mut members = s.object().unwrap();
        assert_eq!(s.key(&mut members), Err(Unusual));
    }

    #[test]
    fn the_first_special_byte_is_found_at_every_offset() {
        // Every position of a quote, a backslash or a control character in runs longer than a
        // word, after plain ASCII and after multi-byte characters (bytes >= 0x80).
        for filler in ["a", "é"] {
            for len in 0..40 {
                for stop in [b'"', b'\\', 0x00, 0x1f] {
                    let mut text = filler.repeat(len).into_bytes();
                    let at = text.len();
                    text.push(stop);
                    text.extend_from_slice(b"x\"y");
                    for from in 0..=at.min(9) {
                        assert_eq!(special(&text, from), Some(at), "{filler} {len} {stop}");
                    }
                }
                let plain = filler.repeat(len).into_bytes();
                assert_eq!(special(&plain, 0), None);
                let space = " ".repeat(len).into_bytes();
                assert_eq!(special(&space, 0), None, "0x20 is not a control character");
            }
        }
    }

    #[test]
    fn a_repeated_key_is_unusual() {
        let mut seen = 0;
        assert_eq!(once(&mut seen, 3), Ok(()));
        assert_eq!(once(&mut seen, 4), Ok(()));
        assert_eq!(once(&mut seen, 3), Err(Unusual));
    }
}
