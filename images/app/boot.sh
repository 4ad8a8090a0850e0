#!/bin/sh
# Boot: read the app's configuration from the environment, refuse to start without it,
# write the runtime config the site reads (/config.json), then become nginx (tini, PID 1,
# passes signals on).
set -eu

# Fail fast, naming every variable that is missing at once.
missing=""
for name in APP_ENV APP_API_URL; do
    eval "value=\${$name-}"
    if [ -z "$value" ]; then missing="$missing $name"; fi
done
if [ -n "$missing" ]; then
    echo "boot: missing configuration:$missing (set it in the environment, e.g. bake run app --env NAME=VALUE)" >&2
    exit 78  # EX_CONFIG
fi
case "$APP_ENV" in
    production | staging | development) ;;
    *) echo "boot: APP_ENV must be production, staging or development, not '$APP_ENV'" >&2; exit 78 ;;
esac
case "$APP_API_URL" in
    *[\"\\[:space:][:cntrl:]]*) echo "boot: APP_API_URL must not contain quotes, backslashes, spaces or control characters" >&2; exit 78 ;;
    http://?* | https://?*) ;;
    *) echo "boot: APP_API_URL must be an http:// or https:// URL, not '$APP_API_URL'" >&2; exit 78 ;;
esac

printf '{"env":"%s","apiUrl":"%s"}\n' "$APP_ENV" "$APP_API_URL" > /run/app/config.json.new
mv /run/app/config.json.new /run/app/config.json
echo "boot: app $(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' /srv/app/current/version.json), $APP_ENV, API $APP_API_URL; serving on port 8080" >&2
exec nginx
