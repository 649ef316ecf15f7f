#!/usr/bin/env bash
# Renders deploy/nginx/nginx.conf.template into PREFIX/nginx.conf.
#
#   scripts/render-nginx.sh PREFIX LISTEN SERVICE=ADDR[,ADDR...] ...
#   e.g. scripts/render-nginx.sh .run/nginx 127.0.0.1:8080 login=127.0.0.1:8001,127.0.0.1:8011
#
# Each SERVICE gets an upstream of its replicas and a location for its prefix (/SERVICE) and
# for pizza_back's (/api/SERVICE).
# Prefixes of services not named answer the 503 envelope. `/` serves the web client: a copy of
# web/ in PREFIX/web (readable by the workers, who may run as nobody), or WEB_ROOT if set (the
# compose file mounts web/ into the nginx container). `make up` and the end-to-end
# tests both use this, so the tests prove the configuration people run.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
prefix=$(mkdir -p "$1" && cd "$1" && pwd)
listen=$2
shift 2

mkdir -p "$prefix/tmp"
chmod 0777 "$prefix/tmp" # workers may run as nobody when the master is root
web=${WEB_ROOT:-}
if [ -z "$web" ]; then
  web="$prefix/web"
  rm -rf "$web" && cp -R "$here/web" "$web"
  chmod 0755 "$prefix" && chmod -R a+rX "$web"
fi

upstreams=""
locations=""
named=" "
for spec in "$@"; do
  svc=${spec%%=*}
  addrs=${spec#*=}
  named+="$svc "
  servers=""
  # max_fails=0: a replica is never marked down. A dead one refuses the connection at once and
  # the request goes to the next (proxy_next_upstream); marking it down for fail_timeout made
  # nginx answer "no live upstreams" (503) for a while after every replica was back — the chaos
  # run caught that (e2e/tests/chaos.rs). Kubernetes removes dead pods from the endpoints itself.
  for a in ${addrs//,/ }; do
    servers+="        server $a max_fails=0;"$'\n'
  done
  upstreams+="    upstream pizza_$svc {"$'\n'"$servers        keepalive 256;"$'\n'"    }"$'\n'
  locations+="        location /$svc {"$'\n'"            proxy_pass http://pizza_$svc;"$'\n'"        }"$'\n'
  # pizza_back's API (/api/SERVICE), served by the same service during the switch (it had
  # no payments).
  [ "$svc" = payment ] ||
    locations+="        location /api/$svc {"$'\n'"            proxy_pass http://pizza_$svc;"$'\n'"        }"$'\n'
done
for svc in login menu order payment; do
  case "$named" in *" $svc "*) ;; *)
    locations+="        location /$svc {"$'\n'"            return 503;"$'\n'"        }"$'\n'
    [ "$svc" = payment ] ||
      locations+="        location /api/$svc {"$'\n'"            return 503;"$'\n'"        }"$'\n'
  esac
done

python3 - "$here/deploy/nginx/nginx.conf.template" "$prefix/nginx.conf" "$prefix" "$listen" "$web" <<PY
import sys
src, dst, prefix, listen, web = sys.argv[1:6]
text = open(src).read()
text = (text.replace("@UPSTREAMS@", """$upstreams""".rstrip("\n"))
            .replace("@LOCATIONS@", """$locations""".rstrip("\n"))
            .replace("@WEB@", web)
            .replace("@PREFIX@", prefix)
            .replace("@LISTEN@", listen))
open(dst, "w").write(text)
PY
echo "$prefix/nginx.conf"
