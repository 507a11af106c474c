"""A RESP proxy between the httpd under test and redis-server that can hold
one command, so a test can land another request exactly between a
request's read and its write.

    proxy = RespProxy(redis.port)          # httpd gets proxy.url as store
    gate = proxy.hold("qsso:user:ana@example.org")
    ...start the request whose write is to be held...
    assert gate.held.wait(5)               # its write is now stopped
    ...run the racing request...
    gate.release()                         # the held write goes on
    proxy.stop()

Every command is forwarded unchanged and in order. hold(key) arms a
one-shot gate: the next command among `commands` that names `key` as an
argument is stopped before it reaches Redis, the commands sent after it on
the same connection wait behind it, and the other connections run freely.
The hold is bounded: the command goes on by itself after `max_wait`
seconds (gate.timed_out then says so), so a test that fails before
release() cannot hang. A subclass may override should_hold() to choose
the command some other way.

Commands are parsed as Redis reads them: arrays of bulk strings (what
hiredis sends), several per read when the client pipelines, split across
reads at any byte; and inline commands (one line of words). A byte stream
that is neither ends that connection and is reported by stop().

stop() closes the listening socket and every connection, lets a held
command go, and joins every thread it started; a thread still alive
after that, or a protocol error seen on any connection, fails the test
at stop()."""
import socket
import threading

# Every command that writes a key the module keeps records in.
WRITES = frozenset((b"SET", b"DEL", b"EVAL", b"EVALSHA", b"UNLINK",
                    b"GETDEL"))
# A held command goes on by itself after this long (seconds).
MAX_WAIT = 10.0


class ProtocolError(Exception):
    pass


class Gate:
    """One armed hold. held is set when the command is stopped; release()
    lets it go on. command is its argv once held."""

    def __init__(self, key, commands, max_wait):
        self.key = key.encode() if isinstance(key, str) else key
        self.commands = frozenset(c.upper() for c in commands)
        self.max_wait = max_wait
        self.held = threading.Event()
        self.go = threading.Event()
        self.command = None
        self.timed_out = False

    def release(self):
        self.go.set()

    def wait_released(self):
        """Called on the connection's thread while the command is held."""
        self.timed_out = not self.go.wait(self.max_wait)


def parse_command(buf, at=0):
    """(argv, end) of the whole command at buf[at:], or (None, at) when
    more bytes are needed. argv is a list of bytes; it is empty for a
    blank inline line or an empty array, which Redis ignores."""
    if at >= len(buf):
        return None, at
    if buf[at:at + 1] != b"*":
        # Inline command: Redis ends it at \n (a \r before it is dropped).
        end = buf.find(b"\n", at)
        if end < 0:
            return None, at
        return buf[at:end].rstrip(b"\r").split(), end + 1
    end = buf.find(b"\r\n", at)
    if end < 0:
        return None, at
    n = _number(buf[at + 1:end], "array length")
    pos, argv = end + 2, []
    for _ in range(max(n, 0)):
        end = buf.find(b"\r\n", pos)
        if end < 0:
            return None, at
        if buf[pos:pos + 1] != b"$":
            raise ProtocolError("expected a bulk string at %r"
                                % buf[pos:pos + 20])
        size = _number(buf[pos + 1:end], "bulk length")
        start = end + 2
        if size < 0:
            raise ProtocolError("null bulk string in a command")
        if len(buf) < start + size + 2:
            return None, at
        if buf[start + size:start + size + 2] != b"\r\n":
            raise ProtocolError("bulk string of %d bytes not followed by "
                                "CRLF" % size)
        argv.append(buf[start:start + size])
        pos = start + size + 2
    return argv, pos


def _number(raw, what):
    try:
        return int(raw)
    except ValueError:
        raise ProtocolError("bad %s %r" % (what, raw[:20]))


class RespProxy:
    """A loopback listener at .port/.url forwarding to 127.0.0.1:upstream."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.lock = threading.Lock()
        self.gate = None
        self.gates = []
        self.conns = set()
        self.threads = []
        self.errors = []
        self.stopping = False
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self._spawn(self._accept)

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def hold(self, key, commands=WRITES, max_wait=MAX_WAIT):
        """Arms a one-shot gate on the next command in `commands` naming
        `key` (replacing a gate not yet taken) and returns it."""
        gate = Gate(key, commands, max_wait)
        with self.lock:
            self.gate = gate
            self.gates.append(gate)
        return gate

    def should_hold(self, gate, argv):
        """Whether argv is the command `gate` waits for."""
        return argv[0].upper() in gate.commands and gate.key in argv[1:]

    def stop(self):
        with self.lock:
            self.stopping = True
            gates, conns = list(self.gates), list(self.conns)
        for gate in gates:
            gate.release()
        # shutdown() wakes a thread blocked in accept() or recv() on
        # Linux, where close() alone does not.
        for s in [self.sock] + [s for pair in conns for s in pair]:
            _shutdown(s)
        self.sock.close()
        # The accept thread may start a connection's threads while it
        # ends: join until the list stops growing.
        joined = []
        while True:
            with self.lock:
                todo = [t for t in self.threads if t not in joined]
            if not todo:
                break
            for t in todo:
                t.join(5)
            joined += todo
        alive = [t.name for t in joined if t.is_alive()]
        for pair in conns:
            for s in pair:
                s.close()
        assert not alive, "proxy threads still running: %r" % alive
        assert not self.errors, "proxy saw: %r" % self.errors

    # ---- internals --------------------------------------------------------

    def _spawn(self, target, *args):
        t = threading.Thread(target=target, args=args, daemon=True)
        with self.lock:
            if not self.stopping:
                self.threads = [x for x in self.threads if x.is_alive()]
            self.threads.append(t)
        t.start()

    def _take(self, argv):
        """The gate argv is held on, or None; a gate holds once."""
        if not argv:
            return None
        with self.lock:
            gate = self.gate
            if gate is None or not self.should_hold(gate, argv):
                return None
            self.gate = None
        gate.command = argv
        return gate

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(
                    ("127.0.0.1", self.upstream), timeout=5)
                server.settimeout(None)
            except OSError as e:
                self.errors.append("upstream: %s" % e)
                client.close()
                continue
            pair = (client, server)
            with self.lock:
                if self.stopping:
                    client.close()
                    server.close()
                    return
                self.conns.add(pair)
            done = []
            self._spawn(self._commands, pair, done)
            self._spawn(self._replies, pair, done)

    def _finish(self, pair, done):
        """Either direction ending ends the connection; the second of its
        two threads to finish closes both sockets."""
        for s in pair:
            _shutdown(s)
        with self.lock:
            done.append(1)
            last = len(done) == 2 and not self.stopping
            if last:
                self.conns.discard(pair)
        if last:
            for s in pair:
                s.close()

    def _replies(self, pair, done):
        client, server = pair
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                client.sendall(data)
        except OSError:
            pass
        self._finish(pair, done)

    def _commands(self, pair, done):
        client, server = pair
        buf = b""
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                buf += data
                at = sent = 0
                while True:
                    argv, end = parse_command(buf, at)
                    if argv is None:
                        break
                    gate = self._take(argv)
                    if gate is not None:
                        # What came before it goes now; it and what
                        # follows it wait for the gate.
                        server.sendall(buf[sent:at])
                        sent = at
                        gate.held.set()
                        gate.wait_released()
                    at = end
                server.sendall(buf[sent:at])
                buf = buf[at:]
        except ProtocolError as e:
            self.errors.append(str(e))
        except OSError:
            pass
        self._finish(pair, done)


def _shutdown(s):
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
