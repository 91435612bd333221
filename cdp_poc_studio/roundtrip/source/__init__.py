"""The customer's own data as a run's source: reading a sample file, mapping and transforming its rows."""
