"""HTTP ingestion: decode, validate and enrich events, then hand them to a sink. Nothing else."""
