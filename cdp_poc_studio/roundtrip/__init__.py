"""The round trip: scenarios, the pipeline, field-level verification and reports. No Qt."""
