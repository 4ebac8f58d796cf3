#!/bin/sh
# The image's entrypoint: private files (umask 077) for whatever command the service runs.
umask 077
exec "$@"
