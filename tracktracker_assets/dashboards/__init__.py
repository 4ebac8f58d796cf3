"""Superset for listeners: the local service, provisioning from superset/assets, the upload page.

    from tracktracker_assets.dashboards import provision, service
    url = service.start(settings)          # gunicorn on 127.0.0.1, metadata in the `superset` database
    provision.provision(settings)          # reader role, bundle, Listener role, RLS, listeners' accounts
    service.stop(settings)

Modules: config (environment), service, provision (orchestration), bundle (asset files), warehouse_role,
security (role, row-level security), listeners (accounts), client (REST), upload_page (the listeners'
page; what it accepts is exports.uploads), assets (the dashboards as Dagster asset specs).
"""
