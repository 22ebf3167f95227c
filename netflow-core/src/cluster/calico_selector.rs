//! Calico's selector expressions (`app == 'web' && has(tier)`, `role in {'a', 'b'}`, `all()`),
//! parsed and matched against a label map — only to tell which pods a Calico policy flowq does
//! not evaluate applies to. An expression that does not parse is an error naming where; the
//! caller then says the policy may select the pod.

use std::collections::BTreeMap;

/// A parsed Calico selector expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalicoSelector(Expr);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    All,
    /// `global()`: non-namespaced resources; a pod never is one.
    Global,
    Has(String),
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Contains(String, String),
    StartsWith(String, String),
    EndsWith(String, String),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

impl CalicoSelector {
    /// Parses an expression; an empty one is `all()`. The error says what was expected where.
    pub fn parse(text: &str) -> Result<CalicoSelector, String> {
        let mut p = Parser {
            text,
            pos: 0,
            depth: 0,
        };
        p.skip_ws();
        if p.pos == text.len() {
            return Ok(CalicoSelector(Expr::All));
        }
        let expr = p.or()?;
        p.skip_ws();
        if p.pos != text.len() {
            return Err(p.error("end of the expression"));
        }
        Ok(CalicoSelector(expr))
    }

    /// Whether `labels` satisfy the expression.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.matches(labels)
    }
}

impl Expr {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let get = |k: &String| labels.get(k);
        match self {
            Expr::All => true,
            Expr::Global => false,
            Expr::Has(k) => get(k).is_some(),
            Expr::Eq(k, v) => get(k) == Some(v),
            Expr::Ne(k, v) => get(k) != Some(v),
            Expr::In(k, vs) => get(k).is_some_and(|x| vs.contains(x)),
            Expr::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(x)),
            Expr::Contains(k, s) => get(k).is_some_and(|x| x.contains(s.as_str())),
            Expr::StartsWith(k, s) => get(k).is_some_and(|x| x.starts_with(s.as_str())),
            Expr::EndsWith(k, s) => get(k).is_some_and(|x| x.ends_with(s.as_str())),
            Expr::Not(e) => !e.matches(labels),
            Expr::And(a, b) => a.matches(labels) && b.matches(labels),
            Expr::Or(a, b) => a.matches(labels) || b.matches(labels),
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    /// How many `!` and `(` enclose the current position: bounded, so that a hostile
    /// expression cannot overflow the stack.
    depth: usize,
}

/// How deeply `!` and parentheses may nest; real selectors nest a few levels.
const MAX_DEPTH: usize = 64;

impl Parser<'_> {
    fn error(&self, expected: &str) -> String {
        let found = self.rest().chars().take(12).collect::<String>();
        if found.is_empty() {
            format!("does not parse: expected {expected} at its end")
        } else {
            format!(
                "does not parse: expected {expected} at offset {}, found {found:?}",
                self.pos
            )
        }
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    /// Consumes `token` (after whitespace) when it is next.
    fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    /// Consumes a word operator (`in`, `not`, `contains`) only when a word boundary follows.
    fn eat_word(&mut self, word: &str) -> bool {
        self.skip_ws();
        let rest = self.rest();
        if rest.starts_with(word)
            && !rest[word.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.eat("||") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.eat("&&") {
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!(
                "does not parse: nested more than {MAX_DEPTH} levels deep"
            ));
        }
        if self.eat("!") {
            self.depth += 1;
            let inner = self.unary();
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner?)));
        }
        if self.eat("(") {
            self.depth += 1;
            let inner = self.or();
            self.depth -= 1;
            let inner = inner?;
            if !self.eat(")") {
                return Err(self.error("')'"));
            }
            return Ok(inner);
        }
        for (call, expr) in [("all()", Expr::All), ("global()", Expr::Global)] {
            if self.eat(call) {
                return Ok(expr);
            }
        }
        if self.eat_word("has") {
            if !self.eat("(") {
                return Err(self.error("'(' after has"));
            }
            let key = self.key()?;
            if !self.eat(")") {
                return Err(self.error("')'"));
            }
            return Ok(Expr::Has(key));
        }
        let key = self.key()?;
        if self.eat("==") {
            return Ok(Expr::Eq(key, self.string()?));
        }
        if self.eat("!=") {
            return Ok(Expr::Ne(key, self.string()?));
        }
        if self.eat_word("in") {
            return Ok(Expr::In(key, self.set()?));
        }
        if self.eat_word("not") {
            if !self.eat_word("in") {
                return Err(self.error("'in' after 'not'"));
            }
            return Ok(Expr::NotIn(key, self.set()?));
        }
        if self.eat_word("contains") {
            return Ok(Expr::Contains(key, self.string()?));
        }
        if self.eat_word("starts") && self.eat_word("with") {
            return Ok(Expr::StartsWith(key, self.string()?));
        }
        if self.eat_word("ends") && self.eat_word("with") {
            return Ok(Expr::EndsWith(key, self.string()?));
        }
        Err(self.error("==, !=, in, not in, contains, starts with or ends with"))
    }

    fn key(&mut self) -> Result<String, String> {
        self.skip_ws();
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-')))
            .unwrap_or(self.rest().len());
        if len == 0 {
            return Err(self.error("a label key"));
        }
        let key = self.rest()[..len].to_string();
        self.pos += len;
        Ok(key)
    }

    fn string(&mut self) -> Result<String, String> {
        self.skip_ws();
        let quote = match self.rest().chars().next() {
            Some(q @ ('\'' | '"')) => q,
            _ => return Err(self.error("a quoted string")),
        };
        let body = &self.rest()[1..];
        let Some(end) = body.find(quote) else {
            return Err(self.error("a closing quote"));
        };
        let value = body[..end].to_string();
        self.pos += end + 2;
        Ok(value)
    }

    fn set(&mut self) -> Result<Vec<String>, String> {
        if !self.eat("{") {
            return Err(self.error("'{'"));
        }
        let mut values = Vec::new();
        if self.eat("}") {
            return Ok(values);
        }
        loop {
            values.push(self.string()?);
            if self.eat("}") {
                return Ok(values);
            }
            if !self.eat(",") {
                return Err(self.error("',' or '}'"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn matches(expr: &str, pairs: &[(&str, &str)]) -> bool {
        CalicoSelector::parse(expr)
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
            .matches(&labels(pairs))
    }

    #[test]
    fn calico_selector_operators_match_as_calico_defines_them() {
        let web = [("app", "web"), ("tier", "frontend")];
        assert!(matches("", &web));
        assert!(matches("all()", &[]));
        assert!(!matches("global()", &web));
        assert!(matches("app == 'web'", &web));
        assert!(matches("app == \"web\" && has(tier)", &web));
        assert!(!matches("app != 'web'", &web));
        assert!(matches("missing != 'x'", &web));
        assert!(matches("tier in {'frontend', 'edge'}", &web));
        assert!(!matches("tier not in {'frontend'}", &web));
        assert!(matches("tier not in {'db'}", &web));
        assert!(matches("!has(db)", &web));
        assert!(matches(
            "app contains 'e' && app starts with 'w' && app ends with 'b'",
            &web
        ));
        assert!(matches(
            "app == 'db' || (tier == 'frontend' && !has(x))",
            &web
        ));
        assert!(!matches("app == 'db' || tier == 'db'", &web));
        assert!(matches(
            "projectcalico.org/namespace == 'shop'",
            &[("projectcalico.org/namespace", "shop")]
        ));
    }

    #[test]
    fn a_deeply_nested_selector_is_refused_without_overflowing_the_stack() {
        for deep in [
            format!("{}all(){}", "(".repeat(100_000), ")".repeat(100_000)),
            format!("{}all()", "!".repeat(100_000)),
        ] {
            let err = CalicoSelector::parse(&deep).unwrap_err();
            assert!(err.contains("nested more than 64 levels"), "{err}");
        }
        assert!(matches(
            &format!("{}all(){}", "(".repeat(10), ")".repeat(10)),
            &[]
        ));
    }

    #[test]
    fn a_calico_selector_that_does_not_parse_says_where() {
        for bad in [
            "app ==",
            "app = 'x'",
            "has(app",
            "app in {'a' 'b'}",
            "(app == 'x'",
            "x == 'y' z",
        ] {
            let err = CalicoSelector::parse(bad).unwrap_err();
            assert!(err.starts_with("does not parse: expected"), "{bad}: {err}");
        }
    }
}
