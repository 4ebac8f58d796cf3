"""Schedules (running by default when the daemon runs)."""

from dagster import DefaultScheduleStatus, ScheduleDefinition

from tracktracker_assets.transform.jobs import warehouse_checks_job

daily_warehouse_checks = ScheduleDefinition(
    job=warehouse_checks_job,
    cron_schedule="17 4 * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every night: bronze reconciles with gold, and no event appears twice.",
)
