//! Tauri's build step: reads tauri.conf.json and the capabilities, embeds the icons.
//!
//! A release build (the default `custom-protocol` feature) embeds the built web UI, which a fresh
//! clone does not have: this stops the build early with what to run, rather than let Tauri's
//! macro fail minutes later. It does not build the UI itself: that needs `npm ci` (the network)
//! and writes outside cargo's output directory, which a build script must not do.

use std::path::{Component, Path, PathBuf};

fn main() {
    if std::env::var_os("CARGO_FEATURE_CUSTOM_PROTOCOL").is_some() {
        require_built_ui();
    }
    tauri_build::build();
}

/// Exits with a sentence when `build.frontendDist` (tauri.conf.json) has no `index.html`.
fn require_built_ui() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let conf = std::fs::read_to_string(manifest_dir.join("tauri.conf.json")).unwrap_or_default();
    let dist = manifest_dir.join(frontend_dist(&conf).unwrap_or("../ui/dist"));
    let index = dist.join("index.html");
    println!("cargo:rerun-if-changed={}", index.display());
    if !index.is_file() {
        eprintln!(
            "error: the desktop app embeds the web UI, and {} is missing: build the UI first with \
             `npm ci && npm run ui:build` (or `make ui-build`), then run cargo again.",
            shown(&index)
        );
        std::process::exit(1);
    }
}

/// The value of `"frontendDist": "…"` in tauri.conf.json (a path relative to this crate).
fn frontend_dist(conf: &str) -> Option<&str> {
    let after_key = conf.split_once("\"frontendDist\"")?.1;
    let value = after_key.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    value.split_once('"').map(|(path, _)| path)
}

/// `path` with its `..` parts folded away, for a readable message.
fn shown(path: &Path) -> String {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.display().to_string()
}
