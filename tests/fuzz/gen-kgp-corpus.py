#!/usr/bin/env python3
# gen-kgp-corpus.py: write the KGP v2 seed corpora of the fuzz targets
# kgp (a stream of frames) and kgpconn (a control byte, then what the
# peer of the engine says; see fuzz_kgpconn.c).  Run from anywhere:
#	python3 tests/fuzz/gen-kgp-corpus.py
# The files are written into corpus/kgp and corpus/kgpconn next to this
# script; seeds of the same name are replaced, others are left alone.
import os
import struct

HELLO, WELCOME, ERROR, OPEN, ACCEPT, REFUSE, DATA, WINDOW, FIN, RST, \
    PING, PONG, GOAWAY, ACK = range(1, 15)
NUMBERED = {OPEN, ACCEPT, REFUSE, DATA, WINDOW, FIN, RST}
SESSION = 0x5eed5eed5eed5eed	# FZ_SESSION in fuzz_kgpconn.c

here = os.path.dirname(os.path.abspath(__file__))


def frame(ftype, stream=0, payload=b'', seq=None, flags=0, length=None):
    if seq is None:
        seq = 0
    if length is None:
        length = len(payload)
    return struct.pack('>BBHII', ftype, flags, length, stream, seq) + payload


class Peer:
    """Frames from one side, numbered the way the engine numbers them."""

    def __init__(self, seq=0):
        self.seq = seq

    def f(self, ftype, stream=0, payload=b'', seq=None):
        if seq is None and ftype in NUMBERED:
            self.seq += 1
            seq = self.seq
        return frame(ftype, stream, payload, seq)


def u32(v):
    return struct.pack('>I', v)


def code(c, text=b''):
    return struct.pack('>H', c) + text


def hello(vmin=2, vmax=2, window=65536, index=0, tid=b't', secret=b's',
          session=SESSION, recv_seq=0, v2fields=None):
    p = struct.pack('>HHIH', vmin, vmax, window, index)
    p += bytes([len(tid)]) + tid + bytes([len(secret)]) + secret
    if v2fields is None:
        v2fields = vmax >= 2
    if v2fields:
        p += struct.pack('>QI', session, recv_seq)
    return frame(HELLO, 0, p)


def welcome(version=2, window=65536, max_streams=8, resumed=0, recv_seq=0,
            v1=False):
    p = struct.pack('>HII', version, window, max_streams)
    if not v1:
        p += struct.pack('>BI', resumed, recv_seq)
    return frame(WELCOME, 0, p)


def write(corpus, name, data):
    d = os.path.join(here, 'corpus', corpus)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as fp:
        fp.write(data)


TID = b'0123456789abcdef0123456789abcdef'
SECRET = b'9f8e7d6c5b4a39281706f5e4d3c2b1a0'
GET = b'GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
OK = b'HTTP/1.1 200 OK\r\n\r\n'

# --- corpus/kgp: frames for the codec ---------------------------------
kgp = {
    'accept': frame(ACCEPT, 1, seq=1),
    'ack': frame(ACK, 0, u32(32)),
    'ack-on-stream': frame(ACK, 3, u32(1)),
    'ack-short': frame(ACK, 0, b'\0\0\1'),
    'bad-flags': frame(DATA, 1, b'a', seq=1, flags=1),
    'bad-type': frame(15, 0),
    'conn-on-stream': frame(PING, 5, bytes(8)),
    'data': frame(DATA, 1, GET, seq=1),
    'data-max': frame(DATA, 1, b'x' * 16384, seq=0xffffffff),
    'error-auth': frame(ERROR, 0, code(3, b'not authorized')),
    'error-terminated': frame(ERROR, 0, code(6, b'tunnel deleted')),
    'fin': frame(FIN, 1, seq=7),
    'goaway': frame(GOAWAY, 0, code(5, b'server shutting down')),
    'goaway-short': frame(GOAWAY, 0, b'\5'),
    'hello': hello(tid=TID, secret=SECRET, window=262144,
                   session=0x0102030405060708, recv_seq=77),
    'hello-badwin': hello(tid=TID, secret=SECRET, window=10),
    'hello-session0': hello(tid=TID, secret=SECRET, session=0),
    'hello-v1': hello(vmin=1, vmax=1, tid=TID, secret=SECRET),
    'hello-v1-v2fields': hello(vmin=1, vmax=1, tid=TID, secret=SECRET,
                               v2fields=True),
    'hello-v12': hello(vmin=1, vmax=2, tid=TID, secret=SECRET),
    'hello-v2-short': hello(tid=TID, secret=SECRET, v2fields=False),
    'numbered-no-seq': frame(DATA, 1, b'abc'),
    'open': frame(OPEN, 1, b'10.0.0.1:53412', seq=1),
    'ping': frame(PING, 0, struct.pack('>Q', 123456789)),
    'pong': frame(PONG, 0, struct.pack('>Q', 123456789)),
    'refuse': frame(REFUSE, 1, code(8, b'too many streams'), seq=2),
    'rst': frame(RST, 1, code(9), seq=3),
    'seq-on-unnumbered': frame(PING, 0, bytes(8), seq=5),
    'too-long': frame(DATA, 1, b'x' * 64, seq=1, length=16385),
    'truncated': frame(DATA, 1, b'abc', seq=1, length=6),
    'welcome': welcome(window=262144, max_streams=100000),
    'welcome-badflag': welcome(resumed=2),
    'welcome-resumed': welcome(resumed=1, recv_seq=42),
    'welcome-v1': welcome(version=1, v1=True),
    'window': frame(WINDOW, 1, u32(65536), seq=4),
}
s, c = Peer(), Peer()
kgp['session'] = (
    hello(tid=TID, secret=SECRET) + welcome() +
    s.f(OPEN, 1, b'10.0.0.1:1') + c.f(ACCEPT, 1) +
    s.f(DATA, 1, GET) + c.f(DATA, 1, OK) + frame(ACK, 0, u32(2)) +
    c.f(WINDOW, 1, u32(len(GET))) + s.f(FIN, 1) + c.f(FIN, 1) +
    s.f(OPEN, 3, b'10.0.0.1:2') + c.f(REFUSE, 3, code(8, b'no')) +
    s.f(OPEN, 5, b'10.0.0.1:3') + s.f(RST, 5, code(9)) +
    frame(PING, 0, bytes(8)) + frame(PONG, 0, bytes(8)) +
    frame(ACK, 0, u32(5)) + frame(GOAWAY, 0, code(5, b'bye')) +
    frame(ERROR, 0, code(5, b'drained')))
for name, data in kgp.items():
    write('kgp', name, data)

# --- corpus/kgpconn: the engine's peer --------------------------------
CLIENT, PRE, RESUME, ACT, APPEOF = 1, 2, 4, 8, 16
conn = {}


def seed(name, flags, *frames):
    conn[name] = bytes([flags]) + b''.join(frames)


# a client (the peer is a server), WELCOME given
p = Peer()
seed('client-open-data', CLIENT | PRE,
     p.f(OPEN, 9, b'1.2.3.4:5'), p.f(DATA, 9, GET),
     p.f(WINDOW, 9, u32(4096)), frame(ACK, 0, u32(2)), p.f(FIN, 9))
p = Peer()
seed('client-dup-open', CLIENT | PRE, p.f(OPEN, 1), p.f(OPEN, 1))
seed('client-error', CLIENT | PRE, frame(ERROR, 0, code(6, b'tunnel deleted')))
p = Peer()
seed('client-flow', CLIENT | PRE, p.f(OPEN, 1),
     *[p.f(DATA, 1, b'z' * 16384) for _ in range(6)])
seed('client-nohs', CLIENT, frame(DATA, 1, b'x', seq=1))
p = Peer()
seed('client-open-rst', CLIENT | PRE,
     p.f(OPEN, 1), p.f(OPEN, 3, b'a'), p.f(RST, 1, code(9)),
     p.f(DATA, 3, b'x' * 100), p.f(DATA, 1, b'late'), p.f(FIN, 3),
     p.f(FIN, 3))
p = Peer()
seed('client-goaway', CLIENT | PRE,
     p.f(OPEN, 1), frame(GOAWAY, 0, code(5, b'bye')), p.f(OPEN, 3),
     p.f(DATA, 1, GET), p.f(FIN, 1), frame(GOAWAY, 0, code(5)))
p = Peer()
seed('client-seq-gap', CLIENT | PRE,
     p.f(OPEN, 1), p.f(DATA, 1, b'x', seq=3))
p = Peer()
seed('client-seq-dup', CLIENT | PRE,
     p.f(OPEN, 1), p.f(DATA, 1, b'once'), frame(DATA, 1, b'twice', seq=2),
     frame(OPEN, 1, seq=1), p.f(WINDOW, 1, u32(100)), p.f(DATA, 1, b'!'))
p = Peer()
seed('client-ack', CLIENT | PRE,
     p.f(OPEN, 1), p.f(OPEN, 3), frame(ACK, 0, u32(1)),
     frame(ACK, 0, u32(2)), frame(ACK, 0, u32(2)), frame(ACK, 0, u32(1)))
seed('client-ack-ahead', CLIENT | PRE, frame(ACK, 0, u32(99)))
seed('client-welcome-twice', CLIENT | PRE, welcome())
seed('client-welcome-resumed-new', CLIENT, welcome(resumed=1))
seed('client-welcome-v1', CLIENT, welcome(version=1, v1=True))
seed('client-zero-seq', CLIENT | PRE, frame(OPEN, 1))
seed('client-ping', CLIENT | PRE, frame(PING, 0, bytes(8)),
     frame(PONG, 0, struct.pack('>Q', 1)))

# a client whose session was up (the peer sent seq 1-4 and acked 1),
# resumed: WELCOME resumed=1 recv_seq 1 given with PRE
p = Peer(4)
seed('client-resume-go', CLIENT | PRE | RESUME,
     frame(DATA, 1, b'dup', seq=2), p.f(DATA, 1, b'more'),
     frame(ACK, 0, u32(4)), p.f(FIN, 1), p.f(RST, 3, code(9)),
     p.f(OPEN, 5, b'new'), p.f(DATA, 5, GET))
q = Peer()
seed('client-resume-dups', CLIENT | PRE | RESUME,
     q.f(OPEN, 1, b'1.2.3.4:5'), q.f(DATA, 1, b'GET / HTTP/1.1\r\n\r\n'),
     q.f(WINDOW, 1, u32(4096)), q.f(OPEN, 3, b'6.7.8.9:10'),
     q.f(DATA, 3, b'after'), frame(ACK, 0, u32(3)))
p = Peer(4)
seed('client-resume-welcome', CLIENT | RESUME,
     welcome(resumed=1, recv_seq=2), p.f(DATA, 1, b'x'),
     frame(ACK, 0, u32(4)), p.f(FIN, 3))
p = Peer()
seed('client-resume-lost', CLIENT | RESUME,
     welcome(resumed=0), p.f(OPEN, 1, b'again'), p.f(DATA, 1, GET),
     frame(ACK, 0, u32(1)))
seed('client-resume-ahead', CLIENT | RESUME,
     welcome(resumed=1, recv_seq=1000))
seed('client-resume-behind', CLIENT | RESUME,
     welcome(resumed=1, recv_seq=0))
seed('client-resume-error', CLIENT | RESUME,
     frame(ERROR, 0, code(3, b'not authorized')))
p = Peer(4)
seed('client-resume-goaway', CLIENT | PRE | RESUME,
     frame(GOAWAY, 0, code(5, b'maintenance')), p.f(OPEN, 5),
     p.f(FIN, 1), p.f(FIN, 3))

# a server (the peer is a client); with PRE the HELLO is given and the
# server has opened streams 1 and 3 (OPEN, DATA each: seq 1-4)
p = Peer()
seed('server-accept-data', PRE,
     p.f(ACCEPT, 1), p.f(DATA, 1, OK), p.f(FIN, 1),
     p.f(WINDOW, 1, u32(3)), frame(ACK, 0, u32(4)))
seed('server-pong', PRE, frame(PONG, 0, bytes(8)), frame(ACK, 0, u32(0)))
p = Peer()
seed('server-window-overflow', PRE,
     p.f(WINDOW, 1, u32(0xffffffff)),
     *[p.f(WINDOW, 3, u32(16000000)) for _ in range(4)])
p = Peer()
seed('server-refuse', PRE,
     p.f(REFUSE, 1, code(8, b'no')), p.f(RST, 3, code(9)),
     p.f(DATA, 3, b'late'))
p = Peer()
seed('server-open-wrong-side', PRE, p.f(OPEN, 2))
seed('server-goaway-from-client', PRE, frame(GOAWAY, 0, code(5)))
seed('server-ack', PRE, frame(ACK, 0, u32(2)), frame(ACK, 0, u32(4)),
     frame(ACK, 0, u32(5)))
seed('server-hello-twice', PRE, hello())
seed('server-badhello', 0, frame(HELLO, 0, bytes(4) + b'\0\1\0\1\1'))
seed('server-hello-v1', 0, hello(vmin=1, vmax=1))
seed('server-hello-session0', 0, hello(session=0))
seed('server-hello-auth', 0, hello(index=7))
p = Peer()
seed('server-hello-new', 0, hello(session=42, recv_seq=5),
     p.f(ACCEPT, 1), p.f(DATA, 1, OK))

# a server whose session was up (the peer sent seq 1-3 and acked 2),
# resumed: a HELLO of the session with recv_seq 2 given with PRE
p = Peer(3)
seed('server-resume-go', PRE | RESUME,
     p.f(DATA, 3, b'x'), frame(ACK, 0, u32(4)), p.f(FIN, 3),
     p.f(WINDOW, 1, u32(1000)), p.f(RST, 1, code(9)))
q = Peer()
seed('server-resume-dups', PRE | RESUME,
     q.f(ACCEPT, 1), q.f(DATA, 1, OK), q.f(FIN, 1), q.f(ACCEPT, 3),
     frame(ACK, 0, u32(4)))
p = Peer(3)
seed('server-resume-hello', RESUME,
     hello(recv_seq=4), p.f(ACCEPT, 3), p.f(DATA, 3, OK))
seed('server-resume-ahead', RESUME, hello(recv_seq=99))
seed('server-resume-behind', RESUME, hello(recv_seq=0))
p = Peer()
seed('server-resume-other', RESUME, hello(session=7), p.f(ACCEPT, 1))
seed('server-resume-auth', RESUME, hello(index=7, recv_seq=2))
# the local side acts: GOAWAY (server) or close (client) at round 3;
# the applications end their streams from round 8
p = Peer()
seed('server-goaway-drain', PRE | ACT | APPEOF,
     p.f(ACCEPT, 1), p.f(DATA, 1, OK), p.f(ACCEPT, 3), p.f(DATA, 3, OK),
     frame(ACK, 0, u32(4)), p.f(FIN, 1), p.f(FIN, 3))
p = Peer()
seed('server-apps-eof', PRE | APPEOF,
     p.f(ACCEPT, 1), p.f(DATA, 1, OK), p.f(WINDOW, 3, u32(100)))
p = Peer()
seed('client-close', CLIENT | PRE | ACT, p.f(OPEN, 1), p.f(DATA, 1, GET))
p = Peer()
seed('client-apps-eof', CLIENT | PRE | APPEOF,
     p.f(OPEN, 1), p.f(OPEN, 3), p.f(DATA, 1, GET), p.f(FIN, 3))
p = Peer(3)
seed('server-resume-goaway', PRE | RESUME | ACT | APPEOF,
     p.f(DATA, 3, b'x'), p.f(FIN, 3), frame(ACK, 0, u32(4)))
p = Peer(4)
seed('client-resume-apps-eof', CLIENT | PRE | RESUME | APPEOF,
     p.f(DATA, 1, b'more'), p.f(FIN, 1), frame(ACK, 0, u32(2)))
for name, data in conn.items():
    write('kgpconn', name, data)
