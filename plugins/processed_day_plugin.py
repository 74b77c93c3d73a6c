"""An Airflow plugin (loaded from the plugins folder): registers the DAGs' timetable, so they can be serialized.

The package itself is ignored by the plugin loader (``.airflowignore``); this file only exports its plugin. The
Docker image copies it into its plugins folder. (Not an ``airflow.plugins`` entry point: an editable install leaves
``joint_context.egg-info`` in this folder, on ``sys.path``, and Airflow would load the plugin twice.)
"""

from joint_context.timetables import JointContextPlugin

__all__ = ["JointContextPlugin"]
