#!/usr/bin/env bash
# `make up`: builds the services, starts PostgreSQL/NATS if needed, bootstraps the database,
# runs each service's migrations as its own role, starts the Toss Payments sandbox (the
# payment provider, on 127.0.0.1:8090) and the local OpenID provider (social login's `dev`,
# with a Naver sandbox, on 127.0.0.1:8091), REPLICAS (default 1) of each service and nginx on
# 127.0.0.1:8080 in front of them. Logs: .run/logs/. `make down` stops it all.
# NO_BUILD=1 uses the binaries already built.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
replicas=${REPLICAS:-1}
profile=${PROFILE:-debug}
listen=${INGRESS_ADDR:-127.0.0.1:8080}
run=$root/.run
mkdir -p "$run/logs" "$run/pids"

"$root/scripts/down.sh" >/dev/null 2>&1 || true
"$root/scripts/deps.sh"

if [ -z "${NO_BUILD:-}" ]; then
  echo "up: building ($profile)"
  # Release builds include the examples (make bench runs one): one build, one feature set.
  if [ "$profile" = release ]; then cargo build --release --workspace --bins --examples -q; else cargo build --bins -q; fi
fi
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin=$target/$profile

# One signing key for the whole local stack, kept across restarts so tokens stay valid; the
# key deposit notifications are signed with (README, "Paying"); the local OpenID provider's
# client secret (README, "Social login").
for key in jwt_secret deposit_secret oidc_client_secret; do
  [ -s "$run/$key" ] || python3 -c 'import secrets; print(secrets.token_hex(32))' > "$run/$key"
  chmod 600 "$run/$key"
done
# The provider's documented test keys, which the sandbox accepts.
toss_secret_key=test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R
toss_client_key=test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq
toss_addr=${TOSS_SANDBOX_ADDR:-127.0.0.1:8090}
oidc_addr=${OIDC_DEV_ADDR:-127.0.0.1:8091}

# service:http_base:grpc_base — the services that exist in this checkout.
declare -a services=()
# gRPC on 9051/9052 (+10 per replica): below the ephemeral range (32768+), so no client
# socket of the machine can hold the port when a replica starts.
for spec in login:8001:9051 menu:8002:9052 order:8003:0 payment:8004:0; do
  [ -d "$root/services/${spec%%:*}" ] && services+=("$spec")
done

common_env=(
  "DB_HOST=${DB_HOST:-127.0.0.1}" "DB_PORT=5432" "DB_NAME=${DB_NAME:-pizza}"
  "NATS_URL=nats://127.0.0.1:4222"
  "JWT_SECRET=$(cat "$run/jwt_secret")"
  "TRUSTED_PROXIES=127.0.0.1/32"
  "LOG_LEVEL=${LOG_LEVEL:-info}"
  "SHUTDOWN_DRAIN=${SHUTDOWN_DRAIN:-1s}"
)

# Another checkout's stack (or anything else) on our ports would answer our health checks.
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for spec in "${services[@]}"; do
  IFS=: read -r svc http_base grpc_base <<<"$spec"
  for ((i = 0; i < replicas; i++)); do
    for port in $((http_base + 10 * i)) $([ "$grpc_base" != 0 ] && echo $((grpc_base + 10 * i))); do
      if in_use "$port"; then echo "up: 127.0.0.1:$port ($svc) is already in use: is another stack running? (make down there)"; exit 1; fi
    done
  done
done
if in_use "${listen##*:}"; then echo "up: $listen (ingress) is already in use: is another stack running? (make down there)"; exit 1; fi
if in_use "${toss_addr##*:}"; then echo "up: $toss_addr (the payment sandbox) is already in use: is another stack running? (make down there)"; exit 1; fi
if in_use "${oidc_addr##*:}"; then echo "up: $oidc_addr (the local OpenID provider) is already in use: is another stack running? (make down there)"; exit 1; fi

# The payment provider: a local sandbox of Toss Payments' API and checkout page, whose webhooks
# go to the payment service through the ingress (as the provider's dashboard would be set).
nohup env TOSS_SANDBOX_ADDR="$toss_addr" TOSS_SECRET_KEY="$toss_secret_key" TOSS_CLIENT_KEY="$toss_client_key" \
  TOSS_SANDBOX_WEBHOOK_URL="http://$listen/payment/webhooks/tosspayments/" \
  "$bin/toss-sandbox" >>"$run/logs/toss-sandbox.log" 2>&1 &
echo $! >"$run/pids/toss-sandbox.pid"
for _ in $(seq 1 50); do in_use "${toss_addr##*:}" && break; sleep 0.1; done
echo "up: payment sandbox on http://$toss_addr"

# The local OpenID provider, "dev" (npm's oidc-provider with its development login screens,
# which take any login and password); its keys are kept
# in .run so tokens it signed stay verifiable across restarts.
nohup env OIDC_HOST="${oidc_addr%%:*}" OIDC_PORT="${oidc_addr##*:}" \
  OIDC_CLIENT_SECRET="$(cat "$run/oidc_client_secret")" OIDC_KEYS_FILE="$run/oidc_keys.json" \
  OIDC_REDIRECT_URIS="http://$listen/login/oauth/dev/callback" \
  node "$root/tools/oidc-dev/server.mjs" >>"$run/logs/oidc-dev.log" 2>&1 &
echo $! >"$run/pids/oidc-dev.pid"
for _ in $(seq 1 100); do in_use "${oidc_addr##*:}" && break; sleep 0.1; done
in_use "${oidc_addr##*:}" || { echo "up: the local OpenID provider did not start; see .run/logs/oidc-dev.log"; exit 1; }
echo "up: local OpenID provider (dev) on http://$oidc_addr"

# What only some services read.
service_env() {
  case "$1" in
    login) echo "PUBLIC_WEB_URL=http://$listen/" "OAUTH_DEV_CLIENT_ID=pizza" \
      "OAUTH_DEV_CLIENT_SECRET=$(cat "$run/oidc_client_secret")" "OAUTH_DEV_ISSUER=http://$oidc_addr" ;;
    order) echo "TRANSFER_BANK=${TRANSFER_BANK:-케이뱅크}" "TRANSFER_ACCOUNT_NO=${TRANSFER_ACCOUNT_NO:-100148347666}" ;;
    payment) echo "TOSS_API_URL=http://$toss_addr" "TOSS_CHECKOUT_URL=http://$toss_addr/checkout" \
      "TOSS_SECRET_KEY=$toss_secret_key" "TOSS_CLIENT_KEY=$toss_client_key" \
      "DEPOSIT_WEBHOOK_SECRET=$(cat "$run/deposit_secret")" ;;
  esac
}

ingress_args=()
for spec in "${services[@]}"; do
  IFS=: read -r svc http_base grpc_base <<<"$spec"
  echo "up: migrating $svc"
  env "${common_env[@]}" "$bin/pizza-$svc" migrate >>"$run/logs/$svc-migrate.log" 2>&1
  addrs=""
  for ((i = 0; i < replicas; i++)); do
    http_port=$((http_base + 10 * i))
    # Replica i calls replica i of login and menu (a Kubernetes Service would pick one).
    grpc_env=("LOGIN_GRPC_URL=http://127.0.0.1:$((9051 + 10 * i))" "MENU_GRPC_URL=http://127.0.0.1:$((9052 + 10 * i))")
    if [ "$grpc_base" != 0 ]; then grpc_env+=("GRPC_ADDR=127.0.0.1:$((grpc_base + 10 * i))"); fi
    read -r -a svc_env <<<"$(service_env "$svc")"
    nohup env "${common_env[@]}" "${grpc_env[@]}" "${svc_env[@]}" HTTP_ADDR="127.0.0.1:$http_port" \
      "$bin/pizza-$svc" serve >>"$run/logs/$svc-$i.log" 2>&1 &
    echo $! >"$run/pids/$svc-$i.pid"
    addrs+="${addrs:+,}127.0.0.1:$http_port"
    for _ in $(seq 1 100); do
      curl -fsS -o /dev/null "http://127.0.0.1:$http_port/healthz" && break
      sleep 0.1
    done
    curl -fsS -o /dev/null "http://127.0.0.1:$http_port/healthz" ||
      { echo "up: $svc replica $i did not become ready; see .run/logs/$svc-$i.log"; exit 1; }
    echo "up: $svc replica $i ready on 127.0.0.1:$http_port"
  done
  ingress_args+=("$svc=$addrs")
done

nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
"$root/scripts/render-nginx.sh" "$run/nginx" "$listen" "${ingress_args[@]}" >/dev/null
"$nginx_bin" -p "$run/nginx" -c "$run/nginx/nginx.conf"
echo "up: ingress on http://$listen — the web client at http://$listen/ (logs in .run/logs, nginx logs in .run/nginx)"
