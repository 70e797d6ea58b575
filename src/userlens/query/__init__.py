"""Insight runners: typed spec in, SQL out, rows in, typed result out. Pure: no I/O here."""
