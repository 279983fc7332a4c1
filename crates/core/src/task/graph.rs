//! The task graph: cycles are refused when a file is applied (naming the
//! cycle), and a DAG run holds a task and everything downstream of it.

use std::collections::{BTreeMap, BTreeSet};

use super::Task;

/// A cycle in `tasks`' `after` edges, as the task names around it
/// (`a → b → a`), if there is one. Dependencies on unknown tasks are
/// ignored here (reported separately).
pub fn find_cycle(tasks: &[Task]) -> Option<Vec<String>> {
    let deps: BTreeMap<&str, Vec<&str>> = tasks
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                t.after.iter().map(|d| d.task.as_str()).collect(),
            )
        })
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = BTreeMap::new();
    for start in deps.keys() {
        if marks.contains_key(start) {
            continue;
        }
        // Iterative DFS; `path` is the current chain of tasks.
        let mut path: Vec<(&str, usize)> = vec![(start, 0)];
        marks.insert(start, Mark::Visiting);
        while let Some((node, next)) = path.last().copied() {
            let edges = deps.get(node).map_or(&[][..], Vec::as_slice);
            if next < edges.len() {
                if let Some(top) = path.last_mut() {
                    top.1 += 1;
                }
                let dep = edges[next];
                if !deps.contains_key(dep) {
                    continue;
                }
                match marks.get(dep) {
                    Some(Mark::Visiting) => {
                        let from = path.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                        let mut cycle: Vec<String> =
                            path[from..].iter().map(|(n, _)| (*n).to_owned()).collect();
                        cycle.push(dep.to_owned());
                        // Written in the direction work flows: upstream first.
                        cycle.reverse();
                        return Some(cycle);
                    }
                    Some(Mark::Done) => {}
                    None => {
                        marks.insert(dep, Mark::Visiting);
                        path.push((dep, 0));
                    }
                }
            } else {
                marks.insert(node, Mark::Done);
                path.pop();
            }
        }
    }
    None
}

/// `root` and every task that (transitively) depends on it: what a DAG
/// run started from `root` holds.
pub fn downstream_of(tasks: &[Task], root: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::from([root.to_owned()]);
    loop {
        let before = out.len();
        for t in tasks {
            if !out.contains(&t.name) && t.after.iter().any(|d| out.contains(&d.task)) {
                out.insert(t.name.clone());
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{Condition, Dependency, RetryPolicy};

    fn task(name: &str, after: &[&str]) -> Task {
        Task {
            name: name.into(),
            job: "j".into(),
            params: Default::default(),
            retry: RetryPolicy::default(),
            timeout_ms: None,
            limits: vec![],
            priority: 0,
            after: after
                .iter()
                .map(|a| Dependency {
                    task: (*a).into(),
                    on: Condition::Success,
                })
                .collect(),
            schedule: None,
        }
    }

    #[test]
    fn cycles_are_found_and_named() {
        let ok = [task("a", &[]), task("b", &["a"]), task("c", &["a", "b"])];
        assert_eq!(find_cycle(&ok), None);
        let bad = [
            task("a", &["c"]),
            task("b", &["a"]),
            task("c", &["b"]),
            task("d", &[]),
        ];
        let cycle = find_cycle(&bad).unwrap();
        assert_eq!(cycle.first(), cycle.last());
        assert_eq!(cycle.len(), 4, "{cycle:?}");
        for n in ["a", "b", "c"] {
            assert!(cycle.contains(&n.to_owned()));
        }
        assert_eq!(
            find_cycle(&[task("x", &["x"])]),
            Some(vec!["x".into(), "x".into()])
        );
    }

    #[test]
    fn downstream_closure() {
        let ts = [
            task("a", &[]),
            task("b", &["a"]),
            task("c", &["b"]),
            task("d", &[]),
            task("e", &["d", "c"]),
        ];
        assert_eq!(
            downstream_of(&ts, "b").into_iter().collect::<Vec<_>>(),
            vec!["b", "c", "e"]
        );
        assert_eq!(downstream_of(&ts, "e").len(), 1);
    }
}
