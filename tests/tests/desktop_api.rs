//! `docs/desktop-api.md` is generated, never written by hand: the types from the ts-rs bindings
//! in `ui/src/bindings/` (which `crates/client/tests/bindings.rs` keeps equal to the Rust
//! types), the commands from `crates/desktop-core/src/commands.rs` and the window's own from
//! `src-tauri/src/backend.rs` (names, arguments, results, doc comments), the events from
//! `crates/desktop-core/src/forward.rs` and `src-tauri/src/window.rs`. This test fails when the committed
//! file differs from what it generates; `make docs` (`UPDATE_DOCS=1`) rewrites it.
//!
//! Generating also checks the contract: every command in `COMMANDS` has a function, every
//! type a command or event carries has a binding, and every event's payload is the binding
//! whose doc says it is "the payload of the `name` event".

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use porthole_desktop_core::commands::camel;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

/// Splits `text` at `sep` where no bracket, brace, string or comment is open.
fn split_top(text: &str, sep: char) -> Vec<String> {
    let (mut parts, mut cur, mut depth, mut quoted, mut comment) = (Vec::new(), String::new(), 0i32, false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if comment {
            comment = !(c == '*' && chars.peek() == Some(&'/'));
        } else if quoted {
            quoted = c != '"';
        } else {
            match c {
                '"' => quoted = true,
                '/' if chars.peek() == Some(&'*') => comment = true,
                '{' | '<' | '(' | '[' => depth += 1,
                '}' | '>' | ')' | ']' => depth -= 1,
                _ if c == sep && depth == 0 => {
                    parts.push(std::mem::take(&mut cur));
                    continue;
                }
                _ => {}
            }
        }
        cur.push(c);
    }
    parts.push(cur);
    parts.into_iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()
}

/// Collapses whitespace.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text of a `/** … */` comment, as one line, rustdoc links (`` [`X`] ``) as code.
fn doc_text(comment: &str) -> String {
    let body = comment.trim().trim_start_matches("/**").trim_end_matches("*/");
    let lines: Vec<&str> = body.lines().map(|l| l.trim().trim_start_matches('*').trim()).collect();
    squash(&lines.join(" ")).replace("[`", "`").replace("`]", "`")
}

/// Removes leading `/** … */` comments from `text`: (their text, the rest).
fn take_docs(text: &str) -> (String, &str) {
    let mut rest = text.trim_start();
    let mut docs = Vec::new();
    while rest.starts_with("/**") {
        let end = rest.find("*/").expect("a closed doc comment") + 2;
        docs.push(doc_text(&rest[..end]));
        rest = rest[end..].trim_start();
    }
    (docs.join(" "), rest)
}

/// One field of an object type.
struct Field {
    name: String,
    ty: String,
    doc: String,
}

/// One alternative of a type: a literal or primitive, or an object (its tag, its fields).
enum Alt {
    Plain(String),
    Object { tag: Option<String>, fields: Vec<Field> },
}

/// A binding: `export type Name = …;` with its doc comment.
struct Binding {
    doc: String,
    alts: Vec<Alt>,
}

fn parse_binding(name: &str, ts: &str) -> Binding {
    let decl_at =
        ts.find(&format!("export type {name} = ")).unwrap_or_else(|| panic!("{name}.ts declares no `{name}`"));
    let before = &ts[..decl_at];
    let doc = before.rfind("/**").map(|i| doc_text(&before[i..])).unwrap_or_default();
    let body = ts[decl_at..].split_once(" = ").expect("a type body").1.trim().trim_end_matches(';');
    let alts = split_top(body, '|')
        .into_iter()
        .map(|alt| {
            let Some(inner) = alt.strip_prefix('{').and_then(|a| a.strip_suffix('}')) else {
                return Alt::Plain(squash(&alt));
            };
            let mut tag = None;
            let mut fields = Vec::new();
            for member in split_top(inner, ',') {
                let (doc, member) = take_docs(&member);
                let (key, ty) = member.split_once(':').unwrap_or_else(|| panic!("{name}: member `{member}`"));
                let (key, ty) = (key.trim().trim_matches('"').to_string(), squash(ty));
                if doc.is_empty() && ty.starts_with('"') {
                    tag = Some(format!("{key}: {ty}"));
                } else {
                    fields.push(Field { name: key, ty, doc });
                }
            }
            Alt::Object { tag, fields }
        })
        .collect();
    Binding { doc, alts }
}

fn bindings() -> BTreeMap<String, Binding> {
    let dir = root().join("ui/src/bindings");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("ui/src/bindings").filter_map(Result::ok) {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "ts") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            out.insert(name.clone(), parse_binding(&name, &text));
        }
    }
    out
}

/// A Rust type of a command's signature as TypeScript, and the binding it names, if any.
fn ts_type(rust: &str, known: &BTreeMap<String, Binding>, context: &str) -> (String, Option<String>) {
    let rust = rust.trim();
    let generic =
        |outer: &str| rust.strip_prefix(outer).and_then(|r| r.strip_prefix('<')).and_then(|r| r.strip_suffix('>'));
    if let Some(inner) = generic("Option") {
        let (ts, named) = ts_type(inner, known, context);
        return (format!("{ts} | null"), named);
    }
    if let Some(inner) = generic("Vec") {
        let (ts, named) = ts_type(inner, known, context);
        return (format!("{ts}[]"), named);
    }
    let ts = match rust {
        "String" | "&str" => "string",
        "bool" => "boolean",
        "()" => "null",
        "u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64" | "f64" => "number",
        name if known.contains_key(name) => return (name.to_string(), Some(name.to_string())),
        other => panic!("{context} uses `{other}`, which has no binding in ui/src/bindings: export it with ts-rs"),
    };
    (ts.to_string(), None)
}

/// A TypeScript type for a table cell: code, linked to the binding it names.
fn shown((ts, named): (String, Option<String>)) -> String {
    let code = format!("`{}`", cell(&ts));
    named.map_or(code.clone(), |n| format!("[{code}](#{})", n.to_lowercase()))
}

/// Escapes a table cell: `|` everywhere, `<` outside code spans (Markdown would take
/// `<name>` for HTML).
fn cell(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        let part = part.replace('|', "\\|");
        out.push_str(&if i % 2 == 0 { part.replace('<', "&lt;") } else { part });
    }
    out
}

/// One command: its name, its arguments (camelCase, TypeScript), its result, its doc.
struct Command {
    name: String,
    args: Vec<(String, String)>,
    returns: String,
    doc: String,
}

/// The `pub async fn` of `source` named in `listed` (the commands).
fn commands(source: &str, listed: &BTreeSet<String>, known: &BTreeMap<String, Binding>) -> Vec<Command> {
    let mut out = Vec::new();
    let mut doc = Vec::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if let Some(d) = line.strip_prefix("///") {
            doc.push(d.trim().to_string());
            continue;
        }
        if !line.starts_with("pub async fn ") {
            doc.clear();
            continue;
        }
        let mut sig = format!("{line} ");
        if !line.ends_with('{') {
            for l in lines.by_ref() {
                sig.push_str(l.trim());
                sig.push(' ');
                if l.trim_end().ends_with('{') {
                    break;
                }
            }
        }
        let after_fn = sig.split_once("fn ").expect("a command function").1;
        let name: String = after_fn.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !listed.contains(&name) {
            doc.clear();
            continue;
        }
        let params_at = after_fn.find('(').expect("parameters");
        let (params, ret) = after_fn[params_at + 1..].rsplit_once(") ->").expect("a Result");
        let context = format!("command `{name}`");
        let args = split_top(params, ',')
            .into_iter()
            .filter_map(|p| {
                let (arg, ty) = p.split_once(':')?;
                let ty = ty.trim();
                let injected = ["&Cx", "&AppHandle<"].iter().any(|s| ty.starts_with(s));
                (!injected).then(|| (camel(arg.trim()), shown(ts_type(ty, known, &context))))
            })
            .collect();
        let ret = ret.trim().trim_end_matches('{').trim();
        let ok = ret.strip_prefix("Result<").and_then(|r| r.strip_suffix(", AppError>")).unwrap_or_else(|| {
            panic!("command `{name}` returns `{ret}`: commands return Result<T, AppError> (the UI gets {{code, message, fields}})")
        });
        // Rust's `None` is the UI's `null`.
        let doc_line = squash(&std::mem::take(&mut doc).join(" ")).replace("[`", "`").replace("`]", "`");
        let doc_line = doc_line.replace("`None`", "`null`");
        out.push(Command { name, args, returns: shown(ts_type(ok, known, &context)), doc: doc_line });
    }
    out
}

/// The commands the window runs itself (`WINDOW_COMMANDS`, defined in src-tauri/src/backend.rs).
fn commands_from_window(listed: &BTreeSet<String>, known: &BTreeMap<String, Binding>) -> Vec<Command> {
    let core = read("crates/desktop-core/src/commands.rs");
    let own = core.split_once("pub const WINDOW_COMMANDS").expect("WINDOW_COMMANDS").1;
    let own: BTreeSet<String> =
        own[..own.find("];").unwrap()].split('"').skip(1).step_by(2).map(str::to_string).collect();
    let found = commands(&read("src-tauri/src/backend.rs"), &own, known);
    assert!(own.is_subset(listed), "WINDOW_COMMANDS are commands: {own:?}");
    found
}

/// The names in `pub const COMMANDS: &[&str] = &[ … ];`.
fn command_list(source: &str) -> BTreeSet<String> {
    let list = source.split_once("pub const COMMANDS").expect("COMMANDS in commands.rs").1;
    let list = &list[..list.find("];").expect("the end of COMMANDS")];
    list.split('"').skip(1).step_by(2).map(str::to_string).collect()
}

/// `(event, payload)` for every `emit(&cx, "name", payload)` and `.emit("name", payload)` in
/// desktop-core's forward.rs and the window's window.rs.
fn events(source: &str, known: &BTreeMap<String, Binding>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in source.split("emit(").skip(1) {
        let Some(part) = part.trim_start_matches("&cx, ").strip_prefix('"') else { continue };
        let (name, rest) = part.split_once('"').expect("an event name");
        let payload = rest.trim_start_matches(',').trim_start();
        let ty = if payload.starts_with("())") || payload.starts_with("serde_json::Value::Null)") {
            "`null`".to_string()
        } else {
            let needle = format!("payload of the `{name}` event");
            let binding = known.iter().find(|(_, b)| b.doc.contains(&needle)).map(|(n, _)| n.clone());
            let binding =
                binding.unwrap_or_else(|| panic!("event `{name}`: no binding's doc says it is \"the {needle}\""));
            format!("[`{binding}`](#{})", binding.to_lowercase())
        };
        out.push((name.to_string(), ty));
    }
    out
}

fn render_type(out: &mut String, name: &str, b: &Binding) {
    let _ = writeln!(out, "### `{name}`\n\n{}\n", b.doc);
    let decl: Vec<String> = b
        .alts
        .iter()
        .map(|alt| match alt {
            Alt::Plain(text) => text.clone(),
            Alt::Object { tag, fields } => {
                let members: Vec<String> =
                    tag.iter().cloned().chain(fields.iter().map(|f| format!("{}: {}", f.name, f.ty))).collect();
                format!("{{ {} }}", members.join("; "))
            }
        })
        .collect();
    let one_line = format!("type {name} = {};", decl.join(" | "));
    if one_line.len() <= 100 {
        let _ = writeln!(out, "```ts\n{one_line}\n```\n");
    } else if let [Alt::Object { tag: None, fields }] = b.alts.as_slice() {
        let members: Vec<String> = fields.iter().map(|f| format!("  {}: {};", f.name, f.ty)).collect();
        let _ = writeln!(out, "```ts\ntype {name} = {{\n{}\n}};\n```\n", members.join("\n"));
    } else {
        let alts: Vec<String> = decl.iter().map(|d| format!("  | {d}")).collect();
        let _ = writeln!(out, "```ts\ntype {name} =\n{};\n```\n", alts.join("\n"));
    }
    let tagged = b.alts.iter().any(|a| matches!(a, Alt::Object { tag: Some(_), .. }));
    let rows: Vec<String> = b
        .alts
        .iter()
        .filter_map(|a| match a {
            Alt::Object { tag, fields } => Some((tag, fields)),
            Alt::Plain(_) => None,
        })
        .flat_map(|(tag, fields)| {
            let variant = tag.as_deref().map(|t| format!("`{}` | ", cell(t))).filter(|_| tagged).unwrap_or_default();
            fields.iter().map(move |f| format!("| {variant}`{}` | `{}` | {} |", f.name, cell(&f.ty), cell(&f.doc)))
        })
        .collect();
    if !rows.is_empty() {
        let head = if tagged {
            "| variant | field | type | meaning |\n|---|---|---|---|"
        } else {
            "| field | type | meaning |\n|---|---|---|"
        };
        let _ = writeln!(out, "{head}\n{}\n", rows.join("\n"));
    }
}

fn generate() -> String {
    let known = bindings();
    let commands_rs = read("crates/desktop-core/src/commands.rs");
    let listed = command_list(&commands_rs);
    let mut commands = commands(&commands_rs, &listed, &known);
    commands.extend(commands_from_window(&listed, &known));
    let order: Vec<&str> =
        commands_rs.split_once("pub const COMMANDS").unwrap().1.split('"').skip(1).step_by(2).collect();
    commands.sort_by_key(|c| order.iter().position(|n| *n == c.name));
    let defined: BTreeSet<String> = commands.iter().map(|c| c.name.clone()).collect();
    assert_eq!(listed, defined, "COMMANDS in crates/desktop-core/src/commands.rs and the command functions differ");
    let events = events(&(read("crates/desktop-core/src/forward.rs") + &read("src-tauri/src/window.rs")), &known);

    let mut out = String::from(
        "# Desktop app: the contract between `ui/`, `src-tauri` and `crates/client`\n\n\
         <!-- Generated by tests/tests/desktop_api.rs from ui/src/bindings/, crates/desktop-core/src/commands.rs,\n     \
         src-tauri/src/backend.rs, crates/desktop-core/src/forward.rs and src-tauri/src/window.rs. Do not edit:\n     change the Rust, then run \
         `make docs`. -->\n\n\
         The UI holds no state of record. It calls Tauri commands (`invoke(name, args)`) and listens to\n\
         events; every rule lives in Rust (`porthole-client`). JSON is camelCase. The TypeScript types\n\
         are generated from the Rust types (`crates/client/src/model.rs`, `error.rs`) by `ts-rs` into\n\
         `ui/src/bindings/`, never edited by hand; `ui/src/api.ts` is the one place the UI calls\n\
         `invoke` and `listen`.\n\n\
         ## Commands\n\n\
         Arguments are named in camelCase. Every command rejects with an [`AppError`](#apperror).\n\n\
         | command | arguments | resolves with | what it does |\n|---|---|---|---|\n",
    );
    for c in &commands {
        let args: Vec<String> = c.args.iter().map(|(n, t)| format!("`{n}`: {t}")).collect();
        let args = if args.is_empty() { "–".to_string() } else { args.join(", ") };
        let _ = writeln!(out, "| `{}` | {args} | {} | {} |", c.name, c.returns, cell(&c.doc));
    }
    out.push_str("\n## Events (Rust → UI, `listen(name)`)\n\n| event | payload |\n|---|---|\n");
    for (name, ty) in &events {
        let _ = writeln!(out, "| `{name}` | {ty} |");
    }
    out.push_str("\n## Types\n\n");
    for (name, b) in &known {
        render_type(&mut out, name, b);
    }
    out.trim_end().to_string() + "\n"
}

#[test]
fn committed_desktop_api_md_is_what_the_bindings_and_commands_generate() {
    let generated = generate();
    let path = root().join("docs/desktop-api.md");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/desktop-api.md is stale: run `make docs` (UPDATE_DOCS=1 cargo nextest run -p porthole-e2e --test desktop_api)\n\
         first differing line, committed then generated: {:?}",
        committed.lines().zip(generated.lines()).find(|(a, b)| a != b).unwrap_or(("(one is longer)", ""))
    );
}

#[test]
fn generated_reference_covers_every_command_event_and_type() {
    let text = generate();
    for name in command_list(&read("crates/desktop-core/src/commands.rs")) {
        assert!(text.contains(&format!("| `{name}` |")), "command {name} missing");
    }
    for needle in [
        "| `status` | [`StatusEvent`](#statusevent) |",
        "| `connections-changed` | `null` |",
        "| `quit-requested` | `null` |",
        "### `ConnectionStatus`",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    assert!(text.contains("| `connect` | `id`: `string` | [`ConnectionStatus`](#connectionstatus) |"), "{text}");
    assert!(text.contains("| `export_connections` | `ids`: `string[] \\| null`, `includeTags`: `boolean`"), "{text}");
}
