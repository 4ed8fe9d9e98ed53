"""certs.py -- test certificates made at test time with the openssl CLI.

    d = certs.make(tmpdir)     # or: python3 certs.py DIR  (prints JSON)
    d["ca"], d["cert"], d["key"]            server chain signed by our CA
    d["client_cert"], d["client_key"]       client certificate from our CA
    d["rogue_cert"], d["rogue_key"]         client certificate from another CA
    d["cert2"], d["key2"]                   a second server pair (reload)

Everything is EC P-256 and valid for 2 days; the server certificates carry
subjectAltName IP:127.0.0.1 and DNS:localhost.
"""

import json
import os
import subprocess
import sys


def _run(*args):
    p = subprocess.run(["openssl"] + list(args), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args),
            p.stdout.decode("utf-8", "replace")))


def _ca(d, name):
    key, cert = os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")
    _run("req", "-x509", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
        "-days", "2", "-subj", "/CN=wsbridge test " + name,
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


def _leaf(d, name, ca, cakey, cn, ext):
    key, csr = os.path.join(d, name + ".key"), os.path.join(d, name + ".csr")
    cert, extf = os.path.join(d, name + ".pem"), os.path.join(d, name + ".ext")
    with open(extf, "w") as f:
        f.write(ext)
    _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
    _run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey,
        "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", extf)
    return cert, key


SERVER_EXT = ("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
    "extendedKeyUsage=serverAuth\n")
CLIENT_EXT = "extendedKeyUsage=clientAuth\n"


def make(d):
    ca, cakey = _ca(d, "ca")
    rca, rcakey = _ca(d, "rogue-ca")
    cert, key = _leaf(d, "server", ca, cakey, "127.0.0.1", SERVER_EXT)
    cert2, key2 = _leaf(d, "server2", ca, cakey, "127.0.0.1", SERVER_EXT)
    ccert, ckey = _leaf(d, "client", ca, cakey, "client", CLIENT_EXT)
    rcert, rkey = _leaf(d, "rogue", rca, rcakey, "rogue", CLIENT_EXT)
    return {"dir": d, "ca": ca, "cert": cert, "key": key, "cert2": cert2,
        "key2": key2, "client_cert": ccert, "client_key": ckey,
        "rogue_cert": rcert, "rogue_key": rkey}


if __name__ == "__main__":
    print(json.dumps(make(sys.argv[1])))
