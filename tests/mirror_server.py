"""A local download mirror for the tests: a threaded HTTP server on 127.0.0.1, one route per failure mode.

Routes (``/<route>/<filename>``): ``good`` (or any other name) serves the payload;
``forbidden`` and ``missing`` answer 403 and 404; ``html`` serves a login page with status
200; ``corrupt`` serves ``other_payload`` (well-formed, but not the pinned content); ``cut``
announces the whole file, sends half and hangs up; ``slow`` waits 3 s before answering;
``trickle`` sends one byte every 0.2 s; ``endless`` streams zeros without a length until the client
hangs up (``bytes_sent`` counts them). Every request path is logged in ``requests``.
"""

from __future__ import annotations

import http.server
import threading
import time

HTML_PAGE = b"<!DOCTYPE html><html><head><title>Moved</title></head><body>Please log in</body></html>"


class MirrorServer:
    def __init__(self, payload: bytes, other_payload: bytes = b""):
        self.payload, self.other_payload, self.requests = payload, other_payload, []
        self.bytes_sent = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.path)
                route = self.path.split("/")[1]
                if route == "forbidden":
                    self.send_error(403)
                elif route == "missing":
                    self.send_error(404)
                elif route == "html":
                    self._send(HTML_PAGE, "text/html")
                elif route == "corrupt":
                    self._send(server.other_payload)
                elif route == "cut":
                    self._send(server.payload[: len(server.payload) // 2], length=len(server.payload))
                    self.close_connection = True
                elif route == "slow":
                    time.sleep(3)
                    self._send(server.payload)
                elif route == "endless":
                    self.send_response(200)
                    self.end_headers()
                    try:
                        while True:
                            self.wfile.write(bytes(1 << 16))
                            server.bytes_sent += 1 << 16
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                elif route == "trickle":
                    self._send(server.payload[:50], length=len(server.payload), pause=0.2)
                else:
                    self._send(server.payload)

            def _send(self, body, content_type="application/octet-stream", *, length=None, pause=0.0):
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                try:
                    for start in range(0, len(body), 1 if pause else max(1, len(body))):
                        self.wfile.write(body[start : start + (1 if pause else len(body))])
                        self.wfile.flush()
                        time.sleep(pause)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, route: str, filename: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{route}/{filename}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
