//! Widget parser tests: one per syntax, plus "never panics" properties.

use super::*;
use proptest::prelude::*;

fn w(
    name: &str,
    kind: WidgetKind,
    default: Option<&str>,
    choices: &[&str],
    label: Option<&str>,
) -> Widget {
    Widget {
        name: name.into(),
        kind,
        default: default.map(Into::into),
        choices: choices.iter().map(|c| (*c).into()).collect(),
        label: label.map(Into::into),
    }
}

fn names(ws: &[Widget]) -> Vec<&str> {
    ws.iter().map(|w| w.name.as_str()).collect()
}

#[test]
fn python_positional_all_kinds() {
    let src = r#"# Databricks notebook source
dbutils.widgets.text("env", "dev", "Environment")
dbutils.widgets.dropdown("x", "a", ["a", "b"])
dbutils.widgets.combobox('fruit', 'apple', ('apple', 'pear'), 'Fruit')
dbutils.widgets.multiselect("days", "Mon", ["Mon", "Tue"], "Days")
dbutils.widgets.text("two_args", "v")
"#;
    assert_eq!(
        parse_widgets(src, None),
        vec![
            w(
                "env",
                WidgetKind::Text,
                Some("dev"),
                &[],
                Some("Environment")
            ),
            w("x", WidgetKind::Dropdown, Some("a"), &["a", "b"], None),
            w(
                "fruit",
                WidgetKind::Combobox,
                Some("apple"),
                &["apple", "pear"],
                Some("Fruit")
            ),
            w(
                "days",
                WidgetKind::Multiselect,
                Some("Mon"),
                &["Mon", "Tue"],
                Some("Days")
            ),
            w("two_args", WidgetKind::Text, Some("v"), &[], None),
        ]
    );
}

#[test]
fn python_keyword_arguments_any_order_and_multiline() {
    let src = r#"dbutils.widgets.text(name="target_schema", label="Schema", defaultValue="dev_schema")
dbutils.widgets.dropdown(
    "region",
    defaultValue='eu',
    label="Region",
    choices=[
        "eu",  # Europe
        "us",
    ],
)
dbutils.widgets.dropdown(choices=CHOICES, name="computed", defaultValue="a")
"#;
    assert_eq!(
        parse_widgets(src, Some(NotebookLanguage::Python)),
        vec![
            w(
                "target_schema",
                WidgetKind::Text,
                Some("dev_schema"),
                &[],
                Some("Schema")
            ),
            w(
                "region",
                WidgetKind::Dropdown,
                Some("eu"),
                &["eu", "us"],
                Some("Region")
            ),
            w("computed", WidgetKind::Dropdown, Some("a"), &[], None),
        ]
    );
}

#[test]
fn python_quotes_single_double_triple_and_prefixes() {
    let src = "dbutils.widgets.text('a', \"x'y\", '''La\nbel''')\ndbutils.widgets.text(r\"b\", f'{1}')\ndbutils.widgets.text(\"\"\"c\"\"\", \"\")\n";
    let ws = parse_widgets(src, None);
    assert_eq!(names(&ws), vec!["a", "b", "c"]);
    assert_eq!(ws[0].default.as_deref(), Some("x'y"));
    assert_eq!(ws[0].label.as_deref(), Some("La\nbel"));
    assert_eq!(ws[2].default.as_deref(), Some(""));
}

#[test]
fn python_only_top_level_counts() {
    let src = r#"
if debug:
    dbutils.widgets.text("in_if", "x")
def make():
    dbutils.widgets.text("in_def", "x")
for i in range(3): dbutils.widgets.text("in_for", "x")
try:
    dbutils.widgets.text("in_try", "x")
except Exception:
    pass
x = [dbutils.widgets.text("in_list", "x")]
s = """
dbutils.widgets.text("in_string", "x")
"""
# dbutils.widgets.text("in_comment", "x")
dbutils.widgets.text("top", "ok")
w = dbutils.widgets.text("assigned", "ok")
"#;
    assert_eq!(names(&parse_widgets(src, None)), vec!["top", "assigned"]);
}

#[test]
fn python_ignores_get_and_remove() {
    let src = "x = dbutils.widgets.get(\"a\")\ndbutils.widgets.removeAll()\ndbutils.widgets.TEXT(\"no\", \"x\")\n";
    assert!(parse_widgets(src, None).is_empty());
}

#[test]
fn scala_seq_array_list_and_braces() {
    let src = r#"// Databricks notebook source
dbutils.widgets.dropdown("retweets", "No", Seq("No", "Yes"), "Retweets")
dbutils.widgets.text("filter", "Trump", "Text Filter")
dbutils.widgets.combobox("c", "1", Array("1", "2"))
dbutils.widgets.multiselect("m", "x", List("x", "y"), "M")
if (debug) {
  dbutils.widgets.text("inside_if", "x")
}
object Setup {
  dbutils.widgets.text("inside_object", "x")
}
/* dbutils.widgets.text("in_block_comment", "x") */
val s = """dbutils.widgets.text("in_string", "x")"""
"#;
    assert_eq!(
        parse_widgets(src, None),
        vec![
            w(
                "retweets",
                WidgetKind::Dropdown,
                Some("No"),
                &["No", "Yes"],
                Some("Retweets")
            ),
            w(
                "filter",
                WidgetKind::Text,
                Some("Trump"),
                &[],
                Some("Text Filter")
            ),
            w("c", WidgetKind::Combobox, Some("1"), &["1", "2"], None),
            w(
                "m",
                WidgetKind::Multiselect,
                Some("x"),
                &["x", "y"],
                Some("M")
            ),
        ]
    );
}

#[test]
fn r_vectors_lists_named_args_and_braces() {
    let src = r#"# Databricks notebook source
dbutils.widgets.text("token", "", "Label")
dbutils.widgets.dropdown("d", "a", c("a", "b"), "D")
dbutils.widgets.multiselect(name = "m", defaultValue = "x", choices = list("x", "y"))
if (TRUE) {
  dbutils.widgets.text("inside", "x")
}
f <- function() { dbutils.widgets.text("in_fn", "x") }
"#;
    assert_eq!(
        parse_widgets(src, Some(NotebookLanguage::R)),
        vec![
            w("token", WidgetKind::Text, Some(""), &[], Some("Label")),
            w("d", WidgetKind::Dropdown, Some("a"), &["a", "b"], Some("D")),
            w("m", WidgetKind::Multiselect, Some("x"), &["x", "y"], None),
        ]
    );
}

#[test]
fn sql_create_widget_forms() {
    let src = r#"-- Databricks notebook source
CREATE WIDGET TEXT database DEFAULT ""

-- COMMAND ----------

CREATE WIDGET TEXT catalog DEFAULT 'tpcdi';
create widget dropdown state default "CA" choices SELECT DISTINCT state FROM t;
CREATE WIDGET DROPDOWN env DEFAULT "dev" CHOICES (VALUES 'dev', 'test', 'prod');
CREATE WIDGET DROPDOWN sf DEFAULT "10" CHOICES SELECT * FROM (VALUES ("10"), ("100"));
CREATE WIDGET COMBOBOX cb DEFAULT 'x' CHOICES (VALUES 'x', 'y')
CREATE WIDGET MULTISELECT m DEFAULT "Bitcoin" CHOICES (VALUES 'Bitcoin', 'Ethereum');
-- CREATE WIDGET TEXT commented DEFAULT "no"
CREATE WIDGET TEXT `quoted name` DEFAULT "it's"
"#;
    assert_eq!(
        parse_widgets(src, None),
        vec![
            w("database", WidgetKind::Text, Some(""), &[], None),
            w("catalog", WidgetKind::Text, Some("tpcdi"), &[], None),
            w("state", WidgetKind::Dropdown, Some("CA"), &[], None),
            w(
                "env",
                WidgetKind::Dropdown,
                Some("dev"),
                &["dev", "test", "prod"],
                None
            ),
            w("sf", WidgetKind::Dropdown, Some("10"), &["10", "100"], None),
            w("cb", WidgetKind::Combobox, Some("x"), &["x", "y"], None),
            w(
                "m",
                WidgetKind::Multiselect,
                Some("Bitcoin"),
                &["Bitcoin", "Ethereum"],
                None
            ),
            w("quoted name", WidgetKind::Text, Some("it's"), &[], None),
        ]
    );
}

#[test]
fn magic_cells_switch_language() {
    let py = r#"# Databricks notebook source
# MAGIC %md
# MAGIC dbutils.widgets.text("in_markdown", "x")

# COMMAND ----------

# MAGIC %sql
# MAGIC CREATE WIDGET TEXT from_sql DEFAULT "s"

# COMMAND ----------

# DBTITLE 1,Params
dbutils.widgets.text("native", "n")

# COMMAND ----------

# MAGIC %scala
# MAGIC dbutils.widgets.text("from_scala", "sc")
"#;
    assert_eq!(
        names(&parse_widgets(py, None)),
        vec!["from_sql", "native", "from_scala"]
    );

    let sql = r#"-- Databricks notebook source
-- MAGIC %python
-- MAGIC dbutils.widgets.dropdown("from_python", "a", ["a", "b"])
-- MAGIC if x:
-- MAGIC     dbutils.widgets.text("nested", "x")

-- COMMAND ----------

CREATE WIDGET TEXT native DEFAULT "n"

-- COMMAND ----------

-- MAGIC %r
-- MAGIC dbutils.widgets.text("from_r", "r")
"#;
    let ws = parse_widgets(sql, None);
    assert_eq!(names(&ws), vec!["from_python", "native", "from_r"]);
    assert_eq!(ws[0].choices, vec!["a", "b"]);

    let scala = "// Databricks notebook source\n// MAGIC %python\n// MAGIC dbutils.widgets.text(\"p\", \"1\")\n\n// COMMAND ----------\n\ndbutils.widgets.text(\"s\", \"2\")\n";
    assert_eq!(names(&parse_widgets(scala, None)), vec!["p", "s"]);
}

#[test]
fn duplicate_declarations_keep_the_first() {
    let src = "dbutils.widgets.text(\"a\", \"1\")\ndbutils.widgets.text(\"a\", \"2\")\n";
    let ws = parse_widgets(src, None);
    assert_eq!(ws.len(), 1);
    assert_eq!(ws[0].default.as_deref(), Some("1"));
}

#[test]
fn jupyter_cells_and_metadata() {
    let nb = serde_json::json!({
        "nbformat": 4, "nbformat_minor": 0,
        "metadata": {
            "application/vnd.databricks.v1+notebook": {
                "language": "python",
                "notebookName": "nb",
                "widgets": {
                    "code_widget": {
                        "currentValue": "z",
                        "widgetInfo": {"widgetType": "dropdown", "defaultValue": "a", "label": "From meta",
                            "name": "code_widget", "options": {"widgetType": "dropdown", "choices": ["a", "b"]}}
                    },
                    "reset_all_data": {
                        "currentValue": "false",
                        "typedWidgetInfo": {"autoCreated": false, "defaultValue": "false", "label": "Reset all data",
                            "name": "reset_all_data",
                            "options": {"widgetDisplayType": "Dropdown", "choices": ["true", "false"], "fixedDomain": true, "multiselect": false},
                            "parameterDataType": "String"},
                        "widgetInfo": {"widgetType": "dropdown", "defaultValue": "false", "label": "Reset all data",
                            "name": "reset_all_data", "options": {"widgetType": "dropdown", "autoCreated": null, "choices": ["true", "false"]}}
                    },
                    "ms": {"typedWidgetInfo": {"defaultValue": "x", "name": "ms", "label": "",
                        "options": {"widgetDisplayType": "Dropdown", "choices": ["x"], "multiselect": true}}}
                }
            }
        },
        "cells": [
            {"cell_type": "markdown", "source": ["dbutils.widgets.text(\"md\", \"x\")"]},
            {"cell_type": "code", "source": ["dbutils.widgets.dropdown(\"code_widget\", \"a\",\n", " CHOICES)\n"]},
            {"cell_type": "code", "source": "%sql\nCREATE WIDGET TEXT sql_w DEFAULT 'q'"},
            {"cell_type": "code", "source": ["if x:\n", "    dbutils.widgets.text(\"nested\", \"x\")"]}
        ]
    });
    let ws = parse_widgets(&nb.to_string(), None);
    assert_eq!(
        ws,
        vec![
            w(
                "code_widget",
                WidgetKind::Dropdown,
                Some("a"),
                &["a", "b"],
                Some("From meta")
            ),
            w("sql_w", WidgetKind::Text, Some("q"), &[], None),
            w("ms", WidgetKind::Multiselect, Some("x"), &["x"], None),
            w(
                "reset_all_data",
                WidgetKind::Dropdown,
                Some("false"),
                &["true", "false"],
                Some("Reset all data")
            ),
        ]
    );
}

#[test]
fn jupyter_language_from_metadata() {
    let nb = serde_json::json!({
        "metadata": {"application/vnd.databricks.v1+notebook": {"language": "scala"}},
        "cells": [{"cell_type": "code", "source": "if (x) {\n dbutils.widgets.text(\"no\", \"x\")\n}\ndbutils.widgets.text(\"yes\", \"x\", \"L\")"}]
    });
    assert_eq!(names(&parse_widgets(&nb.to_string(), None)), vec!["yes"]);
}

#[test]
fn non_json_brace_content_falls_back_to_source() {
    assert!(parse_widgets("{ not json", None).is_empty());
}

#[test]
fn widget_to_parameter_is_string_input() {
    let p = w("n", WidgetKind::Text, Some("42"), &[], None).to_parameter();
    assert_eq!(p.data_type, DataType::String);
    assert!(p.forwarded);
    assert_eq!(p.default_value.as_deref(), Some("42"));
}

fn fragments() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "dbutils",
        ".",
        "widgets",
        "text",
        "dropdown",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        "=",
        "\"",
        "'",
        "\"\"\"",
        "'''",
        "\n",
        "    ",
        "#",
        "//",
        "/*",
        "*/",
        "--",
        "\\",
        "name",
        "defaultValue",
        "choices",
        "label",
        "Seq",
        "c",
        "CREATE",
        "WIDGET",
        "TEXT",
        "DEFAULT",
        "CHOICES",
        "VALUES",
        ";",
        "# MAGIC %sql",
        "-- MAGIC %python",
        "# COMMAND ----------",
        "%scala",
        "é",
        "\u{feff}",
        "{\"cells\": [",
        "if",
        ":",
        "x",
    ]);
    prop::collection::vec(pieces, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_arbitrary_input(s in any::<String>()) {
        for lang in [None, Some(NotebookLanguage::Python), Some(NotebookLanguage::Scala),
                     Some(NotebookLanguage::Sql), Some(NotebookLanguage::R)] {
            let _ = parse_widgets(&s, lang);
        }
    }

    #[test]
    fn never_panics_on_widget_like_fragments(s in fragments()) {
        for lang in [None, Some(NotebookLanguage::Scala), Some(NotebookLanguage::Sql), Some(NotebookLanguage::R)] {
            let _ = parse_widgets(&s, lang);
            let _ = parse_code(&s, lang.unwrap_or(NotebookLanguage::Python));
        }
    }
}
