"""Airflow harnesses: child processes (``processes``), the Airflow 3 stack (``stack``), its metadata database
(``metadata``) and ``python -m devtools.airflow_stack`` (``serve``)."""
