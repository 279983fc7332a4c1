# Databricks notebook source
# MAGIC %md
# MAGIC # Sales report (Polysync demo)
# MAGIC Reads the widgets below and writes a report. Polysync imports every widget as a parameter.

# COMMAND ----------

# emulator: duration=15s
dbutils.widgets.text("run_date", "2025-01-31", "Run date")
dbutils.widgets.dropdown("region", "EMEA", ["EMEA", "AMER", "APAC"], "Region")
dbutils.widgets.combobox(name="currency", defaultValue="EUR", choices=["EUR", "USD", "JPY"], label="Currency")
dbutils.widgets.multiselect("channels", "web", ["web", "store", "partner"], "Channels")

# COMMAND ----------

region = dbutils.widgets.get("region")
print(f"building the {region} sales report")
dbutils.notebook.exit(dbutils.widgets.get("region"))
