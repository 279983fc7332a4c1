-- Databricks notebook source
-- MAGIC %md
-- MAGIC # Daily KPIs (Polysync demo, SQL)

-- COMMAND ----------

-- emulator: duration=10s
CREATE WIDGET TEXT kpi_date DEFAULT "2025-01-31";
CREATE WIDGET DROPDOWN granularity DEFAULT "day" CHOICES SELECT * FROM (VALUES ("day"), ("week"), ("month"));
CREATE WIDGET COMBOBOX store_id DEFAULT "42" CHOICES SELECT * FROM (VALUES ("42"), ("7"));
CREATE WIDGET MULTISELECT metrics DEFAULT "revenue" CHOICES SELECT * FROM (VALUES ("revenue"), ("orders"), ("margin"));

-- COMMAND ----------

SELECT getArgument("kpi_date") AS kpi_date, getArgument("granularity") AS granularity;
