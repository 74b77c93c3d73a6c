"""Joint regime + text context embeddings: spaces, math, storage, Airflow operators and the command line."""
