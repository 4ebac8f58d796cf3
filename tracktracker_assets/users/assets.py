"""bronze/registry_users: the registry's users mirrored into the warehouse for dbt."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from tracktracker_assets.orchestration.resources import RegistryResource, WarehouseResource
from tracktracker_assets.users.sync import sync_registry_users


@asset(key=AssetKey(["bronze", "registry_users"]), group_name="bronze", kinds={"mongodb", "postgres"})
def registry_users(
    context: AssetExecutionContext, warehouse: WarehouseResource, registry: RegistryResource
) -> MaterializeResult:
    """Users, display names, time zones and status from the MongoDB registry."""
    with registry.open() as reg:
        users = reg.list_users()
    with warehouse.connection() as conn:
        counts = sync_registry_users(conn, users)
    preview = "\n".join(
        ["| user | name | time zone | status |", "|---|---|---|---|"]
        + [f"| {u.user_id} | {u.display_name} | {u.timezone} | {u.status} |" for u in users[:50]]
    )
    context.log.info(f"{counts['users']} users mirrored, {counts['removed']} removed")
    return MaterializeResult(
        metadata={
            "users": counts["users"],
            "removed": counts["removed"],
            "preview": MetadataValue.md(preview),
        }
    )
