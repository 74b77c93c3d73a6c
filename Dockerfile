# The image of docker-compose.yaml: the Airflow release that requirements.txt pins, plus requirements.txt.
# The slim variant carries Airflow core without the bundled provider set, so the fully pinned
# requirements.txt (celery and postgres providers included) is the whole dependency story.
FROM apache/airflow:slim-3.3.2-python3.11

# The Airflow image installs Python packages as the airflow user (into its user site), never as root.
USER airflow
COPY --chown=airflow:0 requirements.txt /opt/airflow/requirements.txt
RUN pip install --no-cache-dir -r /opt/airflow/requirements.txt

# The package itself: DAG files, the joint_context plugin and the SQL it reads (store.py finds
# include/sql two folders above plugins/joint_context, i.e. /opt/airflow/include/sql).
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 include/ /opt/airflow/include/
