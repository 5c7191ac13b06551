//! Finding and filling the login form in an HTML page (no HTML parser: test pages are simple).

use std::sync::LazyLock;

use regex::Regex;

static FORM: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?is)<form\b([^>]*)>(.*?)</form>").expect("form regex"));
static INPUT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?is)<input\b([^>]*)>").expect("input regex"));
static ATTR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)([a-z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))"#).expect("attribute regex")
});

/// A form with a `password` field, its action, and the other fields' preset values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginForm {
    /// The `action` attribute, HTML entities decoded (may be relative; empty means "this page").
    pub action: String,
    /// Every named input that is not `login`, `email`, `username` or `password`, with its value.
    pub hidden: Vec<(String, String)>,
    /// The name of the user-name field (`login`, `email` or `username`).
    pub user_field: String,
}

impl LoginForm {
    /// Finds the first form in `html` that has a `password` input.
    #[must_use]
    pub fn find(html: &str) -> Option<Self> {
        FORM.captures_iter(html).find_map(|form| {
            let attrs = attributes(&form[1]);
            let mut user_field = None;
            let mut has_password = false;
            let mut hidden = Vec::new();
            for input in INPUT.captures_iter(&form[2]) {
                let attrs = attributes(&input[1]);
                let Some(name) = get(&attrs, "name") else {
                    continue;
                };
                match name.as_str() {
                    "password" => has_password = true,
                    "login" | "email" | "username" => user_field = Some(name),
                    _ => hidden.push((name, get(&attrs, "value").unwrap_or_default())),
                }
            }
            has_password.then(|| Self {
                action: get(&attrs, "action").unwrap_or_default(),
                hidden,
                user_field: user_field.unwrap_or_else(|| "login".to_owned()),
            })
        })
    }

    /// The fields to post: the preset ones plus the user name and password.
    #[must_use]
    pub fn fill(&self, user: &str, password: &str) -> Vec<(String, String)> {
        let mut fields = self.hidden.clone();
        fields.push((self.user_field.clone(), user.to_owned()));
        fields.push(("password".to_owned(), password.to_owned()));
        fields
    }
}

fn attributes(text: &str) -> Vec<(String, String)> {
    ATTR.captures_iter(text)
        .map(|c| {
            let value = c.get(2).or_else(|| c.get(3)).or_else(|| c.get(4)).map_or("", |m| m.as_str());
            (c[1].to_ascii_lowercase(), unescape(value))
        })
        .collect()
}

fn get(attrs: &[(String, String)], name: &str) -> Option<String> {
    attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
