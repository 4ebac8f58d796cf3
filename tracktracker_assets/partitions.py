"""Per-user partitions. The `users` dynamic partitions follow the registry (see users/sensors.py)."""

from dagster import DynamicPartitionsDefinition

users_partitions = DynamicPartitionsDefinition(name="users")
