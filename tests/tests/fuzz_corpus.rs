//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/*`) through the same functions the
//! cargo-fuzz targets call (`fuzz/src/lib.rs`, compiled here on the stable toolchain), so
//! `make test` checks in seconds that no input once found or seeded crashes again. Fuzzing
//! itself (nightly, libFuzzer) is `make fuzz`.

#[path = "../../fuzz/src/lib.rs"]
mod harness;

use std::path::{Path, PathBuf};

/// The function a fuzz target calls with each input.
type Body = fn(&[u8]);

/// Every target, with the function its `fuzz_targets/<name>.rs` calls.
const TARGETS: &[(&str, Body)] = &[
    ("connect_response", harness::connect_response),
    ("gateway_head", harness::gateway_head),
    ("target", harness::target),
    ("gateway_config", harness::gateway_config),
    ("policy", harness::policy),
    ("desktop_import", harness::desktop_import),
    ("login_callback", harness::login_callback),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn replay(name: &str, run: Body) -> usize {
    let dir = fuzz_dir().join("corpus").join(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a corpus entry").path())
        .collect();
    files.sort();
    for file in &files {
        let data = std::fs::read(file).expect("a corpus file");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "fuzz target {name} panics on {}", file.display());
    }
    files.len()
}

#[test]
fn every_target_has_a_seed_corpus_and_a_fuzz_target() {
    for (name, _) in TARGETS {
        let target = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        assert!(target.exists(), "{} exists", target.display());
        let seeds = std::fs::read_dir(fuzz_dir().join("corpus").join(name)).map(Iterator::count).unwrap_or(0);
        assert!(seeds >= 3, "target {name} has a seed corpus from the tests (found {seeds} files)");
    }
    let listed = std::fs::read_dir(fuzz_dir().join("fuzz_targets")).expect("fuzz_targets").count();
    assert_eq!(listed, TARGETS.len(), "every fuzz target is replayed here");
}

#[test]
fn connect_response_corpus() {
    replay(TARGETS[0].0, TARGETS[0].1);
}

#[test]
fn gateway_head_corpus() {
    replay(TARGETS[1].0, TARGETS[1].1);
}

#[test]
fn target_corpus() {
    replay(TARGETS[2].0, TARGETS[2].1);
}

#[test]
fn gateway_config_corpus() {
    replay(TARGETS[3].0, TARGETS[3].1);
}

#[test]
fn policy_corpus() {
    replay(TARGETS[4].0, TARGETS[4].1);
}

#[test]
fn desktop_import_corpus() {
    replay(TARGETS[5].0, TARGETS[5].1);
}

#[test]
fn login_callback_corpus() {
    replay(TARGETS[6].0, TARGETS[6].1);
}
