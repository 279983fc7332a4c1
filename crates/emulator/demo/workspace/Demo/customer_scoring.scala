// Databricks notebook source
// MAGIC %md
// MAGIC # Customer scoring (Polysync demo, Scala)

// COMMAND ----------

// emulator: duration=10s
dbutils.widgets.text("model_version", "3", "Model version")
dbutils.widgets.dropdown("segment", "retail", Seq("retail", "wholesale"), "Segment")
dbutils.widgets.combobox("threshold", "0.75", Array("0.5", "0.75", "0.9"), "Threshold")
dbutils.widgets.multiselect("features", "recency", List("recency", "frequency", "monetary"), "Features")

// COMMAND ----------

val segment = dbutils.widgets.get("segment")
println(s"scoring $segment customers")
