#!/usr/bin/env bash
# A throwaway OpenLDAP server on 127.0.0.1 standing in for Active Directory, for the LDAP
# directory source's tests and benchmark.
#   .ci/slapd.sh start DIR PORT [LDIF]  a new directory in DIR (suffix dc=imlink,dc=test) loaded
#                                       with LDIF; StartTLS on ldap://127.0.0.1:PORT and TLS on
#                                       ldaps://127.0.0.1:PORT+1, with a certificate from a test
#                                       CA (DIR/ca.pem; DIR/other-ca.pem is a CA it does not
#                                       trust). Binds as cn=imlink,dc=imlink,dc=test with the
#                                       password in DIR/password; anonymous reads nothing.
#   .ci/slapd.sh stop DIR               stops it (the data stays)
#   .ci/slapd.sh kill DIR               kills it at once, as a crash would (the data stays)
#   .ci/slapd.sh resume DIR             starts it again on the same data and ports
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# As root, slapd runs as openldap; setpriv execs it, so a background job's $! is slapd itself.
as_ldap=()
if [ "$(id -u)" = 0 ]; then as_ldap=(setpriv --reuid=openldap --regid=openldap --init-groups); fi

run() {
  dir=$1
  port=$(cat "$dir/port")
  "${as_ldap[@]}" /usr/sbin/slapd -F "$dir/slapd.d" -h "ldap://127.0.0.1:$port/ ldaps://127.0.0.1:$((port + 1))/" -d 0 \
    >>"$dir/slapd.log" 2>&1 &
  echo $! >"$dir/slapd.pid"
  for _ in $(seq 1 200); do
    if ldapsearch -x -H "ldap://127.0.0.1:$port" -s base -b '' namingContexts >/dev/null 2>&1; then
      exit 0
    fi
    kill -0 "$(cat "$dir/slapd.pid")" 2>/dev/null || break
    sleep 0.05
  done
  echo "slapd.sh: slapd did not start:" >&2
  cat "$dir/slapd.log" >&2
  exit 1
}

stop() {
  dir=$1
  [ -f "$dir/slapd.pid" ] || return 0
  pid=$(cat "$dir/slapd.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/slapd.pid"
}

certificates() {
  dir=$1
  for ca in ca other-ca; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj "/CN=imlink test $ca" -keyout "$dir/$ca.key" -out "$dir/$ca.pem" 2>/dev/null
  done
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 2 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
}

case "${1:-}" in
start)
  dir=$2 port=$3 ldif=${4:-}
  [ -x /usr/sbin/slapd ] || { echo "slapd.sh: /usr/sbin/slapd is missing (run .ci/bootstrap.sh --test)" >&2; exit 1; }
  stop "$dir"
  rm -rf "$dir"
  mkdir -p "$dir/slapd.d" "$dir/data"
  echo "$port" >"$dir/port"
  head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$dir/password"
  certificates "$dir"
  cat >"$dir/config.ldif" <<CONFIG
dn: cn=config
objectClass: olcGlobal
cn: config
olcTLSCACertificateFile: $dir/ca.pem
olcTLSCertificateFile: $dir/server.pem
olcTLSCertificateKeyFile: $dir/server.key

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif
include: file://$here/ldap/ad-schema.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: size.soft=1000 size.hard=1000 size.prtotal=unlimited

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: dc=imlink,dc=test
olcRootDN: cn=imlink,dc=imlink,dc=test
olcRootPW: $(cat "$dir/password")
olcDbDirectory: $dir/data
olcDbMaxSize: 4294967296
olcDbNoSync: TRUE
olcDbIndex: objectClass eq
olcDbIndex: userPrincipalName,sAMAccountName,mail,proxyAddresses,msRTCSIP-PrimaryUserAddress eq,sub
olcDbIndex: displayName eq,sub
olcAccess: {0}to * by * none
CONFIG
  base=$dir/base.ldif
  printf 'dn: dc=imlink,dc=test\nobjectClass: dcObject\nobjectClass: organization\ndc: imlink\no: imlink test\n' >"$base"
  if [ "$(id -u)" = 0 ]; then chown -R openldap:openldap "$dir"; chmod 0755 "$dir"; fi
  "${as_ldap[@]}" slapadd -n0 -F "$dir/slapd.d" -l "$dir/config.ldif"
  "${as_ldap[@]}" slapadd -q -n1 -F "$dir/slapd.d" -l "$base"
  if [ -n "$ldif" ]; then "${as_ldap[@]}" slapadd -q -n1 -F "$dir/slapd.d" -l "$ldif" >/dev/null; fi
  run "$dir"
  ;;
stop)
  stop "$2"
  ;;
kill)
  [ -f "$2/slapd.pid" ] && kill -9 "$(cat "$2/slapd.pid")" 2>/dev/null || true
  stop "$2"
  ;;
resume)
  run "$2"
  ;;
*)
  echo "usage: $0 start DIR PORT [LDIF] | stop DIR | kill DIR | resume DIR" >&2
  exit 2
  ;;
esac
