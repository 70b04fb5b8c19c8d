//! Printing results: a two-column table for people, one JSON object for machines.

use serde_json::{Map, Value};

/// An ordered list of named values, printed as a table or as one JSON object.
#[derive(Default)]
pub struct Report {
    fields: Map<String, Value>,
}

impl Report {
    /// Adds a field (keeps insertion order).
    pub fn set(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.fields.insert(key.to_string(), value.into());
        self
    }

    /// The report as pretty-printed JSON bytes (for `metrics.json`).
    pub fn to_json_pretty(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(&self.to_json()).expect("JSON values serialize")
    }

    /// Appends every field of `other`.
    pub fn extend(&mut self, other: Report) -> &mut Self {
        self.fields.extend(other.fields);
        self
    }

    /// The fields as one JSON object.
    pub fn to_json(&self) -> Value {
        Value::Object(self.fields.clone())
    }

    /// Prints one JSON object (`json`) or an aligned `key  value` table on stdout.
    pub fn print(&self, json: bool) {
        if json {
            println!("{}", self.to_json());
            return;
        }
        let width = self.fields.keys().map(String::len).max().unwrap_or(0);
        for (k, v) in &self.fields {
            let shown = match v {
                Value::Null => "-".to_string(),
                Value::String(s) => s.clone(),
                Value::Number(n) => match n.as_f64() {
                    Some(x) if n.is_f64() => format_number(x),
                    _ => n.to_string(),
                },
                other => other.to_string(),
            };
            println!("{k:<width$}  {shown}");
        }
    }
}

/// A float with 10 significant digits, in scientific notation when very small or large.
pub fn format_number(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e7) {
        format!("{x:.6e}")
    } else {
        format!("{}", (x * 1e10).round() / 1e10)
    }
}
