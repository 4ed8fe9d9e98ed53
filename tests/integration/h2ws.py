"""h2ws.py -- a scriptable RFC 8441 client built from independent libraries:
Debian's python3-h2 for HTTP/2 and wsproto's frame protocol for RFC 6455
framing. One select-driven thread, many WebSocket streams on one connection,
over TLS (ALPN h2) or h2c with prior knowledge.

    c = H2Client(port, tls=True)
    st = c.open_ws("/echo", protocols=["chat"])
    c.wait(lambda: st.status is not None, 5, "response")
    c.send_message(st, b"hi")
    c.wait(lambda: st.messages, 5, "echo")

Every wait has a deadline; nothing sleeps where an event can be awaited.
"""

import hashlib
import select
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
from wsproto.frame_protocol import FrameProtocol, Opcode

import wsbtest as T

MiB = 1024 * 1024


class WSStream:
    """One HTTP/2 stream: a WebSocket after a 200, or a plain request.
    messages: complete messages as (opcode, bytes); close: (code, reason)
    from the server's close frame; reset: RST_STREAM code; body: the DATA
    of a non-200 response."""

    def __init__(self, client, sid, keep=True):
        self.client = client
        self.sid = sid
        self.fp = FrameProtocol(client=True, extensions=[])
        self.status = None
        self.headers = {}
        self.out = bytearray()		# encoded frames not yet in DATA
        self.out_off = 0
        self.end_after = False		# END_STREAM once out is sent
        self.local_ended = False
        self.remote_ended = False
        self.reset = None
        self.reset_remote = None
        self.messages = []
        self.keep = keep		# keep payloads (else only digests)
        self.digests = []		# (opcode, length, sha256 hex) per message
        self._op = None
        self._parts = []
        self._hash = None
        self._len = 0
        self.close = None
        self.auto_end = True		# answer a close frame and END_STREAM
        self.all_hash = hashlib.sha256()	# every payload byte, in order
        self.body = bytearray()
        self.recv_payload = 0
        self.t_first = None
        self.t_last = None

    def pending_out(self):
        return len(self.out) - self.out_off

    def done(self):
        return self.reset is not None or (self.remote_ended and
            (self.local_ended or self.status != 200))

    def _message_piece(self, opcode, data, finished):
        if isinstance(data, str):
            data = data.encode("utf-8")
        if self._op is None:
            self._op = opcode
            self._hash = hashlib.sha256()
            self._len = 0
            self._parts = []
        self._hash.update(data)
        self.all_hash.update(data)
        self._len += len(data)
        self.recv_payload += len(data)
        now = time.monotonic()
        self.t_first = self.t_first or now
        self.t_last = now
        if self.keep:
            self._parts.append(bytes(data))
        if finished:
            self.digests.append((self._op, self._len, self._hash.hexdigest()))
            if self.keep:
                self.messages.append((self._op, b"".join(self._parts)))
            self._op = None

    def feed(self, data):
        self.fp.receive_bytes(data)
        for f in self.fp.received_frames():
            if f.opcode == Opcode.PING:
                self.client.queue(self, self.fp.pong(f.payload))
            elif f.opcode == Opcode.PONG:
                pass
            elif f.opcode == Opcode.CLOSE:
                self.close = (int(f.payload[0]), f.payload[1])
                if (self.auto_end and not self.end_after and
                        not self.local_ended):
                    # Echo it and end our side, as a browser would.
                    self.client.queue(self, self.fp.close(f.payload[0]))
                    self.end_after = True
            else:
                op = f.opcode if f.opcode != Opcode.CONTINUATION else None
                self._message_piece(op if self._op is None else self._op,
                    f.payload, f.message_finished)


class H2Client:
    """One HTTP/2 connection. validate=False lets malformed header blocks
    through h2's own checks (for negative tests)."""

    def __init__(self, port, tls=False, host="127.0.0.1", ctx=None,
            validate=True, window=4 * MiB, max_frame=256 * 1024,
            timeout=10.0, handshake=True, sni=None, source=None, pre=b""):
        # source: (address, port) to connect from; pre: bytes sent first,
        # before TLS and the preface (a PROXY protocol header).
        raw = socket.create_connection((host, port), timeout=timeout,
            source_address=source)
        if pre:
            raw.sendall(pre)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            if ctx is None:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            raw = ctx.wrap_socket(raw, server_hostname=sni or host)
            if raw.selected_alpn_protocol() != "h2":
                T.fail("ALPN chose %r, not h2" % raw.selected_alpn_protocol())
        raw.setblocking(False)
        self.sock = raw
        self.tls = tls
        self.authority = "%s:%d" % (host, port)
        self.scheme = "https" if tls else "http"
        cfg = h2.config.H2Configuration(client_side=True,
            header_encoding=None, validate_outbound_headers=validate,
            normalize_outbound_headers=validate,
            validate_inbound_headers=True)
        self.conn = h2.connection.H2Connection(cfg)
        self.conn.local_settings = h2.settings.Settings(client=True,
            initial_values={
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window,
                h2.settings.SettingCodes.MAX_FRAME_SIZE: max_frame,
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
            })
        # A Settings object made with initial_values counts them as in
        # force already, so h2 never raises its inbound frame limit from
        # the 16384 it read at construction, though it advertises
        # max_frame: it would then refuse the server's larger DATA frames
        # ("Received overlong frame: length 16388, max 16384").
        self.conn.max_inbound_frame_size = max_frame
        self.streams = {}
        self.wbuf = bytearray()
        self.eof = False
        self.goaway = None
        self.settings = {}
        self.settings_acked = False
        self.max_data = 0		# largest DATA payload received
        self.events = []
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(64 * MiB)
        self._flush_h2()
        if handshake:
            # RFC 8441 3: :protocol only once the server's SETTINGS said so
            # (our ACK of them goes out before any later request).
            self.wait(lambda: 8 in self.settings, timeout,
                "the server's SETTINGS")

    # ---- requests

    def request(self, headers, end_stream=True, keep=True, auto_end=True):
        """Sends a header block (list of (name, value) str or bytes pairs,
        in the given order) on a new stream; returns its WSStream."""
        sid = self.conn.get_next_available_stream_id()
        st = WSStream(self, sid, keep)
        st.auto_end = auto_end
        self.streams[sid] = st
        hb = [(n.encode() if isinstance(n, str) else n,
               v.encode() if isinstance(v, str) else v) for n, v in headers]
        self.conn.send_headers(sid, hb, end_stream=end_stream)
        st.local_ended = end_stream
        self._flush_h2()
        return st

    def ws_headers(self, path, protocols=None, origin=None, version="13",
            extra=(), omit=()):
        h = [(":method", "CONNECT"), (":protocol", "websocket"),
             (":scheme", self.scheme), (":path", path),
             (":authority", self.authority)]
        if version is not None:
            h.append(("sec-websocket-version", version))
        if protocols:
            h.append(("sec-websocket-protocol", ", ".join(protocols)))
        if origin:
            h.append(("origin", origin))
        h += list(extra)
        return [x for x in h if x[0] not in omit]

    def open_ws(self, path, keep=True, auto_end=True, **kw):
        """Sends an extended CONNECT for path; returns the stream.
        auto_end=False: do not answer a close frame nor end our side."""
        return self.request(self.ws_headers(path, **kw), end_stream=False,
            keep=keep, auto_end=auto_end)

    def connect_ws(self, path, timeout=10.0, **kw):
        """open_ws and wait for :status 200."""
        st = self.open_ws(path, **kw)
        self.wait(lambda: st.status is not None or st.reset is not None,
            timeout, "response to CONNECT %s" % path)
        if st.status != 200:
            T.fail("CONNECT %s: expected :status 200, got %r (reset %r, "
                "body %r)" % (path, st.status, st.reset, bytes(st.body)))
        return st

    def queue(self, st, data):
        if st.local_ended or st.reset is not None:
            return
        if st.out_off > 4 * MiB:
            del st.out[:st.out_off]
            st.out_off = 0
        st.out += data

    def send_message(self, st, payload, fin=True):
        self.queue(st, st.fp.send_data(payload, fin))

    def send_close(self, st, code=1000, reason=""):
        self.queue(st, st.fp.close(code, reason))
        st.end_after = True

    def reset_stream(self, st, code=h2.errors.ErrorCodes.CANCEL):
        self.conn.reset_stream(st.sid, code)
        st.local_ended = True
        st.reset = code
        self._flush_h2()
        self.flush()

    def flush(self, timeout=5.0):
        """Pumps until everything queued is written to the socket."""
        self._push_streams()
        self.wait(lambda: not self.wbuf, timeout, "our frames to be written")

    # ---- the loop

    def _flush_h2(self):
        d = self.conn.data_to_send()
        if d:
            self.wbuf += d

    def _push_streams(self):
        for st in list(self.streams.values()):
            while st.pending_out() > 0 and len(self.wbuf) < 2 * MiB:
                if st.reset is not None or st.local_ended:
                    st.out_off = len(st.out)
                    break
                try:
                    win = self.conn.local_flow_control_window(st.sid)
                except (h2.exceptions.StreamClosedError,
                        h2.exceptions.ProtocolError):
                    st.out_off = len(st.out)
                    break
                n = min(st.pending_out(), win,
                    self.conn.max_outbound_frame_size)
                if n <= 0:
                    break
                chunk = bytes(st.out[st.out_off:st.out_off + n])
                st.out_off += n
                try:
                    self.conn.send_data(st.sid, chunk)
                except (h2.exceptions.StreamClosedError,
                        h2.exceptions.ProtocolError):
                    st.out_off = len(st.out)
                    break
            if (st.end_after and st.pending_out() == 0 and
                    not st.local_ended and st.reset is None):
                try:
                    self.conn.end_stream(st.sid)
                except (h2.exceptions.StreamClosedError,
                        h2.exceptions.ProtocolError):
                    pass
                st.local_ended = True
        self._flush_h2()

    def _write(self):
        while self.wbuf:
            try:
                n = self.sock.send(self.wbuf[:1024 * 1024])
            except (BlockingIOError, ssl.SSLWantWriteError,
                    ssl.SSLWantReadError):
                return
            except (BrokenPipeError, ConnectionResetError):
                self.eof = True
                self.wbuf.clear()
                return
            del self.wbuf[:n]

    def _read(self):
        while True:
            try:
                d = self.sock.recv(1024 * 1024)
            except (BlockingIOError, ssl.SSLWantReadError,
                    ssl.SSLWantWriteError):
                return
            except (ConnectionResetError, ssl.SSLError, OSError):
                self.eof = True
                return
            if not d:
                self.eof = True
                return
            self._events(self.conn.receive_data(d))
            self._flush_h2()

    def _events(self, evs):
        for ev in evs:
            self.events.append(ev)
            sid = getattr(ev, "stream_id", None)
            st = self.streams.get(sid) if sid else None
            if isinstance(ev, h2.events.ResponseReceived) and st:
                h = {}
                for n, v in ev.headers:
                    h.setdefault(n.decode(), []).append(v.decode())
                st.headers = h
                st.status = int(h[":status"][0])
            elif isinstance(ev, h2.events.DataReceived):
                self.max_data = max(self.max_data, len(ev.data))
                if ev.flow_controlled_length:
                    try:
                        self.conn.acknowledge_received_data(
                            ev.flow_controlled_length, ev.stream_id)
                    except (h2.exceptions.StreamClosedError,
                            h2.exceptions.ProtocolError):
                        pass
                if st:
                    if st.status == 200:
                        st.feed(ev.data)
                    else:
                        st.body += ev.data
            elif isinstance(ev, h2.events.StreamEnded) and st:
                st.remote_ended = True
            elif isinstance(ev, h2.events.StreamReset) and st:
                st.reset = ev.error_code
                st.reset_remote = ev.remote_reset
            elif isinstance(ev, h2.events.RemoteSettingsChanged):
                for k, v in ev.changed_settings.items():
                    self.settings[int(k)] = v.new_value
            elif isinstance(ev, h2.events.SettingsAcknowledged):
                self.settings_acked = True
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.goaway = ev

    def pump(self, timeout=0.05):
        """One round: streams to DATA, socket writes, wait, socket reads."""
        self._push_streams()
        self._write()
        if self.eof:
            return
        if self.tls and self.sock.pending():
            self._read()
            return
        r, w, _ = select.select([self.sock], [self.sock] if self.wbuf
            else [], [], timeout)
        if w:
            self._write()
        if r:
            self._read()

    def wait(self, cond, timeout, what):
        end = time.monotonic() + timeout
        while not cond():
            if self.eof and not cond():
                T.fail("connection closed while waiting for %s" % what)
            if time.monotonic() > end:
                T.fail("timed out after %.1fs waiting for %s" % (timeout,
                    what))
            self.pump(min(0.05, max(0.001, end - time.monotonic())))

    def wait_eof(self, timeout):
        end = time.monotonic() + timeout
        while not self.eof and time.monotonic() < end:
            self.pump(0.05)
        return self.eof

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def settings_name(code):
    try:
        return h2.settings.SettingCodes(code).name
    except ValueError:
        return str(code)
