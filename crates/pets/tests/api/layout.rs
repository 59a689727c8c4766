//! The house's rules, checked: no module imports from a module that
//! imports it (within each crate, `use crate::…` and `crate::…` paths
//! between files), and no source file grows past about 450 lines.
//! `scripts/import-cycles.sh` prints the module graph's cycles with this.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The one cycle the house allows: one `impl Lane` over two files.
const ALLOWED: &[(&str, &str)] = &[("consul::votes::lane", "consul::votes::recovery")];

fn crates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are module `a::b`; `lib.rs` and
/// `main.rs` are the crate's root, named "".
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

/// The modules of `known` that `text` names through `crate::` paths: the
/// longest known module each path starts with.
fn imports(text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':' || *c == '{')
            .collect();
        let segments: Vec<&str> = path
            .split("::")
            .map(|s| s.trim_start_matches('{'))
            .filter(|s| !s.is_empty())
            .collect();
        for n in (1..=segments.len()).rev() {
            let candidate = segments[..n].join("::");
            if known.contains(&candidate) {
                found.insert(candidate);
                break;
            }
        }
    }
    found
}

/// Each crate's module graph: module to the modules it imports, tests
/// (files under `tests/`, `*_tests.rs`, `#[cfg(test)]` parts) left out.
fn graphs() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut all = BTreeMap::new();
    for entry in std::fs::read_dir(crates()).unwrap() {
        let krate = entry.unwrap().path();
        let src = krate.join("src");
        if !src.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        sources(&src, &mut files);
        let known: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
        let mut graph = BTreeMap::new();
        for file in &files {
            let name = file.to_string_lossy();
            if name.contains("/tests/") || name.ends_with("_tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(file).unwrap();
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            let me = module_of(&src, file);
            let mut uses = imports(text, &known);
            uses.retain(|m| *m != me && !m.is_empty() && !me.starts_with(&format!("{m}::")));
            graph.insert(me, uses);
        }
        all.insert(
            krate.file_name().unwrap().to_string_lossy().into_owned(),
            graph,
        );
    }
    all
}

/// Pairs of modules that reach each other, each pair once.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<(String, String)> {
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_owned()];
        while let Some(m) = stack.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if next == to {
                    return true;
                }
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        false
    };
    let mut found = Vec::new();
    for (a, uses) in graph {
        for b in uses {
            if a < b && reaches(b, a) {
                found.push((a.clone(), b.clone()));
            }
        }
    }
    found
}

#[test]
fn no_module_imports_from_a_module_that_imports_it() {
    let mut broken = Vec::new();
    for (krate, graph) in graphs() {
        for (a, b) in cycles(&graph) {
            if ALLOWED.contains(&(a.as_str(), b.as_str())) {
                continue;
            }
            broken.push(format!("{krate}: {a} <-> {b}"));
        }
    }
    for line in &broken {
        println!("{line}");
    }
    assert!(broken.is_empty(), "import cycles:\n{}", broken.join("\n"));
}

#[test]
fn no_source_file_grows_past_about_450_lines() {
    let mut files = Vec::new();
    sources(&crates(), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter(|f| !f.to_string_lossy().contains("/target/"))
        .filter_map(|f| {
            let lines = std::fs::read_to_string(f).ok()?.lines().count();
            (lines > 480).then(|| format!("{} ({lines} lines)", f.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "files past about 450 lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(m, uses)| (m.to_owned(), uses.into_iter().map(str::to_owned).collect()))
    .collect();
    let found = cycles(&graph);
    assert!(found.contains(&("a".into(), "b".into())), "{found:?}");
    assert!(
        !found.iter().any(|(x, y)| x == "d" || y == "d"),
        "{found:?}"
    );
    let known: BTreeSet<String> = ["state", "faults", "faults::engine"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        imports(
            "use crate::faults::engine::{Crash, Engine};\nuse crate::state::AppState;",
            &known
        ),
        ["faults::engine", "state"]
            .into_iter()
            .map(str::to_owned)
            .collect()
    );
}
