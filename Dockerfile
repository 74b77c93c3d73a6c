# The image of docker-compose.yaml: the Airflow release that requirements.txt pins, plus requirements.txt and the
# joint_context package. The slim variant carries Airflow core without the bundled provider set, so the fully
# pinned requirements.txt (celery and postgres providers included) is the whole dependency story.
FROM apache/airflow:slim-3.3.2-python3.11

# The Airflow image installs Python packages as the airflow user (into its user site), never as root.
USER airflow
COPY --chown=airflow:0 requirements.txt /opt/airflow/requirements.txt
RUN pip install --no-cache-dir -r /opt/airflow/requirements.txt

# The package, installed as a package (its queries ship inside it as package data); --no-deps: requirements.txt
# above already pinned everything it needs.
COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow/src/joint-context/
COPY --chown=airflow:0 plugins/ /opt/airflow/src/joint-context/plugins/
RUN pip install --no-cache-dir --no-deps /opt/airflow/src/joint-context
# The plugin that registers the DAGs' timetable (without it the DAGs cannot be serialized).
COPY --chown=airflow:0 plugins/processed_day_plugin.py /opt/airflow/plugins/

# The DAG files, and the schema and grants a DBA applies (include/sql); the package reads neither at run time.
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 include/ /opt/airflow/include/
