//! Every documentation reference in the repository resolves inside it, so a clone has what the
//! text points to. Checked in every Markdown file and every source file (code, comments,
//! scripts, the Makefile):
//!
//! - a Markdown link `[text](dest)` to a file (and its `#anchor`, as GitHub makes them) or to an
//!   anchor of the same file;
//! - a `*.md` name or a `docs/...` path: relative to the file, or to the repository root;
//! - a section reference after a document (`docs/protocol.md §6.4`): a heading numbered so;
//! - a path under a top-level directory (`crates/cli/Cargo.toml`, `.ci/run`);
//! - the README's `## Layout` tree: each entry, under the entry it is indented beneath.
//!
//! URLs are not followed. A path followed by a placeholder (`<target>`, `*`, `{`, `$`, `…`)
//! names a family of files and is skipped, as is `target/` (build output).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

/// Directories that hold build output, installed packages or data, not documentation.
const SKIP_DIRS: &[&str] = &[
    ".git",
    "target",
    "node_modules",
    "ui/dist",
    "fuzz/target",
    "fuzz/artifacts",
    "fuzz/coverage",
    "fuzz/corpus",
    "bench/results",
];
/// Source files read as text, by extension.
const SOURCE_EXTENSIONS: &[&str] = &["rs", "ts", "tsx", "js", "mjs", "py", "sh", "toml", "yaml", "yml", "html", "css"];
/// The most bytes read from one file.
const FILE_CAP: u64 = 2 << 20;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

/// The repository's text files (relative paths), Markdown or source.
fn text_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(dir) = dirs.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(root.join(&dir)).unwrap().filter_map(Result::ok).collect();
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let rel = dir.join(entry.file_name());
            let kind = entry.file_type().unwrap();
            if kind.is_dir() && !SKIP_DIRS.iter().any(|s| rel == Path::new(s)) {
                dirs.push(rel);
            } else if kind.is_file() && is_text(&rel, &entry.path()) {
                out.push(rel);
            }
        }
    }
    out
}

fn is_text(rel: &Path, full: &Path) -> bool {
    match rel.extension().and_then(|e| e.to_str()) {
        Some("md") => true,
        Some(ext) => SOURCE_EXTENSIONS.contains(&ext),
        None => {
            rel.file_name().is_some_and(|n| n == "Makefile") || std::fs::read(full).is_ok_and(|b| b.starts_with(b"#!"))
        }
    }
}

/// `path` with `.` and `..` folded away (`None` when it climbs out of the repository).
fn normal(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The headings of a Markdown text, outside fenced code.
fn headings(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.push(line.trim_start_matches('#').trim().to_string());
        }
    }
    out
}

/// One dead reference: where, what, and why.
type Dead = (String, String);

/// The checker over one repository: which files exist, and what each Markdown file's headings are.
struct Repo {
    root: PathBuf,
}

impl Repo {
    fn exists(&self, rel: &Path) -> bool {
        self.root.join(rel).exists()
    }

    /// `target` as written in `file`: relative to the file's directory, else to the root.
    fn resolve(&self, file: &Path, target: &str) -> Option<PathBuf> {
        let dir = file.parent().unwrap_or(Path::new(""));
        [dir.join(target), PathBuf::from(target)].into_iter().filter_map(|p| normal(&p)).find(|p| self.exists(p))
    }

    fn headings_of(&self, md: &Path) -> Vec<String> {
        headings(&std::fs::read_to_string(self.root.join(md)).unwrap_or_default())
    }

    /// Checks `#anchor` of the Markdown file `md`.
    fn anchor_ok(&self, md: &Path, anchor: &str) -> bool {
        self.headings_of(md).iter().any(|h| slug(h) == anchor)
    }

    /// Checks `§N.N` against the numbered headings of `md` (`## 7. …`, `### 6.4 …`).
    fn section_ok(&self, md: &Path, section: &str) -> bool {
        self.headings_of(md).iter().any(|h| {
            let number = h.trim_start_matches('§').split_whitespace().next().unwrap_or("");
            number.trim_end_matches('.') == section
        })
    }

    /// Every dead reference in `text` (the contents of `file`).
    fn check_text(&self, file: &Path, text: &str) -> Vec<Dead> {
        let mut dead = Vec::new();
        let is_md = file.extension().is_some_and(|e| e == "md");
        for (n, line) in text.lines().enumerate() {
            let at = format!("{}:{}", file.display(), n + 1);
            if is_md {
                self.check_md_links(file, line, &at, &mut dead);
                self.check_paths(file, line, &at, &mut dead);
            } else if let Some(comment) = comment_part(file, line) {
                self.check_paths(file, comment, &at, &mut dead);
            }
        }
        if file == Path::new("README.md") {
            self.check_layout(text, &mut dead);
        }
        dead
    }

    fn check_md_links(&self, file: &Path, line: &str, at: &str, dead: &mut Vec<Dead>) {
        for (i, _) in line.match_indices("](") {
            let rest = &line[i + 2..];
            let dest = rest.split([')', ' ']).next().unwrap_or("");
            if dest.is_empty() || dest.contains("://") || dest.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = dest.split_once('#').map_or((dest, None), |(p, a)| (p, Some(a)));
            let target = if path.is_empty() { Some(file.to_path_buf()) } else { self.resolve(file, path) };
            match (target, anchor) {
                (None, _) => dead.push((at.to_string(), format!("link `{dest}`: no such file"))),
                (Some(md), Some(a)) if md.extension().is_some_and(|e| e == "md") && !self.anchor_ok(&md, a) => {
                    dead.push((at.to_string(), format!("link `{dest}`: {} has no heading `#{a}`", md.display())));
                }
                _ => {}
            }
        }
    }

    fn check_paths(&self, file: &Path, line: &str, at: &str, dead: &mut Vec<Dead>) {
        for word in line.split_whitespace().filter(|w| !w.contains("://")) {
            for (start, token) in path_tokens(word) {
                let after = &word[start + token.len()..];
                if after.starts_with(['<', '*', '{', '$', '…']) || token.starts_with("target/") {
                    continue;
                }
                let token = token.trim_end_matches('.');
                let token = token.strip_prefix("./").unwrap_or(token);
                let doc =
                    token.len() > 3 && token.ends_with(".md") || token.starts_with("docs/") || token.contains("/docs/");
                let first = token.split('/').next().unwrap_or("");
                let top_level = !first.is_empty() && !first.chars().all(|c| c == '.') && self.exists(Path::new(first));
                let rooted = token.contains('/') && top_level;
                let generated = SKIP_DIRS.iter().any(|d| token == *d || token.starts_with(&format!("{d}/")));
                if !doc && !rooted || generated {
                    continue;
                }
                let Some(found) = self.resolve(file, token) else {
                    dead.push((at.to_string(), format!("`{token}` does not exist")));
                    continue;
                };
                let word_at = word.as_ptr() as usize - line.as_ptr() as usize;
                let token_at = word_at + start + word[start..].find(token).unwrap_or(0);
                if let Some(section) = section_after(&line[token_at + token.len()..])
                    && !self.section_ok(&found, &section)
                {
                    dead.push((at.to_string(), format!("`{token} §{section}`: no heading numbered {section}")));
                }
            }
        }
    }

    /// README `## Layout`: a tree by indentation; an entry's description starts two or more
    /// spaces after it, and a line indented past the entries continues a description.
    fn check_layout(&self, text: &str, dead: &mut Vec<Dead>) {
        let Some(section) = text.split("\n## Layout\n").nth(1) else {
            dead.push(("README.md".into(), "has no `## Layout` section".into()));
            return;
        };
        let block = section.split("```").nth(1).unwrap_or("");
        // (indent, path, exists): only the first missing entry of a branch is reported.
        let mut stack: Vec<(usize, PathBuf, bool)> = Vec::new();
        for line in block.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let indent = line.len() - line.trim_start().len();
            if indent >= 16 {
                continue;
            }
            let name = line.split_whitespace().next().unwrap_or("");
            while stack.last().is_some_and(|(i, _, _)| *i >= indent) {
                stack.pop();
            }
            let parent_exists = stack.last().is_none_or(|(_, _, e)| *e);
            let path = stack.last().map_or_else(PathBuf::new, |(_, p, _)| p.clone()).join(name);
            let exists = self.exists(&path);
            if !exists && parent_exists {
                let parent = stack.last().map_or("the root".into(), |(_, p, _)| format!("`{}`", p.display()));
                dead.push((
                    "README.md (Layout)".into(),
                    format!("`{name}` is listed under {parent}, and `{}` does not exist", path.display()),
                ));
            }
            stack.push((indent, path, exists));
        }
    }
}

/// The comment on a line of source: after `//` (not a URL's) or on a `/* … */` body line in
/// C-like languages, after `#` in the others. Code and strings are not documentation.
fn comment_part<'a>(file: &Path, line: &'a str) -> Option<&'a str> {
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    if matches!(ext, "rs" | "ts" | "tsx" | "js" | "mjs" | "css") {
        let trimmed = line.trim_start();
        if trimmed.starts_with("/*") || trimmed.starts_with('*') {
            return Some(trimmed);
        }
        let at = line.match_indices("//").map(|(i, _)| i).find(|&i| !line[..i].ends_with(':'))?;
        return Some(&line[at..]);
    }
    if ext == "html" {
        return line.find("<!--").map(|i| &line[i..]);
    }
    let at = line.char_indices().find(|&(i, c)| c == '#' && (i == 0 || line[..i].ends_with([' ', '\t'])))?.0;
    Some(&line[at..])
}

/// Runs of path characters in `word`, with their byte offsets.
fn path_tokens(word: &str) -> Vec<(usize, &str)> {
    let is_path = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/');
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in word.char_indices().chain(std::iter::once((word.len(), ' '))) {
        match (is_path(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, &word[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// The `§N.N` at the start of `rest` (past a closing backtick and spaces), if any.
fn section_after(rest: &str) -> Option<String> {
    let rest = rest.trim_start_matches(['`', ' ']).strip_prefix('§')?;
    let number: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let number = number.trim_end_matches('.').to_string();
    (!number.is_empty()).then_some(number)
}

#[test]
fn every_documentation_reference_resolves_inside_the_repository() {
    let repo = Repo { root: root() };
    let files = text_files(&repo.root);
    assert!(files.iter().any(|f| f == Path::new("README.md")) && files.len() > 100, "walked too little: {files:?}");
    let mut dead: BTreeSet<Dead> = BTreeSet::new();
    for file in &files {
        let full = repo.root.join(file);
        if std::fs::metadata(&full).map_or(true, |m| m.len() > FILE_CAP) {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&full).unwrap()).into_owned();
        dead.extend(repo.check_text(file, &text));
    }
    let report: Vec<String> = dead.iter().map(|(at, what)| format!("{at}: {what}")).collect();
    assert!(report.is_empty(), "{} dead documentation references:\n{}", report.len(), report.join("\n"));
}

/// The checker finds what it is for, on text written here (the paths are assembled, so this
/// file itself holds no dead reference).
#[test]
fn the_checker_reports_dead_links_paths_sections_and_layout() {
    let repo = Repo { root: root() };
    let gone = concat!("docs", "/gone.md");
    let text = format!(
        "[a]({gone}) [b](docs/protocol.md#no-such-heading) [c](#nor-this)\nsee `{gone}` and `crates/{}`\n\
         `docs/protocol.md` §{} and docs/protocol.md §6.4 and [d](docs/architecture.md#the-house)\n",
        "nothing/here.rs", "99.9"
    );
    let dead: Vec<String> = repo.check_text(Path::new("x.md"), &text).into_iter().map(|(_, what)| what).collect();
    let expected = [
        format!("link `{gone}`: no such file"),
        "link `docs/protocol.md#no-such-heading`: docs/protocol.md has no heading `#no-such-heading`".into(),
        "link `#nor-this`: x.md has no heading `#nor-this`".into(),
        format!("`{gone}` does not exist"),
        format!("`{gone}` does not exist"),
        "`crates/nothing/here.rs` does not exist".into(),
        "`docs/protocol.md §99.9`: no heading numbered 99.9".into(),
    ];
    assert_eq!(dead, expected);
    let layout = format!(
        "# x\n\n## Layout\n\n```\ncrates/  the crates\n  testkit/  test support\ndocs/  documents\n  {}/  misplaced\n```\n",
        "testkit"
    );
    let mut dead = Vec::new();
    repo.check_layout(&layout, &mut dead);
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].1.contains("`testkit/` is listed under `docs/`"), "{dead:?}");
}
