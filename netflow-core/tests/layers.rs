//! The library's layers point one way: the ground (flow, error, format, input, needles) ←
//! ingest, cluster ← policy ← query ← session ← frame. This test fails when a module imports
//! one above it (or beside it, for ingest and cluster), so the circle cannot come back.

use std::path::{Path, PathBuf};

/// Every layer: its files or folders, and the modules it must not name.
const RULES: &[(&[&str], &[&str])] = &[
    (
        &["flow.rs", "error.rs", "format.rs", "input.rs", "needles.rs"],
        &["ingest", "cluster", "policy", "query", "session", "frame"],
    ),
    (
        &["ingest"],
        &["cluster", "policy", "query", "session", "frame"],
    ),
    (
        &["cluster"],
        &["ingest", "policy", "query", "session", "frame"],
    ),
    (&["policy"], &["ingest", "query", "session", "frame"]),
    (&["query"], &["ingest", "session", "frame"]),
    (&["session.rs"], &["frame"]),
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            rust_files(&entry.unwrap().path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The `crate::MODULE` paths a line names (`$crate::` in macros too), outside comments.
fn named_modules(line: &str) -> Vec<&str> {
    let code = line.split("//").next().unwrap_or("");
    code.match_indices("crate::")
        .map(|(at, _)| {
            let rest = &code[at + "crate::".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for (places, forbidden) in RULES {
        let mut files = Vec::new();
        for place in *places {
            rust_files(&src.join(place), &mut files);
        }
        assert!(!files.is_empty(), "no files for {places:?}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                for module in named_modules(line) {
                    if forbidden.contains(&module) {
                        wrong.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that point up a layer:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checker_sees_an_upward_import() {
    assert_eq!(named_modules("use crate::query::FlowFilter;"), ["query"]);
    assert_eq!(named_modules("x: $crate::query::rows::Cell"), ["query"]);
    assert!(named_modules("// crate::query is mentioned only in a comment").is_empty());
}
