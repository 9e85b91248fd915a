#!/usr/bin/env python3
"""Spoofing harness, raw-socket half (driven by bench/spoof.ts; needs root).

Sends UDP datagrams with forged source addresses spread over 127.0.0.0/8 to a live peer
on loopback, through a raw socket (IPPROTO_RAW: we write the IPv4 header), and counts
what comes back to each forged address: UDP sockets bound on 0.0.0.0 at the forged source
ports receive every reply (all of 127/8 is local on Linux), and IP_PKTINFO tells which
address each reply was sent to. Every datagram goes to 127.0.0.1 or to the loopback
broadcast 127.255.255.255; nothing leaves the machine.

Input: one JSON object on stdin (see bench/spoof.ts `SpoofConfig`). Output: one JSON object
on stdout: per forged address, the UDP payload bytes it sent and received; the flooder's
address; kernel drops on the counting sockets (a non-zero count makes the result invalid).
"""
import errno
import json
import os
import random
import select
import socket
import struct
import sys
import threading
import time

IP_PKTINFO = 8  # Linux; not exported by the socket module
SO_RCVBUFFORCE = 33
LOOPBACK = "127.0.0.1"
BROADCAST = "127.255.255.255"

T_RETRY, T_LIST, T_MANIFEST, T_BLOCK = 0x10, 0x11, 0x13, 0x15
T_DELTA, T_PUSH, T_INTEREST, T_DATA = 0x18, 0x21, 0x22, 0x16


def header(kind):
    return b"P2" + bytes([1, kind])


def ip_udp(src, sport, dst, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    # Total length and checksum are filled in by the kernel for IPPROTO_RAW.
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45, 0, 20 + len(udp), 0, 0x4000, 64, socket.IPPROTO_UDP, 0,
        socket.inet_aton(src), socket.inet_aton(dst),
    )
    return ip + udp


def forged_addresses(count, rng, avoid):
    """Distinct addresses of 127/8, never 127.0.0.x nor a broadcast-looking .255."""
    seen = set(avoid)
    out = []
    while len(out) < count:
        a = "127.%d.%d.%d" % (rng.randrange(1, 255), rng.randrange(0, 256), rng.randrange(1, 255))
        if a not in seen:
            seen.add(a)
            out.append(a)
    return out


class Counter:
    """Counting sockets on the forged source ports; a thread reads them until stopped."""

    def __init__(self, ports):
        self.received = {}
        self.datagrams = 0
        self.sockets = []
        for port in ports:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 32 * 1024 * 1024)
            except OSError:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024 * 1024)
            s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            s.bind(("0.0.0.0", port))
            s.setblocking(False)
            self.sockets.append(s)
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        poller = select.poll()
        by_fd = {}
        for s in self.sockets:
            poller.register(s, select.POLLIN)
            by_fd[s.fileno()] = s
        while not self.stop:
            for fd, _ in poller.poll(50):
                s = by_fd[fd]
                while True:
                    try:
                        data, anc, _, _ = s.recvmsg(70000, 256)
                    except BlockingIOError:
                        break
                    to = None
                    for level, kind, value in anc:
                        if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                            to = socket.inet_ntoa(value[8:12])
                    if to is not None:
                        self.received[to] = self.received.get(to, 0) + len(data)
                        self.datagrams += 1

    def drops(self):
        """Kernel drops of the counting sockets, from /proc/net/udp."""
        ports = {s.getsockname()[1] for s in self.sockets}
        total = 0
        with open("/proc/net/udp") as f:
            next(f)
            for line in f:
                fields = line.split()
                port = int(fields[1].split(":")[1], 16)
                if port in ports:
                    total += int(fields[-1])
        return total

    def close(self):
        self.stop = True
        self.thread.join()
        for s in self.sockets:
            s.close()


def main():
    cfg = json.load(sys.stdin)
    rng = random.Random(cfg["seed"])
    ports = cfg["ports"]
    base = cfg["countPort"]
    src_ports = [base, base + 1, base + 2, base + 3]
    file_id = bytes.fromhex(cfg["fileId"])
    piece_count = cfg["pieceCount"]
    real_token = bytes.fromhex(cfg["realToken"])
    avoid = {cfg["realTokenAddress"], LOOPBACK}
    addresses = forged_addresses(cfg["addresses"], rng, avoid)
    flooder = forged_addresses(1, rng, avoid | set(addresses))[0]
    peer_ids = {a: rng.randbytes(16) for a in addresses}
    # Announces are signed (docs/protocol.md §14): bench/spoof.ts signs one per forged
    # address with a key of its own; each address claims the peer id its announce proves.
    signed = [bytes.fromhex(h) for h in cfg["announces"]]
    announces = {a: signed[i] for i, a in enumerate(addresses)}
    peer_ids = {a: announces[a][4:20] for a in addresses}

    def token():
        kind = rng.randrange(3)
        if kind == 0:
            return bytes(16)  # none yet
        if kind == 1:
            return rng.randbytes(16)  # forged (or expired: indistinguishable)
        return real_token  # a real token, issued to another address

    def request(address):
        """One forged datagram from `address`: (payload, destination port, source port)."""
        kind = rng.randrange(10)
        sport = rng.choice(src_ports)
        rid = rng.randrange(1, 2**32)
        if kind <= 2:
            length = rng.choice([1024, 16384, 61440])
            offset = rng.randrange(0, 4) * 262144
            body = token() + file_id + struct.pack("!QI", offset, length)
            return header(T_BLOCK) + body, ports["send"], sport
        if kind == 3:
            return header(T_LIST) + token() + struct.pack("!II", rid, 0), ports["send"], sport
        if kind == 4:
            body = token() + struct.pack("!III", rid, rng.randrange(0, 5), 0)
            return header(T_DELTA) + body, ports["send"], sport
        if kind == 5:
            body = token() + struct.pack("!I", rid) + file_id + struct.pack("!I", 0)
            return header(T_MANIFEST) + body, ports["send"], sport
        if kind <= 7:
            # An interest in the file the target is fetching, from the peer id this address
            # announced: without the token check the target pushed it pieces.
            have = bytes((piece_count + 7) // 8) if rng.randrange(2) else b""
            body = (
                token() + peer_ids[address] + file_id
                + struct.pack("!IBI", piece_count, 0, 0) + have
            )
            return header(T_INTEREST) + body, ports["distribute"], base + 2
        if kind == 8:
            # Forged Retries to the receive and distribute ports (they make a peer resend).
            port = ports["receive"] if rng.randrange(2) else ports["distribute"]
            return header(T_RETRY) + struct.pack("!I", 0) + rng.randbytes(16), port, sport
        payload = rng.randbytes(rng.randrange(1, 1200))
        kind_byte, port = rng.choice([(T_PUSH, ports["distributee"]), (T_DATA, ports["receive"])])
        return header(kind_byte) + file_id + struct.pack("!Q", 0) + payload, port, sport

    plan = []
    per_address = max(1, (cfg["requests"] - cfg["flood"]) // len(addresses))
    for a in addresses:
        plan.append((a, base, BROADCAST, cfg["discoveryPort"], announces[a]))
    for a in addresses:
        for _ in range(per_address - 1):
            payload, port, sport = request(a)
            plan.append((a, sport, LOOPBACK, port, payload))
    rng.shuffle(plan[len(addresses):])
    flood = []
    for _ in range(cfg["flood"]):
        body = bytes(16) + file_id + struct.pack("!QI", 0, 61440)
        flood.append((flooder, base, LOOPBACK, ports["send"], header(T_BLOCK) + body, True))
    plan = [(*entry, False) for entry in plan]
    # The flood goes in the middle of the rest, as a burst.
    middle = len(addresses) + (len(plan) - len(addresses)) // 2
    plan = plan[:middle] + flood + plan[middle:]

    counter = Counter(src_ports)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 * 1024 * 1024)
    sent = {}
    started = time.monotonic()
    # The spread datagrams go at `pacePerMs` a millisecond, about what the peer reads, so the
    # kernel does not drop most of them before the peer sees them; the flood goes unpaced.
    pace = cfg["pacePerMs"]
    paced = 0
    for src, sport, dst, dport, payload, flooding in plan:
        assert dst in (LOOPBACK, BROADCAST) and src.startswith("127.")
        while True:
            try:
                raw.sendto(ip_udp(src, sport, dst, dport, payload), (dst, 0))
                break
            except OSError as error:
                # A full send queue: wait for it to drain. Anything else is a real failure.
                if error.errno not in (errno.ENOBUFS, errno.EAGAIN):
                    raise
                time.sleep(0.001)
        sent[src] = sent.get(src, 0) + len(payload)
        if not flooding:
            paced += 1
            if paced % pace == 0:
                time.sleep(0.001)
    send_seconds = time.monotonic() - started
    # Replies (and the target's own retries and interests) keep coming for a while.
    time.sleep(cfg["settleSeconds"])
    drops = counter.drops()
    counter.close()
    raw.close()
    out = {
        "datagrams": len(plan),
        "sendSeconds": send_seconds,
        "flooder": flooder,
        "addresses": {a: {"sent": sent.get(a, 0), "received": counter.received.get(a, 0)}
                      for a in sorted(set(sent) | set(counter.received))},
        "repliesCounted": counter.datagrams,
        "counterDrops": drops,
    }
    json.dump(out, sys.stdout)

if __name__ == "__main__":
    if os.geteuid() != 0:
        print("spoof.py: raw sockets need root", file=sys.stderr)
        sys.exit(2)
    main()
