//! The relay's layers stay layers: reads `src/**/*.rs`, collects the `crate::<top module>`
//! references of each top-level module (imports, paths, doc links alike; items defined in
//! `lib.rs` itself count as the node `lib`), and fails on any circle between top-level modules and on any module but the HTTP edge that names `http` or
//! `state` (services never see the router or the whole `AppState`; arrows point down only).
//! See ADR 0014 and docs/ARCHITECTURE.md, "Relay".
//!
//! `RELAY_SRC=<dir>` checks another tree (e.g. an older checkout's `server/relay/src`).

#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "a test: panics are its failures"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules only the HTTP edge may name.
const EDGE: [&str; 2] = ["http", "state"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read the source directory")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The first path segment of every `crate::…` in `text` (`crate::{a::x, b}` gives `a` and `b`).
fn crate_refs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        // `tacho_relay::crate::` never happens; `$crate::` and `foo_crate::` are not ours.
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut end = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            let mut depth = 0;
            let mut start = true;
            for (i, c) in group[..end].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        start = false;
                        out.push(ident(&group[i..]).to_owned());
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident(rest).to_owned());
        }
    }
    out.retain(|r| !r.is_empty() && r != "self");
    out
}

/// Which top-level module a crate-root item re-exported by `lib.rs` lives in
/// (`pub use state::{AppState, StartError};` maps both names to `state`).
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for stmt in lib.split(';') {
        let stmt = stmt.trim();
        let Some(path) = stmt.strip_prefix("pub use ") else {
            continue;
        };
        let module = ident(path).to_owned();
        let names = path[module.len()..].trim_start_matches("::");
        let names = names
            .rsplit_once('{')
            .map_or(names, |(_, inner)| inner.trim_end_matches('}'));
        for name in names.split(',') {
            let name = name.rsplit("::").next().unwrap_or("").trim();
            let name = name.rsplit(" as ").next().unwrap_or(name).trim();
            if !name.is_empty() {
                map.insert(name.to_owned(), module.clone());
            }
        }
    }
    map
}

type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// Top-level module → the modules it names → the files naming them.
fn graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let reexports = root_reexports(&lib);
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| {
            let rel = f.strip_prefix(src).ok()?;
            let first = rel.components().next()?.as_os_str().to_str()?;
            Some(first.trim_end_matches(".rs").to_owned())
        })
        .filter(|m| m != "lib" && m != "main")
        .collect();

    let mut graph = Graph::new();
    for file in &files {
        let rel = file.strip_prefix(src).expect("under src");
        let from = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .expect("a file name")
            .trim_end_matches(".rs")
            .to_owned();
        if from == "main" {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("read a source file");
        let node = graph.entry(from.clone()).or_default();
        if from == "lib" {
            // The crate root names its modules without `crate::` (`accounts::signup`); its
            // `mod` and `pub use` lines are declarations, not uses.
            let uses: String = text
                .lines()
                .filter(|l| {
                    let l = l.trim_start();
                    !(l.starts_with("pub mod ")
                        || l.starts_with("mod ")
                        || l.starts_with("pub use ")
                        || l.starts_with("//"))
                })
                .collect::<Vec<_>>()
                .join("\n");
            for module in &modules {
                let named = uses.match_indices(&format!("{module}::")).any(|(at, _)| {
                    !uses[..at]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                });
                if named {
                    node.entry(module.clone())
                        .or_default()
                        .insert("lib.rs".to_owned());
                }
            }
            continue;
        }
        for name in crate_refs(&text) {
            let to = if modules.contains(&name) {
                name
            } else if let Some(module) = reexports.get(&name) {
                module.clone()
            } else {
                // Defined in lib.rs itself (the old layout kept `AppState` and the router there).
                "lib".to_owned()
            };
            if to != from {
                node.entry(to)
                    .or_default()
                    .insert(rel.display().to_string());
            }
        }
    }
    graph
}

/// Every circle, each once, as the modules along it.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    fn walk(
        graph: &Graph,
        node: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut BTreeSet<Vec<String>>,
    ) {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut circle = path[at..].to_vec();
            // One spelling per circle: start at its smallest module.
            let min = circle
                .iter()
                .enumerate()
                .min_by_key(|(_, m)| m.as_str())
                .map_or(0, |(i, _)| i);
            circle.rotate_left(min);
            found.insert(circle);
            return;
        }
        if done.contains(node) {
            return;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flat_map(BTreeMap::keys) {
            walk(graph, next, path, done, found);
        }
        path.pop();
        done.insert(node.to_owned());
    }
    let mut found = BTreeSet::new();
    for start in graph.keys() {
        // A fresh search per start finds circles through every module, not only the first.
        walk(
            graph,
            start,
            &mut Vec::new(),
            &mut BTreeSet::new(),
            &mut found,
        );
    }
    found.into_iter().collect()
}

fn join(files: &BTreeSet<String>) -> String {
    files
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn src_dir() -> PathBuf {
    std::env::var_os("RELAY_SRC").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        PathBuf::from,
    )
}

#[test]
fn top_level_modules_form_no_circle() {
    let graph = graph(&src_dir());
    let found = cycles(&graph);
    let explain: Vec<String> = found
        .iter()
        .map(|circle| {
            let mut steps = Vec::new();
            for (i, from) in circle.iter().enumerate() {
                let to = &circle[(i + 1) % circle.len()];
                let files = &graph[from][to];
                steps.push(format!("{from} → {to} ({})", join(files)));
            }
            steps.join("; ")
        })
        .collect();
    assert!(
        found.is_empty(),
        "{} import circle(s) between the relay's top-level modules:\n{}",
        found.len(),
        explain.join("\n")
    );
}

#[test]
fn only_the_http_edge_names_http_or_the_app_state() {
    let graph = graph(&src_dir());
    let mut wrong = Vec::new();
    for (from, targets) in &graph {
        if from == "http" {
            continue;
        }
        for edge in EDGE {
            // The state builds the services, so it may name them, but not the router.
            if from == "state" && edge == "state" {
                continue;
            }
            if let Some(files) = targets.get(edge) {
                wrong.push(format!("{from} → {edge} ({})", join(files)));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "modules below the HTTP edge name it (arrows must point down):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_scanner_reads_grouped_paths_and_reexports() {
    assert_eq!(
        crate_refs("use crate::{a::b, c::{d, e}, f};\nlet x = crate::g::h(); $crate::z"),
        ["a", "c", "f", "g"]
    );
    let map = root_reexports("pub use state::{AppState, StartError};\npub use db::Db;");
    assert_eq!(map.get("AppState").map(String::as_str), Some("state"));
    assert_eq!(map.get("Db").map(String::as_str), Some("db"));
    let mut g = Graph::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        g.entry(a.into())
            .or_default()
            .entry(b.into())
            .or_default()
            .insert(String::new());
    }
    assert_eq!(cycles(&g), [vec!["a", "b", "c"]]);
}
