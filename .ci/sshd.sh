#!/usr/bin/env bash
# A throwaway OpenSSH server on 127.0.0.1 for the ssh executor's tests.
#   .ci/sshd.sh start DIR PORT COMMAND   keys in DIR, every session runs COMMAND (ForceCommand);
#                                        prints the user name to log in as
#   .ci/sshd.sh stop DIR
# DIR receives client_ed25519 (the key to log in with) and known_hosts (the server's key).
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

case "${1:-}" in
start)
  dir=$2 port=$3 command=$4
  [ -x /usr/sbin/sshd ] || { echo "sshd.sh: /usr/sbin/sshd is missing (run .ci/bootstrap.sh --test)" >&2; exit 1; }
  # sshd refuses to start without its privilege separation directory.
  [ -d /run/sshd ] || as_root install -d -m 0755 /run/sshd
  install -d -m 0700 "$dir"
  rm -f "$dir/host_ed25519" "$dir/client_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C imlink-test-host -f "$dir/host_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C imlink-test-client -f "$dir/client_ed25519"
  cp "$dir/client_ed25519.pub" "$dir/authorized_keys"
  printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$dir/host_ed25519.pub")" >"$dir/known_hosts"
  cat >"$dir/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
PermitTTY no
AllowTcpForwarding no
X11Forwarding no
ForceCommand $command
EOF
  /usr/sbin/sshd -t -f "$dir/sshd_config"
  /usr/sbin/sshd -D -e -f "$dir/sshd_config" >"$dir/sshd.log" 2>&1 &
  echo $! >"$dir/sshd.server-pid"
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      id -un
      exit 0
    fi
    sleep 0.05
  done
  echo "sshd.sh: sshd did not start:" >&2
  cat "$dir/sshd.log" >&2
  exit 1
  ;;
stop)
  dir=$2
  [ -f "$dir/sshd.server-pid" ] || exit 0
  pid=$(cat "$dir/sshd.server-pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/sshd.server-pid"
  ;;
*)
  echo "usage: $0 start DIR PORT COMMAND | stop DIR" >&2
  exit 2
  ;;
esac
