#!/bin/sh
# watched.sh WSBRIDGE [ARGS...] -- runs WSBRIDGE ARGS with a control socket
# and one client on it that subscribes as wsbridge-top does (snapshots
# every second, the connection list) and reads everything: the "watched"
# peer of a paired A/B against the same binary unwatched, e.g.
#
#   printf '#!/bin/sh\nexec contrib/bench/watched.sh build/wsbridge "$@"\n' >w
#   chmod +x w; contrib/bench/ab.sh -m echo build/wsbridge ./w
#
# The wsbridge replaces this shell (exec), so ab.sh measures its CPU.
set -eu
bin=$1
shift
sock=$(mktemp -u "${TMPDIR:-/tmp}/wsb-watched.XXXXXX")
/usr/bin/python3 - "$sock" <<'PY' >/dev/null 2>&1 &
import os, socket, sys, time
path = sys.argv[1]
for _ in range(3000):
    if os.path.exists(path):
        break
    time.sleep(0.01)
s = socket.socket(socket.AF_UNIX)
s.connect(path)
s.sendall(b'{"cmd":"subscribe","snapshot_ms":1000,"conns":true}\n')
while s.recv(1 << 16):
    pass
PY
exec "$bin" --control "$sock" "$@"
