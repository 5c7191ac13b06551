#!/usr/bin/env bash
# `make demo`: run porthole-gateway against the local test identity provider and a Redis
# upstream, with a throwaway certificate authority. Everything lives in target/demo/; Ctrl-C
# stops the gateway, the IdP and Redis.
#
# Environment: DEMO_PORT (gateway port, default 8443), REDIS_PORT (default: a free port).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DEMO=target/demo
GATEWAY_PORT=${DEMO_PORT:-8443}
mkdir -p "$DEMO"

free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}
REDIS_PORT=${REDIS_PORT:-$(free_port)}

echo "==> building porthole-gateway"
npm run ui:build
cargo build --workspace --bins

echo "==> certificates in $DEMO (CA: $DEMO/ca.crt)"
if [ ! -f "$DEMO/server.crt" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=Porthole demo CA" -keyout "$DEMO/ca.key" -out "$DEMO/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=localhost" -keyout "$DEMO/server.key" -out "$DEMO/server.csr" 2>/dev/null
  cat > "$DEMO/server.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,DNS:*.localhost,DNS:redis.localhost,IP:127.0.0.1
EXT
  openssl x509 -req -in "$DEMO/server.csr" -CA "$DEMO/ca.crt" -CAkey "$DEMO/ca.key" \
    -CAcreateserial -days 30 -extfile "$DEMO/server.ext" -out "$DEMO/server.crt" 2>/dev/null
fi

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

echo "==> identity provider (log: $DEMO/idp.log)"
rm -f "$DEMO/idp.out"
node crates/testkit/node/idp.mjs --ignore-stdin > "$DEMO/idp.out" 2> "$DEMO/idp.log" &
PIDS+=($!)
for _ in $(seq 1 100); do
  [ -s "$DEMO/idp.out" ] && break
  sleep 0.1
done
ISSUER=$(node -e "process.stdout.write(JSON.parse(require('fs').readFileSync('$DEMO/idp.out','utf8').split('\n')[0]).issuer)")

echo "==> redis-server on 127.0.0.1:$REDIS_PORT (log: $DEMO/redis.log)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no > "$DEMO/redis.log" 2>&1 &
PIDS+=($!)

cat > "$DEMO/gateway.yaml" <<YAML
# Written by scripts/demo.sh. Pomerium's key names.
address: 127.0.0.1:$GATEWAY_PORT
certificate_file: $PWD/$DEMO/server.crt
certificate_key_file: $PWD/$DEMO/server.key
authenticate_service_url: https://127.0.0.1:$GATEWAY_PORT
idp_provider: oidc
idp_provider_url: $ISSUER
idp_client_id: porthole-gateway
idp_client_secret: porthole-gateway-secret
idp_scopes: [openid, profile, email, groups]
routes:
  - from: tcp+https://redis.localhost:6379
    to: tcp://127.0.0.1:$REDIS_PORT
    policy:
      - allow:
          or:
            - domain:
                is: example.com
YAML

cat <<TEXT

Porthole demo
  gateway   https://127.0.0.1:$GATEWAY_PORT  (config: $DEMO/gateway.yaml, CA: $DEMO/ca.crt)
  IdP       $ISSUER  (accounts alice@example.com, bob@example.com, carol@other.org; password: password)
  upstream  redis on 127.0.0.1:$REDIS_PORT, route tcp+https://redis.localhost:6379 (allowed: *@example.com)

Next, in another terminal:
  # a tunnel (log in as alice@example.com / password in the browser it opens; on a machine
  # without a browser add --no-browser and open the printed URL), then redis-cli through it
  target/debug/porthole tcp redis.localhost:6379 --pomerium-url https://127.0.0.1:$GATEWAY_PORT \\
    --alternate-ca-path $DEMO/ca.crt --listen 127.0.0.1:6381
  redis-cli -p 6381 PING
  # pomerium-cli takes the same arguments

Ctrl-C stops everything.
TEXT

# A short drain: Ctrl-C ends the demo within 2 s even with tunnels open.
target/debug/porthole-gateway --config "$DEMO/gateway.yaml" --drain 2s &
PIDS+=($!)
GATEWAY_PID=$!

# The desktop app, with a ready connection to the demo route (its own config dir, so the
# person's real connections are untouched).
mkdir -p "$DEMO/desktop"
cat > "$DEMO/desktop/connections.json" <<JSON
{
  "version": 1,
  "profiles": [
    {
      "id": "00000000-0000-4000-8000-000000000001",
      "name": "Demo Redis",
      "destination": "redis.localhost:6379",
      "listenAddr": "127.0.0.1:6380",
      "pomeriumUrl": "https://127.0.0.1:$GATEWAY_PORT",
      "protocol": "tcp",
      "tags": ["demo"],
      "caFile": "$PWD/$DEMO/ca.crt",
      "disableTlsVerification": false,
      "clientCert": null,
      "autostart": false,
      "openWith": "redis-cli -h {host} -p {port}",
      "source": null
    }
  ]
}
JSON
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  PORTHOLE_CONFIG_DIR="$PWD/$DEMO/desktop" target/debug/porthole-desktop &
  PIDS+=($!)
  echo "Porthole Desktop is open with a 'Demo Redis' connection: click Connect, then redis-cli -p 6380 PING"
else
  echo "No display: start the desktop app yourself with"
  echo "  PORTHOLE_CONFIG_DIR=$PWD/$DEMO/desktop target/debug/porthole-desktop"
fi
wait "$GATEWAY_PID"
