"""Seeded, reproducible dummy guests and orders with nested extensions, drawn from Faker."""
