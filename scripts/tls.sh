#!/usr/bin/env bash
# Test certificates for the secured local services (scripts/kafka-secure.sh, scripts/pg-cluster.sh),
# made once into $HIMARI_STATE_DIR/tls, never into the repository:
#   ca.pem / ca.key            the CA the servers' certificates are signed by (clients trust it)
#   server.pem / server.key    SAN IP:127.0.0.1 and DNS:localhost, for TLS server and client use
#   client.pem / client.key    CN=himari_cert: a client certificate (Kafka mTLS, PostgreSQL cert auth)
#   other-ca.pem               a CA that signed nothing here: a client trusting only it must fail
#
#   scripts/tls.sh [ensure]    make them when missing or expiring within a day; print the directory
set -euo pipefail
. "$(dirname "$0")/lib.sh"

TLS_DIR="$HIMARI_STATE_DIR/tls"
DAYS=825

valid() {
  local f
  for f in ca.pem ca.key server.pem server.key client.pem client.key other-ca.pem; do [ -s "$TLS_DIR/$f" ] || return 1; done
  openssl x509 -checkend 86400 -noout -in "$TLS_DIR/ca.pem" >/dev/null 2>&1 || return 1
  openssl x509 -checkend 86400 -noout -in "$TLS_DIR/server.pem" >/dev/null 2>&1 || return 1
  openssl x509 -checkend 86400 -noout -in "$TLS_DIR/client.pem" >/dev/null 2>&1
}

# Signs $1.csr with the CA into $1.pem, with the extensions in $2.
sign() {
  printf '%s\n' "$2" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$DAYS" -sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

generate() {
  command -v openssl >/dev/null 2>&1 || die "openssl is needed to make the test certificates (Debian: apt-get install openssl)"
  say "making test certificates in $TLS_DIR"
  rm -rf "$TLS_DIR.tmp" && mkdir -p "$TLS_DIR.tmp" && chmod 700 "$TLS_DIR.tmp"
  (
    cd "$TLS_DIR.tmp"
    openssl req -x509 -newkey rsa:2048 -nodes -days "$DAYS" -sha256 -subj '/CN=himari-l0 test CA' \
      -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' \
      -keyout ca.key -out ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj '/CN=127.0.0.1' -keyout server.key -out server.csr 2>/dev/null
    # clientAuth too: the Kafka broker presents this certificate to its own SSL listener (mTLS).
    sign server 'subjectAltName=IP:127.0.0.1,DNS:localhost
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth'
    openssl req -newkey rsa:2048 -nodes -subj '/CN=himari_cert' -keyout client.key -out client.csr 2>/dev/null
    sign client 'basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth'
    openssl req -x509 -newkey rsa:2048 -nodes -days "$DAYS" -sha256 -subj '/CN=himari-l0 unrelated CA' \
      -keyout other-ca.key -out other-ca.pem 2>/dev/null
    rm -f other-ca.key ca.srl
    chmod 600 ./*.key
    chmod 644 ./*.pem
  )
  rm -rf "$TLS_DIR" && mv "$TLS_DIR.tmp" "$TLS_DIR"
}

case "${1:-ensure}" in
  ensure) valid || generate; printf '%s\n' "$TLS_DIR" ;;
  *) die "usage: scripts/tls.sh [ensure]" ;;
esac
