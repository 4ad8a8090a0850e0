#!/bin/sh
# Boot script: fail fast when required configuration is missing, then serve.
set -eu
: "${APP_ENV:?APP_ENV must be set}"
echo "app starting (env=$APP_ENV)"
exec httpd -f -p 8080 -h /srv/app/current
