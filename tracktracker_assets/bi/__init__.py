"""Superset for listeners: the local service, provisioning from superset/assets, a REST client.

from tracktracker_assets.bi import provision, service
url = service.start(settings)          # gunicorn on 127.0.0.1, metadata in the `superset` database
provision.provision(settings)          # reader role, bundle, Listener role, row-level security
provision.ensure_listener("alice", "Alice")
service.stop(settings)
"""
