-- The Prefect server keeps its own state (flow runs, schedules) beside ours.
CREATE DATABASE prefect OWNER incidents;
