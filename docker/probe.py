#!/usr/bin/python3
"""What docker/test.sh asks a running chatd through its published port, as
a client would: a chat message round trip, the history replayed on join,
the page. Prints one line; exits 1 with the reason when the answer is wrong.

  probe.py echo HOST:PORT TEXT     send TEXT to lobby, expect it back
  probe.py history HOST:PORT TEXT  TEXT is in the lobby history on join
  probe.py page HOST:PORT          GET / is 200 text/html with a <title>
  probe.py close HOST:PORT         stays connected until the server closes
                                   the session, which must be with 1001
"""
import asyncio
import json
import sys
import urllib.request

import websockets
from websockets.exceptions import ConnectionClosed, WebSocketException

TIMEOUT = 10  # seconds for a whole probe
CLOSE_TIMEOUT = 30  # close: for the caller to stop the server


class Wrong(Exception):
    """The server answered, but not what it should have."""


def fail(why):
    print(f"probe: {why}", file=sys.stderr)
    sys.exit(1)


async def frames(ws):
    """JSON frames as they come, bounded by the caller's timeout."""
    while True:
        yield json.loads(await ws.recv())


def connect(addr):
    return websockets.connect(f"ws://{addr}/chat", subprotocols=["chat"],
                              open_timeout=TIMEOUT)


def check_subprotocol(ws):
    if ws.subprotocol != "chat":
        raise Wrong(f"subprotocol {ws.subprotocol!r}, not 'chat'")


async def echo(addr, text):
    async with connect(addr) as ws:
        check_subprotocol(ws)
        seen = []
        async for f in frames(ws):
            seen.append(f.get("type"))
            # The server joins every new session to the lobby itself;
            # its history frame ends that join (docs/protocol.md).
            if f.get("type") == "history" and f.get("room") == "lobby":
                break
        if seen[0] != "welcome":
            raise Wrong(f"first frame {seen[0]!r}, not welcome")
        await ws.send(json.dumps({"type": "message", "room": "lobby",
                                  "text": text, "cid": "probe-1"}))
        async for f in frames(ws):
            if f.get("type") == "error":
                raise Wrong(f"error frame: {f}")
            if f.get("type") == "message" and f.get("cid") == "probe-1":
                if f.get("text") != text or f.get("room") != "lobby":
                    raise Wrong(f"message came back changed: {f}")
                return f"echo: message id {f['id']} back from {addr}"


async def history(addr, text):
    async with connect(addr) as ws:
        check_subprotocol(ws)
        async for f in frames(ws):
            if f.get("type") == "history" and f.get("room") == "lobby":
                texts = [m.get("text") for m in f.get("messages", [])]
                if text not in texts:
                    raise Wrong(f"{text!r} not in lobby history {texts}")
                return f"history: {text!r} replayed on join"


async def close(addr):
    async with connect(addr) as ws:
        check_subprotocol(ws)
        print("close: connected", flush=True)
        try:
            async for _ in frames(ws):
                pass
        except ConnectionClosed:
            pass
        if ws.close_code != 1001:
            raise Wrong(f"closed with {ws.close_code} {ws.close_reason!r},"
                        " not 1001")
        return f"close: the client got 1001 {ws.close_reason!r}"


def page(addr):
    with urllib.request.urlopen(f"http://{addr}/", timeout=TIMEOUT) as r:
        body = r.read().decode("utf-8", "replace")
        ctype = r.headers.get("Content-Type", "")
        if r.status != 200 or not ctype.startswith("text/html"):
            raise Wrong(f"GET / answered {r.status} {ctype}")
        if "<title>" not in body:
            raise Wrong("GET / has no <title>")
        return f"page: GET / 200 {ctype}, {len(body)} bytes"


def main():
    if len(sys.argv) < 3:
        fail(__doc__)
    mode, addr, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    coro = {"echo": echo, "history": history, "close": close}.get(mode)
    if coro is None and mode != "page":
        fail(__doc__)
    try:
        if mode == "page":
            print(page(addr))
            return
        limit = CLOSE_TIMEOUT if mode == "close" else TIMEOUT
        print(asyncio.run(asyncio.wait_for(coro(addr, *args), limit)))
    except Wrong as e:
        fail(f"{mode}: {e}")
    except asyncio.TimeoutError:
        fail(f"{mode}: no answer within {limit} s")
    except (OSError, WebSocketException) as e:
        fail(f"{mode}: {type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
