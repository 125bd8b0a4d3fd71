//! A small SQL builder for dynamic queries (search) that numbers placeholders `$1, $2, ...`
//! as both backends accept. sqlx's own QueryBuilder writes `?` for the Any driver, which
//! PostgreSQL rejects.

use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments, Encode, Type};

pub struct Sql {
    text: String,
    args: AnyArguments<'static>,
    n: usize,
}

impl Sql {
    pub fn new(s: &str) -> Self {
        Sql {
            text: s.to_owned(),
            args: AnyArguments::default(),
            n: 0,
        }
    }

    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Append a placeholder bound to `v`.
    pub fn bind<T>(&mut self, v: T) -> &mut Self
    where
        T: 'static + Send + Encode<'static, Any> + Type<Any>,
    {
        self.n += 1;
        self.text.push('$');
        self.text.push_str(&self.n.to_string());
        // Encoding into AnyArguments only pushes a value; it cannot fail for our types.
        let _ = self.args.add(v);
        self
    }

    /// `(a, b, c)` placeholders for an IN list.
    pub fn bind_list<T>(&mut self, vs: impl IntoIterator<Item = T>) -> &mut Self
    where
        T: 'static + Send + Encode<'static, Any> + Type<Any>,
    {
        self.push("(");
        for (i, v) in vs.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(v);
        }
        self.push(")")
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text and its arguments, for `sqlx::query_with(&text, args)`.
    pub fn parts(self) -> (String, AnyArguments<'static>) {
        (self.text, self.args)
    }
}

/// `%needle%` for LIKE, with LIKE's own wildcards escaped (use with `ESCAPE '\'`).
pub fn contains_pattern(needle: &str) -> String {
    let mut s = String::with_capacity(needle.len() + 2);
    s.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('%');
    s
}
