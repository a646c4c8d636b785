#!/usr/bin/env python3
"""A measuring HTTP/1.1 forwarder for the wave benchmarks (scripts/bench-waves.sh).

    scripts/http-meter.py LISTEN_PORT UPSTREAM_PORT LOG.tsv [BODY_DIR]

Listens on 127.0.0.1:LISTEN_PORT, forwards every request to
127.0.0.1:UPSTREAM_PORT unchanged, and appends one line per request to
LOG.tsv: request number, method and path, request body bytes, seconds from
the request's first byte to its last (upload), seconds from its last byte
to the answer's last byte (the server's answer time, transfer included),
answer status and answer bytes. With BODY_DIR each request body is kept as
BODY_DIR/<n>.json (to replay one against the emulator alone). Requests
must carry Content-Length (orgform's do); answers may be chunked.
"""
import socket
import sys
import threading
import time

LOCK = threading.Lock()
COUNT = [0]


def read_head(sock, buf):
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return None, buf
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head, rest


def header(head, name):
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name:
            return v.strip()
    return None


def read_exact(sock, rest, n):
    parts, have = [rest], len(rest)
    while have < n:
        chunk = sock.recv(min(1 << 20, n - have) if n - have > 0 else 1 << 16)
        if not chunk:
            break
        parts.append(chunk)
        have += len(chunk)
    data = b"".join(parts)
    return data[:n], data[n:]


def read_chunked(sock, rest):
    data = rest
    while not data.endswith(b"0\r\n\r\n"):
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        data += chunk
    return data, b""


def serve(client, upstream_port, log, body_dir):
    server = socket.create_connection(("127.0.0.1", upstream_port))
    cbuf, sbuf = b"", b""
    try:
        while True:
            head, cbuf = read_head(client, cbuf)
            if head is None:
                return
            start = time.monotonic()
            length = int(header(head, b"content-length") or b"0")
            body, cbuf = read_exact(client, cbuf, length)
            sent = time.monotonic()
            server.sendall(head + b"\r\n\r\n" + body)
            rhead, sbuf = read_head(server, sbuf)
            if rhead is None:
                return
            if (header(rhead, b"transfer-encoding") or b"").lower() == b"chunked":
                rbody, sbuf = read_chunked(server, sbuf)
            else:
                rbody, sbuf = read_exact(server, sbuf, int(header(rhead, b"content-length") or b"0"))
            answered = time.monotonic()
            client.sendall(rhead + b"\r\n\r\n" + rbody)
            with LOCK:
                COUNT[0] += 1
                n = COUNT[0]
                line = head.split(b"\r\n")[0].decode("latin-1").rsplit(" ", 1)[0]
                status = rhead.split(b" ")[1].decode("latin-1")
                with open(log, "a") as f:
                    f.write(f"{n}\t{line}\t{len(body)}\t{sent - start:.3f}\t{answered - sent:.3f}"
                            f"\t{status}\t{len(rbody)}\n")
            if body_dir and body:
                with open(f"{body_dir}/{n}.json", "wb") as f:
                    f.write(body)
    finally:
        client.close()
        server.close()


def main():
    port, upstream, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    body_dir = sys.argv[4] if len(sys.argv) > 4 else None
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(16)
    while True:
        client, _ = lsock.accept()
        threading.Thread(target=serve, args=(client, upstream, log, body_dir), daemon=True).start()


if __name__ == "__main__":
    main()
