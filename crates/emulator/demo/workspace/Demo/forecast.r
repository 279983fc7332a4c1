# Databricks notebook source
# MAGIC %md
# MAGIC # Demand forecast (Polysync demo, R)

# COMMAND ----------

# emulator: duration=10s
dbutils.widgets.text("horizon_days", "14", "Horizon (days)")
dbutils.widgets.dropdown("method", "ets", c("ets", "arima", "prophet"), "Method")
dbutils.widgets.combobox("confidence", "0.95", c("0.8", "0.9", "0.95"), "Confidence")
dbutils.widgets.multiselect(name = "stores", defaultValue = "all", choices = list("all", "north", "south"), label = "Stores")

# COMMAND ----------

horizon <- as.integer(dbutils.widgets.get("horizon_days"))
print(paste("forecasting", horizon, "days"))
