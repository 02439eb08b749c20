#!/bin/sh
# The control-plane image's commands. Anything else runs as given (e.g. a shell).
#   web      the HTTP API and console on :3000 (waitress)
#   grpc     the agent endpoint on :4000 (TLS when ASSAY_GRPC_TLS_CERT/KEY are set)
#   daemon   schedules, sensors, automation, backfills, alerts (replicas allowed)
#   migrate  apply database migrations once, then exit
set -eu
command="${1:-web}"
[ $# -gt 0 ] && shift
case "$command" in
  web)
    exec python -m control_plane serve --host 0.0.0.0 --port "${ASSAY_WEB_PORT:-3000}" "$@"
    ;;
  grpc)
    set -- --host 0.0.0.0 --port "${ASSAY_GRPC_PORT:-4000}" "$@"
    if [ -n "${ASSAY_GRPC_TLS_CERT:-}" ]; then
      set -- "$@" --tls-cert "$ASSAY_GRPC_TLS_CERT" --tls-key "${ASSAY_GRPC_TLS_KEY:?ASSAY_GRPC_TLS_KEY is required with ASSAY_GRPC_TLS_CERT}"
      [ -n "${ASSAY_GRPC_TLS_CLIENT_CA:-}" ] && set -- "$@" --tls-client-ca "$ASSAY_GRPC_TLS_CLIENT_CA"
    elif [ "${ASSAY_GRPC_INSECURE:-}" = 1 ]; then
      set -- "$@" --insecure  # plaintext only behind a TLS-terminating proxy: see docs/deploy.md
    else
      echo "assay: set ASSAY_GRPC_TLS_CERT and ASSAY_GRPC_TLS_KEY (or ASSAY_GRPC_INSECURE=1 behind a TLS proxy)" >&2
      exit 2
    fi
    exec python -m control_plane grpc "$@"
    ;;
  daemon)
    exec python -m control_plane run_daemon "$@"
    ;;
  migrate)
    exec python -m control_plane migrate --noinput "$@"
    ;;
  *)
    exec "$command" "$@"
    ;;
esac
