//! The task graph as inline SVG, laid out on the server so it shows with
//! JavaScript off: tasks in columns by depth (a task sits right of every
//! task it waits for), edges labelled by their condition. The live script
//! recolours a node by its `data-task-status` attribute.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use polysync_engine::Condition;

use super::html::esc;

/// Node width, height and the gaps between columns and rows (px).
const W: i64 = 176;
const H: i64 = 50;
const GX: i64 = 84;
const GY: i64 = 20;
const PAD: i64 = 8;
/// Longest task name drawn in full (the full name is in the node's title).
const NAME_CHARS: usize = 22;

/// One task to draw.
#[derive(Debug, Clone)]
pub struct Node {
    /// The task's name (unique in the graph).
    pub name: String,
    /// Its status name, `None` when it never ran.
    pub status: Option<String>,
    /// Extra attributes on the node's group (`data-task-status="…"`).
    pub attrs: String,
    /// Where the node links to (keyboard users reach each node).
    pub href: String,
}

/// An edge: `to` runs after `from` when `on` holds.
#[derive(Debug, Clone)]
pub struct Edge {
    /// The upstream task.
    pub from: String,
    /// The downstream task.
    pub to: String,
    /// The condition written on the edge.
    pub on: Condition,
}

/// Each node's column: 0 for a task with no upstream in the graph, else
/// one more than its deepest upstream (edges from outside are ignored; a
/// cycle, refused at apply time anyway, cannot loop here).
fn depths(nodes: &[Node], edges: &[Edge]) -> BTreeMap<String, usize> {
    let names: BTreeSet<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    let mut ups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in edges {
        if names.contains(e.from.as_str()) && names.contains(e.to.as_str()) {
            ups.entry(e.to.as_str()).or_default().push(e.from.as_str());
        }
    }
    let mut depth: BTreeMap<String, usize> = BTreeMap::new();
    // Relax at most |nodes| times: longest paths in a DAG settle by then.
    for n in &names {
        depth.insert((*n).to_owned(), 0);
    }
    for _ in 0..names.len() {
        let mut changed = false;
        for (to, froms) in &ups {
            let d = froms
                .iter()
                .filter_map(|f| depth.get(*f))
                .map(|d| d + 1)
                .max()
                .unwrap_or(0);
            if depth.get(*to).is_some_and(|cur| d > *cur) {
                depth.insert((*to).to_owned(), d);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    depth
}

/// Column and row of each node: columns by depth, rows ordered by the
/// mean row of a node's upstream tasks (fewer crossings), then by name.
fn layout(nodes: &[Node], edges: &[Edge]) -> (BTreeMap<String, (i64, i64)>, i64, i64) {
    let depth = depths(nodes, edges);
    let cols = depth.values().copied().max().map_or(0, |d| d + 1);
    let mut columns: Vec<Vec<String>> = vec![Vec::new(); cols];
    for n in nodes {
        if let Some(d) = depth.get(&n.name) {
            columns[*d].push(n.name.clone());
        }
    }
    let mut row: BTreeMap<String, f64> = BTreeMap::new();
    for col in &mut columns {
        let key = |name: &str| -> f64 {
            let ups: Vec<f64> = edges
                .iter()
                .filter(|e| e.to == name)
                .filter_map(|e| row.get(&e.from).copied())
                .collect();
            if ups.is_empty() {
                f64::MAX
            } else {
                ups.iter().sum::<f64>() / ups.len() as f64
            }
        };
        let mut keyed: Vec<(f64, String)> = col.iter().map(|n| (key(n), n.clone())).collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        *col = keyed.into_iter().map(|(_, n)| n).collect();
        for (i, n) in col.iter().enumerate() {
            row.insert(n.clone(), i as f64);
        }
    }
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0) as i64;
    let mut pos = BTreeMap::new();
    for (c, col) in columns.iter().enumerate() {
        // Centre shorter columns against the tallest one.
        let offset = (rows - col.len() as i64) * (H + GY) / 2;
        for (r, name) in col.iter().enumerate() {
            let x = PAD + c as i64 * (W + GX);
            let y = PAD + offset + r as i64 * (H + GY);
            pos.insert(name.clone(), (x, y));
        }
    }
    let width = (2 * PAD + cols as i64 * (W + GX) - GX).max(W + 2 * PAD);
    let height = (2 * PAD + rows * (H + GY) - GY).max(H + 2 * PAD);
    (pos, width, height)
}

fn short(name: &str) -> String {
    if name.chars().count() <= NAME_CHARS {
        name.to_owned()
    } else {
        let mut s: String = name.chars().take(NAME_CHARS - 1).collect();
        s.push('…');
        s
    }
}

/// The graph as an `<svg>` element; `label` names it for screen readers.
pub fn svg(label: &str, nodes: &[Node], edges: &[Edge]) -> String {
    let (pos, width, height) = layout(nodes, edges);
    let mut out = format!(
        r#"<svg class="dag" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="group" aria-label="{l}"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" class="ah"/></marker></defs>"#,
        l = esc(label)
    );
    for e in edges {
        let (Some(&(x1, y1)), Some(&(x2, y2))) = (pos.get(&e.from), pos.get(&e.to)) else {
            continue;
        };
        let (sx, sy) = (x1 + W, y1 + H / 2);
        let (tx, ty) = (x2, y2 + H / 2);
        let bend = (tx - sx).abs() / 2;
        let cond = e.on.as_str();
        let _ = write!(
            out,
            r#"<g class="e e-{cond}"><path d="M{sx} {sy}C{c1} {sy},{c2} {ty},{tx} {ty}" marker-end="url(#arrow)"/><text x="{mx}" y="{my}" text-anchor="middle">{cond}</text></g>"#,
            c1 = sx + bend,
            c2 = tx - bend,
            mx = (sx + tx) / 2,
            my = (sy + ty) / 2 - 5,
        );
    }
    for n in nodes {
        let Some(&(x, y)) = pos.get(&n.name) else {
            continue;
        };
        let status = n.status.as_deref().unwrap_or("never run");
        let cls = n
            .status
            .as_deref()
            .map_or_else(|| "n".to_owned(), |s| format!("n st-{}", esc(s)));
        let _ = write!(
            out,
            r#"<g class="{cls}" {attrs}><a href="{href}"><title>{name}: {st}</title><rect x="{x}" y="{y}" width="{W}" height="{H}" rx="7"/><text class="t" x="{tx}" y="{ty}">{short}</text><text class="s" x="{tx}" y="{sy}">{st}</text></a></g>"#,
            attrs = n.attrs,
            href = esc(&n.href),
            name = esc(&n.name),
            st = esc(status),
            tx = x + 12,
            ty = y + 21,
            sy = y + 40,
            short = esc(&short(&n.name)),
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> Node {
        Node {
            name: name.into(),
            status: None,
            attrs: String::new(),
            href: format!("#{name}"),
        }
    }

    fn edge(from: &str, to: &str, on: Condition) -> Edge {
        Edge {
            from: from.into(),
            to: to.into(),
            on,
        }
    }

    #[test]
    fn a_task_sits_right_of_everything_it_waits_for() {
        let nodes = ["publish", "extract", "alert", "report"].map(node);
        let edges = [
            edge("extract", "publish", Condition::Success),
            edge("extract", "alert", Condition::Failure),
            edge("publish", "report", Condition::Done),
            edge("extract", "report", Condition::Success),
        ];
        let (pos, w, h) = layout(&nodes, &edges);
        assert!(pos["extract"].0 < pos["publish"].0);
        assert_eq!(pos["publish"].0, pos["alert"].0);
        assert!(pos["publish"].0 < pos["report"].0, "deepest upstream wins");
        assert!(w >= 3 * W && h >= 2 * H);
        let svg = svg("tasks", &nodes, &edges);
        assert!(svg.contains(">failure</text>") && svg.contains(">done</text>"));
        assert_eq!(svg.matches("<rect").count(), 4);
    }

    #[test]
    fn a_cycle_or_a_foreign_edge_does_not_hang_or_panic() {
        let nodes = ["a", "b"].map(node);
        let edges = [
            edge("a", "b", Condition::Success),
            edge("b", "a", Condition::Success),
            edge("x", "a", Condition::Done),
        ];
        let svg = svg("tasks", &nodes, &edges);
        assert_eq!(svg.matches("<rect").count(), 2);
    }
}
