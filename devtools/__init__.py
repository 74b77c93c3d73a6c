"""Development helpers shared by the demo, the tests and the benchmark: local PostgreSQL and seed data."""
