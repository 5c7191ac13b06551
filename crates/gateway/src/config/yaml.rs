//! Reading marked YAML nodes: typed accessors that record a [`ConfigIssue`] instead of failing.
//!
//! Every accessor takes the node, its field path (`routes[0].to`) and the [`Issues`] collector,
//! so that one pass over the file reports every problem at once.

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use super::ConfigIssue;

/// A YAML node with its position in the file.
pub(crate) type Node<'a> = MarkedYaml<'a>;

/// Errors and warnings found so far.
#[derive(Debug, Default)]
pub(crate) struct Issues {
    /// Problems that make the config unusable.
    pub errors: Vec<ConfigIssue>,
    /// Problems worth printing once, e.g. a Pomerium key that has no effect here.
    pub warnings: Vec<ConfigIssue>,
}

impl Issues {
    /// Records an error.
    pub fn error(&mut self, line: usize, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigIssue { line, field: field.into(), message: message.into() });
    }

    /// Records a warning.
    pub fn warn(&mut self, line: usize, field: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(ConfigIssue { line, field: field.into(), message: message.into() });
    }
}

/// Parses YAML text into its first document (an empty file gives a null node).
pub(crate) fn load(text: &str) -> Result<Node<'_>, ConfigIssue> {
    match MarkedYaml::load_from_str(text) {
        Ok(docs) => Ok(docs.into_iter().next().unwrap_or_else(|| MarkedYaml::value_from_str("~"))),
        Err(e) => Err(ConfigIssue {
            line: e.marker().line(),
            field: String::new(),
            message: format!("invalid YAML: {}", e.info()),
        }),
    }
}

/// 1-based line where `node` starts.
pub(crate) fn line(node: &Node<'_>) -> usize {
    node.span.start.line()
}

/// Joins a parent field path and a key (`routes[0]` + `to` → `routes[0].to`).
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_owned() } else { format!("{parent}.{key}") }
}

/// Whether the node is YAML null (`~`, `null`, or nothing).
pub(crate) fn is_null(node: &Node<'_>) -> bool {
    matches!(node.data, YamlData::Value(Scalar::Null))
}

/// The scalar as text (numbers and booleans in their YAML form), or `None` for collections/null.
pub(crate) fn scalar_text(node: &Node<'_>) -> Option<String> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Some(s.to_string()),
        YamlData::Value(Scalar::Integer(i)) => Some(i.to_string()),
        YamlData::Value(Scalar::FloatingPoint(f)) => Some(f.to_string()),
        YamlData::Value(Scalar::Boolean(b)) => Some(b.to_string()),
        YamlData::Representation(s, _, _) => Some(s.to_string()),
        YamlData::Tagged(_, inner) => scalar_text(inner),
        _ => None,
    }
}

/// A scalar as text; records an error for collections and null.
pub(crate) fn string(node: &Node<'_>, field: &str, issues: &mut Issues) -> Option<String> {
    let text = scalar_text(node);
    if text.is_none() {
        issues.error(line(node), field, "expected a string");
    }
    text
}

/// A boolean; records an error otherwise.
pub(crate) fn boolean(node: &Node<'_>, field: &str, issues: &mut Issues) -> Option<bool> {
    match &node.data {
        YamlData::Value(Scalar::Boolean(b)) => Some(*b),
        _ => {
            issues.error(line(node), field, "expected true or false");
            None
        }
    }
}

/// A list of strings given as a YAML sequence or a single (optionally comma-separated) string.
/// Each item comes with its line and field path.
pub(crate) fn string_list(
    node: &Node<'_>,
    field: &str,
    split_commas: bool,
    issues: &mut Issues,
) -> Vec<(String, usize, String)> {
    if let Some(items) = node.data.as_sequence() {
        return items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let item_field = format!("{field}[{i}]");
                string(item, &item_field, issues).map(|s| (s, line(item), item_field))
            })
            .collect();
    }
    let Some(text) = string(node, field, issues) else {
        return Vec::new();
    };
    let parts: Vec<String> = if split_commas {
        text.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
    } else {
        vec![text]
    };
    parts.into_iter().map(|s| (s, line(node), field.to_owned())).collect()
}

/// The entries of a mapping as `(key text, key node, value node)`; records an error (and returns
/// `None`) when the node is not a mapping or a key is not a scalar.
pub(crate) fn entries<'n, 'a>(
    node: &'n Node<'a>,
    field: &str,
    issues: &mut Issues,
) -> Option<Vec<(String, &'n Node<'a>, &'n Node<'a>)>> {
    let Some(map) = node.data.as_mapping() else {
        issues.error(line(node), field, "expected a mapping (`key: value` lines)");
        return None;
    };
    let mut out = Vec::with_capacity(map.len());
    for (k, v) in map {
        match scalar_text(k) {
            Some(key) => out.push((key, k, v)),
            None => issues.error(line(k), field, "mapping keys must be plain strings"),
        }
    }
    Some(out)
}

/// Levenshtein distance, for "did you mean" hints.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest of `known` to `key` within edit distance 2, if any.
pub(crate) fn suggest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known.iter().map(|k| (edit_distance(key, k), *k)).filter(|(d, _)| *d <= 2).min_by_key(|(d, _)| *d).map(|(_, k)| k)
}

/// The message for an unknown key, with a "did you mean" hint when one is close.
pub(crate) fn unknown_key_message(key: &str, known: &[&str]) -> String {
    match suggest(key, known) {
        Some(k) => format!("unknown key `{key}`; did you mean `{k}`?"),
        None => format!("unknown key `{key}`"),
    }
}
